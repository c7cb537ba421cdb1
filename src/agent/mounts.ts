// The host's mounts for RequiresMountsFor=/WantsMountsFor= (src/deps/mounts.ts), in the host's view
// (--host-root): the mount table of the host's PID 1 and the unit files of its systemd. Read lazily,
// once per graph rebuild, and only when a unit names a path.

import { lstatSync, readlinkSync } from 'node:fs';
import { HostFs } from '../conditions/hostfs.ts';
import type { HostMounts } from '../deps/index.ts';

/** systemd's system unit search path (v257, lookup_paths_init() for the system manager): where a mount unit file may be. */
const UNIT_DIRS = [
  '/etc/systemd/system.control', '/run/systemd/system.control', '/run/systemd/transient', '/run/systemd/generator.early',
  '/etc/systemd/system', '/etc/systemd/system.attached', '/run/systemd/system', '/run/systemd/system.attached', '/run/systemd/generator',
  '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system', '/run/systemd/generator.late',
];

/** The first file of that name in the search path: found (a link to /dev/null is a masked unit: not loaded, so none). */
function unitFileIn(root: string, name: string): boolean {
  for (const d of UNIT_DIRS) {
    const p = `${root}${d}/${name}`;
    let st;
    try { st = lstatSync(p); } catch { continue; }
    if (st.isSymbolicLink()) { try { if (readlinkSync(p) === '/dev/null') return false; } catch { continue; } }
    return true;
  }
  return false;
}

export function hostMounts(hostRoot?: string): HostMounts {
  const fs = new HostFs(hostRoot);
  let points: Set<string> | undefined;
  const files = new Map<string, boolean>();
  return {
    mounted: (p) => (points ??= fs.mountPoints()).has(p),
    unitFile: (n) => { let f = files.get(n); if (f === undefined) files.set(n, (f = unitFileIn(fs.root, n))); return f; },
  };
}
