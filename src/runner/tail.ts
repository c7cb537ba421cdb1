// Reads a shim's event log as it grows: whole lines from a saved offset, parsed.

import { openSync, readSync, closeSync, fstatSync, statSync } from 'node:fs';
import type { ExitCode } from '../engine/states.ts';

export type ShimEvent =
  | { readonly t: 'shim'; readonly pid: number }
  | { readonly t: 'spawn'; readonly pid: number }
  | { readonly t: 'exec'; readonly pid: number }
  | { readonly t: 'exec-failed'; readonly pid: number; readonly errno: number; readonly status: number }
  | { readonly t: 'exit'; readonly pid: number; readonly code: ExitCode; readonly status: number }
  | { readonly t: 'notify'; readonly pid: number; readonly fields: Record<string, string> }
  | { readonly t: 'empty' };

export function parseShimLine(line: string): ShimEvent | undefined {
  const [kind, a, b, c] = line.split(' ');
  const n = (s: string | undefined): number => Number(s ?? NaN);
  switch (kind) {
    case 'shim': case 'spawn': case 'exec': return { t: kind, pid: n(a) };
    case 'exec-failed': return { t: 'exec-failed', pid: n(a), errno: n(b), status: n(c) };
    case 'exit': return b === 'exited' || b === 'killed' || b === 'dumped' ? { t: 'exit', pid: n(a), code: b, status: n(c) } : undefined;
    case 'notify': {
      const msg = line.slice(line.indexOf(' ', 7) + 1);
      const fields: Record<string, string> = {};
      for (const kv of msg.split('\x1e')) {
        const eq = kv.indexOf('=');
        if (eq > 0) fields[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      return { t: 'notify', pid: n(a), fields };
    }
    case 'empty': return { t: 'empty' };
    default: return undefined;
  }
}

/** Reads complete lines after `offset`; returns them and the new offset. */
export function readNewLines(file: string, offset: number): { lines: string[]; offset: number } {
  // one stat when nothing was added (the common case of the periodic safety-net poll)
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || st.size <= offset) return { lines: [], offset };
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return { lines: [], offset };
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    const text = buf.subarray(0, n).toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return { lines: [], offset };
    return { lines: text.slice(0, end).split('\n'), offset: offset + Buffer.byteLength(text.slice(0, end + 1)) };
  } finally {
    closeSync(fd);
  }
}
