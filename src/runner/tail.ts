// Following the shims' event logs as they grow: an inotify watch on each live spawn's folder,
// a safety-net poll for lost inotify events (and for spawns inotify could not watch), and the
// reading of whole new lines from a saved offset. What the lines mean is shimproto.ts's part.

import { openSync, readSync, closeSync, constants as FS, fstatSync, lstatSync, watch, type FSWatcher } from 'node:fs';
import { distrust } from './store.ts';

/** Watched spawns are polled on every 6th tick of the poller (30 s with the default 5 s). */
export const SAFETY_NET_TICKS = 6;

/** What the tail needs of a spawn: a key, the folder its event log is in, whether it is over. */
export interface Tailed {
  readonly seq: number;
  readonly dir: string;
  readonly done: boolean;
}

/** Why a log is read: inotify said it changed ('event'), or a poll (the safety net, adoption, the shim's reaped exit). */
export type ReadCause = 'event' | 'poll';

export class EventLogTail<T extends Tailed> {
  private readonly watchers = new Map<number, FSWatcher>();
  private ticks = 0;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly read: (t: T, why: ReadCause) => void;
  private readonly all: () => readonly T[];

  /**
   * read(t, why) is called whenever t's log may have grown: 'event' when inotify said so,
   * 'poll' for the safety net and adoption (the reader then also asks whether the writer still
   * lives: a writer killed from outside writes nothing more to be told of). pollMs: how often to poll unwatched
   * spawns by a timer of its own (and watched ones every SAFETY_NET_TICKS-th time); 0 for no
   * timer (the owner calls tick(), one timer for all of an agent's units).
   */
  constructor(read: (t: T, why: ReadCause) => void, all: () => readonly T[], pollMs: number) {
    this.read = read;
    this.all = all;
    if (pollMs !== 0) {
      this.poller = setInterval(() => this.tick(), pollMs);
      this.poller.unref();
    }
  }

  /** Starts watching a spawn's folder (before its shim runs, so that no first line goes unnoticed). */
  watch(t: T): void {
    if (this.watchers.has(t.seq) || this.closed) return;
    try {
      const w = watch(t.dir, () => this.read(t, 'event'));
      w.on('error', () => { w.close(); this.watchers.delete(t.seq); });
      this.watchers.set(t.seq, w);
    } catch { /* the poller covers it */ }
  }

  unwatch(t: T): void {
    this.watchers.get(t.seq)?.close();
    this.watchers.delete(t.seq);
  }

  /** One tick of the safety-net poller. */
  tick(): void {
    const everything = ++this.ticks % SAFETY_NET_TICKS === 0;
    for (const t of this.all()) if (!t.done && (everything || !this.watchers.has(t.seq))) this.read(t, 'poll');
  }

  /** Reads every live spawn's log once (on adoption). */
  readAll(): void {
    for (const t of this.all()) if (!t.done) this.read(t, 'poll');
  }

  close(): void {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

/**
 * Reads complete lines after `offset`; returns them, the new offset, and the offset after each
 * line (`ends`). An event log that is
 * not a regular file of the agent's alone (a link, a FIFO, another user's file: store.ts
 * distrust()) is not read: `refused` says why; `busy`: it could not be opened for a want of the
 * agent's own (EMFILE, ENOMEM…) — to be read again soon.
 */
export function readNewLines(file: string, offset: number): { lines: string[]; offset: number; ends?: number[]; refused?: string; busy?: string } {
  // one stat when nothing was added (the common case of the periodic safety-net poll); lstat:
  // a link planted at the log's name is neither followed nor read
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (!st) return { lines: [], offset };
  const before = distrust(st, 'file');
  if (before !== undefined) return { lines: [], offset, refused: `${file}: ${before}` };
  if (st.size <= offset) return { lines: [], offset };
  let fd: number;
  try { fd = openSync(file, FS.O_RDONLY | FS.O_NOFOLLOW | FS.O_NONBLOCK); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { lines: [], offset };
    // the agent's own want (out of descriptors or memory): nothing is wrong with the log, read it again soon
    if (code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM' || code === 'EAGAIN' || code === 'EINTR') return { lines: [], offset, busy: `${file}: ${(e as Error).message}` };
    return { lines: [], offset, refused: `${file}: ${(e as Error).message}` };
  }
  try {
    const fst = fstatSync(fd);
    const why = distrust(fst, 'file');
    if (why !== undefined) return { lines: [], offset, refused: `${file}: ${why}` };
    const size = fst.size;
    if (size <= offset) return { lines: [], offset };
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    // offsets from the bytes, never from decoded text: an invalid UTF-8 byte (a service's STATUS=
    // is passed on raw above 0x7f) decodes to U+FFFD, three bytes, and an offset measured on the
    // text would land inside a later line — one the service wrote, read from its middle as if the
    // holder had ("exit PID exited 0")
    const lines: string[] = [];
    const ends: number[] = [];
    for (let at = 0; ;) {
      const nl = buf.indexOf(0x0a, at);
      if (nl < 0 || nl >= n) break;
      lines.push(buf.toString('utf8', at, nl));
      ends.push(offset + nl + 1);
      at = nl + 1;
    }
    if (lines.length === 0) return { lines: [], offset };
    return { lines, offset: ends[ends.length - 1]!, ends };
  } finally {
    closeSync(fd);
  }
}
