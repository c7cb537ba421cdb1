// The file-system checks (condition.c's condition_test_path_*, _directory_not_empty,
// _file_*, _needs_update), on the facts' view of the host.

import { isErrno, type Errno, type Facts } from './types.ts';
import { parseBool, parseEnvFile } from './words.ts';

export type Outcome = boolean | Errno;

/** hidden_or_backup_file(): what ConditionDirectoryNotEmpty= does not count. */
export function hiddenOrBackup(name: string): boolean {
  if (name.startsWith('.') || ['lost+found', 'aquota.user', 'aquota.group'].includes(name) || name.endsWith('~')) return true;
  const dot = name.lastIndexOf('.');
  if (dot < 0) return false;
  return ['rpmnew', 'rpmsave', 'rpmorig', 'dpkg-old', 'dpkg-new', 'dpkg-tmp', 'dpkg-dist', 'dpkg-bak', 'dpkg-backup',
    'dpkg-remove', 'ucf-new', 'ucf-old', 'ucf-dist', 'swp', 'bak', 'old', 'new'].includes(name.slice(dot + 1));
}

export function pathExists(f: Facts, p: string): Outcome { return !isErrno(f.stat(p, true)); }

export function pathIsDirectory(f: Facts, p: string): Outcome { const s = f.stat(p, true); return !isErrno(s) && s.kind === 'dir'; }

export function pathIsSymbolicLink(f: Facts, p: string): Outcome { const s = f.stat(p, false); return !isErrno(s) && s.kind === 'symlink'; }

export function pathIsMountPoint(f: Facts, p: string): Outcome { const r = f.isMountPoint(p); return r === true; }

/** path_is_read_only_fs() <= 0 and not ENOENT: a path that is not there is not read-write. */
export function pathIsReadWrite(f: Facts, p: string): Outcome {
  const r = f.isReadOnly(p);
  if (isErrno(r)) return r.errno !== 'ENOENT';
  return !r;
}

export function pathIsEncrypted(f: Facts, p: string): Outcome { return f.isEncrypted(p) === true; }

/** dir_is_empty(p, ignore_hidden_or_backup=true) <= 0, except ENOENT and ENOTDIR: another error counts as not empty. */
export function directoryNotEmpty(f: Facts, p: string): Outcome {
  const r = f.dirHasEntry(p, (n) => !hiddenOrBackup(n));
  if (isErrno(r)) return r.errno !== 'ENOENT' && r.errno !== 'ENOTDIR';
  return r;
}

/** stat(): a regular file with data (a FIFO, a device, a directory never is; nothing is opened). */
export function fileNotEmpty(f: Facts, p: string): Outcome { const s = f.stat(p, true); return !isErrno(s) && s.kind === 'file' && s.size > 0; }

export function fileIsExecutable(f: Facts, p: string): Outcome { const s = f.stat(p, true); return !isErrno(s) && s.kind === 'file' && (s.mode & 0o111) !== 0; }

/**
 * ConditionNeedsUpdate=/etc|/var: /usr is newer than <dir>/.updated (systemd-update-done). The
 * kernel command line's systemd.condition_needs_update= decides first; never in an initrd, never
 * on a read-only file system; any other doubt says an update is needed.
 */
export function needsUpdate(f: Facts, p: string): Outcome {
  const forced = kernelBool(f, 'systemd.condition_needs_update');
  if (forced !== undefined) return forced;
  if (f.readHostFile('/etc/initrd-release') !== undefined) return false;
  if (!p.startsWith('/')) return true;
  if (f.isReadOnly(p) === true) return false;
  const updated = `${p.replace(/\/+$/, '')}/.updated`;
  const other = f.stat(updated, false);
  if (isErrno(other)) return true;
  const usr = f.stat('/usr/', false);
  if (isErrno(usr)) return true;
  const sec = (ns: bigint): bigint => ns / 1_000_000_000n;
  const nsec = (ns: bigint): bigint => ns % 1_000_000_000n;
  if (sec(usr.mtimeNs) !== sec(other.mtimeNs)) return sec(usr.mtimeNs) > sec(other.mtimeNs);
  if (nsec(usr.mtimeNs) === 0n || nsec(other.mtimeNs) > 0n) return nsec(usr.mtimeNs) > nsec(other.mtimeNs);
  const ts = parseEnvFile(f.readHostFile(updated) ?? '').get('TIMESTAMP_NSEC');
  if (ts === undefined || !/^[0-9]+$/.test(ts)) return true;
  return usr.mtimeNs > BigInt(ts);
}

/** A boolean kernel command line option ("name" alone is true), or undefined when absent or not a boolean. */
function kernelBool(f: Facts, name: string): boolean | undefined {
  let found: boolean | undefined;
  for (const w of (f.readKernelFile('/proc/cmdline') ?? '').split(/\s+/)) {
    if (w === name) found = true;
    else if (w.startsWith(`${name}=`)) { const b = parseBool(w.slice(name.length + 1)); if (b !== undefined) found = b; }
  }
  return found;
}

export function firstBoot(f: Facts, p: string): Outcome {
  const b = parseBool(p);
  if (b === undefined) return { errno: 'EINVAL' };
  return !isErrno(f.stat('/run/systemd/first-boot', true)) === b;
}

/** credential_name_valid(): a file name (no "/", not "." or "..") of at most 255 bytes. */
const credentialNameValid = (n: string): boolean => n !== '' && n !== '.' && n !== '..' && !n.includes('/') && Buffer.byteLength(n) <= 255;

/**
 * ConditionCredential=: a system credential of that name exists, in the manager's
 * $CREDENTIALS_DIRECTORY or $ENCRYPTED_CREDENTIALS_DIRECTORY (else the host's
 * /run/credentials/@system and @encrypted, where systemd keeps them).
 */
export function credential(f: Facts, p: string): Outcome {
  if (!credentialNameValid(p)) return false;
  const env = f.environment();
  const dirs = [env['CREDENTIALS_DIRECTORY'] ?? '/run/credentials/@system', env['ENCRYPTED_CREDENTIALS_DIRECTORY'] ?? '/run/credentials/@encrypted'];
  for (const d of dirs) {
    if (!d.startsWith('/')) continue;
    const s = f.stat(`${d.replace(/\/+$/, '')}/${p}`, false);
    if (!isErrno(s)) return true;
    if (s.errno !== 'ENOENT' && s.errno !== 'ENOTDIR') return s;
  }
  return false;
}
