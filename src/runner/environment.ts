// The environment and credentials of an executed command (systemd.exec(5), "Environment"):
// a base, Environment=, then EnvironmentFile= (read at exec time, overriding), PassEnvironment=,
// UnsetEnvironment=, and the variables systemd itself sets. Users and groups are looked up in
// /etc/passwd and /etc/group (no shell, no NSS).

import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { hostname, release, arch } from 'node:os';
import { extractWord } from '../api/words.ts';
import { expandNameSpecifiers, parseUnitName, replaceSpecifiers } from '../unitfile/specifiers.ts';
import { HostileFileError, MiB, readRegularFile, showName } from '../unitfile/read.ts';

/**
 * systemd's READ_FULL_BYTES_MAX (64 MiB − 1, fileio.c): a larger EnvironmentFile= fails the
 * start with E2BIG. The oracle (systemd 257): a 65 MiB file and /dev/zero fail with "Failed to
 * load environment files: Argument list too long", Result=resources; a 64 MiB file loads.
 */
export const ENVIRONMENT_FILE_MAX = 64 * MiB;

/** Why the environment could not be built: the spawn fails (systemd: Result=resources). */
export interface EnvironmentFailure {
  /** strerror() of systemd's error: "No such file or directory", "Argument list too long"... */
  readonly errnoText: string;
  /** The line systemd logs ("Failed to load environment files: …"), with the file named. */
  readonly message: string;
}

const ERRNO_TEXT: Record<HostileFileError['code'], string> = {
  ENOENT: 'No such file or directory', ELOOP: 'Too many levels of symbolic links', E2BIG: 'Argument list too long',
  EINVAL: 'Invalid argument', EACCES: 'Permission denied', EIO: 'Input/output error',
};

/**
 * Reads one EnvironmentFile= as hostile (it is read by root, for a unit someone else wrote): a
 * regular file of at most 64 MiB, opened non-blocking — a FIFO never freezes the agent and
 * /dev/zero never exhausts it. Throws HostileFileError.
 */
export function readEnvironmentFile(path: string): Record<string, string> {
  return parseEnvironmentFile(readRegularFile(path, ENVIRONMENT_FILE_MAX, 'EnvironmentFile='));
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface Account { readonly name: string; readonly uid: number; readonly gid: number; readonly home: string; readonly shell: string }

function readLines(file: string): string[] {
  try { return readFileSync(file, 'utf8').split('\n'); } catch { return []; }
}

export function lookupUser(nameOrUid: string, passwd = '/etc/passwd'): Account | undefined {
  for (const line of readLines(passwd)) {
    const f = line.split(':');
    if (f.length < 7) continue;
    if (f[0] === nameOrUid || f[2] === nameOrUid) return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
  }
  if (/^[0-9]+$/.test(nameOrUid)) return { name: nameOrUid, uid: Number(nameOrUid), gid: Number(nameOrUid), home: '/', shell: '/usr/sbin/nologin' };
  return undefined;
}

export function lookupGroup(nameOrGid: string, group = '/etc/group'): number | undefined {
  for (const line of readLines(group)) {
    const f = line.split(':');
    if (f.length >= 3 && (f[0] === nameOrGid || f[2] === nameOrGid)) return Number(f[2]);
  }
  return /^[0-9]+$/.test(nameOrGid) ? Number(nameOrGid) : undefined;
}

/** Groups a user is a member of (the fourth field of /etc/group), for initgroups(). */
export function memberGroups(user: string, group = '/etc/group'): number[] {
  return readLines(group).map((l) => l.split(':')).filter((f) => f.length >= 4 && f[3]!.split(',').includes(user)).map((f) => Number(f[2]));
}

/** EnvironmentFile= syntax: KEY=VALUE lines, # and ; comments, quotes, backslash continuation. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\\\r?\n/g, '').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().replace(/^export\s+/, '');
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) continue;
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      try { value = extractWord(value, 0)?.text ?? ''; } catch { /* keep as written */ }
    }
    out[key] = value;
  }
  return out;
}

export interface NodeContext {
  readonly unitName: string;
  readonly user?: Account | undefined;
}

