// The host's file system as the agent sees it: absolute paths resolved component by component
// under an optional host root (the host's / mounted at /host, or /proc/1/root), every symbolic
// link followed inside that root ("/" and ".." never climb out of it), at most 40 links (ELOOP).
// Reads are bounded and never block: files are opened O_NONBLOCK and read only when regular.

import { closeSync, constants, fstatSync, lstatSync, opendirSync, openSync, readlinkSync, readSync, statSync, accessSync, type BigIntStats } from 'node:fs';
import { expandBraces, fnmatch, hasMagic } from './fnmatch.ts';
import type { Errno, FileKind, FileStat } from './types.ts';

const MAX_LINKS = 40;
/** Entries read from one directory at most (DirectoryNotEmpty=, globs). */
export const MAX_DIR_ENTRIES = 100_000;
/** Paths a glob may hold at once. */
const MAX_GLOB_PATHS = 10_000;

const code = (e: unknown): string => (typeof (e as NodeJS.ErrnoException)?.code === 'string' ? (e as NodeJS.ErrnoException).code! : 'EIO');

function kindOf(s: BigIntStats): FileKind {
  return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isFIFO() ? 'fifo' : s.isSocket() ? 'socket'
    : s.isCharacterDevice() ? 'char' : s.isBlockDevice() ? 'block' : 'other';
}

/** Reads at most `max` bytes of a regular file, opened without blocking (a FIFO or device is refused, not opened for reading). */
export function readBounded(path: string, max: number, opts: { nofollow?: boolean; encoding?: BufferEncoding } = {}): string | undefined {
  let fd: number;
  try { fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (opts.nofollow ? constants.O_NOFOLLOW : 0)); } catch { return undefined; }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(max, 64 * 1024));
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < max) {
      let n: number;
      try { n = readSync(fd, buf, 0, Math.min(buf.length, max - total), null); } catch (e) { if (code(e) === 'EAGAIN') break; return undefined; }
      if (n <= 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
    }
    return Buffer.concat(chunks).toString(opts.encoding ?? 'utf8');
  } finally { closeSync(fd); }
}

/** Names in a directory, at most `max`; undefined when it cannot be opened. */
export function listDir(path: string, max = 4096): string[] | undefined {
  let d;
  try { d = opendirSync(path); } catch { return undefined; }
  const out: string[] = [];
  try { for (let e = d.readSync(); e && out.length < max; e = d.readSync()) out.push(e.name); } catch { /* what was read */ } finally { try { d.closeSync(); } catch { /* closed */ } }
  return out;
}

interface MountEntry { readonly point: string; readonly opts: readonly string[]; readonly superOpts: readonly string[] }

/** /proc/<pid>/mountinfo lines (octal escapes undone). */
export function parseMountInfo(text: string): MountEntry[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 7 || dash < 0) continue;
    out.push({ point: unescape(f[4]!), opts: f[5]!.split(','), superOpts: (f[dash + 3] ?? '').split(',') });
  }
  return out;
}

export class HostFs {
  /** The host's root as the agent sees it, without a trailing slash; "" when it is the agent's own "/". */
  readonly root: string;
  constructor(root?: string) { this.root = root && root.replace(/\/+$/, '') !== '' ? root.replace(/\/+$/, '') : ''; }

  /** Where a resolved path (its components under the host's root) is in the agent's view. */
  real(rel: readonly string[]): string { return `${this.root}/${rel.join('/')}`; }

