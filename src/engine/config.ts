// The engine's view of a unit: the spec with systemd's defaults applied, time spans in
// microseconds, signals as numbers and command lines parsed. Pure: no I/O.

import { parseTimespan, USEC_PER_SEC, USEC_PER_MSEC } from '../api/timespan.ts';
import { parseCommandLine, type ExecCommand } from '../api/cmdline.ts';
import { signalNumber, parseExitStatusList, type ExitStatusSet } from '../api/signals.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import type { ExecKind } from './states.ts';
import { parseBoolean } from '../unitfile/parse.ts';

export type ServiceType = 'simple' | 'exec' | 'forking' | 'oneshot' | 'dbus' | 'notify' | 'notify-reload' | 'idle';
export type RestartPolicy = 'no' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-watchdog' | 'on-abort' | 'always';
export type KillMode = 'control-group' | 'mixed' | 'process' | 'none';
export type NotifyAccess = 'none' | 'main' | 'exec' | 'all';
/** TimeoutStartFailureMode=/TimeoutStopFailureMode=: what a start or stop timeout does (service_dispatch_timer()). */
export type TimeoutFailureMode = 'terminate' | 'abort' | 'kill';
/** OOMPolicy=: what a kernel OOM kill of one of the unit's processes does (service_notify_cgroup_oom_event()). */
export type OOMPolicy = 'continue' | 'stop' | 'kill';

export interface ServiceConfig {
  readonly unitName: string;
  readonly type: ServiceType;
  readonly remainAfterExit: boolean;
  readonly guessMainPID: boolean;
  readonly pidFile: string | undefined;
  readonly restart: RestartPolicy;
  readonly restartMode: 'normal' | 'direct' | 'debug';
  readonly restartUSec: number;
  readonly restartSteps: number;
  readonly restartMaxDelayUSec: number;
  readonly timeoutStartUSec: number;
  readonly timeoutStopUSec: number;
  readonly timeoutAbortUSec: number;
  readonly runtimeMaxUSec: number;
  /** RuntimeRandomizedExtraSec=: up to this much is added to RuntimeMaxSec= (the draw is decide()'s `random`). */
  readonly runtimeRandomizedExtraUSec: number;
  readonly timeoutStartFailureMode: TimeoutFailureMode;
  readonly timeoutStopFailureMode: TimeoutFailureMode;
  readonly watchdogUSec: number;
  readonly startLimitIntervalUSec: number;
  readonly startLimitBurst: number;
  readonly successExitStatus: ExitStatusSet;
  readonly restartPreventExitStatus: ExitStatusSet;
  readonly restartForceExitStatus: ExitStatusSet;
  readonly notifyAccess: NotifyAccess;
  readonly killMode: KillMode;
  readonly killSignal: number;
  readonly restartKillSignal: number;
  readonly sendSIGHUP: boolean;
  readonly sendSIGKILL: boolean;
  readonly finalKillSignal: number;
  readonly watchdogSignal: number;
  readonly reloadSignal: number;
  readonly oomPolicy: OOMPolicy;
  readonly exec: Readonly<Record<ExecKind, readonly ExecCommand[]>>;
  /**
   * Whether a manager's job starts the automatic restart, as in systemd: when the restart timer
   * fires (or a start comes during it), service_enter_restart() asks for a restart job (the
   * `add-restart-job` effect) and the engine waits in auto-restart for the answer (`restart-job`
   * event): queued, it counts the restart and waits in auto-restart-queued until that job's start
   * comes; refused, it fails with Result resources. Off (the engine on its own, configFromSpec()'s
   * default): it counts the restart and starts the unit itself at once. The agent's dependency
   * engine turns it on.
   */
  readonly restartByJob?: boolean;
}

/** systemd 257's defaults (system.conf DefaultTimeoutStartSec= etc.). */
export const DEFAULTS = {
  restartUSec: 100 * USEC_PER_MSEC,
  timeoutUSec: 90 * USEC_PER_SEC,
  startLimitIntervalUSec: 10 * USEC_PER_SEC,
  startLimitBurst: 5,
} as const;

const span = (v: unknown, fallback: number): number => (v === undefined ? fallback : parseTimespan(v as string | number));
/** TimeoutStartSec=0 / TimeoutStopSec=0 mean "no timeout". */
const timeout = (v: number): number => (v === 0 ? Infinity : v);
const sig = (v: unknown, fallback: number): number => (v === undefined ? fallback : signalNumber(String(v)) ?? fallback);
const commands = (v: unknown): ExecCommand[] => (Array.isArray(v) ? v.flatMap((c) => parseCommandLine(String(c))) : []);

