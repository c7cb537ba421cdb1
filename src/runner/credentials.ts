// LoadCredential=, SetCredential=, ImportCredential= (systemd.exec(5), "Credentials"), as systemd
// 257's exec-credential.c acquires them: into /run/credentials/<unit>/ (the service sees it as
// $CREDENTIALS_DIRECTORY), the folder 0500 and each file 0400, owned by the unit's user, built
// in a private workspace and renamed into place so that nobody sees it half made:
//   1. LoadCredential=ID:PATH — an absolute PATH is read by the agent (root): a regular file, or a
//      folder whose regular files become ID_SUB…; a relative PATH (or none: the ID) is looked up
//      in the agent's own $CREDENTIALS_DIRECTORY, then /etc/credstore, /run/credstore,
//      /usr/local/lib/credstore, /usr/lib/credstore. A missing absolute PATH fails the start
//      (exit status 243 CREDENTIALS) unless SetCredential= gives the same ID (the default); a
//      missing relative one is skipped.
//   2. ImportCredential=GLOB[:RENAME] — every match in the same places; an ID already there is kept.
//   3. SetCredential=ID:VALUE — written unless the ID is there already (a default).
// A credential larger than 1 MiB (CREDENTIAL_SIZE_MAX) or a total (IDs and contents) above 1 MiB
// (CREDENTIALS_TOTAL_SIZE_MAX) fails with E2BIG ("Argument list too long"). The folder is made
// fresh at each start (the first command of an invocation) and removed when the unit stops.
// systemd mounts a read-only ramfs there and gives the user read access by an ACL; the agent
// writes a plain folder owned by the user (read-only modes), as systemd's fallback does without
// the privilege to mount.

