// RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory=
// (systemd.exec(5)), as systemd 257's setup_exec_directory() (src/core/exec-invoke.c) makes them
// before each command of the unit and unit_destroy_runtime_data() removes them:
//   - the parents of a nested name ("foo/bar") are made 0755 and left root's;
//   - the directory is made with its *Mode= (default 0755); an existing one gets its mode fixed
//     and, unless it is a ConfigurationDirectory= (left as it is), the whole tree is chowned to
//     User=/Group= (root:root without them; skipped when the top already has that owner);
//   - $RUNTIME_DIRECTORY… hold the absolute paths, ':'-separated, in the order written;
//   - a failure fails the command with systemd's exit status (233 RUNTIME_DIRECTORY, 238
//     STATE_DIRECTORY, 239 CACHE_DIRECTORY, 240 LOGS_DIRECTORY, 241 CONFIGURATION_DIRECTORY);
//   - when the unit stops, its RuntimeDirectory= entries (not their parents) are removed unless
//     RuntimeDirectoryPreserve=yes, or =restart while it restarts automatically; the others stay.
//   - DynamicUser=: StateDirectory=, CacheDirectory=, LogsDirectory= live below a "private"
//     folder of their prefix (/var/lib/private, 0700 root's, so no other user reaches the folder
//     of a dynamic id that may be reused), the public path a relative symbolic link to it
//     (/var/lib/NAME → private/NAME); a folder already at the public path (the unit ran without
//     DynamicUser= before) is moved there, as systemd does. The command's namespace shows an
//     empty 0755 tmpfs over the private folder with only its own folders in it (sandbox.ts).
// The agent is root and these folders belong to the unit's user, so the walk never follows a
// symbolic link below the prefix (/run, /var/lib…): every step is an open(O_NOFOLLOW) relative to
// the folder opened before it (through /proc/self/fd/N, Node having no openat()). Where systemd
// 257 follows a link a user planted in its own folder (the oracle: StateDirectory=a a/d with a
// user's link a/d → /etc/x chowns /etc/x to the user), the agent refuses: the command fails with
// the directory's exit status, "Too many levels of symbolic links" (fail closed).

