// decide(machine, event, config, now) → { machine, effects }: systemd's service state machine.
// Each enter*() below is the service.c function of the same name (service_enter_start_pre()
// → enterStartPre()), so the two can be read side by side. Pure: the clock is `now` (µs).

import type { ServiceConfig } from './config.ts';
import { classifyExit, shallRestart, restartDelayNext, rateLimitBelow, RATELIMIT_INIT } from './decisions.ts';
import { ACTIVE_STATE, CLD, EXEC_DIRECTIVE, type ExecKind, type ExitCode, type ServiceResult, type ServiceState } from './states.ts';
import type { Decision, Effect, Event, KillTarget, Machine, Role, Transition } from './types.ts';
import { signalName, EXIT_STATUS_NAMES } from '../api/signals.ts';

const EXIT_STATUS_NAME = new Map(Object.entries(EXIT_STATUS_NAMES).map(([k, v]) => [v, k]));
/** service_sigchld_event()'s "status=217/USER", "status=9/KILL", "status=42/n/a". */
function statusText(code: ExitCode, status: number): string {
  return `${status}/${code === 'exited' ? EXIT_STATUS_NAME.get(status) ?? 'n/a' : signalName(status).replace(/^SIG/, '')}`;
}

/** systemd's message when the start limit refuses a start (service_start(): -ECANCELED). */
export const START_LIMIT_HIT = 'Start request repeated too quickly.';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

class Ctx {
  readonly m: Mutable<Machine>;
  readonly effects: Effect[] = [];
  readonly cfg: ServiceConfig;
  readonly now: number;
  /** A draw in [0, 1) for RuntimeRandomizedExtraSec=, injected like the clock. */
  readonly random: number | undefined;
  constructor(m: Machine, cfg: ServiceConfig, now: number, random: number | undefined) {
    this.m = { ...m, timestamps: { ...m.timestamps } };
    this.cfg = cfg;
    this.now = now;
    this.random = random;
  }
  log(message: string, level: 'info' | 'notice' | 'warning' = 'info'): void { this.effects.push({ t: 'log', level, message }); }
  transition(transition: Transition): void { this.effects.push({ t: 'transition', transition }); }

  /** The main process (or a forking service's ExecStart=) exited: ExecMainCode=/ExecMainStatus=. */
  mainExited(code: ExitCode, status: number): void {
    this.m.mainExec = { code, status, startUs: this.m.mainStartUs, exitUs: this.now };
    this.transition({ t: 'main-exited', code, status });
  }

  /** unit_notify(): what a change of ActiveState means to users. */
  private notify(from: ServiceState, to: ServiceState): void {
    const was = ACTIVE_STATE[from];
    const is = ACTIVE_STATE[to];
    if (is === 'active' && was === 'reloading') this.transition({ t: 'reloaded', result: this.m.reloadResult });
    // a simple service is active at fork(); its PID follows with 'spawned' (mainPid -1 until then)
    else if (is === 'active' && was !== 'active' && this.m.mainPid >= 0) this.transition({ t: 'started', mainPid: this.m.mainPid });
    else if (to === 'failed') this.transition({ t: 'failed', result: this.m.result });
    else if (to === 'dead' && was !== 'inactive') this.transition({ t: 'stopped' });
  }

  setState(to: ServiceState): void {
    const from = this.m.state;
    this.m.state = to;
    const oldActive = ACTIVE_STATE[from];
    const newActive = ACTIVE_STATE[to];
    // Timers belong to states: leaving a timed state disarms (service_set_state()).
    if (!TIMED_STATES.has(to) && this.m.timer) { this.m.timer = undefined; this.effects.push({ t: 'disarm-timer' }); }
    if (!WATCHDOG_STATES.has(to) && this.m.watchdogDeadline !== undefined) { this.m.watchdogDeadline = undefined; this.effects.push({ t: 'disarm-watchdog' }); }
    if (from === to) return;
    const ts = this.m.timestamps as Mutable<Machine['timestamps']>;
    ts.stateChange = this.now;
    if (oldActive !== newActive) {
      const wasActive = oldActive === 'active' || oldActive === 'reloading';
      const isActive = newActive === 'active' || newActive === 'reloading';
      const wasInactive = oldActive === 'inactive' || oldActive === 'failed';
      const isInactive = newActive === 'inactive' || newActive === 'failed';
      if (wasInactive && !isInactive) ts.inactiveExit = this.now;
      if (!wasActive && isActive) ts.activeEnter = this.now;
      if (wasActive && !isActive) ts.activeExit = this.now;
      if (!wasInactive && isInactive) ts.inactiveEnter = this.now;
    }
    this.effects.push({ t: 'state-changed', from, to });
    this.notify(from, to);
  }

  armTimer(usec: number): void {
    if (usec === Infinity) { if (this.m.timer) { this.m.timer = undefined; this.effects.push({ t: 'disarm-timer' }); } return; }
    const gen = this.m.timerGen + 1;
    this.m.timerGen = gen;
    this.m.timer = { deadline: this.now + usec, gen };
    this.effects.push({ t: 'arm-timer', deadline: this.now + usec, gen });
  }

  setResult(f: ServiceResult): void { if (this.m.result === 'success') this.m.result = f; }

  env(kind: ExecKind): Record<string, string> {
    const e: Record<string, string> = {};
    if (this.m.mainPid > 0 && (kind === 'reload' || kind === 'stop' || kind === 'startPost')) e['MAINPID'] = String(this.m.mainPid);
    if (kind === 'stopPost' || kind === 'stop') {
      e['SERVICE_RESULT'] = this.m.result;
      const x = this.m.mainExec;
      if (x) { e['EXIT_CODE'] = x.code; e['EXIT_STATUS'] = x.code === 'exited' ? String(x.status) : signalName(x.status).replace(/^SIG/, ''); }
    }
    return e;
  }

