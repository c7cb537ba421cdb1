// The agent's control sockets (issue 12): who may talk to the agent, and socket paths longer
// than the kernel allows.
//
// Who: filesystem permissions, not a peer-credential check. Node has no SO_PEERCRED; a check
// through a helper would cost a process per command (the socket handed to `uo-shim` as stdin).
// A unix socket's permissions are checked by the kernel at connect(): a peer needs write
// permission on the socket and search permission on every folder above it. agent.sock is
// 0600, owned by the agent's uid, in the state folder (0700, or 0710 with a read group): only
// that uid and root (CAP_DAC_OVERRIDE) can connect, which is the rule "root or the agent's uid
// may change state", enforced before a byte is read, for free. It is bound under umask 0177, so
// there is no window in which it is connectable by others, whatever the agent's umask. The
// read-only socket, agent-ro.sock, is 0660 owned by the agent's uid and the configured group,
// with the state folder 0710 and that group (members may pass through it, not list it; every
// file in it stays 0600/0700), and serves only the verbs in READ_ONLY: the verb is checked by
// which socket the connection came on, which nobody can forge.
//
// Long paths: sun_path holds 108 bytes (107 and a NUL). A longer socket path is bound and
// connected through /proc/self/fd/N/NAME, N a descriptor of its folder (O_PATH): the kernel
// resolves that short path to the same folder. Without /proc that fails at start-up with the
// length and the limit, before any unit is started.

