// Job types, results and their algebra (job.c: merging, collapsing, redundancy, ordering) and
// the words systemd logs when a job finishes. Pure.

import type { ActiveState } from '../engine/states.ts';

/** Job types a request may ask for; the last four collapse into the first ones against the unit's state. */
export type RequestJobType = JobType | 'try-restart' | 'try-reload' | 'reload-or-start';
/** Job types inside a transaction and installed on a unit. */
export type JobType = 'start' | 'verify-active' | 'stop' | 'reload' | 'restart' | 'nop';

export type JobResult = 'done' | 'canceled' | 'timeout' | 'failed' | 'dependency' | 'skipped' | 'invalid' | 'assert' | 'unsupported' | 'collected' | 'once';
export const JOB_RESULTS: readonly JobResult[] = ['done', 'canceled', 'timeout', 'failed', 'dependency', 'skipped', 'invalid', 'assert', 'unsupported', 'collected', 'once'];

export const isActiveOrReloading = (s: ActiveState): boolean => s === 'active' || s === 'reloading';
export const isInactiveOrFailed = (s: ActiveState): boolean => s === 'inactive' || s === 'failed';
export const isActiveOrActivating = (s: ActiveState): boolean => s === 'active' || s === 'activating' || s === 'reloading';
export const isInactiveOrDeactivating = (s: ActiveState): boolean => s === 'inactive' || s === 'failed' || s === 'deactivating';

/** job_type_collapse(): try-restart, try-reload and reload-or-start against the unit's state. */
export function collapse(t: RequestJobType, s: ActiveState): JobType {
  switch (t) {
    case 'try-restart': return isInactiveOrDeactivating(s) ? 'nop' : 'restart';
    case 'try-reload': return isInactiveOrDeactivating(s) ? 'nop' : 'reload';
    case 'reload-or-start': return isInactiveOrDeactivating(s) ? 'start' : 'reload';
    default: return t;
  }
}

/** job_type_lookup_merge(): the type two jobs of one unit merge into, or undefined when they conflict. */
export function merge(a: JobType, b: JobType): JobType | 'reload-or-start' | undefined {
  if (a === b) return a;
  if (a === 'nop') return b;
  if (b === 'nop') return a;
  if (a === 'stop' || b === 'stop') return undefined;
  const has = (x: JobType): boolean => a === x || b === x;
  if (has('restart')) return 'restart';
  if (has('start') && has('verify-active')) return 'start';
  if (has('start') && has('reload')) return 'reload-or-start';
  if (has('verify-active') && has('reload')) return 'reload';
  return undefined;
}

/** merge() with reload-or-start collapsed against the unit's state (job_type_merge_and_collapse()). */
export function mergeAndCollapse(a: JobType, b: JobType, s: ActiveState): JobType | undefined {
  const m = merge(a, b);
  return m === undefined ? undefined : collapse(m, s);
}

export const isConflicting = (a: JobType, b: JobType): boolean => merge(a, b) === undefined;

/** job_type_is_superset(): `a` does everything `b` does. */
export const isSuperset = (a: JobType, b: JobType): boolean => merge(a, b) === a;

/** job_type_is_redundant(): the job would change nothing in this state. */
export function isRedundant(t: JobType, s: ActiveState): boolean {
  switch (t) {
    case 'start': case 'verify-active': return isActiveOrReloading(s);
    case 'stop': return isInactiveOrFailed(s);
    case 'reload': return s === 'reloading';
    case 'restart': return s === 'activating';
    case 'nop': return true;
  }
}

/** job_type_allows_late_merge(): a running job of this type may absorb a new one. */
export const allowsLateMerge = (t: JobType): boolean => t !== 'reload' && t !== 'restart';

/**
 * job_compare(): > 0 when job `a` must wait for `b`, given that a's unit is ordered `dep`
 * (after/before) b's unit. A stop (or restart) job always goes first; otherwise the order holds.
 */
export function mustWait(a: JobType, b: JobType, dep: 'after' | 'before'): boolean {
  if (a === 'nop' || b === 'nop') return false;
  // a after b: a waits unless a is a stop job; a before b: a waits when b is a stop job. A restart
  // job is a stop job in disguise until its stop is done (then it becomes a start job).
  const stops = (t: JobType): boolean => t === 'stop' || t === 'restart';
  return dep === 'after' ? !stops(a) : stops(b);
}

const START: Partial<Record<JobResult, string>> = {
  done: 'Started %s.', timeout: 'Timed out starting %s.', failed: 'Failed to start %s.', dependency: 'Dependency failed for %s.',
  assert: 'Assertion failed for %s.', unsupported: 'Starting of %s unsupported.', collected: 'Unnecessary job was removed for %s.',
  once: 'Unit %s has been started before and cannot be started again.',
};
const STOP: Partial<Record<JobResult, string>> = { done: 'Stopped %s.', failed: 'Stopped %s with error.', timeout: 'Timed out stopping %s.' };
const RELOAD: Partial<Record<JobResult, string>> = { done: 'Reloaded %s.', failed: 'Reload failed for %s.', timeout: 'Timed out reloading %s.' };
const VERIFY: Partial<Record<JobResult, string>> = { skipped: '%s is inactive.' };

/** job_done_message_format(): what systemd logs when a job of this type ends with this result. */
export function doneMessage(t: JobType, r: JobResult, ident: string): string | undefined {
  const table = t === 'start' ? START : t === 'stop' || t === 'restart' ? STOP : t === 'reload' ? RELOAD : t === 'verify-active' ? VERIFY : {};
  return table[r]?.replace('%s', ident);
}

/** job_done_messages[].log_level, by result. */
export const RESULT_LEVEL: Readonly<Record<JobResult, 'info' | 'notice' | 'warning' | 'err'>> = {
  done: 'info', canceled: 'info', timeout: 'err', failed: 'err', dependency: 'warning', skipped: 'notice', invalid: 'info',
  assert: 'warning', unsupported: 'warning', collected: 'info', once: 'err',
};

/** job_emit_start_message(). */
export function startMessage(t: JobType, ident: string): string | undefined {
  return t === 'start' ? `Starting ${ident}...` : t === 'stop' || t === 'restart' ? `Stopping ${ident}...` : t === 'reload' ? `Reloading ${ident}...` : undefined;
}
