// The dependency engine's state, events and effects: plain data, like src/engine/types.ts.

import type { ActiveState } from '../engine/states.ts';
import type { ActiveStates } from './active.ts';
import type { JobResult, JobType, RequestJobType } from './jobs.ts';
import type { JobMode } from './spec.ts';
import type { TxErrorCode } from './transaction.ts';

export interface Job {
  readonly id: number;
  readonly unit: string;
  readonly type: JobType;
  readonly state: 'waiting' | 'running';
  readonly ignoreOrder: boolean;
  readonly irreversible: boolean;
  /** When its timer fires (monotonic µs): JobTimeoutSec= from its installation, JobRunningTimeoutSec= from when it runs, whichever is first. */
  readonly deadline?: number;
}

export interface DepsState {
  /** Every unit's ActiveState as the dependency engine last heard it (targets: its own); an immutable table (active.ts). */
  readonly units: ActiveStates;
  /** The installed job of each unit (at most one, as in systemd). */
  readonly jobs: Readonly<Record<string, Job>>;
  readonly nextJobId: number;
}

export type DepsEvent =
  /** systemctl start|stop|… UNIT: a transaction anchored on `unit`. `manual` (default true) honours RefuseManualStart=/Stop=. */
  | { readonly t: 'request'; readonly unit: string; readonly type: RequestJobType; readonly mode?: JobMode; readonly manual?: boolean }
  /**
   * unit_notify(): the unit's ActiveState changed (the per-unit engine's state-changed effect, mapped
   * through ACTIVE_STATE). willAutoRestart: it entered dead/failed-before-auto-restart; reloadFailed:
   * a reload ended with a result other than success.
   */
  | { readonly t: 'state'; readonly unit: string; readonly from: ActiveState; readonly to: ActiveState; readonly willAutoRestart?: boolean; readonly reloadFailed?: boolean }
  /**
   * service_enter_restart(): the unit's restart timer fired (or, `shortcut`, a start came during
   * it) and its engine asks for the restart job; answered with a restart-job effect.
   */
  | { readonly t: 'auto-restart'; readonly unit: string; readonly direct?: boolean; readonly shortcut?: boolean }
  /**
   * The unit refused a start synchronously (unit_start()'s error): a condition failed (done, with
   * `message`), an assertion failed (assert), unsupported, once, invalid, failed.
   */
  | { readonly t: 'start-refused'; readonly unit: string; readonly result: JobResult; readonly message?: string; /** The start job refused (when known): another job of the unit is left alone. */ readonly id?: number }
  /** The job is canceled (its unit goes away): finished with result canceled, which fails the jobs that need it. */
  | { readonly t: 'cancel'; readonly id: number }
  /** The unit graph changed (units added, removed, dependencies edited): waiting jobs are looked at again. */
  | { readonly t: 'graph-changed' }
  /** A job timer (JobTimeoutSec=) armed by an arm-job-timer effect fired. */
  | { readonly t: 'job-timer'; readonly id: number };

export type DepsEffect =
  /** Tell the unit's service engine: start, stop or reload now. */
  | { readonly t: 'start' | 'stop' | 'reload'; readonly unit: string }
  /** A target changed state (targets have no service engine: the dependency engine is theirs). */
  | { readonly t: 'target-state'; readonly unit: string; readonly from: ActiveState; readonly to: ActiveState }
  | { readonly t: 'job-new'; readonly id: number; readonly unit: string; readonly type: JobType }
  /** A job changed type: merged with a new one, or a restart job that finished stopping became a start job. */
  | { readonly t: 'job-changed'; readonly id: number; readonly unit: string; readonly type: JobType }
  | { readonly t: 'job-done'; readonly id: number; readonly unit: string; readonly type: JobType; readonly result: JobResult }
  /** A request was accepted: its anchor job and every job it installed or merged into. */
  | { readonly t: 'request-queued'; readonly unit: string; readonly type: RequestJobType; readonly id: number; readonly jobs: readonly number[] }
  | { readonly t: 'request-failed'; readonly unit: string; readonly type: RequestJobType; readonly error: string; readonly code: TxErrorCode }
  | { readonly t: 'arm-job-timer'; readonly id: number; readonly deadline: number }
  | { readonly t: 'log'; readonly unit: string | undefined; readonly level: 'debug' | 'info' | 'notice' | 'warning' | 'err'; readonly message: string }
  /**
   * The answer to an auto-restart event, for the unit's service engine (its restart-job event):
   * the restart job is queued, could not be added (`error`), or was skipped (a stop job is pending).
   * Comes before the effects of the jobs it queued.
   */
  | { readonly t: 'restart-job'; readonly unit: string; readonly outcome: 'queued' | 'failed' | 'skipped'; readonly shortcut: boolean; readonly error?: string };

export interface DepsDecision {
  readonly state: DepsState;
  readonly effects: readonly DepsEffect[];
}
