// The engine's machine, events and effects: plain data.

import type { ExecCommand } from '../api/cmdline.ts';
import type { RateLimit } from './decisions.ts';
import type { ExecKind, ExitCode, ServiceResult, ServiceState } from './states.ts';
import type { StartChecks } from '../conditions/start.ts';

export type Role = 'main' | 'control';

export interface ExecStatus {
  readonly code: ExitCode;
  readonly status: number;
  readonly startUs: number;
  readonly exitUs: number;
}

export interface Machine {
  readonly state: ServiceState;
  readonly result: ServiceResult;
  readonly reloadResult: ServiceResult;
  readonly nRestarts: number;
  readonly flushNRestarts: boolean;
  readonly forbidRestart: boolean;
  readonly mainPid: number;
  /** False while a forking service's main PID is not known yet. */
  readonly mainPidKnown: boolean;
  readonly mainCommand: { readonly kind: ExecKind; readonly index: number } | undefined;
  readonly mainStartUs: number;
  readonly mainExec: ExecStatus | undefined;
  readonly controlPid: number;
  readonly controlCommand: { readonly kind: ExecKind; readonly index: number } | undefined;
  /** True when no process of the unit is left (the runner says so). */
  readonly groupEmpty: boolean;
  readonly startLimit: RateLimit;
  readonly notifyReady: boolean;
  readonly statusText: string | undefined;
  /** A WATCHDOG_USEC= override. */
  readonly watchdogOverrideUSec: number | undefined;
  /** What the current state timer means and when it fires; gen guards against stale fires. */
  readonly timer: { readonly deadline: number; readonly gen: number } | undefined;
  readonly watchdogDeadline: number | undefined;
  readonly timerGen: number;
  /** A start queued behind a stop (systemctl restart), or an automatic restart. */
  readonly pendingStart: boolean;
  /** The stop in progress is part of a manual restart (RestartKillSignal=). */
  readonly restarting: boolean;
  readonly timestamps: Timestamps;
  /**
   * The last Condition*=/Assert*= evaluation (ConditionResult=, AssertResult=…): the runner
   * records it before a start (src/conditions); the engine carries it unchanged.
   */
  readonly checks?: StartChecks | undefined;
}

export interface Timestamps {
  readonly stateChange?: number;
  readonly activeEnter?: number;
  readonly activeExit?: number;
  readonly inactiveEnter?: number;
  readonly inactiveExit?: number;
}

export const INITIAL_MACHINE: Machine = {
  state: 'dead', result: 'success', reloadResult: 'success', nRestarts: 0, flushNRestarts: true, forbidRestart: false,
  mainPid: 0, mainPidKnown: false, mainCommand: undefined, mainStartUs: 0, mainExec: undefined,
  controlPid: 0, controlCommand: undefined, groupEmpty: true, startLimit: { begin: 0, num: 0 }, notifyReady: false,
  statusText: undefined, watchdogOverrideUSec: undefined, timer: undefined, watchdogDeadline: undefined, timerGen: 0,
  pendingStart: false, restarting: false, timestamps: {},
};

export type Event =
  | { readonly t: 'start' }
  | { readonly t: 'stop' }
  | { readonly t: 'restart' }
  | { readonly t: 'reload' }
  | { readonly t: 'reset-failed' }
  /** The runner forked the process (and, for Type=exec, the exec succeeded when execOk). */
  | { readonly t: 'spawned'; readonly role: Role; readonly pid: number }
  /** The exec() of a spawned process succeeded (Type=exec readiness). */
  | { readonly t: 'exec-ok'; readonly pid: number }
  | { readonly t: 'spawn-failed'; readonly role: Role; readonly message: string }
  | { readonly t: 'exited'; readonly pid: number; readonly code: ExitCode; readonly status: number }
  | { readonly t: 'group-empty' }
  /** The kernel's OOM killer killed a process of the unit (its memory cgroup's oom_kill counter rose). */
  | { readonly t: 'oom-kill' }
  | { readonly t: 'timer'; readonly gen: number }
  | { readonly t: 'watchdog-timer' }
  /** sd_notify message; pid is the sender when the runner knows it. */
  | { readonly t: 'notify'; readonly pid: number | undefined; readonly fields: Readonly<Record<string, string>> }
  /** Result of find-main-pid: the PID from PIDFile= or the guess, or undefined. */
  | { readonly t: 'main-pid'; readonly pid: number | undefined }
  /**
   * The manager's answer to add-restart-job (restartByJob): the restart job is queued, could not be
   * added (`error`: manager_add_job()'s), or was skipped because a stop job is pending for the unit.
   */
  | { readonly t: 'restart-job'; readonly outcome: 'queued' | 'failed' | 'skipped'; readonly shortcut: boolean; readonly error?: string };