  spawn(role: Role, kind: ExecKind, index: number): void {
    const command = this.cfg.exec[kind][index]!;
    if (role === 'control') { this.m.controlCommand = { kind, index }; this.m.controlPid = -1; }
    else { this.m.mainCommand = { kind, index }; this.m.mainPid = -1; this.m.mainStartUs = this.now; }
    this.m.groupEmpty = false;
    this.effects.push({ t: 'spawn', role, kind, index, command, env: this.env(kind) });
  }
}

const TIMED_STATES = new Set<ServiceState>(['condition', 'start-pre', 'start', 'start-post', 'running', 'reload', 'reload-signal', 'reload-notify',
  'stop', 'stop-watchdog', 'stop-sigterm', 'stop-sigkill', 'stop-post', 'final-watchdog', 'final-sigterm', 'final-sigkill', 'auto-restart']);
const WATCHDOG_STATES = new Set<ServiceState>(['start-post', 'running', 'reload', 'reload-signal', 'reload-notify']);

const alive = (pid: number): boolean => pid !== 0;

// ---- service.c: entering states -------------------------------------------------------------

function enterDead(c: Ctx, f: ServiceResult, allowRestart: boolean): void {
  c.setResult(f);
  const m = c.m;
  if (m.result !== 'success') c.log(`Failed with result '${m.result}'.`, 'warning');
  else c.log('Deactivated successfully.');
  let restart = false;
  if (allowRestart) {
    const d = shallRestart(c.cfg, { forbidRestart: m.forbidRestart, result: m.result, mainExitCode: m.mainExec?.code, mainExitStatus: m.mainExec?.status });
    restart = d.restart;
  }
  m.mainPid = 0; m.controlPid = 0; m.mainCommand = undefined; m.controlCommand = undefined;
  if (restart) {
    const direct = c.cfg.restartMode === 'direct';
    if (!direct) c.setState(m.result === 'success' ? 'dead-before-auto-restart' : 'failed-before-auto-restart');
    const delay = restartDelayNext(c.cfg, m.nRestarts + 1);
    c.transition({ t: 'restart-scheduled', delayUSec: delay, nRestarts: m.nRestarts + 1, result: m.result });
    c.setState('auto-restart');
    c.armTimer(delay);
    m.flushNRestarts = false;
  } else {
    c.setState(m.result === 'success' || m.result === 'exec-condition' ? 'dead' : 'failed');
    m.flushNRestarts = true;
    m.forbidRestart = false;
    if (m.pendingStart) { m.pendingStart = false; startJob(c, false); }
  }
}

function enterStopPost(c: Ctx, f: ServiceResult): void {
  c.setResult(f);
  c.m.controlPid = 0; c.m.controlCommand = undefined;
  if (c.cfg.exec.stopPost.length > 0) {
    c.spawn('control', 'stopPost', 0);
    c.setState('stop-post');
    c.armTimer(c.cfg.timeoutStopUSec);
  } else enterSignal(c, 'final-sigterm', 'success');
}

type SignalState = 'stop-watchdog' | 'stop-sigterm' | 'stop-sigkill' | 'final-watchdog' | 'final-sigterm' | 'final-sigkill';

/** service_enter_signal() with unit_kill_context(). */
/** The signal a state of enterSignal() sends, and whether SIGHUP follows (SendSIGHUP=). */
function signalOf(c: Ctx, state: SignalState): { signal: number; sighup: boolean } {
  const cfg = c.cfg;
  const op = state.endsWith('watchdog') ? 'watchdog' : state.endsWith('sigkill') ? 'kill' : (c.m.restarting ? 'restart' : 'terminate');
  const signal = op === 'watchdog' ? cfg.watchdogSignal : op === 'kill' ? cfg.finalKillSignal : op === 'restart' ? cfg.restartKillSignal : cfg.killSignal;
  return { signal, sighup: cfg.sendSIGHUP && (op === 'terminate' || op === 'restart') && signal !== 1 };
}

const SIGNAL_STATES = new Set<ServiceState>(['stop-watchdog', 'stop-sigterm', 'stop-sigkill', 'final-watchdog', 'final-sigterm', 'final-sigkill']);

function enterSignal(c: Ctx, state: SignalState, f: ServiceResult): void {
  c.setResult(f);
  const m = c.m;
  const cfg = c.cfg;
  const { signal, sighup } = signalOf(c, state);
  let wait = false;
  if (cfg.killMode !== 'none') {
    const targets: KillTarget[] = [];
    if (alive(m.mainPid)) { targets.push('main'); wait = true; }
    if (alive(m.controlPid)) { targets.push('control'); wait = true; }
    if (cfg.killMode === 'control-group' || (cfg.killMode === 'mixed' && state.endsWith('sigkill'))) {
      targets.push('group');
      if (!m.groupEmpty) wait = true;
    }
    if (targets.length > 0) c.effects.push({ t: 'kill', targets, signal, sighup });
  }
  if (wait) {
    c.setState(state);
    c.armTimer(state.endsWith('watchdog') ? cfg.timeoutAbortUSec : cfg.timeoutStopUSec);
  } else if ((state === 'stop-watchdog' || state === 'stop-sigterm') && cfg.sendSIGKILL) enterSignal(c, 'stop-sigkill', 'success');
  else if (state === 'stop-watchdog' || state === 'stop-sigterm' || state === 'stop-sigkill') enterStopPost(c, 'success');
  else if ((state === 'final-watchdog' || state === 'final-sigterm') && cfg.sendSIGKILL) enterSignal(c, 'final-sigkill', 'success');
  else enterDead(c, 'success', true);
}