import { closeSync, constants, fchmodSync, fchownSync, fstatSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { getSystemErrorMessage } from 'node:util';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

export type DirectoryType = 'runtime' | 'state' | 'cache' | 'logs' | 'configuration';

interface TypeInfo { readonly directive: string; readonly field: string; readonly prefix: string; readonly env: string; readonly status: number; readonly step: string }

/** systemd's table, in its order (setup_exec_directory() runs them in this order). */
export const DIRECTORY_TYPES: Readonly<Record<DirectoryType, TypeInfo>> = {
  runtime: { directive: 'RuntimeDirectory', field: 'runtimeDirectory', prefix: '/run', env: 'RUNTIME_DIRECTORY', status: 233, step: 'RUNTIME_DIRECTORY' },
  state: { directive: 'StateDirectory', field: 'stateDirectory', prefix: '/var/lib', env: 'STATE_DIRECTORY', status: 238, step: 'STATE_DIRECTORY' },
  cache: { directive: 'CacheDirectory', field: 'cacheDirectory', prefix: '/var/cache', env: 'CACHE_DIRECTORY', status: 239, step: 'CACHE_DIRECTORY' },
  logs: { directive: 'LogsDirectory', field: 'logsDirectory', prefix: '/var/log', env: 'LOGS_DIRECTORY', status: 240, step: 'LOGS_DIRECTORY' },
  configuration: { directive: 'ConfigurationDirectory', field: 'configurationDirectory', prefix: '/etc', env: 'CONFIGURATION_DIRECTORY', status: 241, step: 'CONFIGURATION_DIRECTORY' },
};
const TYPES = Object.keys(DIRECTORY_TYPES) as DirectoryType[];

export type Preserve = 'no' | 'yes' | 'restart';

/** The unit's exec directories as written (names may hold specifiers, expanded at spawn time). */
export interface ExecDirectories {
  readonly names: Readonly<Record<DirectoryType, readonly string[]>>;
  readonly modes: Readonly<Record<DirectoryType, number>>;
  readonly preserve: Preserve;
}

/** Why a directory set-up failed: the command fails with `status` (systemd's "Failed at step STEP"). */
export interface SetupFailure {
  readonly status: number;
  readonly step: string;
  readonly errnoText: string;
  /** systemd's line: "Failed to set up special execution directory in /var/lib: Permission denied", with the folder named. */
  readonly message: string;
}

/** Parses the directives from spec.service (pure). A list item may hold several names separated by spaces. */
export function execDirectories(service: Readonly<Record<string, unknown>> | undefined): ExecDirectories {
  const s = service ?? {};
  const names = {} as Record<DirectoryType, string[]>;
  const modes = {} as Record<DirectoryType, number>;
  for (const t of TYPES) {
    const f = DIRECTORY_TYPES[t].field;
    const raw = s[f];
    const list = Array.isArray(raw) ? raw.map(String) : raw !== undefined ? [String(raw)] : [];
    // an empty assignment resets the list, as in a unit file
    const out: string[] = [];
    for (const item of list) { if (item.trim() === '') out.length = 0; else for (const w of item.split(/\s+/)) if (w !== '' && !out.includes(w)) out.push(w); }
    names[t] = out;
    const m = s[`${f}Mode`];
    modes[t] = m !== undefined && /^0?[0-7]{1,4}$/.test(String(m)) ? parseInt(String(m), 8) : 0o755;
  }
  const p = String(s['runtimeDirectoryPreserve'] ?? 'no');
  return { names, modes, preserve: p === 'yes' || p === 'true' ? 'yes' : p === 'restart' ? 'restart' : 'no' };
}

export function hasExecDirectories(d: ExecDirectories): boolean { return TYPES.some((t) => d.names[t].length > 0); }

/**
 * Why a name (specifiers expanded) is refused, or undefined: systemd's PATH_CHECK_RELATIVE after
 * path_simplify(): relative, no "." or ".." component, nothing empty, no NUL, at most 4095 bytes
 * with components of at most 255. A trailing "/" and doubled "/" are simplified away.
 */
export function dirNameProblem(name: string): string | undefined {
  if (name.startsWith('/')) return 'an absolute path';
  if (name.includes('\0')) return 'a NUL byte';
  if (Buffer.byteLength(name) > 4095) return 'too long';
  const parts = name.split('/').filter((c) => c !== '');
  if (parts.length === 0) return 'empty';
  if (parts.some((c) => c === '.' || c === '..')) return 'a "." or ".." component';
  if (parts.some((c) => Buffer.byteLength(c) > 255)) return 'a component longer than 255 bytes';
  return undefined;
}

const simplify = (name: string): string => name.split('/').filter((c) => c !== '').join('/');

/** The exec-directory variables ($RUNTIME_DIRECTORY=/run/a:/run/b…) for expanded names (pure). */
export function directoryEnv(d: ExecDirectories, expand: (s: string) => string = (s) => s): Record<string, string> {
  const env: Record<string, string> = {};
  for (const t of TYPES) {
    const ns = d.names[t].map(expand).filter((n) => dirNameProblem(n) === undefined).map(simplify);
    if (ns.length > 0) env[DIRECTORY_TYPES[t].env] = ns.map((n) => `${DIRECTORY_TYPES[t].prefix}/${n}`).join(':');
  }
  return env;
}

// ---- the file-system edge ------------------------------------------------------------------

const O_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const at = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;
/** Deepest tree chowned or removed below one directory (a bound, not systemd's). */
const MAX_DEPTH = 64;

/** strerror() of an fs error ("Too many levels of symbolic links"). */
export function errnoTextOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'Too many levels of symbolic links'; // glibc's words (libuv: "…encountered")
  const n = code !== undefined ? (osConstants.errno as Record<string, number>)[code] : undefined;
  if (n !== undefined) { try { const m = getSystemErrorMessage(-n); if (m) return m[0]!.toUpperCase() + m.slice(1); } catch { /* below */ } }
  return (e as Error).message;
}

class StepError extends Error { readonly code: string; constructor(code: string, message: string) { super(message); this.code = code; } }

/** Opens `name` in the folder `dirFd` as a folder, never following a link (ELOOP: it is one). */
function openDirAt(dirFd: number, name: string): number {
  try { return openSync(at(dirFd, name), O_DIR); } catch (e) {
    // O_DIRECTORY|O_NOFOLLOW on a link says ENOTDIR: say ELOOP, as open(O_NOFOLLOW) does
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR' && isLink(at(dirFd, name))) throw Object.assign(new Error(`${name} is a symbolic link`), { code: 'ELOOP' });
    throw e;
  }
}

function isLink(path: string): boolean {
  try { return lstatSync(path).isSymbolicLink(); } catch { return false; }
}

