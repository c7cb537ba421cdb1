// Where a unit's sd_notify socket lives (NOTIFY_SOCKET as its service sees it).
//
// Like systemd's /run/systemd/notify, the socket is reachable by every local process (mode 0777:
// a User= service must be able to send to it, and Unix sockets need write permission to
// connect/send) and every datagram is judged by the sender's credentials (SO_PASSCRED: the shim
// reports PID and uid; the runner takes a message only from a process of the unit, and a foreign
// MAINPID= only from root — unit.ts, control.ts). What must not be reachable is everything else:
// the unit folder (state, event logs) is the agent's alone (0700), so the socket is not in it.
//
//   root agent:      /run/unit-operator/<hash of the units folder>/<unit>.sock
//                    both folders made by the agent, owned by it, 0755, nothing else in them;
//                    with --host-root the folder is made under <host root>/run/… and the shim
//                    binds there (UO_SHIM_ROOT prefix), so the chroot()ed service finds it at
//                    /run/…. With --host-namespaces (host root /proc/1/root) the folder is made
//                    through /proc/1/root, in the host's /run, and the shim binds /run/… after
//                    entering the host's mount namespace: the path is the host's, and only its
//                    own length counts against sun_path.
//   non-root agent:  <state folder>/notify/<unit>.sock (its services run as the agent's user)
//   either, when that path is too long for sun_path (108 bytes) or /run is unusable: a folder
//   made by mkdtemp (an unpredictable name, never a fixed name in a world-writable folder).
// A unit name that does not fit, or holds characters outside [A-Za-z0-9:_.@\-], is hashed.

import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { AGENT_UID } from './store.ts';

/** sun_path is 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;

const h16 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
const isRoot = (): boolean => AGENT_UID === 0;

/** Where the agent reaches the host's files ('' : its own /). */
function filePrefix(hostRoot: string | undefined): string {
  return hostRoot && hostRoot !== '/' && isRoot() ? hostRoot.replace(/\/+$/, '') : '';
}

/** What the shim puts before the path it binds: the host root it chroot()s into, '' when it enters the host's mount namespace first. */
function bindPrefix(hostRoot: string | undefined): string {
  return /^\/proc\/[1-9][0-9]*\/root\/?$/.test(hostRoot ?? '') ? '' : filePrefix(hostRoot);
}

/** The folder of an agent's notify sockets as the services see it, for a units folder. */
function socketFolder(unitsDir: string): string {
  return isRoot() ? join('/run/unit-operator', h16(resolve(unitsDir))) : join(dirname(resolve(unitsDir)), 'notify');
}

function socketName(folder: string, unit: string, prefix: string): string {
  const plain = /^[A-Za-z0-9:_.@-]+$/.test(unit) ? `${unit}.sock` : undefined;
  if (plain && (prefix + join(folder, plain)).length <= SUN_PATH_MAX) return join(folder, plain);
  return join(folder, `${h16(unit)}.sock`);
}

/**
 * Removes an agent's notify-socket folder once none of its units runs (agent shut down with its
 * units stopped, tests, leftovers): /run/unit-operator/<hash> would otherwise stay until reboot.
 */
export function removeNotifyFolder(unitsDir: string, hostRoot?: string): void {
  const prefix = filePrefix(hostRoot);
  try { rmSync(prefix + socketFolder(unitsDir), { recursive: true, force: true }); } catch { /* read-only or gone: nothing to do */ }
}

/** The notify socket's path for a unit folder (as the service sees it); the folder may not exist yet. */
export function notifySocketPath(dir: string, hostRoot?: string): string {
  return socketName(socketFolder(dirname(dir)), basename(dir), bindPrefix(hostRoot));
}

/** Why a folder that is to hold notify sockets is not to be used (undefined: fine). */
function unsafeFolder(path: string): string | undefined {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return 'it does not exist';
  if (!st.isDirectory()) return 'it is not a folder';
  if (st.uid !== AGENT_UID) return `it is owned by uid ${st.uid}`;
  if ((st.mode & 0o022) !== 0) return 'others may write to it';
  return undefined;
}

/** A folder of the agent's, 0755, refused when someone else owns it or may write to it. */
function ownFolder(path: string): string | undefined {
  // as it should be already (every spawn after the first): one lstat, no mkdir() failing with EEXIST, no chmod()
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && st.isDirectory() && st.uid === AGENT_UID && (st.mode & 0o7777) === 0o755) return undefined;
  try { mkdirSync(path, { mode: 0o755 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return (e as Error).message; }
  const why = unsafeFolder(path);
  if (why !== undefined) return why;
  try { chmodSync(path, 0o755); } catch (e) { return (e as Error).message; }
  return undefined;
}

const privateFolders = new Map<string, string>();

/**
 * Makes the folder of a unit's notify socket and returns the socket's path (as the service sees
 * it) and any problem met on the way (the socket then lives in an mkdtemp folder instead).
 */
export function prepareNotifySocket(dir: string, hostRoot?: string): { path: string; problem?: string } {
  const prefix = filePrefix(hostRoot);
  const bound = bindPrefix(hostRoot);
  const folder = socketFolder(dirname(dir));
  const path = notifySocketPath(dir, hostRoot);
  let problem: string | undefined;
  if ((bound + path).length <= SUN_PATH_MAX) {
    const chain = isRoot() ? [dirname(folder), folder] : [folder];
    for (const f of chain) {
      problem = ownFolder(prefix + f);
      if (problem !== undefined) { problem = `notify socket folder ${prefix + f}: ${problem}`; break; }
    }
    if (problem === undefined) return { path };
  }
  // the fallback: an unpredictable folder of the agent's (one per units folder and agent run)
  const key = `${prefix}\0${dirname(dir)}`;
  let priv = privateFolders.get(key);
  if (!priv || unsafeFolder(prefix + priv) !== undefined) {
    const made = mkdtempSync(join(prefix + tmpdir(), 'uo-notify-'));
    chmodSync(made, isRoot() ? 0o755 : 0o700);
    priv = made.slice(prefix.length);
    privateFolders.set(key, priv);
  }
  return { path: socketName(priv, basename(dir), bound), ...(problem !== undefined ? { problem } : {}) };
}