function enterStop(c: Ctx, f: ServiceResult): void {
  c.setResult(f);
  c.m.controlPid = 0; c.m.controlCommand = undefined;
  if (c.cfg.exec.stop.length > 0) {
    c.spawn('control', 'stop', 0);
    c.setState('stop');
    c.armTimer(c.cfg.timeoutStopUSec);
  } else enterSignal(c, 'stop-sigterm', 'success');
}

function serviceGood(c: Ctx): boolean {
  if (c.m.mainPidKnown) return alive(c.m.mainPid);
  return !c.m.groupEmpty;
}

function enterRunning(c: Ctx, f: ServiceResult): void {
  c.setResult(f);
  c.m.controlPid = 0; c.m.controlCommand = undefined;
  if (c.m.result !== 'success') enterSignal(c, 'stop-sigterm', f);
  else if (serviceGood(c)) {
    c.setState('running');
    c.armTimer(runningTimeout(c));
  } else if (c.cfg.remainAfterExit) c.setState('exited');
  else enterStop(c, 'success');
}

/** service_running_timeout(): RuntimeMaxSec= from the moment the unit became active, plus a
 * random extra of up to RuntimeRandomizedExtraSec= (drawn each time, as random_u64_range()). */
function runningTimeout(c: Ctx): number {
  const max = c.cfg.runtimeMaxUSec;
  if (max === Infinity) return Infinity;
  const extra = c.cfg.runtimeRandomizedExtraUSec > 0 && c.cfg.runtimeRandomizedExtraUSec !== Infinity ? Math.floor((c.random ?? drawFrom(c.now)) * c.cfg.runtimeRandomizedExtraUSec) : 0;
  return Math.max(0, (c.m.timestamps.activeEnter ?? c.now) + max + extra - c.now);
}

function resetWatchdog(c: Ctx): void {
  const usec = c.m.watchdogOverrideUSec ?? c.cfg.watchdogUSec;
  if (usec > 0 && usec !== Infinity) {
    c.m.watchdogDeadline = c.now + usec;
    c.effects.push({ t: 'arm-watchdog', deadline: c.now + usec });
  }
}

function enterStartPost(c: Ctx): void {
  c.m.controlPid = 0; c.m.controlCommand = undefined;
  if (c.cfg.exec.startPost.length > 0) {
    c.spawn('control', 'startPost', 0);
    c.setState('start-post');
    c.armTimer(c.cfg.timeoutStartUSec);
    resetWatchdog(c);
  } else {
    c.setState(c.m.state); // keep timestamps
    enterRunning(c, 'success');
    resetWatchdog(c);
  }
}

function enterStart(c: Ctx): void {
  const cfg = c.cfg;
  c.m.controlPid = 0; c.m.controlCommand = undefined;
  if (cfg.exec.start.length === 0) {
    // Type=oneshot without ExecStart= (RemainAfterExit=yes, ExecStop=): nothing to run.
    c.m.mainPidKnown = true;
    enterStartPost(c);
    return;
  }
  if (cfg.type === 'forking') {
    c.m.mainPidKnown = false;
    c.spawn('control', 'start', 0);
  } else {
    c.m.mainPidKnown = true;
    c.spawn('main', 'start', 0);
  }
  c.setState('start');
  c.armTimer(cfg.timeoutStartUSec);
  // service_enter_start(): "For simple services we immediately start the START_POST binaries",
  // right after fork(); the PID follows with the 'spawned' event.
  if (cfg.type === 'simple' || cfg.type === 'idle' || cfg.type === 'dbus') enterStartPost(c);
}

function enterStartPre(c: Ctx): void {
  c.m.controlPid = 0; c.m.controlCommand = undefined;
  if (c.cfg.exec.startPre.length > 0) {
    c.spawn('control', 'startPre', 0);
    c.setState('start-pre');
    c.armTimer(c.cfg.timeoutStartUSec);
  } else enterStart(c);
}

function enterCondition(c: Ctx): void {
  if (c.cfg.exec.condition.length > 0) {
    c.spawn('control', 'condition', 0);
    c.setState('condition');
    c.armTimer(c.cfg.timeoutStartUSec);
  } else enterStartPre(c);
}

/** unit_start() → service_test_startable() (start limit) → service_start(). */
function startJob(c: Ctx, automatic: boolean): void {
  const m = c.m;
  const rl = rateLimitBelow(m.startLimit, c.now, c.cfg.startLimitIntervalUSec, c.cfg.startLimitBurst);
  m.startLimit = rl.next;
  if (!rl.allowed) {
    c.log(START_LIMIT_HIT, 'warning');
    c.transition({ t: 'start-limit-hit' });
    m.pendingStart = false;
    enterDead(c, 'start-limit-hit', false);
    return;
  }
  if (!automatic && m.flushNRestarts) m.nRestarts = 0;
  m.flushNRestarts = false;
  m.result = 'success';
  m.reloadResult = 'success';
  m.forbidRestart = false;
  m.restarting = false;
  m.statusText = undefined;
  m.notifyReady = false;
  m.watchdogOverrideUSec = undefined;
  m.mainExec = undefined;
  m.mainPidKnown = false;
  enterCondition(c);
}

/**
 * service_enter_restart(): the restart timer fired, or (`shortcut`) a start came during the restart
 * delay. With restartByJob the manager is asked for the restart job first (its answer:
 * onRestartJob()); on its own, the engine counts the restart and starts the unit at once.
 */