export function configFromSpec(spec: ServiceUnitSpec, unitName: string): ServiceConfig {
  const u = spec.unit ?? {};
  const s = spec.service ?? {};
  const exec: Record<ExecKind, ExecCommand[]> = {
    condition: commands(s['execCondition']), startPre: commands(s['execStartPre']), start: commands(s['execStart']),
    startPost: commands(s['execStartPost']), reload: commands(s['execReload']), stop: commands(s['execStop']), stopPost: commands(s['execStopPost']),
  };
  const type = (s['type'] as ServiceType | undefined) ?? (exec.start.length > 0 ? 'simple' : 'oneshot');
  const timeoutSec = s['timeoutSec'] !== undefined ? timeout(span(s['timeoutSec'], DEFAULTS.timeoutUSec)) : undefined;
  const timeoutStartUSec = s['timeoutStartSec'] !== undefined ? timeout(span(s['timeoutStartSec'], 0))
    : timeoutSec ?? (type === 'oneshot' ? Infinity : DEFAULTS.timeoutUSec);
  const timeoutStopUSec = s['timeoutStopSec'] !== undefined ? timeout(span(s['timeoutStopSec'], 0)) : timeoutSec ?? DEFAULTS.timeoutUSec;
  const watchdogUSec = span(s['watchdogSec'], 0);
  const killSignal = sig(s['killSignal'], 15);
  const notifyDefault: NotifyAccess = type === 'notify' || type === 'notify-reload' || watchdogUSec > 0 ? 'main' : 'none';
  return {
    unitName,
    type,
    remainAfterExit: s['remainAfterExit'] === true,
    guessMainPID: s['guessMainPID'] !== false,
    pidFile: s['pidFile'] as string | undefined,
    restart: (s['restart'] as RestartPolicy | undefined) ?? 'no',
    restartMode: (s['restartMode'] as ServiceConfig['restartMode'] | undefined) ?? 'normal',
    restartUSec: span(s['restartSec'], DEFAULTS.restartUSec),
    restartSteps: (s['restartSteps'] as number | undefined) ?? 0,
    restartMaxDelayUSec: span(s['restartMaxDelaySec'], Infinity),
    timeoutStartUSec,
    timeoutStopUSec,
    timeoutAbortUSec: s['timeoutAbortSec'] !== undefined ? timeout(span(s['timeoutAbortSec'], 0)) : timeoutStopUSec,
    runtimeMaxUSec: s['runtimeMaxSec'] !== undefined ? timeout(span(s['runtimeMaxSec'], 0)) : Infinity,
    runtimeRandomizedExtraUSec: span(s['runtimeRandomizedExtraSec'], 0),
    timeoutStartFailureMode: (s['timeoutStartFailureMode'] as TimeoutFailureMode | undefined) ?? 'terminate',
    timeoutStopFailureMode: (s['timeoutStopFailureMode'] as TimeoutFailureMode | undefined) ?? 'terminate',
    watchdogUSec,
    startLimitIntervalUSec: span(u['startLimitIntervalSec'], DEFAULTS.startLimitIntervalUSec),
    startLimitBurst: (u['startLimitBurst'] as number | undefined) ?? DEFAULTS.startLimitBurst,
    successExitStatus: parseExitStatusList((s['successExitStatus'] as Array<string | number> | undefined) ?? []),
    restartPreventExitStatus: parseExitStatusList((s['restartPreventExitStatus'] as Array<string | number> | undefined) ?? []),
    restartForceExitStatus: parseExitStatusList((s['restartForceExitStatus'] as Array<string | number> | undefined) ?? []),
    notifyAccess: (s['notifyAccess'] as NotifyAccess | undefined) ?? notifyDefault,
    killMode: (s['killMode'] as KillMode | undefined) ?? 'control-group',
    killSignal,
    restartKillSignal: sig(s['restartKillSignal'], killSignal),
    sendSIGHUP: s['sendSIGHUP'] === true,
    sendSIGKILL: s['sendSIGKILL'] !== false,
    finalKillSignal: sig(s['finalKillSignal'], 9),
    watchdogSignal: sig(s['watchdogSignal'], 6),
    reloadSignal: sig(s['reloadSignal'], 1),
    // service_add_extras(): unset, OOMPolicy= is continue with Delegate= (the payload manages its
    // subtree), else DefaultOOMPolicy= (stop, systemd-system.conf(5))
    oomPolicy: (s['oomPolicy'] as OOMPolicy | undefined) ?? (delegates(s['delegate']) ? 'continue' : 'stop'),
    exec,
  };
}

/** Delegate= as config_parse_delegate() reads it: a boolean word, or controller names (on). */
function delegates(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  const text = String(v).trim();
  return text !== '' && (parseBoolean(text) ?? true);
}
