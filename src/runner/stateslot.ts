// A unit's state on disk as two slot files written in place in turn (issue 19: a create + rename
// per write cost ~137 µs on ext4 and 23 % of the agent's CPU in a crash storm; an in-place write
// of the same bytes ~4 µs). This module knows the slots' bytes, their trust checks and which one
// to write next; what the payload means is store.ts's.
//
//   <unit dir>/state.0, state.1     each: a 48-byte ASCII header line, then the payload
//       "uo-state 3 <generation: 16 hex> <payload bytes: 10 decimal> <crc32: 8 hex>\n"
//   the CRC-32 covers the header up to and including the space before it, then the payload, so a
//   header and payload from two different writes do not match.
//
// A slot is valid when its header parses and the payload it announces is all there with its
// checksum; bytes after the payload (a write killed before its ftruncate) are not looked at. The
// state is the payload of the valid slot with the higher generation. A write goes to the slot
// that does NOT hold the newest valid state, with the next generation: pwrite at 0, then
// ftruncate to the new length. A kill -9 at any instant (a SIGKILL may leave a multi-page write()
// of a regular file partly done) leaves that slot torn — its checksum fails and readers take the
// other slot, the last complete state — or complete. The agent acts on a write (starts the
// process of a spawn record) only once it returned, so the previous state is the last one acted
// on. Other processes reading while the agent writes (unitctl) see a torn slot the same way and
// take the other one; they read again, a few times, when they find no valid slot but a torn one.
//
// No fsync, as with the rename before: a kill of the agent loses nothing the kernel holds. After a
// power loss, the rename gave the old or the new file whole (ext4's auto_da_alloc flushes a file
// renamed over another); slots may come back torn or older: the newest valid one is used, and
// when none is valid the unit is recovered from its event logs, as a damaged file was.
//
// Trust: a slot is opened O_NOFOLLOW (a symbolic link is refused, never followed), and a slot that
// is not a regular file of the agent's uid, is group- or world-writable, or has another hard link
// (a write in place would write through it) is refused with a StateError naming it — on reading
// and before any byte is written. A slot is created O_EXCL|O_NOFOLLOW and fchmod()ed 0600.
//
// The writer remembers, per unit folder, which slot holds the newest valid state and its
// generation (learnt by reading the slots: loadSlots() or the first write); the agent is the only
// writer of its units' folders. A failed write forgets it: the next one reads the slots again.

import { closeSync, constants as FS, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, readSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { distrust, StateError } from './trust.ts';

export const SLOT_NAMES = ['state.0', 'state.1'] as const;
export const slotPath = (dir: string, i: 0 | 1): string => join(dir, SLOT_NAMES[i]);
/** How messages name the pair. */
export const slotsLabel = (dir: string): string => join(dir, 'state.{0,1}');

const MAGIC = 'uo-state 3 ';
export const HEADER_BYTES = 48;
const HEADER = /^uo-state 3 ([0-9a-f]{16}) ([0-9]{10}) ([0-9a-f]{8})\n$/;

/** One slot as read: absent, valid (its generation and payload), or torn (why). Refused ones throw. */
export type Slot =
  | { readonly t: 'absent'; readonly path: string }
  | { readonly t: 'valid'; readonly path: string; readonly gen: number; readonly payload: string }
  | { readonly t: 'torn'; readonly path: string; readonly why: string };

/** The bytes of a slot holding `payload` as generation `gen`. */
export function encodeSlot(gen: number, payload: string): Buffer {
  const body = Buffer.from(payload);
  const head = `${MAGIC}${gen.toString(16).padStart(16, '0')} ${String(body.length).padStart(10, '0')} `;
  const crc = crc32(body, crc32(head));
  const buf = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  buf.write(`${head}${crc.toString(16).padStart(8, '0')}\n`, 0, 'latin1');
  body.copy(buf, HEADER_BYTES);
  return buf;
}

/** What a slot's bytes hold (pure). */
export function decodeSlot(path: string, buf: Buffer): Slot {
  if (buf.length < HEADER_BYTES) return { t: 'torn', path, why: buf.length === 0 ? 'it is empty' : `it is ${buf.length} bytes, shorter than its header` };
  const m = HEADER.exec(buf.toString('latin1', 0, HEADER_BYTES));
  if (!m) return { t: 'torn', path, why: 'its header is not a version-3 slot header' };
  const len = Number(m[2]);
  if (HEADER_BYTES + len > buf.length) return { t: 'torn', path, why: `it holds ${buf.length - HEADER_BYTES} of the ${len} payload bytes its header announces (a write cut short)` };
  const body = buf.subarray(HEADER_BYTES, HEADER_BYTES + len);
  const crc = crc32(body, crc32(buf.subarray(0, HEADER_BYTES - 9)));
  if (crc !== parseInt(m[3]!, 16)) return { t: 'torn', path, why: 'its checksum does not match its bytes (a write cut short, or damaged)' };
  const gen = parseInt(m[1]!, 16);
  if (!Number.isSafeInteger(gen)) return { t: 'torn', path, why: 'its generation is out of range' };
  return { t: 'valid', path, gen, payload: body.toString('utf8') };
}

/** Why a slot's stat (not followed) is refused: distrust(), or a second name for its inode. */
function refusal(st: Stats): string | undefined {
  return distrust(st, 'file') ?? (st.nlink !== 1 ? `it has ${st.nlink} hard links (a write in place would write through another name)` : undefined);
}

/** One slot, read whole with every check; StateError when refused. */
export function readSlot(path: string, maxBytes: number): Slot {
  let fd: number;
  try { fd = openSync(path, FS.O_RDONLY | FS.O_NOFOLLOW | FS.O_NONBLOCK); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { t: 'absent', path };
    if (code === 'ELOOP') throw new StateError(path, 'it is a symbolic link, not a regular file');
    throw e;
  }
  try {
    const st = fstatSync(fd);
    const why = refusal(st);
    if (why !== undefined) throw new StateError(path, why);
    if (st.size > maxBytes) throw new StateError(path, `it is ${st.size} bytes, more than the ${maxBytes} a state file may have`);
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < buf.length) { const k = readSync(fd, buf, n, buf.length - n, n); if (k === 0) break; n += k; }
    return decodeSlot(path, buf.subarray(0, n));
  } finally { closeSync(fd); }
}

