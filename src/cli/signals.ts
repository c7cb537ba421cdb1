// How the long-running commands (agents, controller) end: the first SIGINT/SIGTERM starts a
// graceful shutdown bounded by a deadline; a second signal ends the process at once; and once
// the shutdown is done the process exits even if some handle would keep Node's loop alive —
// a daemon told to stop must stop, and the handle is named in the log so it can be fixed.

import { EXIT } from './io.ts';

export interface ShutdownOptions {
  readonly signals?: readonly NodeJS.Signals[];
  /** How long the graceful part may take before the process exits anyway (code 1). */
  readonly deadlineMs: number;
  readonly log: (level: 'info' | 'warning' | 'error', msg: string) => void;
  /** After a finished shutdown, how long the loop may take to drain before exit is forced. */
  readonly drainMs?: number;
}

/** Resolves with the exit code once `onExit` has run for the first signal received. */
export function untilSignal(onExit: (sig: NodeJS.Signals) => Promise<void>, o: ShutdownOptions): Promise<number> {
  return new Promise((done) => {
    let exiting = false;
    const finish = (code: number): void => {
      done(code);
      const t = setTimeout(() => {
        const counts = new Map<string, number>();
        for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
        const open = [...counts].map(([r, n]) => (n > 1 ? `${r} ×${n}` : r)).join(', ');
        o.log('warning', `shut down, but the process did not end by itself (still open: ${open}); exiting`);
        process.exit(code);
      }, o.drainMs ?? 2000);
      t.unref();
    };
    const quit = (sig: NodeJS.Signals): void => {
      if (exiting) {
        o.log('warning', `${sig} again: exiting now, without finishing the shutdown`);
        process.exit(EXIT.failure);
      }
      exiting = true;
      const deadline = setTimeout(() => {
        o.log('error', `shutdown did not finish within ${o.deadlineMs / 1000} s; exiting`);
        process.exit(EXIT.failure);
      }, o.deadlineMs);
      deadline.unref();
      onExit(sig).then(() => { clearTimeout(deadline); finish(EXIT.ok); }, (e: Error) => {
        clearTimeout(deadline);
        o.log('error', `shutdown failed: ${e.message}`);
        finish(EXIT.failure);
      });
    };
    for (const s of o.signals ?? ['SIGINT', 'SIGTERM']) process.on(s, quit);
  });
}