function enterRestart(c: Ctx, shortcut: boolean): void {
  if (c.cfg.restartByJob) { c.effects.push({ t: 'add-restart-job', direct: c.cfg.restartMode === 'direct', shortcut }); return; }
  restartQueued(c, shortcut);
  startJob(c, true);
}

/** The restart job is queued: NRestarts counts it, and the unit waits for it in auto-restart-queued. */
function restartQueued(c: Ctx, shortcut: boolean): void {
  c.m.nRestarts++;
  c.log(`Scheduled restart job${shortcut ? ' immediately on client request' : ''}, restart counter is at ${c.m.nRestarts}.`);
  c.transition({ t: 'restart-queued', nRestarts: c.m.nRestarts, result: c.m.result });
  c.setState('auto-restart-queued');
}

/** The manager's answer to add-restart-job (the rest of service_enter_restart()). */
function onRestartJob(c: Ctx, outcome: 'queued' | 'failed' | 'skipped', shortcut: boolean, error: string | undefined): void {
  if (c.m.state !== 'auto-restart') return; // stopped meanwhile: its stop won
  if (outcome === 'queued') restartQueued(c, shortcut);
  else if (outcome === 'skipped') c.log('Stop job pending for unit, skipping automatic restart.');
  else {
    c.log(`Failed to schedule restart job: ${error ?? 'unknown error'}`, 'warning');
    enterDead(c, 'resources', false);
  }
}

function runNext(c: Ctx, role: Role): boolean {
  const cmd = role === 'control' ? c.m.controlCommand : c.m.mainCommand;
  if (!cmd) return false;
  const next = cmd.index + 1;
  if (next >= c.cfg.exec[cmd.kind].length) return false;
  c.spawn(role, cmd.kind, next);
  return true;
}

// ---- events ---------------------------------------------------------------------------------

function onMainExit(c: Ctx, code: ExitCode, status: number): void {
  const m = c.m;
  const cfg = c.cfg;
  c.mainExited(code, status);
  let f = classifyExit(code, status, cfg.type !== 'oneshot', cfg.successExitStatus);
  const cmd = m.mainCommand ? cfg.exec[m.mainCommand.kind][m.mainCommand.index] : undefined;
  if (f !== 'success') {
    c.log(`Main process exited, code=${code}, status=${statusText(code, status)}${cmd?.flags.ignoreFailure ? ' (ignored)' : ''}`, cmd?.flags.ignoreFailure ? 'info' : 'notice');
  }
  if (cmd?.flags.ignoreFailure) f = 'success';
  m.mainPid = 0;
  if (f === 'success' && cfg.type === 'oneshot' && m.state === 'start' && runNext(c, 'main')) return;
  m.mainCommand = undefined;
  switch (m.state) {
    case 'start-post': case 'reload': case 'reload-signal': case 'reload-notify':
      if (!alive(m.controlPid)) enterStop(c, f);
      break;
    case 'stop':
      c.setResult(f);
      break;
    case 'start':
      if (cfg.type === 'oneshot') {
        if (f === 'success') enterStartPost(c); else enterSignal(c, 'stop-sigterm', f);
        break;
      }
      if (cfg.type === 'notify' || cfg.type === 'notify-reload') {
        if (f !== 'success') enterSignal(c, 'stop-sigterm', f);
        else if (!cfg.remainAfterExit || cfg.notifyAccess === 'main') enterSignal(c, 'stop-sigterm', 'protocol');
        break;
      }
      enterRunning(c, f);
      break;
    case 'running':
      enterRunning(c, f);
      break;
    case 'stop-watchdog': case 'stop-sigterm': case 'stop-sigkill':
      if (!alive(m.controlPid)) enterStopPost(c, f);
      break;
    case 'stop-post':
      c.setResult(f);
      break;
    case 'final-watchdog': case 'final-sigterm': case 'final-sigkill':
      if (!alive(m.controlPid)) enterDead(c, f, true);
      break;
    default:
      break;
  }
}

function onControlExit(c: Ctx, code: ExitCode, status: number): void {
  const m = c.m;
  const cfg = c.cfg;
  const cmdRef = m.controlCommand;
  const cmd = cmdRef ? cfg.exec[cmdRef.kind][cmdRef.index] : undefined;
  let f: ServiceResult;
  if (cmdRef?.kind === 'condition') {
    f = code === 'exited' && status === 0 ? 'success' : code === 'exited' && status < 255 ? 'exec-condition' : code === 'exited' ? 'exit-code' : code === 'killed' ? 'signal' : 'core-dump';
  } else f = classifyExit(code, status, false, cfg.successExitStatus);
  if (f !== 'success' && cmdRef) {
    c.log(`Control process exited, code=${code}, status=${code === 'exited' ? status : signalName(status)} (${EXEC_DIRECTIVE[cmdRef.kind]})${cmd?.flags.ignoreFailure ? ', ignored' : ''}`, cmd?.flags.ignoreFailure ? 'info' : 'notice');
  }
  if (cmd?.flags.ignoreFailure) f = 'success';
  if (cmdRef?.kind === 'start' && cfg.type === 'forking') c.mainExited(code, status);
  m.controlPid = 0;
  if (f === 'success' && runNext(c, 'control')) return;
  m.controlCommand = undefined;
  switch (m.state) {
    case 'condition':
      if (f === 'success') enterStartPre(c);
      else if (f === 'exec-condition') {
        // systemd 257 (checked with the oracle): the unit ends inactive (dead) with Result=success,
        // ConditionResult=no, and is not restarted even with Restart=always.
        c.log('Skipped due to \'exec-condition\'.');
        m.forbidRestart = true;
        enterSignal(c, 'stop-sigterm', 'success');
      }
      else enterSignal(c, 'stop-sigterm', f);
      break;
    case 'start-pre':
      if (f === 'success') enterStart(c); else enterSignal(c, 'stop-sigterm', f);
      break;
    case 'start':
      if (cfg.type !== 'forking') break;
      if (f !== 'success') { enterSignal(c, 'stop-sigterm', f); break; }
      c.effects.push({ t: 'find-main-pid', pidFile: cfg.pidFile, guess: cfg.guessMainPID });
      break;
    case 'start-post':
      if (f !== 'success') { enterSignal(c, 'stop-sigterm', f); break; }
      enterRunning(c, 'success');
      break;
    case 'reload': case 'reload-signal': case 'reload-notify':
      m.reloadResult = f;
      enterRunning(c, 'success');
      break;
    case 'stop':
      enterSignal(c, 'stop-sigterm', f);
      break;
    case 'stop-watchdog': case 'stop-sigterm': case 'stop-sigkill':
      if (!alive(m.mainPid)) enterStopPost(c, f);
      break;
    case 'stop-post':
      if (!alive(m.mainPid)) enterSignal(c, 'final-sigterm', f);
      break;
    case 'final-watchdog': case 'final-sigterm': case 'final-sigkill':
      if (!alive(m.mainPid)) enterDead(c, f, true);
      break;
    default:
      break;
  }
}

