// The small decisions of service.c, as named pure functions:
// is_clean_exit() → classifyExit, service_shall_restart() → shallRestart,
// service_restart_usec_next() → restartDelayNext, ratelimit_below() → rateLimitBelow.

import type { ExitStatusSet } from '../api/signals.ts';
import type { ServiceConfig } from './config.ts';
import type { ExitCode, ServiceResult } from './states.ts';

const SIGHUP = 1, SIGINT = 2, SIGPIPE = 13, SIGTERM = 15;

/**
 * is_clean_exit(): exit code 0 or one listed in SuccessExitStatus=; for daemons (every type but
 * oneshot, and not for control commands) death by SIGHUP, SIGINT, SIGTERM or SIGPIPE is clean too.
 */
export function isCleanExit(code: ExitCode, status: number, daemon: boolean, success: ExitStatusSet): boolean {
  if (code === 'exited') return status === 0 || success.statuses.has(status);
  if (code === 'killed') return (daemon && [SIGHUP, SIGINT, SIGTERM, SIGPIPE].includes(status)) || success.signals.has(status);
  return false;
}

/** The ServiceResult of a process exit (service_sigchld_event()). */
export function classifyExit(code: ExitCode, status: number, daemon: boolean, success: ExitStatusSet): ServiceResult {
  if (isCleanExit(code, status, daemon, success)) return 'success';
  if (code === 'exited') return 'exit-code';
  if (code === 'killed') return 'signal';
  return 'core-dump';
}

/** exit_status_set_test(). */
export function exitStatusSetTest(set: ExitStatusSet, code: ExitCode | undefined, status: number | undefined): boolean {
  if (code === undefined || status === undefined) return false;
  if (code === 'exited') return set.statuses.has(status);
  return set.signals.has(status);
}

export interface RestartInput {
  readonly forbidRestart: boolean;
  readonly result: ServiceResult;
  readonly mainExitCode: ExitCode | undefined;
  readonly mainExitStatus: number | undefined;
}

/** service_shall_restart(): whether and why (the reason systemd logs). */
export function shallRestart(cfg: Pick<ServiceConfig, 'restart' | 'type' | 'restartPreventExitStatus' | 'restartForceExitStatus'>, m: RestartInput): { restart: boolean; reason: string } {
  if (m.forbidRestart) return { restart: false, reason: 'manual stop' };
  if (exitStatusSetTest(cfg.restartPreventExitStatus, m.mainExitCode, m.mainExitStatus)) return { restart: false, reason: 'prevented by exit status' };
  if (exitStatusSetTest(cfg.restartForceExitStatus, m.mainExitCode, m.mainExitStatus)) {
    if (cfg.type === 'oneshot' && m.result === 'success') return { restart: false, reason: 'service type and exit status' };
    return { restart: true, reason: 'forced by exit status' };
  }
  const r = m.result;
  const table = {
    'no': false,
    'always': r !== 'exec-condition',
    'on-success': r === 'success',
    'on-failure': r !== 'success' && r !== 'exec-condition',
    'on-abnormal': r !== 'success' && r !== 'exit-code' && r !== 'exec-condition',
    'on-watchdog': r === 'watchdog',
    'on-abort': r === 'signal' || r === 'core-dump',
  } as const satisfies Record<ServiceConfig['restart'], boolean>;
  return { restart: table[cfg.restart], reason: 'restart setting' };
}

/**
 * service_restart_usec_next(): RestartSec=, growing geometrically over RestartSteps= steps to
 * RestartMaxDelaySec=. `nRestartsNext` counts the restart about to happen (1 for the first).
 */
export function restartDelayNext(cfg: Pick<ServiceConfig, 'restartUSec' | 'restartSteps' | 'restartMaxDelayUSec'>, nRestartsNext: number): number {
  const { restartUSec: base, restartSteps: steps, restartMaxDelayUSec: max } = cfg;
  if (nRestartsNext <= 1 || steps === 0 || base === 0 || max === Infinity || base >= max) return base;
  if (nRestartsNext > steps) return max;
  return Math.floor(base * Math.pow(max / base, (nRestartsNext - 1) / steps));
}

export interface RateLimit {
  /** Start of the current interval (µs), 0 when never started. */
  readonly begin: number;
  readonly num: number;
}

export const RATELIMIT_INIT: RateLimit = { begin: 0, num: 0 };

/** ratelimit_below(): counts one event; allowed while fewer than `burst` happened in the interval. */
export function rateLimitBelow(rl: RateLimit, now: number, intervalUSec: number, burst: number): { allowed: boolean; next: RateLimit } {
  if (intervalUSec <= 0 || burst <= 0) return { allowed: true, next: rl };
  if (rl.begin <= 0 || now - rl.begin > intervalUSec) return { allowed: true, next: { begin: now, num: 1 } };
  if (rl.num < burst) return { allowed: true, next: { begin: rl.begin, num: rl.num + 1 } };
  return { allowed: false, next: rl };
}
