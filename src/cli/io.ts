// Small I/O helpers of the CLI edge: reading inputs, writing outputs atomically, exit codes.

import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';

/** Exit codes: 0 ok, 1 failure of the operation, 2 bad usage or bad input (as the issue asks). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export class UsageError extends Error {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly readFile: (path: string) => string;
  readonly stdin: () => string;
}

export const processIo: Io = {
  stdout: (s) => { process.stdout.write(s); },
  stderr: (s) => { process.stderr.write(s); },
  readFile: (p) => readFileSync(p, 'utf8'),
  stdin: () => readFileSync(0, 'utf8'),
};

/** Writes a file so that a reader sees the old or the new content, never half of it. */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}