const TASK: Record<ExecKind, string> = { condition: 'exec-condition', startPre: 'start-pre', start: 'start', startPost: 'start-post', reload: 'reload', stop: 'stop', stopPost: 'stop-post' };

/**
 * The runner could not spawn the command the engine asked for (an EnvironmentFile= missing,
 * too large or not a regular file): what service.c does when service_spawn() fails in the
 * service_enter_*() that asked for it (index 0), or in service_run_next_control()/_main()
 * (a later command of the list). Result=resources. The spawn was asked for in an earlier
 * decision, so the machine may have moved on (a simple service is already running at fork();
 * its ExecStartPost= may have been asked for too): a failure is matched to the command still
 * pending for that role (PID -1), and one that no longer is only clears the PID.
 */
function onSpawnFailed(c: Ctx, role: Role, message: string): void {
  const m = c.m;
  const cmd = role === 'main' ? m.mainCommand : m.controlCommand;
  const pending = (role === 'main' ? m.mainPid : m.controlPid) === -1;
  if (role === 'main') m.mainPid = 0; else m.controlPid = 0;
  if (!cmd || !pending) return;
  const st = m.state;
  // the state the command was asked for in (a simple service passed on to start-post/running at the fork)
  const asked: Record<ExecKind, readonly ServiceState[]> = {
    condition: ['condition'], startPre: ['start-pre'], start: ['start', 'start-post', 'running'], startPost: ['start-post'],
    reload: ['reload', 'reload-signal', 'reload-notify'], stop: ['stop'], stopPost: ['stop-post'],
  };
  if (!asked[cmd.kind].includes(st)) return;
  c.log(cmd.index === 0 ? `Failed to spawn '${TASK[cmd.kind]}' task: ${message}` : `Failed to spawn next ${role} task: ${message}`, 'warning');
  const first = cmd.index === 0;
  switch (cmd.kind) {
    case 'condition': case 'startPre':
      if (first) enterDead(c, 'resources', true); else enterSignal(c, 'stop-sigterm', 'resources');
      return;
    case 'start':
      if (first || role === 'control') enterSignal(c, 'stop-sigterm', 'resources'); else enterStop(c, 'resources');
      return;
    case 'startPost':
      if (first) enterStop(c, 'resources'); else enterSignal(c, 'stop-sigterm', 'resources');
      return;
    case 'reload':
      m.reloadResult = 'resources';
      enterRunning(c, 'success');
      return;
    case 'stop':
      enterSignal(c, 'stop-sigterm', 'resources');
      return;
    case 'stopPost':
      if (first) enterSignal(c, 'final-sigterm', 'resources'); else enterDead(c, 'resources', true);
      return;
  }
}

/** service_notify_cgroup_empty_event(). */
function onGroupEmpty(c: Ctx): void {
  const m = c.m;
  m.groupEmpty = true;
  if (alive(m.mainPid) || alive(m.controlPid)) return;
  switch (m.state) {
    case 'start':
      if (c.cfg.type === 'notify' || c.cfg.type === 'notify-reload') enterSignal(c, 'stop-sigterm', 'protocol');
      break;
    case 'running':
      if (!m.mainPidKnown) enterRunning(c, 'success');
      break;
    case 'stop-watchdog': case 'stop-sigterm': case 'stop-sigkill':
      enterStopPost(c, 'success');
      break;
    case 'final-watchdog': case 'final-sigterm': case 'final-sigkill':
      enterDead(c, 'success', true);
      break;
    default:
      break;
  }
}

/**
 * service_notify_cgroup_oom_event() (systemd 257): the kernel OOM-killed a process of the unit.
 * OOMPolicy=continue only logs; stop stops the unit (ExecStop= from running/exited, SIGTERM
 * while starting or stopping), kill SIGKILLs every process (stop-sigkill); both with
 * Result=oom-kill. Already killing: the result is noted; final-sigterm and stop-post go on to
 * the final SIGKILL. Reload and auto-restart states ignore it, as service.c does.
 */
