// The standby: the next run of a unit that restarts at once, started ahead (issue 19).
//
// A unit whose every end is followed at once by the same command again (standbyConfigReason(): Restart=
// always, RestartSec=0, nothing run between two runs, no per-run set-up) gets its next holder
// started while its command runs: a uo-shim set up all but for its notify socket and its fork,
// waiting on the unit's hand-over folder (shim/standby.c). The holder of the running command
// takes it (rename armed → go) once its last process is gone and its "empty" line is written,
// so the next command is forked by a small C process within ~0.1 ms of the exit instead of after
// the agent's read, decision, set-up and fork (~1.5 ms). The agent stays the one who decides: its
// engine reads the exit as always and, at its restart decision, adopts the standby as that spawn
// (taking it itself when the holder could not: a process left, a standby slower than the exit).
//
// Why this is safe: the engine's decision on any exit of such a unit is "restart at once" (the
// rules below), so a standby taken early only does sooner what the engine then decides. What
// could change that decision (a stop, a reload, a kill, a timeout, a new spec) first takes the
// standby back (unlink armed): when that fails, the holder took it first, the restart has begun,
// and the engine hears of the exit before the stop — an order systemd has too. If the engine ever
// ends up in a state that does not lead to a restart (TOWARDS_RESTART) while a standby runs, the
// runner ends the standby's run with SIGKILL and says so (unit.ts dropStandby()).
//
// The hand-over folder, <unit folder>/next:
//   armed         made by the agent when it arms a standby; unlinked to take it back
//   go            `armed` renamed by who takes it (the holder or the agent); the standby unlinks it
//   wake          a FIFO the taker writes a byte to
//   standby.json  the armed standby's spawn record (written before it starts): a restarted agent
//                 takes back a standby still armed and adopts one already taken