  /** The components of a path of the host with every link followed inside the root (the last one only when `followLast`). */
  resolve(path: string, followLast: boolean): { rel: string[] } | Errno {
    let queue = path.split('/').filter((x) => x !== '');
    const rel: string[] = [];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '.') continue;
      if (c === '..') { rel.pop(); continue; }
      const last = queue.length === 0;
      const real = this.real([...rel, c]);
      let st;
      try { st = lstatSync(real); } catch (e) { return { errno: code(e) }; }
      if (st.isSymbolicLink() && (!last || followLast)) {
        if (++links > MAX_LINKS) return { errno: 'ELOOP' };
        let target: string;
        try { target = readlinkSync(real, 'utf8'); } catch (e) { return { errno: code(e) }; }
        if (target.startsWith('/')) rel.length = 0;
        queue = [...target.split('/').filter((x) => x !== ''), ...queue];
        continue;
      }
      if (!last && !st.isDirectory()) return { errno: 'ENOTDIR' };
      rel.push(c);
    }
    return { rel };
  }

  /** The agent's path of a host path, links resolved inside the root. */
  realPath(path: string, followLast = true): string | Errno {
    const r = this.resolve(path, followLast);
    return 'errno' in r ? r : this.real(r.rel);
  }

  stat(path: string, follow: boolean): FileStat | Errno {
    const p = this.realPath(path, follow);
    if (typeof p !== 'string') return p;
    try {
      const s = lstatSync(p, { bigint: true });
      return { kind: kindOf(s), size: Number(s.size), mode: Number(s.mode & 0o7777n), mtimeNs: s.mtimeNs };
    } catch (e) { return { errno: code(e) }; }
  }

  /** A small file of the host (never through a link out of the root, never a FIFO), at most `max` bytes. */
  read(path: string, max = 1024 * 1024): string | undefined {
    const p = this.realPath(path, true);
    return typeof p === 'string' ? readBounded(p, max, { nofollow: true }) : undefined;
  }

  dirHasEntry(path: string, accept: (name: string) => boolean): boolean | Errno {
    const p = this.realPath(path, true);
    if (typeof p !== 'string') return p;
    let d;
    try { d = opendirSync(p); } catch (e) { return { errno: code(e) }; }
    try {
      for (let i = 0, e = d.readSync(); e && i < MAX_DIR_ENTRIES; i++, e = d.readSync()) if (accept(e.name)) return true;
      return false;
    } catch (e) { return { errno: code(e) }; } finally { try { d.closeSync(); } catch { /* closed */ } }
  }

  /** glob(3) with GLOB_BRACE: whether anything matches (a leading "." only by a "." of the pattern). */
  globExists(pattern: string): boolean {
    for (const p of expandBraces(pattern)) {
      let cands: string[][] = [[]];
      for (const comp of p.split('/').filter((x) => x !== '')) {
        const next: string[][] = [];
        for (const cand of cands) {
          if (!hasMagic(comp)) { next.push([...cand, comp.replace(/\\(.)/g, '$1')]); continue; }
          const dir = this.resolve(`/${cand.join('/')}`, true);
          if ('errno' in dir) continue;
          for (const name of listDir(this.real(dir.rel), MAX_DIR_ENTRIES) ?? []) {
            if (next.length >= MAX_GLOB_PATHS) break;
            if (fnmatch(comp, name, { period: true })) next.push([...cand, name]);
          }
        }
        cands = next;
        if (cands.length === 0) break;
      }
      if (cands.some((c) => !('errno' in this.resolve(`/${c.join('/')}`, false)))) return true;
    }
    return false;
  }

  /** The mount table in the host's view: /proc/<pid>/mountinfo when the root is /proc/<pid>/root, else the agent's own. */
  private mounts(): { entries: MountEntry[]; prefix: string; own: boolean } {
    const m = /^\/proc\/([0-9]+|self)\/root$/.exec(this.root);
    const text = readBounded(m ? `/proc/${m[1]}/mountinfo` : '/proc/self/mountinfo', 16 * 1024 * 1024) ?? '';
    return { entries: parseMountInfo(text), prefix: m ? '' : this.root, own: !m };
  }

  /** Every mount point of the host's mount table, as paths of the host (a folder root: those under it). */
  mountPoints(): Set<string> {
    const { entries, prefix } = this.mounts();
    const out = new Set<string>(['/']);
    for (const e of entries) {
      if (prefix === '') out.add(e.point);
      else if (e.point === prefix) out.add('/');
      else if (e.point.startsWith(`${prefix}/`)) out.add(e.point.slice(prefix.length));
    }
    return out;
  }

  isMountPoint(path: string): boolean | Errno {
    const r = this.resolve(path, true);
    if ('errno' in r) return r;
    if (r.rel.length === 0) return true;
    const { entries, prefix } = this.mounts();
    const target = `${prefix}/${r.rel.join('/')}`;
    if (entries.some((e) => e.point === target)) return true;
    try { return statSync(this.real(r.rel)).dev !== statSync(this.real(r.rel.slice(0, -1))).dev; } catch (e) { return { errno: code(e) }; }
  }

  /** statvfs()'s ST_RDONLY: the mount holding the path, or its file system, is read-only. */
  isReadOnly(path: string): boolean | Errno {
    const r = this.resolve(path, true);
    if ('errno' in r) return r;
    const { entries, prefix, own } = this.mounts();
    const target = `${prefix}/${r.rel.join('/')}`.replace(/\/+$/, '') || '/';
    let best: MountEntry | undefined;
    for (const e of entries) {
      const inside = e.point === '/' || target === e.point || target.startsWith(`${e.point}/`);
      if (inside && (!best || e.point.length >= best.point.length)) best = e;
    }
    if (best) {
      // the agent's own mount of the host's root (a container's read-only bind) is not the host's: only its file system counts
      const itsRootBind = own && this.root !== '' && (best.point === this.root || this.root.startsWith(`${best.point === '/' ? '' : best.point}/`));
      if (best.superOpts.includes('ro') || (!itsRootBind && best.opts.includes('ro'))) return true;
    }
    if (this.root === '') {
      try { accessSync(this.real(r.rel), constants.W_OK); } catch (e) { if (code(e) === 'EROFS') return true; }
    }
    return false;
  }

  /** path_is_encrypted(): the path's block device is dm-crypt, or stacked only on dm-crypt devices. */
  isEncrypted(path: string): boolean | Errno {
    const p = this.realPath(path, true);
    if (typeof p !== 'string') return p;
    let dev: bigint;
    try { dev = statSync(p, { bigint: true }).dev; } catch (e) { return { errno: code(e) }; }
    const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
    const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
    if (major === 0n) return false; // a virtual or btrfs subvolume device: no block device to look at
    return blockdevEncrypted(`/sys/dev/block/${major}:${minor}`, 32);
  }
}

function blockdevEncrypted(sysfs: string, depth: number): boolean {
  if (depth === 0) return false;
  if ((readBounded(`${sysfs}/dm/uuid`, 4096) ?? '').startsWith('CRYPT-')) return true;
  const slaves = listDir(`${sysfs}/slaves`, 256);
  if (!slaves || slaves.length === 0) return false;
  return slaves.every((s) => blockdevEncrypted(`${sysfs}/slaves/${s}`, depth - 1));
}