function onOomKill(c: Ctx): void {
  const m = c.m;
  const policy = c.cfg.oomPolicy;
  c.log('A process of this unit has been killed by the OOM killer.', 'notice');
  c.transition({ t: 'oom-kill', policy });
  if (policy === 'continue') return;
  switch (m.state) {
    case 'condition': case 'start-pre': case 'start': case 'start-post': case 'stop':
      enterSignal(c, policy === 'stop' ? 'stop-sigterm' : 'stop-sigkill', 'oom-kill');
      break;
    case 'running': case 'exited':
      if (policy === 'stop') enterStop(c, 'oom-kill'); else enterSignal(c, 'stop-sigkill', 'oom-kill');
      break;
    case 'stop-watchdog': case 'stop-sigterm':
      enterSignal(c, 'stop-sigkill', 'oom-kill');
      break;
    case 'stop-sigkill': case 'final-sigkill':
      c.setResult('oom-kill');
      break;
    case 'stop-post': case 'final-sigterm':
      enterSignal(c, 'final-sigkill', 'oom-kill');
      break;
    default:
      break;
  }
}

/**
 * service_dispatch_timer() for a start or stop timeout with TimeoutStartFailureMode=/
 * TimeoutStopFailureMode= abort (the watchdog signal, SIGABRT, then TimeoutAbortSec=) or kill
 * (FinalKillSignal= at once; with SendSIGKILL=no, on to the next step without it). Result=timeout.
 */
function timeoutFailure(c: Ctx, what: string, mode: 'abort' | 'kill', phase: 'stop' | 'final'): void {
  if (mode === 'abort') {
    c.log(`${what} timed out. Aborting.`, 'warning');
    enterSignal(c, phase === 'stop' ? 'stop-watchdog' : 'final-watchdog', 'timeout');
  } else if (c.cfg.sendSIGKILL) {
    c.log(`${what} timed out. Killing.`, 'warning');
    enterSignal(c, phase === 'stop' ? 'stop-sigkill' : 'final-sigkill', 'timeout');
  } else if (phase === 'stop') {
    c.log(`${what} timed out. Skipping SIGKILL.`, 'warning');
    enterStopPost(c, 'timeout');
  } else {
    c.log(`${what} timed out. Skipping SIGKILL. Entering failed mode.`, 'warning');
    enterDead(c, 'timeout', false);
  }
}

/** service_dispatch_timer(). */
function onTimer(c: Ctx): void {
  const m = c.m;
  const cfg = c.cfg;
  m.timer = undefined;
  const st = m.state;
  switch (st) {
    case 'condition': case 'start-pre': case 'start': case 'start-post':
      // systemd 257 (checked with the oracle, test/fixtures/oracle/25-start-post-timeout): start-post
      // is signalled like the others, ExecStop= does not run; the message names the state
      if (cfg.timeoutStartFailureMode !== 'terminate') timeoutFailure(c, `${st} operation`, cfg.timeoutStartFailureMode, 'stop');
      else { c.log(`${st} operation timed out. Terminating.`, 'warning'); enterSignal(c, 'stop-sigterm', 'timeout'); }
      break;
    case 'running':
      c.log('Service reached runtime time limit. Stopping.', 'warning');
      enterStop(c, 'timeout');
      break;
    case 'reload': case 'reload-signal': case 'reload-notify':
      c.log('Reload operation timed out. Killing reload process.', 'warning');
      if (alive(m.controlPid)) c.effects.push({ t: 'kill', targets: ['control'], signal: 9, sighup: false });
      m.reloadResult = 'timeout';
      enterRunning(c, 'success');
      break;
    case 'stop':
      if (cfg.timeoutStopFailureMode !== 'terminate') timeoutFailure(c, 'Stopping', cfg.timeoutStopFailureMode, 'stop');
      else { c.log('Stopping timed out. Terminating.', 'warning'); enterSignal(c, 'stop-sigterm', 'timeout'); }
      break;
    case 'stop-watchdog':
      if (cfg.sendSIGKILL) { c.log('State \'stop-watchdog\' timed out. Killing.', 'warning'); enterSignal(c, 'stop-sigkill', 'timeout'); }
      else { c.log('State \'stop-watchdog\' timed out. Skipping SIGKILL.', 'warning'); enterStopPost(c, 'timeout'); }
      break;
    case 'stop-sigterm':
      // TimeoutStopFailureMode=abort: the watchdog signal before the final kill
      if (cfg.timeoutStopFailureMode === 'abort') { c.log('State \'stop-sigterm\' timed out. Aborting.', 'warning'); enterSignal(c, 'stop-watchdog', 'timeout'); }
      else if (cfg.sendSIGKILL) { c.log('State \'stop-sigterm\' timed out. Killing.', 'warning'); enterSignal(c, 'stop-sigkill', 'timeout'); }
      else { c.log('State \'stop-sigterm\' timed out. Skipping SIGKILL.', 'warning'); enterStopPost(c, 'timeout'); }
      break;
    case 'stop-sigkill':
      c.log('Processes still around after SIGKILL. Ignoring.', 'warning');
      enterStopPost(c, 'timeout');
      break;
    case 'stop-post':
      if (cfg.timeoutStopFailureMode !== 'terminate') timeoutFailure(c, 'State \'stop-post\'', cfg.timeoutStopFailureMode, 'final');
      else { c.log('State \'stop-post\' timed out. Terminating.', 'warning'); enterSignal(c, 'final-sigterm', 'timeout'); }
      break;
    case 'final-watchdog': case 'final-sigterm':
      if (st === 'final-sigterm' && cfg.timeoutStopFailureMode === 'abort') { c.log('State \'final-sigterm\' timed out. Aborting.', 'warning'); enterSignal(c, 'final-watchdog', 'timeout'); }
      else if (cfg.sendSIGKILL) { c.log(`State '${st}' timed out. Killing.`, 'warning'); enterSignal(c, 'final-sigkill', 'timeout'); }
      else { c.log(`State '${st}' timed out. Skipping SIGKILL. Entering failed mode.`, 'warning'); enterDead(c, 'timeout', false); }
      break;
    case 'final-sigkill':
      c.log('Processes still around after final SIGKILL. Entering failed mode.', 'warning');
      enterDead(c, 'timeout', true);
      break;
    case 'auto-restart':
      enterRestart(c, false);
      break;
    default:
      break;
  }
}

