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
  return {
    holders: () => [...liveShims()],
    pids: () => descendants(liveShims()),
    has(pid: number): boolean {
      if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return false;
      const shims = new Set(liveShims());
      if (shims.size === 0 || shims.has(pid)) return false;
      // walk up the parent chain: a process of the unit has one of the shims as an ancestor
      let p: number | undefined = pid;
      for (let depth = 0; depth < MAX_DEPTH && p !== undefined && p > 1; depth++) {
        p = parentOf(p);
        if (p !== undefined && shims.has(p)) return true;
      }
      return false;
    },
  };
}

/**
 * Membership by the unit's cgroup (when `cgroup()` gives one that exists), with the process
 * tree under the live shims as well (see above); the shims themselves never count. treeShims:
 * the live shims whose trees may hold a process (default all; a holder that has written "empty"
 * has none, and a tree walks all of /proc).
 */
export function cgroupMembership(cgroup: () => UnitCgroup | undefined, liveShims: () => readonly number[], treeShims: () => readonly number[] = liveShims): Membership {
  const tree = shimTreeMembership(treeShims);
  const inCgroup = (): number[] => { const cg = cgroup(); return cg ? cgroupPids(cg) : []; };
  return {
    holders: () => [...liveShims()],
    get cgroup() { return cgroup(); },
    pids(): number[] {
      const shims = new Set(liveShims());
      return [...new Set([...inCgroup().filter((p) => !shims.has(p) && p !== process.pid), ...tree.pids()])];
    },
    has(pid: number): boolean {
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || liveShims().includes(pid)) return false;
      return (inCgroup().includes(pid) && isAlive(pid)) || tree.has(pid);
    },
    signalAll(sig: number, o: KillOptions): number[] {
      const cg = cgroup();
      const under = tree.pids();
      // an empty cgroup and no tree (each crash's kill of what is left, issue 19): nothing to
      // signal, and the shims to leave out are not looked for (/proc reads a shim)
      if ((!cg || !isPopulated(cg)) && under.length === 0) return [];
      const exclude = new Set([...(o.exclude ?? []), ...liveShims(), process.pid]);
      const sent = cg ? killCgroup(cg, sig, { ...o, exclude }) : [];
      // processes outside the cgroup but under a shim (started before the unit had one)
      for (const p of under) {
        if (exclude.has(p) || sent.includes(p)) continue;
        try { process.kill(p, sig); sent.push(p); if (o.cont && sig !== 9 && sig !== 18) process.kill(p, 18); if (o.hup) process.kill(p, 1); } catch { /* gone */ }
      }
      return sent;
    },
  };
}