import { closeSync, constants, fchmodSync, fchownSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { unescapeOne } from '../api/cescape.ts';
import { errnoTextOf, removeBelow, type SetupFailure } from './directories.ts';

export const CREDENTIAL_SIZE_MAX = 1024 * 1024;
export const CREDENTIALS_TOTAL_SIZE_MAX = 1024 * 1024;
export const CREDENTIAL_STORES = ['/etc/credstore', '/run/credstore', '/usr/local/lib/credstore', '/usr/lib/credstore'];
const EXIT_CREDENTIALS = 243;

export interface CredentialPlan {
  /** LoadCredential= in order: id and path (a later same ID replaces an earlier one, as systemd's hashmap). */
  readonly load: ReadonlyArray<{ readonly id: string; readonly path: string }>;
  readonly imports: ReadonlyArray<{ readonly glob: string; readonly rename?: string }>;
  readonly set: ReadonlyArray<{ readonly id: string; readonly data: Buffer }>;
}

/** systemd's credential_name_valid(): a file name (no "/", not "." or ".."), at most 255 bytes. */
export function credentialNameValid(id: string): boolean {
  return id !== '' && id !== '.' && id !== '..' && !id.includes('/') && !id.includes('\0') && Buffer.byteLength(id) <= 255;
}

/** SetCredential= values are C-unescaped (systemd: cunescape()). */
function unescapeValue(v: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== '\\') { run += v[i]; continue; }
    const u = unescapeOne(v, i + 1);
    if (u.text === undefined) { run += v[i]; continue; }
    if (v[i + 1] === 'x' || /[0-7]/.test(v[i + 1] ?? '')) { parts.push(Buffer.from(run, 'utf8'), Buffer.from([u.text.charCodeAt(0)])); run = ''; } else run += u.text;
    i += u.length;
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** The plan from spec.service (pure); invalid entries are dropped with a problem, as systemd ignores them at load. */
export function credentialPlan(service: Readonly<Record<string, unknown>> | undefined): { plan: CredentialPlan; problems: string[] } {
  const s = service ?? {};
  const list = (k: string): string[] => { const v = s[k]; return Array.isArray(v) ? v.map(String) : v !== undefined ? [String(v)] : []; };
  const problems: string[] = [];
  const load = new Map<string, string>();
  for (const l of list('loadCredential')) {
    const colon = l.indexOf(':');
    const id = colon < 0 ? l : l.slice(0, colon);
    const path = colon < 0 ? id : l.slice(colon + 1);
    if (!credentialNameValid(id)) { problems.push(`LoadCredential=${l}: credential name "${id}" is not valid, ignoring`); continue; }
    if (path === '') { problems.push(`LoadCredential=${l}: no path, ignoring`); continue; }
    load.delete(id);
    load.set(id, path);
  }
  const imports: Array<{ glob: string; rename?: string }> = [];
  for (const item of list('importCredential')) {
    for (const w of item.split(/\s+/).filter(Boolean)) {
      const colon = w.indexOf(':');
      const glob = colon < 0 ? w : w.slice(0, colon);
      const rename = colon < 0 ? undefined : w.slice(colon + 1);
      if (glob === '' || glob.includes('/')) { problems.push(`ImportCredential=${w}: not a valid credential glob, ignoring`); continue; }
      imports.push(rename !== undefined && rename !== '' ? { glob, rename } : { glob });
    }
  }
  const set = new Map<string, Buffer>();
  for (const l of list('setCredential')) {
    const colon = l.indexOf(':');
    if (colon < 0) { problems.push(`SetCredential=${l}: no ":" between ID and value, ignoring`); continue; }
    const id = l.slice(0, colon);
    if (!credentialNameValid(id)) { problems.push(`SetCredential=${l.slice(0, colon)}: credential name is not valid, ignoring`); continue; }
    set.delete(id);
    set.set(id, unescapeValue(l.slice(colon + 1)));
  }
  return { plan: { load: [...load].map(([id, path]) => ({ id, path })), imports, set: [...set].map(([id, data]) => ({ id, data })) }, problems };
}

export function hasCredentials(p: CredentialPlan): boolean { return p.load.length + p.imports.length + p.set.length > 0; }

/** The folder the service sees ($CREDENTIALS_DIRECTORY). */
export function credentialsDirectory(unitName: string): string { return `/run/credentials/${unitName}`; }

/** Glob (*, ?, [...]) of one file name → RegExp (fnmatch without FNM_PATHNAME subtleties: names hold no "/"). */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

class CredError extends Error { readonly code: string; constructor(code: string, message: string) { super(message); this.code = code; } }

/** Reads a regular file of at most CREDENTIAL_SIZE_MAX bytes (non-blocking open: a FIFO never blocks). */
function readCredential(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CredError('EINVAL', `${path} is not a regular file`);
    if (st.size > CREDENTIAL_SIZE_MAX) throw new CredError('E2BIG', `${path} is larger than 1 MiB`);
    const buf = Buffer.allocUnsafe(CREDENTIAL_SIZE_MAX + 1);
    let n = 0;
    for (let guard = 0; n < buf.length && guard < 1_000_000; guard++) { const k = readSync(fd, buf, n, buf.length - n, null); if (k === 0) break; n += k; }
    if (n > CREDENTIAL_SIZE_MAX) throw new CredError('E2BIG', `${path} is larger than 1 MiB`);
    return Buffer.from(buf.subarray(0, n));
  } finally { closeSync(fd); }
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR';

export interface CredentialSetup {
  /** The host's root as the agent sees it. */
  readonly root: string;
  /** The agent's own $CREDENTIALS_DIRECTORY (searched first), as the agent sees it. */
  readonly received: string | undefined;
  readonly unitName: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Writes the unit's credentials into /run/credentials/<unit> under root, replacing what was
 * there. Returns the failure (exit status 243, step CREDENTIALS) or undefined.
 */
export function setupCredentials(plan: CredentialPlan, o: CredentialSetup): SetupFailure | undefined {
  const fail = (errnoText: string, why: string): SetupFailure => ({ status: EXIT_CREDENTIALS, step: 'CREDENTIALS', errnoText, message: `Failed to set up credentials: ${errnoText} (${why})` });
  if (!credentialNameValid(o.unitName) || o.unitName.startsWith('.')) return fail('Invalid argument', `${o.unitName} cannot name a folder in /run/credentials`);
  const search = [...(o.received ? [o.received] : []), ...CREDENTIAL_STORES.map((d) => join(o.root, d))];
  const written = new Map<string, Buffer>();
  let left = CREDENTIALS_TOTAL_SIZE_MAX;
  const add = (id: string, data: Buffer): void => {
    const size = Buffer.byteLength(id) + data.length;
    if (size > left) throw new CredError('E2BIG', `credential ${id} goes beyond the total limit of 1 MiB`);
    left -= size;
    written.set(id, data);
  };
  const hasSet = new Set(plan.set.map((s) => s.id));
  try {
    for (const { id, path } of plan.load) {
      if (path.startsWith('/')) {
        let entries: string[] | undefined;
        try { entries = readdirSync(path).sort(); } catch (e) { if (!isMissing(e) && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e; }
        if (entries !== undefined) { loadTree(path, id, 0, written, add); continue; }
        try { add(id, readCredential(path)); } catch (e) {
          if (isMissing(e) && hasSet.has(id)) continue; // SetCredential= is the fallback
          throw Object.assign(e as Error, { credential: `LoadCredential=${id}:${path}` });
        }
        continue;
      }
      if (!credentialNameValid(path)) throw new CredError('EINVAL', `LoadCredential=${id}:${path}: a relative path must be a credential name`);
      for (const d of search) {
        try { add(id, readCredential(join(d, path))); break; } catch (e) { if (!isMissing(e)) throw e; }
      }
    }
    for (const ic of plan.imports) {
      const re = globRegExp(ic.glob);
      for (const d of search) {
        let names: string[];
        try { names = readdirSync(d).sort(); } catch (e) { if (isMissing(e)) continue; throw e; }
        for (const fn of names.filter((n) => re.test(n))) {
          const id = ic.rename !== undefined ? ic.rename + fn.slice(ic.glob.length - (ic.glob.endsWith('*') ? 1 : 0)) : fn;
          if (!credentialNameValid(id) || written.has(id)) continue;
          let data: Buffer;
          try { data = readCredential(join(d, fn)); } catch (e) { if (isMissing(e) || (e as NodeJS.ErrnoException).code === 'EINVAL') continue; throw e; }
          add(id, data);
        }
      }
    }
    for (const s of plan.set) if (!written.has(s.id)) add(s.id, s.data);
  } catch (e) {
    const why = (e as { credential?: string }).credential ?? (e as Error).message;
    return fail(e instanceof CredError ? errnoTextOfCode(e.code) : errnoTextOf(e), why);
  }
  try { writeCredentialsDir(o, written); } catch (e) { return fail(errnoTextOf(e), `writing ${credentialsDirectory(o.unitName)}: ${(e as Error).message}`); }
  return undefined;
}

function errnoTextOfCode(code: string): string {
  return errnoTextOf(Object.assign(new Error(code), { code }));
}

/** A folder given to LoadCredential=: its regular files become ID_SUB (ID_SUB_SUBSUB below), sorted. */
function loadTree(dir: string, prefix: string, depth: number, written: Map<string, Buffer>, add: (id: string, data: Buffer) => void): void {
  if (depth > 16) throw new CredError('ELOOP', `${dir} is nested too deep`);
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const id = `${prefix}_${e.name}`;
    if (e.isDirectory()) { loadTree(join(dir, e.name), id, depth + 1, written, add); continue; }
    if (!e.isFile()) continue;
    if (!credentialNameValid(id)) throw new CredError('EINVAL', `credential would get ID ${id}, which is not valid`);
    if (written.has(id)) continue;
    add(id, readCredential(join(dir, e.name)));
  }
}

/** The workspace (0700, root's) filled, made read-only, given to the user, renamed into place. */
function writeCredentialsDir(o: CredentialSetup, written: ReadonlyMap<string, Buffer>): void {
  const base = join(o.root, '/run/credentials');
  try { mkdirSync(base, 0o755); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  const baseFd = openSync(base, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const ws = `.uo-${o.unitName}-${randomBytes(6).toString('hex')}`;
    mkdirSync(`/proc/self/fd/${baseFd}/${ws}`, 0o700);
    let ok = false;
    try {
      const dfd = openSync(`/proc/self/fd/${baseFd}/${ws}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        fchmodSync(dfd, 0o700);
        for (const [id, data] of written) {
          const fd = openSync(`/proc/self/fd/${dfd}/${id}`, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
          try {
            for (let n = 0, guard = 0; n < data.length && guard < 1_000_000; guard++) n += writeSync(fd, data, n, data.length - n);
            fchmodSync(fd, 0o400);
            fchownSync(fd, o.uid, o.gid);
          } finally { closeSync(fd); }
        }
        fchownSync(dfd, o.uid, o.gid);
        fchmodSync(dfd, 0o500);
      } finally { closeSync(dfd); }
      const p = removeBelow(o.root, '/run/credentials', o.unitName);
      if (p !== undefined) throw new Error(p);
      renameSync(`/proc/self/fd/${baseFd}/${ws}`, `/proc/self/fd/${baseFd}/${o.unitName}`);
      ok = true;
    } finally {
      if (!ok) removeBelow(o.root, '/run/credentials', ws);
    }
  } finally { closeSync(baseFd); }
}

/** Removes the unit's credentials folder (when it stops). Returns a problem or undefined. */
export function removeCredentials(root: string, unitName: string): string | undefined {
  return removeBelow(root, '/run/credentials', unitName);
}
