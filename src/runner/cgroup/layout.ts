// Which cgroup hierarchies this node has, and whether the agent may use them (issue 13).
//
//   v2      one cgroup2 mount with controllers (current Kubernetes nodes): membership, kills,
//           "empty" events and limits all on it
//   hybrid  v1 controller hierarchies plus a cgroup2 mount (systemd's hybrid mode; this
//           machine's "unified" mount has no controllers): cgroup2 for membership, kills
//           (cgroup.kill), freezing and "empty" events (cgroup.events), v1 for limits
//   v1      v1 hierarchies only: membership from a v1 hierarchy, kills by freezer
//   none    no hierarchy the agent can write (not root, read-only /sys/fs/cgroup, no mounts):
//           a unit's processes are the process tree under its shims, as before
//
// Found from /proc/self/mountinfo. A unit's cgroup is made under the ROOT of each mounted
// hierarchy (the mount point), never under the agent's own cgroup: a pod's cgroup dies with
// the pod. Where a mount's root is not the hierarchy's root (a cgroup namespace, as containerd
// gives a pod on a v2 node), the layout says so: units then live below the pod's cgroup.

import { accessSync, constants as FS, readFileSync } from 'node:fs';

export type CgroupMode = 'v2' | 'hybrid' | 'v1' | 'none';

/** One mounted hierarchy. */
export interface Hierarchy {
  /** 'unified' for cgroup2; else the controllers of the v1 mount, comma-joined ("cpu", "name=systemd"). */
  readonly key: string;
  readonly version: 1 | 2;
  readonly mount: string;
  /** The v1 controllers of this mount (named hierarchies as "name=systemd"); for cgroup2 the controllers it offers. */
  readonly controllers: readonly string[];
  /** The mount's root inside the hierarchy ('/' unless in a cgroup namespace or a bind mount of a subtree). */
  readonly root: string;
  /** The agent's own cgroup in this hierarchy (from /proc/self/cgroup), relative to the hierarchy's root. */
  readonly agent: string | undefined;
  readonly writable: boolean;
}

export interface CgroupLayout {
  readonly mode: CgroupMode;
  /** The hierarchies units are placed in (writable ones), the unified one first when there is one. */
  readonly hierarchies: readonly Hierarchy[];
  /** The cgroup2 mount, when there is one that the agent can write. */
  readonly unified: Hierarchy | undefined;
  /** Whether the unified mount offers cgroup.kill (Linux 5.14). */
  readonly hasKill: boolean;
  /**
   * Whether a mounted hierarchy has the favordynmods option (the kernel then moves a process
   * into a cgroup under a per-process lock): without it, the first cgroup.procs write after a
   * quiet spell waits for an RCU grace period (cgroup_threadgroup_rwsem), 6–20 ms measured on
   * this project's test machine. uo-shim places commands without that write where the kernel
   * lets it (shim/cgroup.c: clone3() CLONE_INTO_CGROUP, v1 thread moves).
   */
  readonly favorDynMods: boolean;
  /** Why the layout is 'none', or what is degraded; for the start-up log. */
  readonly notes: readonly string[];
}