const NODE_SPECIFIERS: Record<string, (c: NodeContext) => string> = {
  H: () => hostname(), l: () => hostname().split('.')[0]!, v: () => release(), a: () => (arch() === 'x64' ? 'x86-64' : arch()),
  t: () => '/run', S: () => '/var/lib', C: () => '/var/cache', L: () => '/var/log', E: () => '/etc', T: () => '/tmp', V: () => '/var/tmp',
  m: () => { try { return readFileSync('/etc/machine-id', 'utf8').trim(); } catch { return ''; } },
  b: () => { try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', ''); } catch { return ''; } },
  u: (c) => c.user?.name ?? 'root', U: (c) => String(c.user?.uid ?? 0), g: (c) => String(c.user?.gid ?? 0), G: (c) => String(c.user?.gid ?? 0),
  h: (c) => c.user?.home ?? '/root', s: (c) => c.user?.shell ?? '/bin/sh',
};

/** Expands the remaining specifiers on the node (the converter resolved the name ones, maybe). */
export function expandSpecifiers(value: string, ctx: NodeContext): string {
  const named = expandNameSpecifiers(value, parseUnitName(ctx.unitName));
  return replaceSpecifiers(named, (s) => NODE_SPECIFIERS[s]?.(ctx), '%');
}

export interface EnvInput {
  readonly environment: readonly string[];
  readonly environmentFiles: readonly string[];
  readonly passEnvironment: readonly string[];
  readonly unsetEnvironment: readonly string[];
  readonly agentEnv: Readonly<Record<string, string | undefined>>;
  readonly ctx: NodeContext;
  /** Variables the service manager sets ($MAINPID, $NOTIFY_SOCKET, ...). */
  readonly managerEnv: Readonly<Record<string, string>>;
  /** Where the unit's / is for the agent (the host's root when the agent runs in a container); default /. */
  readonly root?: string | undefined;
}

/** systemd's is_nologin_shell() (user-util.c): shells that only refuse a login. */
const PLACEHOLDER_SHELLS = new Set(['/bin/nologin', '/sbin/nologin', '/usr/bin/nologin', '/usr/sbin/nologin', '/bin/false', '/usr/bin/false', '/bin/true', '/usr/bin/true']);

/**
 * USER=, LOGNAME=, HOME=, SHELL= as systemd 257's build_environment() sets them for User=: no
 * HOME of "" or "/", no placeholder SHELL (nologin, false, true); "nobody" is synthesized with
 * home "/" and a nologin shell whatever /etc/passwd says, so it gets neither (the oracle:
 * test/fixtures/dynuser, dyn-static and the dynamic users of dyn-named, dyn-derived).
 */
export function loginEnvironment(u: Account): Record<string, string> {
  const env: Record<string, string> = { USER: u.name, LOGNAME: u.name };
  const nobody = u.name === 'nobody' || u.uid === 65534;
  if (!nobody && u.home !== '' && u.home !== '/') env['HOME'] = u.home;
  if (!nobody && u.shell !== '' && !PLACEHOLDER_SHELLS.has(u.shell)) env['SHELL'] = u.shell;
  return env;
}

export function buildEnvironment(input: EnvInput): { env: Record<string, string>; problems: string[]; failure?: EnvironmentFailure } {
  const problems: string[] = [];
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const k of ['LANG', 'LANGUAGE', 'LC_ALL', 'TZ']) { const v = input.agentEnv[k]; if (v !== undefined) env[k] = v; }
  if (input.ctx.user) Object.assign(env, loginEnvironment(input.ctx.user));
  for (const k of input.passEnvironment) { const v = input.agentEnv[k]; if (v !== undefined) env[k] = v; }
  for (const a of input.environment) {
    const e = expandSpecifiers(a, input.ctx);
    const eq = e.indexOf('=');
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  // exec_context_load_environment(): with "-" any error skips the file; without it the spawn
  // fails ("Failed to load environment files: …", then "Failed to spawn 'start' task: …")
  let failure: EnvironmentFailure | undefined;
  for (const f of input.environmentFiles) {
    const optional = f.startsWith('-');
    const path = expandSpecifiers(optional ? f.slice(1) : f, input.ctx);
    if (!isAbsolute(path)) {
      if (!optional) { failure = { errnoText: ERRNO_TEXT.EINVAL, message: `Failed to load environment files: ${ERRNO_TEXT.EINVAL} (EnvironmentFile=${showName(path)} is not an absolute path)` }; break; }
      continue;
    }
    try { Object.assign(env, readEnvironmentFile(input.root && input.root !== '/' ? join(input.root, path) : path)); } catch (e) {
      if (!(e instanceof HostileFileError)) throw e;
      if (optional) continue;
      failure = { errnoText: ERRNO_TEXT[e.code], message: `Failed to load environment files: ${ERRNO_TEXT[e.code]} (EnvironmentFile=${showName(path)}${e.code === 'ENOENT' ? ' does not exist' : `: ${e.message}`})` };
      break;
    }
  }
  for (const u of input.unsetEnvironment) {
    const eq = u.indexOf('=');
    if (eq < 0) delete env[u];
    else if (env[u.slice(0, eq)] === u.slice(eq + 1)) delete env[u.slice(0, eq)];
  }
  Object.assign(env, input.managerEnv);
  return { env, problems, ...(failure ? { failure } : {}) };
}