import { closeSync, fchmodSync, fchownSync, lstatSync, openSync, rmSync, chmodSync, chownSync, existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';

/** A control socket that cannot be bound or reached: the message says which, why, and what to do. */
export class ControlSocketError extends Error {}

/** The longest unix socket path the kernel takes (sizeof sun_path - 1). */
export const UNIX_PATH_MAX = 107;

/** The control socket: every command, for root and the agent's uid. */
export function socketPath(stateDir: string): string { return join(stateDir, 'agent.sock'); }
/** The read-only socket (--read-socket-group): READ_ONLY commands, for the group's members. */
export function readSocketPath(stateDir: string): string { return join(stateDir, 'agent-ro.sock'); }

/** Commands that change nothing: the ones the read-only socket serves. */
export const READ_ONLY: ReadonlySet<string> = new Set(['ping', 'list', 'status', 'problems', 'stats', 'list-jobs', 'list-dependencies']);

// O_PATH | O_DIRECTORY (Linux; not in fs.constants): a handle on the folder that needs no read
// permission on it, only search permission above it
const O_PATH_DIR = 0o10000000 | 0o200000;

/**
 * A path for bind()/connect() that fits sun_path: path itself when short enough, else
 * /proc/self/fd/N/NAME through a descriptor of its folder (close it with done() once the socket
 * is closed: libuv unlinks a bound path on close, through that descriptor).
 */
export function reachablePath(path: string, what: string): { path: string; done: () => void } {
  if (Buffer.byteLength(path) <= UNIX_PATH_MAX) return { path, done: () => {} };
  let fd: number;
  try { fd = openSync(dirname(path), O_PATH_DIR); } catch (e) {
    throw new ControlSocketError(`${what} ${path} is ${Buffer.byteLength(path)} bytes, longer than the ${UNIX_PATH_MAX} the kernel allows for a unix socket, and its folder cannot be opened to shorten it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a shorter --state-dir`);
  }
  const short = `/proc/self/fd/${fd}/${basename(path)}`;
  if (!existsSync(`/proc/self/fd/${fd}`)) {
    closeSync(fd);
    throw new ControlSocketError(`${what} ${path} is ${Buffer.byteLength(path)} bytes, longer than the ${UNIX_PATH_MAX} the kernel allows for a unix socket, and /proc is not mounted to reach it by a shorter path: give a shorter --state-dir`);
  }
  let open = true;
  return { path: short, done: () => { if (open) { open = false; try { closeSync(fd); } catch { /* closed */ } } } };
}

export interface ListenOptions {
  /** The socket's mode (0600, or 0660 for the read-only socket). */
  readonly mode: number;
  /** The socket's group (the read-only socket's), else the agent's. */
  readonly gid?: number;
  /** The most connections open at once (MAX_CONNECTIONS unless set); one more is closed at once and said through onDrop. */
  readonly maxConnections?: number;
  /** A connection was refused for maxConnections (rate-limit what it says). */
  readonly onDrop?: () => void;
}

/**
 * How many connections a control socket keeps open at once. Every one costs the root agent a
 * descriptor: without a bound, a member of the read-only socket's group opening ~20,000 idle
 * connections ran the agent out of descriptors (its /proc reads failed, a live holder read as
 * gone, the unit was started a second time: a hostile probe, issue 19's session 32).
 */
export const MAX_CONNECTIONS = 64;
/**
 * The same for agent.sock, root's alone: higher, as a blocking `unitctl restart` holds its
 * connection until its job ends and a script may run many at once (systemd's private bus takes
 * thousands); still bounded, far below the agent's descriptor limit.
 */
export const MAX_CONNECTIONS_ROOT = 1024;

/** The longest request line a control socket reads (characters); a longer one closes the connection. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Requests of one connection read but not answered yet, past which it is not read until answers go out. */
export const MAX_PENDING_REQUESTS = 32;
/** Answers of one connection not yet taken by its peer (bytes), past which it is not read until they are. */
export const MAX_UNSENT_BYTES = 1 << 20;

/** A listening control socket; close() stops it, removes the file and releases the folder fd. */
export interface Listener { readonly server: Server; readonly path: string; close(): Promise<void> }

/**
 * Binds a unix socket at path with exactly the given mode and group, whatever the umask: bound
 * under umask 0177 (so 0600 from the first instant), then given its group and mode, then
 * checked (a socket, owned by this uid, that mode). Throws with a message naming the path.
 */
export async function listenUnix(path: string, o: ListenOptions, onConnection: (sock: Socket) => void): Promise<Listener> {
  const via = reachablePath(path, 'the control socket');
  rmSync(path, { force: true });
  const server = createServer(onConnection);
  server.maxConnections = o.maxConnections ?? MAX_CONNECTIONS;
  if (o.onDrop) server.on('drop', o.onDrop);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // bind() happens within listen(), synchronously: the umask covers it and nothing else
      const umask = process.umask(0o177);
      try { server.listen(via.path, () => { server.off('error', reject); resolve(); }); } finally { process.umask(umask); }
    });
    if (o.gid !== undefined) chownSync(via.path, process.geteuid?.() ?? 0, o.gid);
    chmodSync(via.path, o.mode);
    const st = lstatSync(via.path);
    const uid = process.geteuid?.() ?? 0;
    if (!st.isSocket() || st.uid !== uid || (st.mode & 0o7777) !== o.mode || (o.gid !== undefined && st.gid !== o.gid)) {
      throw new Error(`${path} is not the socket just bound (owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8)})`);
    }
  } catch (e) {
    server.close();
    via.done();
    const err = e as NodeJS.ErrnoException;
    throw new ControlSocketError(`cannot listen on ${path}: ${err.code ? `${err.code} (${err.message})` : err.message}`);
  }
  return {
    server, path,
    close: () => new Promise<void>((r) => {
      server.close(() => { rmSync(path, { force: true }); via.done(); r(); });
    }),
  };
}

/** Removes a socket left by a previous agent (only a socket: nothing else of that name). */
export function removeSocket(path: string): void {
  try { if (lstatSync(path).isSocket()) rmSync(path, { force: true }); } catch { /* absent */ }
}

/**
 * Gives the state folder to the read group: 0710 root(agent):GROUP, so that members reach
 * agent-ro.sock by name and nothing else (no listing; the files inside are 0600/0700).
 */
export function openFolderToGroup(stateDir: string, gid: number): void {
  const fd = openSync(stateDir, O_PATH_DIR & ~0o10000000); // O_RDONLY | O_DIRECTORY: fchown needs a real fd
  try { fchownSync(fd, process.geteuid?.() ?? 0, gid); fchmodSync(fd, 0o710); } finally { closeSync(fd); }
}
