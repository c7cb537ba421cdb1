// The host's namespaces (--host-namespaces, issue 17): which process's namespaces the services
// enter, whether they can be entered from here, and the copy of the shim the holders run.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { NAMESPACE_TYPES } from './shimproto.ts';
import { UntrustedShim, verifyPrebuiltShim } from './shim.ts';

/** The hostRoot --host-namespaces gives the runners by default: PID 1's root, and so its namespaces. */
export const HOST_NAMESPACES_ROOT = '/proc/1/root';

/** N when hostRoot is /proc/N/root (the service enters process N's namespaces), else undefined. */
export function hostNamespacePid(hostRoot: string | undefined): number | undefined {
  const m = hostRoot === undefined ? null : /^\/proc\/([1-9][0-9]{0,6})\/root\/?$/.exec(hostRoot);
  return m ? Number(m[1]) : undefined;
}

const readNs = (pid: number, t: string): string | NodeJS.ErrnoException => { try { return readlinkSync(`/proc/${pid}/ns/${t}`); } catch (e) { return e as NodeJS.ErrnoException; } };
const comm = (pid: number): string => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };

/**
 * Whose namespaces the services enter: PID 1, the host's init; or, when PID 1's namespace links
 * cannot be read even by root (an init that holds capabilities the agent's bounding set lacks,
 * so the kernel's ptrace access check refuses: a firecracker VM's init, a hardened init), PID 2,
 * kthreadd, which the kernel keeps in the initial namespaces (mount, cgroup, UTS, IPC, network)
 * and whose namespaces root can always open. Only when both PID 1 and kthreadd's namespaces are
 * the host's: kthreadd is PID 2 only in the initial PID namespace. `problem` says why neither.
 */
export function hostNamespacesTarget(): { pid: number; note?: string } | { problem: string } {
  if ((process.geteuid?.() ?? 0) !== 0) return { problem: 'entering the host\'s namespaces needs root' };
  if (process.pid === 1) return { problem: 'the agent is PID 1 of its PID namespace: the pod needs hostPID: true' };
  // kernel threads are seen only in the initial PID namespace; kthreadd is PID 2 there
  if (comm(2) !== 'kthreadd') return { problem: 'the agent does not see the host\'s PID namespace (no kthreadd as PID 2): PID 1 is not the host\'s init; the pod needs hostPID: true' };
  const denied = (pid: number): string | undefined => {
    for (const t of NAMESPACE_TYPES) {
      const r = readNs(pid, t);
      if (typeof r !== 'string') return `cannot read /proc/${pid}/ns/${t}: ${r.code ?? r.message}`;
    }
    return undefined;
  };
  const one = denied(1);
  if (one === undefined) return { pid: 1 };
  const two = denied(2);
  if (two === undefined) return { pid: 2, note: `${one}; kthreadd (PID 2) stands for it: the kernel keeps it in the host's initial namespaces` };
  return { problem: `${one}; ${two} (root with CAP_SYS_ADMIN, CAP_SYS_CHROOT and CAP_SYS_PTRACE is needed: privileged: true)` };
}

/** The namespaces process pid shares with the agent (e.g. all of them: the agent is not in a container). */
export function sharedNamespaces(pid = 1): string[] {
  const same = (t: string): boolean => { try { return readlinkSync(`/proc/${pid}/ns/${t}`) === readlinkSync(`/proc/self/ns/${t}`); } catch { return false; } };
  return NAMESPACE_TYPES.filter(same);
}

/**
 * The shim the runners start when they enter the host's namespaces: a copy of the verified shim
 * (its bytes read once, hashed, and the copy named by that hash and checked against it) in
 * <stateDir>/bin/uo-shim-<sha256 prefix>. A holder runs for its service's life; run from the
 * image, its executable mapping would pin the old container's file system after an upgrade;
 * the state folder is the host's (a hostPath at the same path), so the copy is a host file. A
 * copy that is already there is reused when it verifies (ownership, sha256), else replaced.
 * Older copies are removed once no process runs them (a holder of an older agent may still
 * run one: kept until an agent starts after it ended). Throws UntrustedShim.
 */
export function installHostShim(shimPath: string, stateDir: string): string {
  const bytes = readFileSync(shimPath);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const dir = join(stateDir, 'bin');
  try { mkdirSync(dir, { mode: 0o755 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  const st = lstatSync(dir);
  const me = process.geteuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== me || (st.mode & 0o022) !== 0) throw new UntrustedShim(`refusing to install the shim into ${dir}: ${!st.isDirectory() ? 'it is not a folder' : st.uid !== me ? `it is owned by uid ${st.uid}` : 'others may write to it'}; remove it`);
  const dest = join(dir, `uo-shim-${sha.slice(0, 16)}`);
  const have = lstatSync(dest, { throwIfNoEntry: false });
  if (have) {
    try { const ok = checkFeatures(verifyPrebuiltShim(dest, sha)); pruneOldShims(dir, dest); return ok; } catch (e) {
      if (!(e instanceof UntrustedShim)) throw e;
      rmSync(dest, { force: true }); // not what it is named after, or not safe: made again
    }
  }
  const tmp = `${dest}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o755);
  try {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally { closeSync(fd); }
  renameSync(tmp, dest);
  pruneOldShims(dir, dest);
  return checkFeatures(verifyPrebuiltShim(dest, sha));
}

/** The (dev, ino) of every running process's executable (/proc/PID/exe). */
function executablesInUse(): Set<string> {
  const inUse = new Set<string>();
  let pids: string[] = [];
  try { pids = readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)); } catch { return inUse; }
  for (const pid of pids) {
    try { const st = statSync(`/proc/${pid}/exe`); inUse.add(`${st.dev}:${st.ino}`); } catch { /* gone, or a kernel thread */ }
  }
  return inUse;
}

/** Removes the older shim copies in dir (uo-shim-<16 hex>, regular files) that no process runs. */
export function pruneOldShims(dir: string, keep: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try { names = readdirSync(dir).filter((n) => /^uo-shim-[0-9a-f]{16}$/.test(n) && join(dir, n) !== keep); } catch { return removed; }
  if (names.length === 0) return removed;
  const inUse = executablesInUse();
  for (const n of names) {
    const p = join(dir, n);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st?.isFile() || inUse.has(`${st.dev}:${st.ino}`)) continue;
    try { rmSync(p); removed.push(p); } catch { /* left for the next start */ }
  }
  return removed;
}

/**
 * The path to start a host shim copy by: through the host's root (/proc/N/root + path) when that
 * is the same file, so that even the holder's executable is reached through the host's mount of
 * the state folder and not the container's bind mount of it; else the path as given.
 */
export function hostShimPath(copy: string, hostRoot: string = HOST_NAMESPACES_ROOT): string {
  const via = join(hostRoot, copy);
  try {
    const a = statSync(copy), b = statSync(via);
    if (a.dev === b.dev && a.ino === b.ino) return via;
  } catch { /* not reachable that way */ }
  return copy;
}

/** The shim itself says it knows UO_SHIM_NAMESPACES (an older one would ignore the variable). */
function checkFeatures(shim: string): string {
  const r = spawnSync(shim, ['--features'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout.split('\n').includes('namespaces')) throw new UntrustedShim(`the shim ${shim} cannot enter the host's namespaces (uo-shim --features does not list "namespaces": built from older sources?); rebuild it, or unset UNIT_OPERATOR_SHIM`);
  return shim;
}