/** Opens (making with `mode` when missing) the folder `name` in dirFd; `made` tells whether it was made. */
function openOrMake(dirFd: number, name: string, mode: number): { fd: number; made: boolean } {
  for (let attempt = 0; attempt < 3; attempt++) {
    try { return { fd: openDirAt(dirFd, name), made: false }; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try { mkdirSync(at(dirFd, name), mode); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; continue; }
    const fd = openDirAt(dirFd, name);
    return { fd, made: true };
  }
  throw new StepError('EAGAIN', `${name} keeps changing`);
}

/**
 * chown -R as systemd's path_chown_recursive(): nothing when the top already has the owner;
 * else every entry, links themselves (lchown), never followed; folders opened O_NOFOLLOW.
 */
function chownTree(fd: number, uid: number, gid: number, depth = 0): void {
  const st = fstatSync(fd);
  if (depth === 0 && st.uid === uid && st.gid === gid) return;
  if (depth > MAX_DEPTH) throw new StepError('ELOOP', 'the tree is deeper than 64 levels');
  for (const name of readdirSync(`/proc/self/fd/${fd}`)) {
    let sub: number | undefined;
    try { sub = openDirAt(fd, name); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw e;
    }
    if (sub === undefined) { lchownSync(at(fd, name), uid, gid); continue; }
    try { chownTree(sub, uid, gid, depth + 1); } finally { closeSync(sub); }
  }
  const mode = st.mode & 0o7777;
  fchownSync(fd, uid, gid);
  fchmodSync(fd, mode); // chown() drops set-id bits; systemd's fchmod_and_chown() keeps the mode
}

/** The types that DynamicUser= moves below "private" (systemd's exec_directory_is_private()). */
export const PRIVATE_TYPES: readonly DirectoryType[] = ['state', 'cache', 'logs'];

/** Opens the folder of `parts` below dirFd (0755 parents made when missing); closes dirFd. */
function walkParents(dirFd: number, parts: readonly string[]): number {
  let fd = dirFd;
  try {
    for (const p of parts) {
      const next = openOrMake(fd, p, 0o755);
      if (next.made) fchmodSync(next.fd, 0o755);
      closeSync(fd);
      fd = next.fd;
    }
    return fd;
  } catch (e) { closeSync(fd); throw e; }
}

/**
 * DynamicUser=: PREFIX/private (0700) and, at PREFIX/NAME, the link to private/NAME; a folder at
 * the public path is moved below private first. Returns the private folder to make NAME in.
 */
function privateRoot(root: string, prefix: string, name: string): number {
  const parts = simplify(name).split('/');
  const top = openSync(join(root, prefix), constants.O_RDONLY | constants.O_DIRECTORY);
  let priv: { fd: number; made: boolean };
  try {
    priv = openOrMake(top, 'private', 0o700);
    fchmodSync(priv.fd, 0o700);
  } catch (e) { closeSync(top); throw e; }
  const pub = walkParents(top, parts.slice(0, -1));
  try {
    const last = parts.at(-1)!;
    const target = `${'../'.repeat(parts.length - 1)}private/${parts.join('/')}`;
    let st;
    try { st = lstatSync(at(pub, last)); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
    if (st?.isSymbolicLink() && readlinkSync(at(pub, last)) === target) return priv.fd;
    if (st?.isDirectory()) {
      // the unit ran without DynamicUser= before: its folder moves below private (unless one is there)
      const inner = walkParents(openSync(at(priv.fd, '.'), O_DIR), parts.slice(0, -1));
      try {
        let exists = true;
        try { lstatSync(at(inner, last)); } catch { exists = false; }
        if (exists) throw new StepError('EEXIST', `both ${prefix}/${name} and ${prefix}/private/${name} exist`);
        renameSync(at(pub, last), at(inner, last));
      } finally { closeSync(inner); }
    } else if (st !== undefined) unlinkSync(at(pub, last)); // a link elsewhere or a file: replaced by the link
    symlinkSync(target, at(pub, last));
    return priv.fd;
  } catch (e) { closeSync(priv.fd); throw e; } finally { closeSync(pub); }
}

/** One directory of one type: made (parents 0755), its mode set, owned as the unit's user. */
function setupOne(root: string, t: DirectoryType, name: string, mode: number, uid: number, gid: number, dynamic = false): void {
  const parts = simplify(name).split('/');
  let fd = dynamic && PRIVATE_TYPES.includes(t) ? privateRoot(root, DIRECTORY_TYPES[t].prefix, name) : openSync(join(root, DIRECTORY_TYPES[t].prefix), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const p of parts.slice(0, -1)) {
      const next = openOrMake(fd, p, 0o755);
      if (next.made) fchmodSync(next.fd, 0o755);
      closeSync(fd);
      fd = next.fd;
    }
    const last = parts.at(-1)!;
    if (t === 'configuration') {
      // an existing configuration folder keeps its owner and mode (systemd only warns); never followed
      try { mkdirSync(at(fd, last), mode); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (!lstatSync(at(fd, last)).isDirectory()) throw new StepError(lstatSync(at(fd, last)).isSymbolicLink() ? 'ELOOP' : 'ENOTDIR', `${last} is not a folder`);
        return;
      }
    }
    const dir = openOrMake(fd, last, mode);
    try {
      fchmodSync(dir.fd, mode);
      chownTree(dir.fd, uid, gid);
    } finally { closeSync(dir.fd); }
  } finally { closeSync(fd); }
}

/**
 * Makes every exec directory of the unit under `root` (the host's root as the agent sees it),
 * in systemd's order (runtime, state, cache, logs, configuration); the first failure stops and
 * is returned. Names are expanded already; a refused name fails its type (EINVAL).
 */
export function setupExecDirectories(d: ExecDirectories, root: string, uid: number, gid: number, expand: (s: string) => string = (s) => s, dynamic = false): SetupFailure | undefined {
  for (const t of TYPES) {
    const info = DIRECTORY_TYPES[t];
    for (const raw of d.names[t]) {
      const name = expand(raw);
      const fail = (errnoText: string, why: string): SetupFailure => ({
        status: info.status, step: info.step, errnoText,
        message: `Failed to set up special execution directory in ${info.prefix}: ${errnoText} (${info.directive}=${name}: ${why})`,
      });
      const bad = dirNameProblem(name);
      if (bad !== undefined) return fail('Invalid argument', `${bad}, not a relative path below ${info.prefix}`);
      try { setupOne(root, t, name, d.modes[t], uid, gid, dynamic); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const text = errnoTextOf(e);
        return fail(text, code === 'ELOOP' ? 'a symbolic link is in the way; the agent never follows one there' : (e as Error).message);
      }
    }
  }
  return undefined;
}

/** Removes the entry `name` of the folder dirFd and all below it, never following a link. */
function removeAt(dirFd: number, name: string, depth = 0): void {
  let fd: number;
  try { fd = openDirAt(dirFd, name); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ELOOP' || code === 'ENOTDIR') { unlinkSync(at(dirFd, name)); return; }
    throw e;
  }
  try {
    if (depth > MAX_DEPTH) throw new StepError('ELOOP', 'the tree is deeper than 64 levels');
    for (const sub of readdirSync(`/proc/self/fd/${fd}`)) removeAt(fd, sub, depth + 1);
  } finally { closeSync(fd); }
  rmdirSync(at(dirFd, name));
}

/**
 * Removes a path below `prefix` (under root) as rm -rf without following any link, the parents
 * walked with O_NOFOLLOW too (a link among them: nothing is removed). Returns a problem or undefined.
 */
export function removeBelow(root: string, prefix: string, name: string): string | undefined {
  const parts = simplify(name).split('/');
  let fd: number;
  try { fd = openSync(join(root, prefix), constants.O_RDONLY | constants.O_DIRECTORY); } catch (e) { return `cannot open ${prefix}: ${errnoTextOf(e)}`; }
  try {
    for (const p of parts.slice(0, -1)) {
      let next: number;
      try { next = openDirAt(fd, p); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        return `${prefix}/${name} is not removed: ${errnoTextOf(e)} at ${p}`;
      }
      closeSync(fd);
      fd = next;
    }
    removeAt(fd, parts.at(-1)!);
    return undefined;
  } catch (e) {
    return `cannot remove ${prefix}/${name}: ${errnoTextOf(e)}`;
  } finally { closeSync(fd); }
}

/**
 * What a stop removes (systemd's unit_destroy_runtime_data()): the RuntimeDirectory= entries,
 * unless RuntimeDirectoryPreserve=yes, or =restart while the unit restarts automatically.
 * Returns the problems (logged by the caller).
 */
export function removeRuntimeDirectories(d: ExecDirectories, root: string, restarting: boolean, expand: (s: string) => string = (s) => s): string[] {
  if (d.preserve === 'yes' || (d.preserve === 'restart' && restarting)) return [];
  const problems: string[] = [];
  for (const raw of d.names.runtime) {
    const name = expand(raw);
    if (dirNameProblem(name) !== undefined) continue;
    const p = removeBelow(root, '/run', name);
    if (p !== undefined) problems.push(p);
  }
  return problems;
}
