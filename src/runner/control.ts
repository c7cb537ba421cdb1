// The engine's process-level effects, carried out: signals to a unit's processes (kill), the
// main-PID search of Type=forking (PIDFile=, GuessMainPID=), and the one-shot timers (state
// timer, watchdog) on the runner's µs clock.

import { readFileSync } from 'node:fs';
import type { KillTarget, Machine } from '../engine/index.ts';
import { children, isAlive, signal } from './procfs.ts';
import { expandSpecifiers } from './environment.ts';

/** A one-shot timer for a µs deadline on the caller's clock. */
export class Deadline {
  private handle: NodeJS.Timeout | undefined;

  arm(deadline: number, now: number, fire: () => void): void {
    this.disarm();
    const ms = Math.max(0, Math.ceil((deadline - now) / 1000));
    this.handle = setTimeout(() => { this.handle = undefined; fire(); }, Math.min(ms, 2_147_000_000));
  }

  disarm(): void {
    if (this.handle) { clearTimeout(this.handle); this.handle = undefined; }
  }
}

/**
 * Signals the targets of a kill effect: the main and control processes the machine knows, and
 * for "group" every other live process of the unit (groupPids). SIGCONT follows, as systemd
 * sends it, so stopped processes see the signal; then SIGHUP when asked (SendSIGHUP=).
 */
export function killTargets(m: Machine, targets: readonly KillTarget[], sig: number, sighup: boolean, groupPids: () => number[]): void {
  const pids = new Set<number>();
  if (targets.includes('main') && m.mainPid > 0) pids.add(m.mainPid);
  if (targets.includes('control') && m.controlPid > 0) pids.add(m.controlPid);
  if (targets.includes('group')) for (const p of groupPids()) if (p !== m.mainPid && p !== m.controlPid) pids.add(p);
  for (const p of pids) {
    signal(p, sig);
    if (sig !== 9 && sig !== 18) signal(p, 18);
    if (sighup) signal(p, 1);
  }
}

export interface MainPidSearch {
  readonly unitName: string;
  readonly pidFile: string | undefined;
  readonly guess: boolean;
  /** The shim of the latest start command (its only child is the guess), 0 when none. */
  readonly startShim: () => number;
  /** Whether to keep waiting for the PID file (the unit is still starting, the runner open). */
  readonly waiting: () => boolean;
  /** Stops the search (the runner closed). */
  readonly closed: () => boolean;
  readonly found: (pid: number | undefined) => void;
}

/** Reports the main PID: from PIDFile= (waited for while starting), else guessed, else none. */
export function findMainPid(s: MainPidSearch, since = Date.now()): void {
  if (s.closed()) return;
  if (s.pidFile) {
    const path = expandSpecifiers(s.pidFile, { unitName: s.unitName });
    try {
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) { s.found(pid); return; }
    } catch { /* not there yet */ }
    // systemd waits for the PID file (inotify) until the start timeout; so do we, by polling.
    if (s.waiting() && Date.now() - since < 600_000) setTimeout(() => findMainPid(s, since), 20).unref();
    return;
  }
  if (s.guess) {
    const shim = s.startShim();
    const kids = shim > 0 ? children(shim) : [];
    s.found(kids.length === 1 ? kids[0] : undefined);
    return;
  }
  s.found(undefined);
}
