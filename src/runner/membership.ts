// Membership of a unit: "does this PID belong to the unit?" — the one question behind
// NotifyAccess=all, MAINPID=, PIDFile= and every signal the unit sends (systemd asks the unit's
// control group: manager_get_unit_by_pidref(), unit_search_main_pid()).
//
// Today a unit's processes are the process tree under its live shims: each uo-shim is a child
// subreaper, so whatever its command forks (and orphans) stays below it. The shims themselves
// are the unit's holders, not its processes: never a main PID, never signalled by the unit.
// Once units get a cgroup (issue 13) this module answers from the cgroup instead; callers do
// not change.

import { descendants, isAlive, parentOf } from './procfs.ts';

export interface Membership {
  /** Whether pid is a live process of the unit (a shim itself is not). */
  has(pid: number): boolean;
  /** Every live process of the unit, shims excluded. */
  pids(): number[];
  /** The unit's live holders (shims). */
  holders(): number[];
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
