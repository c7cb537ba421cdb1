// Membership of a unit: "does this PID belong to the unit?" — the one question behind
// NotifyAccess=all, MAINPID=, PIDFile= and every signal the unit sends (systemd asks the unit's
// control group: manager_get_unit_by_pidref(), unit_search_main_pid()).
//
// A unit with a cgroup (issue 13) is answered from the cgroup: cgroup.procs of its unified
// directory (hybrid, v2), else of a v1 hierarchy (pids, memory) — plus the process tree under
// its live shims, which still covers processes started before the unit had a cgroup (adopted
// from an older agent). A unit without one (no writable hierarchy: a non-root agent) is the
// process tree under its live shims: each uo-shim is a child subreaper, so whatever its command
// forks (and orphans) stays below it. The shims themselves are the unit's holders, not its
// processes: never a main PID, never signalled by the unit (they live in the holders' cgroup,
// never in a unit's).

import { descendants, isAlive, parentOf } from './procfs.ts';
import { cgroupPids, isPopulated, killCgroup, type KillOptions, type UnitCgroup } from './cgroup/index.ts';

export interface Membership {
  /** Whether pid is a live process of the unit (a shim itself is not). */
  has(pid: number): boolean;
  /** Every live process of the unit, shims excluded. */
  pids(): number[];
  /** The unit's live holders (shims). */
  holders(): number[];
  /** The unit's cgroup, when it has one (the group is then signalled through it: signalAll). */
  readonly cgroup?: UnitCgroup | undefined;
  /** Signals every process of the unit's cgroup (cgroup.kill for SIGKILL); undefined without a cgroup. */
  signalAll?(sig: number, o: KillOptions): number[];
}

/** How deep a parent chain is followed before giving up (a PID tree is never this deep in practice). */
const MAX_DEPTH = 4096;

/**
 * Membership by the process tree under the given live shims (the caller has already checked
 * their identity: boot ID and start time, see procfs.ts sameProcess()).
 */
export function shimTreeMembership(liveShims: () => readonly number[]): Membership {
  return new ShimTree(liveShims);
}

// Classes rather than object literals of closures: one per unit, and a literal with a getter and
// six closures was a dictionary-mode object of ~1 KB with its closures (issue 19: ~1 MB of heap at
// 1,000 units); the methods are the same and are called on the object (control.ts: signalAll.call).
class ShimTree implements Membership {
  private readonly liveShims: () => readonly number[];
  constructor(liveShims: () => readonly number[]) { this.liveShims = liveShims; }

  holders(): number[] { return [...this.liveShims()]; }

  pids(): number[] { return descendants(this.liveShims()); }

  has(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return false;
    const shims = new Set(this.liveShims());
    if (shims.size === 0 || shims.has(pid)) return false;
    // walk up the parent chain: a process of the unit has one of the shims as an ancestor
    let p: number | undefined = pid;
    for (let depth = 0; depth < MAX_DEPTH && p !== undefined && p > 1; depth++) {
      p = parentOf(p);
      if (p !== undefined && shims.has(p)) return true;
    }
    return false;
  }
}

/**
 * Membership by the unit's cgroup (when `cgroup()` gives one that exists), with the process
 * tree under the live shims as well (see above); the shims themselves never count. treeShims:
 * the live shims whose trees may hold a process (default all; a holder that has written "empty"
 * has none, and a tree walks all of /proc).
 */
export function cgroupMembership(cgroup: () => UnitCgroup | undefined, liveShims: () => readonly number[], treeShims: () => readonly number[] = liveShims): Membership {
  return new CgroupMembership(cgroup, liveShims, new ShimTree(treeShims));
}

class CgroupMembership implements Membership {
  private readonly cgroupOf: () => UnitCgroup | undefined;
  private readonly liveShims: () => readonly number[];
  private readonly tree: ShimTree;
  constructor(cgroupOf: () => UnitCgroup | undefined, liveShims: () => readonly number[], tree: ShimTree) { this.cgroupOf = cgroupOf; this.liveShims = liveShims; this.tree = tree; }

  private inCgroup(): number[] { const cg = this.cgroupOf(); return cg ? cgroupPids(cg) : []; }

  holders(): number[] { return [...this.liveShims()]; }

  get cgroup(): UnitCgroup | undefined { return this.cgroupOf(); }

  pids(): number[] {
    const shims = new Set(this.liveShims());
    return [...new Set([...this.inCgroup().filter((p) => !shims.has(p) && p !== process.pid), ...this.tree.pids()])];
  }

  has(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || this.liveShims().includes(pid)) return false;
    return (this.inCgroup().includes(pid) && isAlive(pid)) || this.tree.has(pid);
  }

  signalAll(sig: number, o: KillOptions): number[] {
    const cg = this.cgroupOf();
    const under = this.tree.pids();
    // an empty cgroup and no tree (each crash's kill of what is left, issue 19): nothing to
    // signal, and the shims to leave out are not looked for (/proc reads a shim)
    if ((!cg || !isPopulated(cg)) && under.length === 0) return [];
    const exclude = new Set([...(o.exclude ?? []), ...this.liveShims(), process.pid]);
    const sent = cg ? killCgroup(cg, sig, { ...o, exclude }) : [];
    // processes outside the cgroup but under a shim (started before the unit had one)
    for (const p of under) {
      if (exclude.has(p) || sent.includes(p)) continue;
      try { process.kill(p, sig); sent.push(p); if (o.cont && sig !== 9 && sig !== 18) process.kill(p, 18); if (o.hup) process.kill(p, 1); } catch { /* gone */ }
    }
    return sent;
  }
}