import { closeSync, constants as C, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { rateLimitBelow, type Machine, type ServiceConfig } from '../engine/index.ts';
import type { SpawnEffect, SpawnRecord } from './store.ts';
import { runtimeNeeds } from './nsruntime.ts';
import { credentialPlan, hasCredentials } from './credentials.ts';
import { execDirectories } from './directories.ts';
import { isShimOf, writeAtomic } from './store.ts';
import { parentOf } from './procfs.ts';
import { truthy } from './sandbox.ts';

export const nextDir = (unitDir: string): string => join(unitDir, 'next');

/**
 * Why a unit's runs may not be handed over to a standby, from its config alone (undefined: they
 * may): the engine must restart at once, with the same command, after any exit with its group
 * empty, and nothing made per run may differ between two runs.
 */
export function standbyConfigReason(cfg: ServiceConfig, service: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (cfg.restart !== 'always') return 'Restart= is not always';
  if (cfg.restartUSec !== 0 || cfg.restartSteps > 0) return 'RestartSec= is not 0';
  if (cfg.restartMode !== 'normal') return 'RestartMode= is not normal';
  if (cfg.restartPreventExitStatus.statuses.size > 0 || cfg.restartPreventExitStatus.signals.size > 0) return 'RestartPreventExitStatus= is set';
  if (cfg.type !== 'simple' && cfg.type !== 'exec') return `Type=${cfg.type}`;
  if (cfg.remainAfterExit) return 'RemainAfterExit=yes';
  if (cfg.exec.start.length !== 1) return 'not one ExecStart=';
  for (const k of ['condition', 'startPre', 'startPost', 'stop', 'stopPost', 'reload'] as const) if (cfg.exec[k].length > 0) return `Exec${k}= is set`;
  if (cfg.notifyAccess !== 'none') return 'NotifyAccess= is set';
  if (cfg.killMode !== 'control-group') return 'KillMode= is not control-group';
  const s = service ?? {};
  // set up anew for every run (service_spawn(), unit_destroy_runtime_data() at a restart)
  if (s['environmentFile'] !== undefined) return 'EnvironmentFile= is read at every start';
  if (truthy(s['dynamicUser'])) return 'DynamicUser=';
  if (truthy(s['privatePIDs'])) return 'PrivatePIDs=';
  const rt = runtimeNeeds(s);
  if (rt.net || rt.ipc || rt.tmp || s['joinsNamespaceOf'] !== undefined) return 'an exec runtime';
  if (hasCredentials(credentialPlan(s).plan)) return 'credentials';
  const d = execDirectories(s);
  if (d.names.runtime.length > 0 && d.preserve !== 'yes' && d.preserve !== 'restart') return 'RuntimeDirectory= is removed at a restart';
  return undefined;
}

/** Whether the engine, as it is now, would restart at once on its main process's end (the config checked apart). */
export function standbyStateReason(m: Machine, cfg: ServiceConfig, now: number): string | undefined {
  if (m.state !== 'running' || m.mainPid === 0 || m.controlPid > 0 || m.forbidRestart) return 'not running';
  // the next start must pass StartLimitBurst= (the standby is armed again after each start)
  if (!rateLimitBelow(m.startLimit, now, cfg.startLimitIntervalUSec, cfg.startLimitBurst).allowed) return 'start limit';
  if (cfg.startLimitIntervalUSec > 0 && cfg.startLimitBurst > 0 && m.startLimit.num + 1 >= cfg.startLimitBurst && now - m.startLimit.begin <= cfg.startLimitIntervalUSec) return 'start limit near';
  return undefined;
}

/** The hand-over folder (0700, the agent's; its FIFO is made by the first standby: shim/standby.c). */
export function ensureNextDir(unitDir: string): string {
  const d = nextDir(unitDir);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

/** An armed standby as the runner keeps it: its spawn record, the invocation it was prepared in, and the spawn whose holder may start it. */
export interface Standby { readonly rec: SpawnRecord; readonly invocationId: string; readonly after: number }

/** What standby.json keeps of an armed standby. */
export interface StandbyFile { readonly seq: number; readonly after: number; readonly effect: SpawnEffect; readonly invocationId: string }

export function writeStandbyFile(unitDir: string, f: StandbyFile): void { writeAtomic(join(nextDir(unitDir), 'standby.json'), JSON.stringify(f)); }

export function readStandbyFile(unitDir: string): StandbyFile | undefined {
  try {
    const v = JSON.parse(readFileSync(join(nextDir(unitDir), 'standby.json'), 'utf8')) as StandbyFile;
    return Number.isSafeInteger(v.seq) && v.seq > 0 && Number.isSafeInteger(v.after) && v.after > 0 && typeof v.effect === 'object' && v.effect !== null && v.effect.t === 'spawn' && typeof v.invocationId === 'string' ? v : undefined;
  } catch { return undefined; }
}

export function removeStandbyFile(unitDir: string): void { rmSync(join(nextDir(unitDir), 'standby.json'), { force: true }); }

const armedName = (after: number): string => `armed.${after}`;

/** Arms the folder for standby number `seq`, which the holder of spawn `after` (or the agent) may start. */
export function arm(unitDir: string, after: number, seq: number): void {
  const fd = openSync(join(nextDir(unitDir), armedName(after)), C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW, 0o600);
  try { writeSync(fd, String(seq)); } finally { closeSync(fd); }
}

/** Takes the standby back: true when it was (woken, it ends and starts nothing), false when someone took it first. */
export function takeBack(unitDir: string, after: number): boolean {
  try { unlinkSync(join(nextDir(unitDir), armedName(after))); } catch { return false; }
  wake(nextDir(unitDir));
  return true;
}

/** Sleeps `ms` (synchronous; for a bounded wait on a signal's delivery). */
export function pause(ms: number): void { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); }

/** Takes back a `go` the standby has not taken yet (true: it ends without running anything, woken). */
export function retract(unitDir: string): boolean {
  try { unlinkSync(join(nextDir(unitDir), 'go')); } catch { return false; }
  wake(nextDir(unitDir));
  return true;
}

/** The number a `go` not taken yet names (0: none). */
export function tokenOf(unitDir: string): number {
  try { return Number(readFileSync(join(nextDir(unitDir), 'go'), 'utf8')) || 0; } catch { return 0; }
}

/** The PID a standby's holder gave in its event log's first line ("shim PID"); 0 when none yet. */
export function shimLinePid(spawnFolder: string): number {
  try {
    const m = /^shim (\d+)\n/.exec(readFileSync(join(spawnFolder, 'events'), 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

/** Whether a standby's holder was taken and went on (its "standby-go" line). */
export function standbyRan(spawnFolder: string): boolean {
  try { return readFileSync(join(spawnFolder, 'events'), 'utf8').includes('\nstandby-go '); } catch { return false; }
}

/**
 * Whether `pid` was started by the standby (not the engine's until adopted: the kills of the run
 * before must not reach it): an ancestor is the standby's holder before any holder of the unit's
 * spawns (`spawnHolders`). The holder by its PID, or, before the fork server's answer gave it, a
 * uo-shim of the agent's uid on the standby's own event log — not any process named "uo-shim": a
 * service can exec a binary of that name, and its children would escape the unit's stop.
 */
export function startedByStandby(pid: number, holder: number, standbyFolder: string, spawnHolders: ReadonlySet<number>): boolean {
  let p: number | undefined = parentOf(pid);
  for (let depth = 0; depth < 64 && p !== undefined && p > 1; depth++, p = parentOf(p)) {
    if (p === holder) return true;
    if (spawnHolders.has(p)) return false;
    if (holder <= 0 && isShimOf(p, standbyFolder)) return true;
  }
  return false;
}

/** Whether a process is stopped (state T) or gone. */
export function stoppedNow(pid: number): boolean {
  try { const st = readFileSync(`/proc/${pid}/stat`, 'utf8'); return /^[TtZX]/.test(st.slice(st.lastIndexOf(')') + 2)); } catch { return true; }
}

function wake(dir: string): void {
  try {
    const w = openSync(join(dir, 'wake'), C.O_WRONLY | C.O_NONBLOCK | C.O_NOFOLLOW);
    try { writeSync(w, 'g'); } finally { closeSync(w); }
  } catch { /* no reader: the standby finds the folder as it is when it looks */ }
}

/** Takes the standby for the agent's own restart decision (false: the holder took it first) and wakes it. */
export function take(unitDir: string, after: number): boolean {
  const d = nextDir(unitDir);
  let mine = true;
  try { renameSync(join(d, armedName(after)), join(d, 'go')); } catch { mine = false; }
  wake(d);
  return mine;
}

/**
 * The engine's states from a main process's end to its restart's spawn (service_sigchld_event()
 * → stop → stop-post → final → auto-restart): a standby lives through them; in any other (exited,
 * dead, failed, a reload, a stop's) it is ended.
 */
export const TOWARDS_RESTART: ReadonlySet<string> = new Set(['running', 'stop-sigterm', 'stop-sigkill', 'stop-post', 'final-sigterm', 'final-sigkill', 'dead-before-auto-restart', 'failed-before-auto-restart', 'auto-restart', 'auto-restart-queued']);