function onWatchdog(c: Ctx): void {
  const usec = c.m.watchdogOverrideUSec ?? c.cfg.watchdogUSec;
  c.m.watchdogDeadline = undefined;
  c.log(`Watchdog timeout (limit ${usec / 1_000_000}s)!`, 'warning');
  c.transition({ t: 'watchdog-timeout', limitUSec: usec });
  enterSignal(c, 'stop-watchdog', 'watchdog');
}

function notifyAllowed(c: Ctx, pid: number | undefined): boolean {
  const access = c.cfg.notifyAccess;
  if (access === 'none') return false;
  if (access === 'all' || pid === undefined) return true;
  if (access === 'main') return pid === c.m.mainPid;
  return pid === c.m.mainPid || pid === c.m.controlPid;
}

/** service_notify_message(). */
function onNotify(c: Ctx, pid: number | undefined, fields: Readonly<Record<string, string>>): void {
  const m = c.m;
  if (!notifyAllowed(c, pid)) {
    c.log(`Got notification message from PID ${pid ?? '?'}, but reception ${c.cfg.notifyAccess === 'none' ? 'is disabled' : `only permitted for ${c.cfg.notifyAccess === 'main' ? 'main PID' : 'main PID and control PID'}`}`, 'warning');
    return;
  }
  if (fields['MAINPID'] !== undefined && /^[0-9]+$/.test(fields['MAINPID'])) { m.mainPid = Number(fields['MAINPID']); m.mainPidKnown = true; }
  if (fields['STATUS'] !== undefined) m.statusText = fields['STATUS'] === '' ? undefined : fields['STATUS'];
  if (fields['WATCHDOG_USEC'] !== undefined && /^[0-9]+$/.test(fields['WATCHDOG_USEC'])) {
    m.watchdogOverrideUSec = Number(fields['WATCHDOG_USEC']);
    if (WATCHDOG_STATES.has(m.state)) resetWatchdog(c);
  }
  if (fields['WATCHDOG'] === '1' && WATCHDOG_STATES.has(m.state)) resetWatchdog(c);
  if (fields['WATCHDOG'] === 'trigger') { onWatchdog(c); return; }
  if (fields['EXTEND_TIMEOUT_USEC'] !== undefined && m.timer && /^[0-9]+$/.test(fields['EXTEND_TIMEOUT_USEC'])) {
    const extended = c.now + Number(fields['EXTEND_TIMEOUT_USEC']);
    if (extended > m.timer.deadline) c.armTimer(Number(fields['EXTEND_TIMEOUT_USEC']));
  }
  if (fields['STOPPING'] === '1') {
    m.notifyReady = false;
    if (m.state === 'running' || m.state === 'start-post' || m.state === 'start') { m.forbidRestart = false; enterStop(c, 'success'); return; }
  }
  if (fields['RELOADING'] === '1' && m.state === 'running') { m.notifyReady = false; c.setState('reload-notify'); c.armTimer(c.cfg.timeoutStartUSec); }
  if (fields['READY'] === '1') {
    m.notifyReady = true;
    if (m.state === 'start' && (c.cfg.type === 'notify' || c.cfg.type === 'notify-reload')) enterStartPost(c);
    else if (m.state === 'reload-notify' || m.state === 'reload-signal') enterRunning(c, 'success');
  }
}

function onStop(c: Ctx): void {
  const m = c.m;
  m.pendingStart = false;
  if (m.state === 'dead' || m.state === 'failed') return;
  // service_stop(): no restart follows a manual stop, whatever the state it meets — one already
  // stopping by itself (its main process gone, ExecStopPost= running) ends without its restart
  m.forbidRestart = true;
  switch (m.state) {
    case 'auto-restart': case 'auto-restart-queued': case 'dead-before-auto-restart': case 'failed-before-auto-restart':
      c.setState('dead');
      m.flushNRestarts = true;
      return;
    case 'condition': case 'start-pre': case 'start': case 'start-post': case 'reload': case 'reload-signal': case 'reload-notify': case 'stop-watchdog':
      enterSignal(c, 'stop-sigterm', 'success');
      return;
    case 'running': case 'exited':
      enterStop(c, 'success');
      return;
    default:
      return; // already stopping (stop, stop-sigterm, stop-sigkill, stop-post, final-*)
  }
}

function onReload(c: Ctx): void {
  const m = c.m;
  if (m.state !== 'running' && m.state !== 'exited') return;
  m.reloadResult = 'success';
  if (c.cfg.exec.reload.length > 0) {
    c.spawn('control', 'reload', 0);
    c.setState('reload');
    c.armTimer(c.cfg.timeoutStartUSec);
  } else if (c.cfg.type === 'notify-reload' && alive(m.mainPid)) {
    m.notifyReady = false;
    c.effects.push({ t: 'kill', targets: ['main'], signal: c.cfg.reloadSignal, sighup: false });
    c.setState('reload-signal');
    c.armTimer(c.cfg.timeoutStartUSec);
  } else c.log('Reload requested but the unit has no ExecReload=; ignoring.', 'notice');
}