export interface DetectOptions {
  readonly mountinfo?: string;
  readonly selfCgroup?: string;
  /** Checks write access (default: access(2) W_OK on the mount point). */
  readonly writable?: (mount: string) => boolean;
  readonly uid?: number;
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function canWrite(mount: string): boolean {
  try { accessSync(mount, FS.W_OK); return true; } catch { return false; }
}

/** Reads the mounts (and the agent's own cgroups) and says which layout the node has. */
export function detectCgroups(o: DetectOptions = {}): CgroupLayout {
  let mountinfo = o.mountinfo, self = o.selfCgroup;
  try { mountinfo ??= readFileSync('/proc/self/mountinfo', 'utf8'); } catch { mountinfo = ''; }
  try { self ??= readFileSync('/proc/self/cgroup', 'utf8'); } catch { self = ''; }
  const uid = o.uid ?? process.geteuid?.() ?? 0;
  const writable = o.writable ?? canWrite;
  // the agent's cgroups: "ID:controllers:path" ('' controllers: the cgroup2 line)
  const own = new Map<string, string>();
  for (const line of self.split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[1] === '' ? 'unified' : m[1]!, m[2]!);
  }
  const found: Hierarchy[] = [];
  const seen = new Set<string>();
  let favorDynMods = false;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' '), right = line.slice(sep + 3).split(' ');
    const fstype = right[0], root = unescapeMount(left[3] ?? '/'), mount = unescapeMount(left[4] ?? '');
    const ro = (left[5] ?? '').split(',').includes('ro') || (right[2] ?? '').split(',').includes('ro');
    if ((fstype === 'cgroup2' || fstype === 'cgroup') && (right[2] ?? '').split(',').includes('favordynmods')) favorDynMods = true;
    if (fstype === 'cgroup2') {
      if (seen.has('unified')) continue;
      seen.add('unified');
      let controllers: string[] = [];
      try { controllers = readFileSync(`${mount}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { /* none */ }
      found.push({ key: 'unified', version: 2, mount, controllers, root, agent: own.get('unified'), writable: !ro && uid === 0 && writable(mount) });
    } else if (fstype === 'cgroup') {
      const controllers = (right[2] ?? '').split(',').filter((x) => x !== 'rw' && x !== 'ro' && x !== 'relatime' && !x.startsWith('release_agent') && x !== 'noprefix' && x !== 'clone_children' && x !== 'xattr' && x !== 'cpuset_v2_mode' && x !== 'nsdelegate' && x !== 'favordynmods');
      const key = controllers.join(',');
      if (key === '' || seen.has(key)) continue;
      seen.add(key);
      found.push({ key, version: 1, mount, controllers, root, agent: own.get(key), writable: !ro && uid === 0 && writable(mount) });
    }
  }
  const notes: string[] = [];
  const v1 = found.filter((h) => h.version === 1), v2 = found.find((h) => h.version === 2);
  if (found.length === 0) notes.push('no cgroup hierarchy is mounted');
  else if (uid !== 0) notes.push(`the agent runs as uid ${uid}, not root: it cannot make cgroups`);
  for (const h of found) if (!h.writable && uid === 0) notes.push(`${h.mount} is not writable`);
  for (const h of found) if (h.root !== '/') notes.push(`${h.mount} shows ${h.root} of its hierarchy (a cgroup namespace or a bind mount): units are placed below it, not at the hierarchy's root`);
  const usable = found.filter((h) => h.writable);
  const uni = usable.find((h) => h.version === 2);
  const usableV1 = usable.filter((h) => h.version === 1);
  let mode: CgroupMode;
  if (usable.length === 0) mode = 'none';
  else if (uni && usableV1.length === 0 && v1.length === 0) mode = 'v2';
  else if (uni) mode = 'hybrid';
  else mode = 'v1';
  if (mode !== 'none' && usable.length < found.length) notes.push(`only ${usable.map((h) => h.mount).join(', ')} can be written; the others are left alone`);
  if (mode === 'v1' && v2) notes.push(`the cgroup2 mount ${v2.mount} cannot be written`);
  if (mode === 'none' && found.length > 0) notes.push('units run without a cgroup of their own: their processes are the process tree under their shims');
  let hasKill = false;
  if (uni) { try { accessSync(`${uni.mount}/${'cgroup.kill'}`); hasKill = true; } catch { hasKill = kernelAtLeast(5, 14); } }
  if (mode !== 'none' && !favorDynMods) notes.push('no cgroup mount has favordynmods: commands are placed without the kernel\'s global cgroup lock all the same (born in their cgroup2 cgroup by clone3(), moved on v1 as one thread); where the kernel refuses clone3() or a shim starts without the fork server, a move into a cgroup2 cgroup waits for an RCU grace period after a quiet spell (6-15 ms seen); the mount option favordynmods (or the kernel parameter cgroup_favordynmods=1) removes that wait at a cost to every fork and exit on the node — the agent leaves the choice to the node');
  return { mode, hierarchies: mode === 'none' ? [] : [...(uni ? [uni] : []), ...usableV1], unified: mode === 'none' ? undefined : uni, hasKill, favorDynMods, notes };
}

/** The writable v1 hierarchy a controller is mounted in ('devices', 'cpu', …), if the layout has one. */
export const v1Hierarchy = (layout: CgroupLayout, controller: string): Hierarchy | undefined =>
  layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes(controller));

/** Whether the running kernel is at least major.minor (cgroup.kill: 5.14; the root cgroup has no cgroup.kill file). */
function kernelAtLeast(major: number, minor: number): boolean {
  try {
    const m = /^([0-9]+)\.([0-9]+)/.exec(readFileSync('/proc/sys/kernel/osrelease', 'utf8'));
    return !!m && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
  } catch { return false; }
}

/** The start-up log line(s): the mode, each mount with its controllers, and what is degraded. */
export function describeLayout(l: CgroupLayout): string[] {
  const what = { v2: 'cgroup v2 (unified)', hybrid: 'cgroup hybrid (v1 controllers for limits, cgroup2 for membership, kills and empty events)', v1: 'cgroup v1 only', none: 'no usable cgroup hierarchy' }[l.mode];
  const lines = [`cgroups: ${what}`];
  for (const h of l.hierarchies) {
    lines.push(`cgroups: ${h.mount} (${h.version === 2 ? 'cgroup2' : 'cgroup v1'}: ${h.controllers.length > 0 ? h.controllers.join(' ') : 'no controllers'}${h.version === 2 ? `; cgroup.kill ${l.hasKill ? 'yes' : 'no'}` : ''}); the agent is in ${h.agent ?? '?'}`);
  }
  for (const n of l.notes) lines.push(`cgroups: ${n}`);
  return lines;
}