export type KillTarget = 'main' | 'control' | 'group';

/**
 * What happened to the unit, typed, for users, Events and metrics: emitted next to service.c's
 * equivalents (the log lines, unit_notify()) so that no one has to diff snapshots or compare
 * log messages to find out.
 */
export type Transition =
  /** service_sigchld_event(): the main process (for Type=forking, ExecStart=) exited. */
  | { readonly t: 'main-exited'; readonly code: ExitCode; readonly status: number }
  /** service_enter_dead() → auto-restart: restart number `nRestarts` follows in `delayUSec`, caused by `result`. */
  | { readonly t: 'restart-scheduled'; readonly delayUSec: number; readonly nRestarts: number; readonly result: ServiceResult }
  /** service_enter_restart(): "Scheduled restart job, restart counter is at N." (`result` caused it). */
  | { readonly t: 'restart-queued'; readonly nRestarts: number; readonly result: ServiceResult }
  /** service_start() refused by the start limit: "Start request repeated too quickly." */
  | { readonly t: 'start-limit-hit' }
  /** unit_notify(): the unit became active; `mainPid` is 0 when it has no main process (exited). */
  | { readonly t: 'started'; readonly mainPid: number }
  /** unit_notify(): a reload ended (back to active) with `result`. */
  | { readonly t: 'reloaded'; readonly result: ServiceResult }
  /** unit_notify(): the unit entered the failed state (and no restart follows) with `result`. */
  | { readonly t: 'failed'; readonly result: ServiceResult }
  /** unit_notify(): the unit entered inactive (dead) from a state that was not inactive. */
  | { readonly t: 'stopped' }
  /** unit_check_oom(): "A process of this unit has been killed by the OOM killer." (`policy`: what follows). */
  | { readonly t: 'oom-kill'; readonly policy: 'continue' | 'stop' | 'kill' }
  /** service_dispatch_watchdog(): "Watchdog timeout (limit …)!" */
  | { readonly t: 'watchdog-timeout'; readonly limitUSec: number };

export type Effect =
  | { readonly t: 'spawn'; readonly role: Role; readonly kind: ExecKind; readonly index: number; readonly command: ExecCommand; readonly env: Readonly<Record<string, string>> }
  | { readonly t: 'kill'; readonly targets: readonly KillTarget[]; readonly signal: number; readonly sighup: boolean }
  | { readonly t: 'arm-timer'; readonly deadline: number; readonly gen: number }
  | { readonly t: 'disarm-timer' }
  | { readonly t: 'arm-watchdog'; readonly deadline: number }
  | { readonly t: 'disarm-watchdog' }
  | { readonly t: 'find-main-pid'; readonly pidFile: string | undefined; readonly guess: boolean }
  | { readonly t: 'log'; readonly level: 'info' | 'notice' | 'warning'; readonly message: string }
  | { readonly t: 'state-changed'; readonly from: ServiceState; readonly to: ServiceState }
  /**
   * service_enter_restart() with restartByJob: queue the restart job (a start job in mode
   * JOB_RESTART_DEPENDENCIES, or replace with RestartMode=direct) and answer with a restart-job
   * event. `shortcut`: a start asked for during the restart delay ("immediately on client request").
   */
  | { readonly t: 'add-restart-job'; readonly direct: boolean; readonly shortcut: boolean }
  /** Nothing to run: what happened, for status, Events and metrics. */
  | { readonly t: 'transition'; readonly transition: Transition };

export interface Decision {
  readonly machine: Machine;
  readonly effects: readonly Effect[];
}