/** A draw in [0, 1) made from the injected clock (splitmix64 of the µs), for callers that pass no `random`. */
export function drawFrom(now: number): number {
  let x = BigInt.asUintN(64, BigInt(Math.floor(now)) + 0x9e3779b97f4a7c15n);
  x = BigInt.asUintN(64, (x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n);
  x = BigInt.asUintN(64, (x ^ (x >> 27n)) * 0x94d049bb133111ebn);
  x ^= x >> 31n;
  return Number(x >> 11n) / 2 ** 53;
}

/**
 * One decision. `now` is the clock (µs) and `random` a draw in [0, 1) (RuntimeRandomizedExtraSec=):
 * both injected, so the engine stays pure; without `random` the draw is made from `now`.
 */
export function decide(machine: Machine, event: Event, cfg: ServiceConfig, now: number, random?: number): Decision {
  const c = new Ctx(machine, cfg, now, random);
  const m = c.m;
  switch (event.t) {
    case 'start':
      if (m.state === 'dead' || m.state === 'failed') startJob(c, false);
      else if (ACTIVE_STATE[m.state] === 'deactivating') m.pendingStart = true;
      else if (m.state === 'auto-restart') {
        if (cfg.restartByJob) enterRestart(c, true);
        else {
          c.setState('auto-restart-queued');
          m.nRestarts++;
          c.transition({ t: 'restart-queued', nRestarts: m.nRestarts, result: m.result });
          startJob(c, true);
        }
      }
      // the restart job's start (restartByJob): the unit waited for it in auto-restart-queued
      else if (m.state === 'auto-restart-queued') startJob(c, true);
      break;
    case 'restart-job': onRestartJob(c, event.outcome, event.shortcut, event.error); break;
    case 'stop': onStop(c); break;
    case 'restart':
      if (m.state === 'dead' || m.state === 'failed') startJob(c, false);
      else { m.restarting = true; onStop(c); const after = m.state as ServiceState; if (after === 'dead' || after === 'failed') startJob(c, false); else m.pendingStart = true; }
      break;
    case 'reload': onReload(c); break;
    case 'reset-failed':
      if (m.state === 'failed') c.setState('dead');
      m.result = 'success'; m.reloadResult = 'success'; m.nRestarts = 0; m.flushNRestarts = false; m.startLimit = RATELIMIT_INIT;
      break;
    case 'spawned': {
      const pending = (event.role === 'main' ? m.mainPid : m.controlPid) === -1;
      if (event.role === 'main') {
        m.mainPid = event.pid;
        if (pending && ACTIVE_STATE[m.state] === 'active') c.transition({ t: 'started', mainPid: event.pid });
      } else m.controlPid = event.pid;
      // systemd knows the PID at fork(); here it follows the spawn. A stop that came in between
      // signalled a PID not known yet (-1, skipped by the runner): deliver the signal now, or the
      // process would run on until TimeoutStopSec= ends.
      if (pending && SIGNAL_STATES.has(m.state) && cfg.killMode !== 'none') {
        const { signal, sighup } = signalOf(c, m.state as SignalState);
        c.effects.push({ t: 'kill', targets: [event.role], signal, sighup });
      }
      break;
    }
    case 'exec-ok':
      if (cfg.type === 'exec' && m.state === 'start' && event.pid === m.mainPid) enterStartPost(c);
      break;
    case 'spawn-failed': onSpawnFailed(c, event.role, event.message); break;
    case 'exited':
      if (event.pid === m.mainPid && m.mainPid > 0) onMainExit(c, event.code, event.status);
      else if (event.pid === m.controlPid && m.controlPid > 0) onControlExit(c, event.code, event.status);
      break;
    case 'group-empty': onGroupEmpty(c); break;
    case 'oom-kill': onOomKill(c); break;
    case 'timer':
      if (!m.timer || event.gen !== m.timer.gen) break;
      if (now >= m.timer.deadline) onTimer(c);
      else c.effects.push({ t: 'arm-timer', deadline: m.timer.deadline, gen: m.timer.gen }); // fired early
      break;
    case 'watchdog-timer':
      if (m.watchdogDeadline === undefined || !WATCHDOG_STATES.has(m.state)) break;
      if (now >= m.watchdogDeadline) onWatchdog(c);
      else c.effects.push({ t: 'arm-watchdog', deadline: m.watchdogDeadline }); // a timer that fired early
      break;
    case 'notify': onNotify(c, event.pid, event.fields); break;
    case 'main-pid':
      if (m.state !== 'start' || cfg.type !== 'forking') break;
      if (event.pid !== undefined) { m.mainPid = event.pid; m.mainPidKnown = true; m.mainStartUs = now; }
      else if (cfg.pidFile) { enterSignal(c, 'stop-sigterm', 'protocol'); break; }
      enterStartPost(c);
      break;
  }
  return { machine: c.m, effects: c.effects };
}

/** What systemctl show prints for the unit right now. */
export function properties(m: Machine): { ActiveState: string; SubState: ServiceState; Result: ServiceResult; NRestarts: number; MainPID: number; ControlPID: number; ExecMainCode: number; ExecMainStatus: number } {
  return {
    ActiveState: ACTIVE_STATE[m.state], SubState: m.state, Result: m.result, NRestarts: m.nRestarts,
    MainPID: Math.max(0, m.mainPid), ControlPID: Math.max(0, m.controlPid),
    ExecMainCode: m.mainExec ? CLD[m.mainExec.code] : 0, ExecMainStatus: m.mainExec?.status ?? 0,
  };
}
