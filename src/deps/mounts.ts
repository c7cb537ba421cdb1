// RequiresMountsFor=/WantsMountsFor= (issue 16): the .mount units of every prefix of each path, as
// systemd 257's unit_add_mount_dependencies() adds them, against the HOST's mounts. Pure: the
// mount table and the unit files found are given (src/agent/mounts.ts reads them).
//
// The model, checked with `systemctl show -p Requires,Wants,After` in the oracle
// (test/deps/mounts.test.ts): systemd adds After= on the mount unit of every prefix that has a
// loaded mount unit, and Requires= (Wants=) only when that unit has a unit file. On a node the
// agent does not own the mounts: a prefix mounted in the host's mount table (API file systems
// such as /proc, /sys, /dev, /run aside: systemd makes no unit for them) is an active mount unit;
// a prefix with a unit file in the host's systemd folders but not mounted is an inactive one, which
// the agent does not mount — a start job on it fails, so Requires= fails the dependent's start
// ("Dependency failed") instead of running it on the file system under the missing mount; a prefix
// that is neither has no mount unit, and nothing is added (as systemd, which only loads it).

import type { ActiveState } from '../engine/states.ts';

/** What the agent knows of the host's mounts. */
export interface HostMounts {
  /** Whether the path (simplified, absolute) is a mount point in the host's mount table. */
  mounted(point: string): boolean;
  /** Whether the host's systemd has a unit file of that name (/etc, /run, /usr/lib… systemd/system, generators). */
  unitFile(name: string): boolean;
}

export const NO_HOST_MOUNTS: HostMounts = { mounted: (p) => p === '/', unitFile: () => false };

/**
 * mount_point_is_api() + mount_point_ignore() (mount-setup.c, v257): API file systems systemd
 * mounts itself or ignores; no mount unit is made for them.
 */
const API_MOUNTS = [
  '/proc', '/sys', '/dev', '/run', '/dev/shm', '/dev/pts', '/sys/kernel/security', '/sys/fs/pstore', '/sys/firmware/efi/efivars',
  '/sys/fs/bpf', '/sys/fs/smackfs', '/dev/smack', '/sys/fs/selinux', '/selinux', '/smackfs', '/proc/bus/usb',
];
export const isApiMount = (p: string): boolean => API_MOUNTS.includes(p) || p === '/sys/fs/cgroup' || p.startsWith('/sys/fs/cgroup/');

/** path_simplify(): one slash between components, no "." components, no trailing slash. */
export function simplifyPath(p: string): string {
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  return `/${parts.join('/')}`;
}

/** PATH_FOREACH_PREFIX_MORE(): the path itself, then every parent up to "/". */
export function pathPrefixes(p: string): string[] {
  const parts = simplifyPath(p).split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = parts.length; i > 0; i--) out.push(`/${parts.slice(0, i).join('/')}`);
  out.push('/');
  return out;
}

/** unit_name_from_path(path, ".mount"): "/" is "-.mount", "/run/lock" "run-lock.mount"; '-' and bytes outside [A-Za-z0-9:_.] as \xNN, a leading '.' too. */
export function mountUnitName(path: string): string {
  const p = simplifyPath(path).slice(1);
  if (p === '') return '-.mount';
  let out = '';
  const bytes = Buffer.from(p, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const c = String.fromCharCode(bytes[i]!);
    if (c === '/') out += '-';
    else if ((i === 0 && c === '.') || !/[A-Za-z0-9:_.]/.test(c)) out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return `${out}.mount`;
}

/** The edges one unit's *MountsFor= paths give, and the host mount units they name with their state. */
export interface MountEdges {
  readonly requires: string[];
  readonly wants: string[];
  readonly after: string[];
  readonly units: Map<string, ActiveState>;
}

/** unit_add_mount_dependencies() for one unit against the host's mounts. Relative paths are ignored (systemd refuses them at load). */
export function mountEdges(requiresMountsFor: readonly string[], wantsMountsFor: readonly string[], host: HostMounts): MountEdges {
  const out: MountEdges = { requires: [], wants: [], after: [], units: new Map() };
  const add = (list: string[], x: string): void => { if (!list.includes(x)) list.push(x); };
  for (const [paths, strong] of [[requiresMountsFor, true], [wantsMountsFor, false]] as const) {
    for (const path of paths) {
      if (!path.startsWith('/')) continue;
      for (const prefix of pathPrefixes(path)) {
        if (isApiMount(prefix)) continue;
        const name = mountUnitName(prefix);
        const mounted = host.mounted(prefix), file = host.unitFile(name);
        if (!mounted && !file) continue;
        out.units.set(name, mounted ? 'active' : 'inactive');
        add(out.after, name);
        if (file) add(strong ? out.requires : out.wants, name);
      }
    }
  }
  return out;
}
