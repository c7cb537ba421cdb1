// One agent per state folder (issue 12, finding 4): a lock on <state>/agent.lock held for the
// agent's life.
//
// Node has no flock(2). The choice: a helper mode of uo-shim (`uo-shim --lock`, lock.c), not an
// N-API addon (no headers to build one against offline, and one more native artefact to verify)
// and not a PID file (a PID file is not a lock: it survives a kill -9 and names a PID that may be
// reused). The helper is the agent's child, started before any shim: it flock()s the file, writes
// the agent's PID into it, and holds it until the agent closes its stdin or dies (end of file on
// that pipe, and PR_SET_PDEATHSIG, so a kill -9 of the agent releases it at once). The lock's fd
// lives only in the helper, a sibling of the shims and never their ancestor, so the shims, which
// outlive the agent on purpose, never keep a folder locked.

import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const LOCK_FILE = 'agent.lock';

/** Another agent holds the folder; `holder` is its PID (0 when the lock file names none). */
export class StateDirLocked extends Error {
  readonly stateDir: string;
  readonly holder: number;
  constructor(stateDir: string, holder: number) {
    super(`another agent (PID ${holder || 'unknown'}) already runs on the state folder ${stateDir} (${join(stateDir, LOCK_FILE)} is locked); stop it first, or give this agent another --state-dir`);
    this.stateDir = stateDir;
    this.holder = holder;
  }
}

export interface StateLock {
  readonly file: string;
  /** The helper's PID (tests; it is never signalled by name). */
  readonly helperPid: number;
  /** Releases the lock (closes the helper's stdin; it exits). */
  release(): void;
}

export interface LockOptions {
  /** Wait for the holder to go instead of failing (the cluster agent: a DaemonSet update overlapping). */
  readonly wait?: boolean;
  /** Told once that the lock is held by `holder` and that this agent waits for it. */
  readonly onWait?: (holder: number) => void;
}

/**
 * Takes the lock of stateDir (which must exist) through `shim --lock`. Rejects with
 * StateDirLocked when another agent holds it (unless wait), or an Error saying what is wrong.
 */
export function lockStateDir(stateDir: string, shimPath: string, o: LockOptions = {}): Promise<StateLock> {
  const file = join(stateDir, LOCK_FILE);
  const child = spawn(shimPath, ['--lock', file, String(process.pid), ...(o.wait ? ['--wait'] : [])], {
    // its own session: a Ctrl-C on the agent's terminal must not reach it (the agent may still
    // be stopping its units); it dies with the agent all the same (PDEATHSIG, end of stdin)
    detached: true, stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let held: number | undefined;
    let done = false;
    const fail = (e: Error): void => { if (!done) { done = true; reject(e); } };
    child.on('error', (e) => fail(new Error(`cannot lock the state folder ${stateDir}: starting ${shimPath} --lock: ${e.message}`)));
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^held by PID (\d+)$/.exec(line);
        if (m) { held = Number(m[1]); if (o.wait) o.onWait?.(held); continue; }
        if (line === 'locked' && !done) {
          done = true;
          // the helper must not keep the agent's event loop alive, nor be waited for
          child.unref();
          for (const io of [child.stdin, child.stdout, child.stderr]) (io as unknown as { unref?: () => void }).unref?.();
          resolve({ file, helperPid: child.pid!, release: () => { child.stdin.end(); } });
        }
      }
    });
    child.on('exit', (code) => {
      if (done) return;
      if (code === 1 && held !== undefined) { fail(new StateDirLocked(stateDir, held)); return; }
      const why = err.trim().replace(/^uo-shim --lock: /, '');
      fail(new Error(code === 2 && /usage: uo-shim EVENTS_FILE/.test(err)
        ? `cannot lock the state folder ${stateDir}: the shim ${shimPath} has no --lock mode (built from older sources: rebuild it, or unset UNIT_OPERATOR_SHIM)`
        : `cannot lock the state folder ${stateDir}: ${why || `${shimPath} --lock exited ${code}`}`));
    });
  });
}
