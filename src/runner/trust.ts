// What the agent trusts in its state folder (issue 12): the checks every reader and writer of a
// state path applies to a stat that did not follow a link; and which folders above a path (the
// state folder's, the shim's) only root or the agent can change. store.ts re-exports these; its header
// says what is checked where.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

// the agent's effective uid, read once: every trust check (each lstat of an event log, a spawn
// folder, the state file) compares against it, and geteuid() is a system call (issue 19's
// crash-storm profile: 1.7 % of the agent's CPU); the agent never changes its uid
export const AGENT_UID = process.geteuid?.() ?? 0;

/** A state path the agent will not use, and why (the message names the path). */
export class StateError extends Error {
  readonly path: string;
  readonly why: string;
  constructor(path: string, why: string) { super(`${path}: ${why}`); this.name = 'StateError'; this.path = path; this.why = why; }
}

function kindOf(st: Stats): string {
  return st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a folder' : st.isFile() ? 'a regular file' : st.isFIFO() ? 'a FIFO'
    : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a special file';
}

/** Why a (not followed) stat of a state path is not to be trusted, or undefined when it is. */
export function distrust(st: Stats, want: 'file' | 'dir'): string | undefined {
  const ok = want === 'file' ? st.isFile() : st.isDirectory();
  if (!ok) return `it is ${kindOf(st)}, not ${want === 'file' ? 'a regular file' : 'a folder'}`;
  if (st.uid !== AGENT_UID) return `it is owned by uid ${st.uid}, not by the agent's uid ${AGENT_UID}`;
  if ((st.mode & 0o022) !== 0) return `it is writable by ${(st.mode & 0o002) !== 0 ? 'every user' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

const octal = (m: number): string => (m & 0o7777).toString(8).padStart(4, '0');

/**
 * Why `path` (a file or folder, not followed) may be changed by someone other than root or the
 * agent's uid, or undefined when it may not. A root-owned sticky folder is safe as an ancestor
 * (`sticky`: /tmp). A symbolic link is refused (unsafeWalk() follows them).
 */
export function unsafe(path: string, sticky: boolean): string | undefined {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return `${path} is a symbolic link`;
  if (st.uid !== 0 && st.uid !== AGENT_UID) return `${path} is owned by uid ${st.uid} (not root${AGENT_UID === 0 ? '' : ` nor uid ${AGENT_UID}`})`;
  if ((st.mode & 0o022) !== 0 && !(sticky && st.isDirectory() && st.uid === 0 && (st.mode & 0o1000) !== 0)) return `${path} is writable by its group or by others (mode ${octal(st.mode)})`;
  return undefined;
}

/** Every folder from `dir` up to /, each checked by unsafe() (sticky ancestors allowed); the first problem, or undefined. */
export function unsafeChain(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const why = unsafe(d, true);
    if (why) return why;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Why `path` can be changed under the agent by someone other than root or its uid, walking it as
 * systemd's chase() with CHASE_SAFE does: component by component from /, every folder passed
 * through checked by unsafe() (root-owned sticky ones allowed), every symbolic link met owned by
 * root or the agent's uid (its folder, checked before it, is what could replace it) and followed,
 * its target walked the same way — so a link reached through another link is checked too.
 * Components that do not exist yet end the walk (nothing to change there but through their
 * checked parent). Undefined: safe.
 */
export function unsafeWalk(path: string): string | undefined {
  const first = unsafe('/', true);
  if (first) return first;
  let todo = path.split('/').filter(Boolean);
  let cur = '/';
  for (let links = 0; todo.length > 0;) {
    const c = todo.shift()!;
    if (c === '.') continue;
    if (c === '..') { cur = dirname(cur); continue; }
    const next = cur === '/' ? `/${c}` : `${cur}/${c}`;
    const st = lstatSync(next, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (st.uid !== 0 && st.uid !== AGENT_UID) return `${next} is a symbolic link owned by uid ${st.uid} (not root${AGENT_UID === 0 ? '' : ` nor uid ${AGENT_UID}`})`;
      if (++links > 40) return `${path}: too many levels of symbolic links`;
      const target = readlinkSync(next);
      if (target.startsWith('/')) cur = '/';
      todo = [...target.split('/').filter(Boolean), ...todo];
      continue;
    }
    const why = unsafe(next, true);
    if (why) return why;
    cur = next;
  }
  return undefined;
}
