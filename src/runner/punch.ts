// Freeing what the agent has read of a holder's event log (shim/punch.c, issue 19's leftover of
// the hostile probe: a flood of sd_notify STATUS= lines, or months of WATCHDOG=1 pings, grew the
// log of a long-lived command without bound). Once the state that saves a spawn's read offset is
// written, the stretch before it is never read again by the tail (a restarted agent reads from
// that offset too), so uo-shim --punch deallocates it: the file keeps its size and its offsets,
// the disk keeps only the head (the lines a damaged-state recovery reads) and what is unread.
// Rare by design: one helper process per PUNCH_STEP bytes read of a log, one at a time per log
// (a request made while one runs is kept, the latest only, and run when it ends).

import { spawn } from 'node:child_process';

/** A log is punched each time this much more of it has been read and saved. */
export const PUNCH_STEP = 4 << 20;

type Say = (level: 'notice' | 'warning', message: string) => void;

/** Logs a helper runs for → the request to run when it ends (undefined: none). */
const running = new Map<string, { shimPath: string; end: number; say: Say } | undefined>();
/** The file system cannot punch holes (EOPNOTSUPP): said once, not asked again. */
let unsupported = false;

/** Deallocates `file` below `end` (whole pages, its head kept), in the background. */
export function punchRead(shimPath: string, file: string, end: number, say: Say): void {
  if (unsupported) return;
  if (running.has(file)) { running.set(file, { shimPath, end, say }); return; }
  running.set(file, undefined);
  const ended = (): void => {
    const next = running.get(file);
    running.delete(file);
    if (next) punchRead(next.shimPath, file, next.end, next.say);
  };
  let err = '';
  try {
    const child = spawn(shimPath, ['--punch', file, String(end)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (b: Buffer) => { if (err.length < 2000) err += b.toString(); });
    child.on('error', (e) => { running.delete(file); say('warning', `cannot free the read part of ${file}: ${e.message}`); });
    child.on('exit', (code) => {
      if (code === 3) {
        if (!unsupported) say('notice', `the file system of ${file} cannot deallocate a file's read part (${err.trim() || 'EOPNOTSUPP'}): event logs keep every line until their command ends`);
        unsupported = true;
      } else if (code !== 0) say('warning', `cannot free the read part of ${file}: ${err.trim() || `uo-shim --punch exited with ${code}`}`);
      ended();
    });
    child.unref();
  } catch (e) {
    running.delete(file);
    say('warning', `cannot free the read part of ${file}: ${(e as Error).message}`);
  }
}
