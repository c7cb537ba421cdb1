// Reading a file someone else controls (a unit file, a drop-in, a manifest, an
// EnvironmentFile=) as hostile: regular files only, opened without blocking (a FIFO never
// freezes the event loop, a device is never read), bounded in size before a byte is read.
// Names are shown quoted and escaped (showName), so that a space, a newline or a control
// character in a file name can neither garble a message nor inject a log line.

import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

export const MiB = 1024 * 1024;

/** Why a file is refused before it is read. `errno` is what systemd would report for it. */
export class HostileFileError extends Error {
  readonly code: 'ENOENT' | 'ELOOP' | 'E2BIG' | 'EINVAL' | 'EACCES' | 'EIO';
  constructor(code: HostileFileError['code'], message: string) { super(message); this.code = code; }
}

/** "a FIFO", "a socket", "a character device"… for a file that is not a regular file. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** 1048576 → "1 MiB", 1536 → "1.5 KiB", 100 → "100 bytes". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * A file name as shown in messages and logs: as is when it has only characters a path usually
 * has, else in double quotes with \", \\, \n, \t and \xNN escapes (C-style, as systemd's
 * cescape()), so that the name reads as one token on one line.
 */
export function showName(name: string): string {
  if (/^[A-Za-z0-9._@:+,=%~/-]+$/.test(name)) return name;
  return `"${escapeText(name)}"`;
}

/** Escapes control characters (and quotes, backslashes) of text bound for a one-line message. */
export function escapeText(s: string): string {
  return s.replace(/[\\"\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]/g, (ch) => {
    switch (ch) {
      case '\\': return '\\\\';
      case '"': return '\\"';
      case '\n': return '\\n';
      case '\t': return '\\t';
      case '\r': return '\\r';
      default: {
        const c = ch.charCodeAt(0);
        return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
      }
    }
  });
}

/** Why stat()-ing `path` (following links) failed, in words: a loop, a dangling link, gone. */
export function statProblem(e: unknown): HostileFileError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new HostileFileError('ELOOP', 'a symbolic link loop (Too many levels of symbolic links)');
  if (code === 'ENOENT') return new HostileFileError('ENOENT', 'No such file or directory');
  if (code === 'EACCES') return new HostileFileError('EACCES', 'Permission denied');
  return new HostileFileError('EIO', (e as Error).message);
}

/**
 * Reads a regular file of at most `maxBytes` bytes as UTF-8. Throws HostileFileError for
 * anything else: a missing file or dangling link (ENOENT), a link loop (ELOOP), a FIFO, socket,
 * device or folder (EINVAL), a file larger than the limit (E2BIG) — checked on the path first
 * (stat, nothing opened), then again on the opened descriptor (O_NONBLOCK: a FIFO swapped in
 * meanwhile does not block), and the read stops at the limit whatever the file grows to.
 */
export function readRegularFile(path: string, maxBytes: number, what = 'file'): string {
  let st: Stats;
  try { st = statSync(path); } catch (e) { throw statProblem(e); }
  const check = (s: Stats): void => {
    if (!s.isFile()) throw new HostileFileError('EINVAL', `${fileKind(s)}, not a regular file`);
    if (s.size > maxBytes) throw new HostileFileError('E2BIG', `too large: ${formatBytes(s.size)} (${s.size} bytes), larger than the ${what} size limit of ${formatBytes(maxBytes)} (${maxBytes} bytes)`);
  };
  check(st);
  let fd: number;
  // O_NONBLOCK: a FIFO swapped in after the stat opens at once (and fstat refuses it); libuv adds O_CLOEXEC
  try { fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY); } catch (e) { throw statProblem(e); }
  try {
    check(fstatSync(fd));
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) break; // one byte past the limit: too large, whatever follows
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      // a read error (EIO of /proc/self/mem, EAGAIN of /proc/kmsg: "regular" files of size 0) is the file's fault, not the agent's
      let k: number;
      try { k = readSync(fd, buf, n, buf.length - n, null); } catch (e) { throw new HostileFileError('EIO', `cannot be read: ${(e as Error).message}`); }
      if (k === 0) break;
      n += k;
    }
    if (n > maxBytes) throw new HostileFileError('E2BIG', `too large: more than the ${what} size limit of ${formatBytes(maxBytes)} (${maxBytes} bytes)`);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** A size as given on a command line: 1048576, 512K, 1M, 2MiB, 1G (base 1024). Undefined when malformed. */
export function parseByteSize(s: string): number | undefined {
  const m = /^([0-9]+)\s*([KMG]?)(i?B)?$/i.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * 1024 ** ['', 'K', 'M', 'G'].indexOf(m[2]!.toUpperCase());
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