/** What the writer knows of a folder: the slot holding the newest valid state (-1: none) and its generation. */
interface Newest { readonly slot: -1 | 0 | 1; readonly gen: number }
const newest = new Map<string, Newest>();

/** Both slots of a unit folder, newest valid first; what the writer goes by is remembered. StateError when either is refused. */
export function loadSlots(dir: string, maxBytes: number): { newest: Slot & { t: 'valid' } | undefined; slots: readonly [Slot, Slot] } {
  const slots = [readSlot(slotPath(dir, 0), maxBytes), readSlot(slotPath(dir, 1), maxBytes)] as const;
  const valid = slots.filter((s): s is Slot & { t: 'valid' } => s.t === 'valid').sort((a, b) => b.gen - a.gen);
  const top = valid[0];
  newest.set(dir, top ? { slot: top.path === slots[0].path ? 0 : 1, gen: top.gen } : { slot: -1, gen: 0 });
  return { newest: top, slots };
}

/** The writer reads the slots again before its next write (they were moved or removed). */
export function forgetSlots(dir: string): void { newest.delete(dir); }

/** How many folders the writer knows the slots of. */
export function slotsRemembered(): number { return newest.size; }

/** Writes `payload` as the unit's newest state, into the slot not holding the newest valid one. Throws StateError or the file system's error. */
export function writeSlots(dir: string, payload: string, maxBytes: number): void {
  const known = newest.get(dir) ?? (loadSlots(dir, maxBytes), newest.get(dir)!);
  const target = known.slot === 0 ? 1 : 0;
  const gen = known.gen + 1;
  try { writeInPlace(slotPath(dir, target), encodeSlot(gen, payload)); } catch (e) { newest.delete(dir); throw e; }
  newest.set(dir, { slot: target, gen });
}

/**
 * Writes `buf` over the file at `path` from offset 0 and cuts it to that length: an existing
 * slot is opened without following a link and checked before a byte is written; a missing one
 * is created O_EXCL|O_NOFOLLOW, 0600.
 */
function writeInPlace(path: string, buf: Buffer): void {
  let fd: number;
  let size = 0;
  try {
    fd = openSync(path, FS.O_WRONLY | FS.O_NOFOLLOW | FS.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fd = openSync(path, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, 0o600);
    else if (code === 'ELOOP') throw new StateError(path, 'it is a symbolic link, not a regular file');
    else {
      const st = lstatSync(path, { throwIfNoEntry: false });
      const why = st && refusal(st);
      throw why !== undefined ? new StateError(path, why) : e; // a folder (EISDIR), a FIFO without reader (ENXIO)
    }
    size = -1;
  }
  try {
    if (size < 0) fchmodSync(fd, 0o600);
    else {
      const st = fstatSync(fd);
      const why = refusal(st);
      if (why !== undefined) throw new StateError(path, why);
      if ((st.mode & 0o7777) !== 0o600) fchmodSync(fd, 0o600);
      size = st.size;
    }
    for (let n = 0; n < buf.length;) n += writeSync(fd, buf, n, buf.length - n, n);
    if (size > buf.length) ftruncateSync(fd, buf.length);
  } finally { closeSync(fd); }
}
