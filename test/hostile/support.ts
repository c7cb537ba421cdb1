// Helpers of the hostile tests (issue 12): an unprivileged user the test creates and removes,
// commands and datagrams sent as that user, real agents started and stopped by pid, a victim
// process the agent must never touch, mounts (tmpfs, read-only binds); every one of them undone in an `after` hook,
// also when the test fails. Processes are only ever ended by pid: the ones this file started, or
// the ones whose command line names the test's own temporary folder (its agent, shims and units),
// or the ones owned by the test's own user — never by name.
//
// These tests need root (useradd, setpriv, mount); they skip themselves otherwise.

import { removeNotifyFolder } from '../../src/runner/notifysock.ts';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { REPO, UNITCTL } from '../support/paths.ts';
import { sleep, until } from '../support/wait.ts';
import { DAEMON_NODE_FLAGS } from '../../src/cli/runtime.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';
import { agentBase, detectCgroups, removeBaseTree, SYSTEM_STATE_DIR } from '../../src/runner/cgroup/index.ts';

export { sleep, until };

type After = { after: (fn: () => void | Promise<void>) => void };

/**
 * One test's clean-up: steps run in reverse order of registration (processes before the
 * mounts and folders they use, agents before their users), each one even when another fails,
 * in a single `after` hook.
 */
export interface Scope { defer(fn: () => void | Promise<void>): void }

/** The state folders of the agents a scope started: their (empty) cgroup trees are removed last (issue 13). */
const agentStates = new WeakMap<Scope, string[]>();

export function scope(t: After): Scope {
  const steps: Array<() => void | Promise<void>> = [];
  const s: Scope = { defer: (fn) => { steps.push(fn); } };
  agentStates.set(s, []);
  t.after(async () => {
    const errors: string[] = [];
    for (const step of steps.reverse()) { try { await step(); } catch (e) { errors.push((e as Error).message); } }
    // every process is gone by now: the agents' cgroup trees (unit-operator.slice/unit-operator-<hash>.slice) are empty
    const layout = detectCgroups();
    for (const state of agentStates.get(s) ?? []) removeBaseTree(layout, agentBase(state, SYSTEM_STATE_DIR));
    if (errors.length > 0) throw new Error(`clean-up: ${errors.join('; ')}`);
  });
  return s;
}

/** A python3 an unprivileged user can run (a pyenv shim under /root is not one). */
export const PYTHON = '/usr/bin/python3';

export const IS_ROOT = process.getuid?.() === 0;
/** Why the hostile tests can't run here, or false when they can (node:test's `skip`). */
export const SKIP: string | false = !IS_ROOT ? 'needs root (useradd, setpriv, mount)'
  : !existsSync('/usr/sbin/useradd') || !existsSync('/usr/bin/setpriv') ? 'needs useradd and setpriv (util-linux)'
    : !existsSync(PYTHON) ? `needs a system python3 (${PYTHON}) to send datagrams as another user`
      : false;

// ---- processes -------------------------------------------------------------------------------

export function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try { process.kill(pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

export function uidOf(pid: number): number | undefined {
  try { return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]); } catch { return undefined; }
}

export function cmdlineOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { return ''; }
}

function ppidOf(pid: number): number | undefined {
  try { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]); } catch { return undefined; }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => p !== process.pid);
}

/** Live processes whose command line contains `token` (a test's unique folder or marker). */
export function processesWith(token: string): Array<{ pid: number; uid: number | undefined; cmd: string }> {
  return allPids().filter(isAlive).map((pid) => ({ pid, uid: uidOf(pid), cmd: cmdlineOf(pid) })).filter((p) => p.cmd.includes(token));
}

/** Every live descendant of the given pids. */
export function descendantsOf(roots: readonly number[]): number[] {
  const kids = new Map<number, number[]>();
  for (const p of allPids()) { const pp = ppidOf(p); if (pp !== undefined) (kids.get(pp) ?? kids.set(pp, []).get(pp)!).push(p); }
  const out: number[] = [];
  const stack = [...roots];
  while (stack.length > 0) for (const c of kids.get(stack.pop()!) ?? []) { out.push(c); stack.push(c); }
  return out.filter(isAlive);
}

/** SIGKILLs the given pids; waits (bounded) until they are gone. */
export async function killPids(pids: readonly number[], timeoutMs = 3000): Promise<void> {
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(20);
}

/**
 * A process the test starts as root that no unit may touch: `sleep 100000` in its own process
 * group, killed by pid after the test.
 */
export function victim(t: Scope): { pid: number; proc: ChildProcess } {
  const proc = spawn('/bin/sleep', ['100000'], { stdio: 'ignore', detached: true });
  proc.unref();
  const pid = proc.pid!;
  t.defer(() => killPids([pid]));
  return { pid, proc };
}

// ---- a temporary root --------------------------------------------------------------------------

/**
 * A temporary folder for one test, mode 0755 like /var/lib (so that, as on a node, an
 * unprivileged user can reach what the agent leaves world-accessible below it). Its path is
 * the token by which the clean-up finds the test's agents, shims and units.
 */
export function tempRoot(t: Scope, prefix = 'uo-hostile-'): string {
  const root = mkdtempSync(join('/tmp', prefix));
  chmodSync(root, 0o755);
  t.defer(async () => {
    await killPids(processesOfTest(root));
    removeNotifyFolder(join(root, 'state', 'units')); // the agent's /run/unit-operator/<hash>
    rmSync(root, { recursive: true, force: true });
  });
  return root;
}

/** Processes whose command line names `root`, and their descendants (agents, shims, units). */
export function processesOfTest(root: string): number[] {
  const direct = processesWith(root).map((p) => p.pid);
  return [...new Set([...direct, ...descendantsOf(direct)])];
}

// ---- an unprivileged user ----------------------------------------------------------------------

export interface User { readonly name: string; readonly uid: number; readonly gid: number }

/**
 * Creates an unprivileged user (no home, no login shell, its own group) for this test; after
 * the test, SIGKILLs whatever still runs under its uid (by pid) and removes user and group.
 */
export function createUser(t: Scope): User {
  const name = `uoh${randomBytes(4).toString('hex')}`;
  const r = spawnSync('/usr/sbin/useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
  const id = (flag: string): number => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const user: User = { name, uid: id('-u'), gid: id('-g') };
  t.defer(async () => {
    await killPids(allPids().filter((p) => uidOf(p) === user.uid));
    spawnSync('/usr/sbin/userdel', [name], { encoding: 'utf8' });
    spawnSync('/usr/sbin/groupdel', [name], { encoding: 'utf8' }); // gone with the user already on most systems
  });
  return user;
}

/** The argv that runs `cmd` as the user: setpriv with its uid, gid and no supplementary groups. */
export function asUserArgv(user: User, cmd: string, args: readonly string[]): [string, string[]] {
  return ['/usr/bin/setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', cmd, ...args]];
}

/** Runs a command as the user and waits for it (bounded). */
export function runAs(user: User, cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; cwd?: string } = {}): SpawnSyncReturns<string> {
  const [bin, argv] = asUserArgv(user, cmd, args);
  return spawnSync(bin, argv, { encoding: 'utf8', timeout: opts.timeoutMs ?? 10_000, cwd: opts.cwd ?? '/', env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, ...(opts.input !== undefined ? { input: opts.input } : {}) });
}

/** A shell snippet run as the user (/bin/sh -c). */
export function shAs(user: User, script: string, timeoutMs?: number): SpawnSyncReturns<string> {
  return runAs(user, '/bin/sh', ['-c', script], timeoutMs === undefined ? {} : { timeoutMs });
}

const SEND_PY = [
  'import os, socket, sys',
  'path, payload = sys.argv[1], bytes.fromhex(sys.argv[2])',
  'print(os.getpid(), flush=True)',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.sendto(payload, path)',
].join('\n');

/**
 * Sends one datagram to a unix socket as the user (python3, so that the kernel's
 * SCM_CREDENTIALS carry the user's pid and uid). Returns the sender's pid and how it went.
 */
export function sendDatagramAs(user: User, socketPath: string, payload: string | Buffer): { senderPid: number; status: number | null; stderr: string } {
  const hex = (typeof payload === 'string' ? Buffer.from(payload) : payload).toString('hex');
  const r = runAs(user, PYTHON, ['-c', SEND_PY, socketPath, hex]);
  return { senderPid: Number(r.stdout.trim().split('\n')[0]), status: r.status, stderr: r.stderr };
}

// ---- agents ------------------------------------------------------------------------------------

export interface Agent {
  readonly pid: number;
  readonly proc: ChildProcess;
  readonly manifests: string;
  readonly state: string;
  /** The agent's stderr, written to a file (a pipe the test does not drain could block the agent). */
  readonly logFile: string;
  log(): string;
  exited(): boolean;
  /** Resolves the exit code (null when killed by a signal) within timeoutMs, else undefined. */
  waitExit(timeoutMs: number): Promise<number | null | undefined>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  kill9(): Promise<void>;
  /** unitctl against this agent's state folder (bounded). */
  unitctl(...args: string[]): { status: number | null; stdout: string; stderr: string; ms: number };
  status(unit: string): UnitStatus | undefined;
}

export interface AgentStart {
  readonly manifests: string;
  readonly state: string;
  /** The umask the agent runs under (octal string, e.g. '000'); default the test's. */
  readonly umask?: string;
  readonly extra?: readonly string[];
  /** Wait for the control socket to answer (default true). */
  readonly wait?: boolean;
  readonly waitMs?: number;
  /** A descriptor of the test's the agent inherits, at this number (≥ 3): what a launcher may leave open. */
  readonly inherit?: { readonly fd: number; readonly at: number };
}

/** Starts `unitctl agent` as a real child process; stopped by pid after the test. */
export async function startAgent(t: Scope, o: AgentStart): Promise<Agent> {
  const logFile = join(o.state, '..', `agent-${Date.now()}-${randomBytes(2).toString('hex')}.log`);
  const fd = openSync(logFile, 'a');
  const nodeArgs = [...DAEMON_NODE_FLAGS, join(REPO, 'src', 'cli', 'main.ts'), 'agent', '--manifests', o.manifests, '--state-dir', o.state, ...(o.extra ?? [])];
  const stdio: Array<'ignore' | number> = ['ignore', fd, fd];
  if (o.inherit) { while (stdio.length < o.inherit.at) stdio.push('ignore'); stdio[o.inherit.at] = o.inherit.fd; }
  const proc = o.umask === undefined
    ? spawn(process.execPath, nodeArgs, { stdio })
    : spawn('/bin/sh', ['-c', `umask ${o.umask} && exec "$0" "$@"`, process.execPath, ...nodeArgs], { stdio });
  closeSync(fd);
  const pid = proc.pid!;
  let code: number | null | undefined;
  const exit = new Promise<number | null>((r) => proc.once('exit', (c) => { code = c; r(c); }));
  const a: Agent = {
    pid, proc, manifests: o.manifests, state: o.state, logFile,
    log: () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } },
    exited: () => code !== undefined,
    waitExit: (ms) => Promise.race([exit, sleep(ms).then(() => undefined)]),
    async stop(graceMs = 10_000) {
      if (code !== undefined) return;
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      if ((await a.waitExit(graceMs)) === undefined && code === undefined) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } await a.waitExit(5000); }
    },
    async kill9() {
      if (code !== undefined) return;
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await a.waitExit(5000);
    },
    unitctl(...args) {
      const started = Date.now();
      const r = spawnSync(process.execPath, [UNITCTL, ...args, '--state-dir', o.state], { encoding: 'utf8', timeout: 20_000 });
      return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - started };
    },
    status(unit) {
      const r = a.unitctl('status', unit, '-o', 'json');
      try { return JSON.parse(r.stdout) as UnitStatus; } catch { return undefined; }
    },
  };
  agentStates.get(t)?.push(o.state);
  t.defer(() => a.stop(5000));
  if (o.wait !== false) {
    const deadline = Date.now() + (o.waitMs ?? 20_000);
    for (;;) {
      if (code !== undefined) throw new Error(`the agent exited (${code}) during start-up:\n${a.log()}`);
      if (existsSync(join(o.state, 'agent.sock')) && a.unitctl('list').status === 0) break;
      if (Date.now() > deadline) throw new Error(`the agent did not answer within ${o.waitMs ?? 20_000} ms:\n${a.log()}`);
      await sleep(50);
    }
  }
  return a;
}

/** A manifests folder and a (not yet existing) state folder under root. */
export function agentDirs(root: string): { manifests: string; state: string } {
  const manifests = join(root, 'manifests');
  mkdirSync(manifests, { recursive: true });
  return { manifests, state: join(root, 'state') };
}

/** The unit's folder in a state folder. */
export const unitDir = (state: string, unit: string): string => join(state, 'units', unit);

/** Waits until the unit runs with a main PID; returns its status. */
export function running(a: Agent, unit: string, timeoutMs = 15_000): Promise<UnitStatus> {
  return until(`${unit} running`, () => { const s = a.status(unit); return s && s.SubState === 'running' && s.MainPID > 0 ? s : undefined; }, { timeoutMs, detail: () => `status: ${JSON.stringify(a.status(unit))}\nagent log:\n${a.log()}` });
}

/** Lines of a file (a start counter a unit appends to), [] when absent. */
export function lines(file: string): string[] {
  try { return readFileSync(file, 'utf8').split('\n').filter(Boolean); } catch { return []; }
}

/** The permission bits of a path. */
export const modeOf = (p: string): number => statSync(p).mode & 0o7777;

// ---- mounts ------------------------------------------------------------------------------------

/** Mounts a small tmpfs on dir (created); unmounted after the test, lazily if busy. */
export function mountTmpfs(t: Scope, dir: string, sizeMiB = 16): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs on ${dir}: ${r.stderr}`);
  t.defer(async () => {
    await killPids(processesOfTest(dir)); // the agents and shims that hold files on it
    unmount(dir);
  });
}

export function remount(dir: string, how: 'ro' | 'rw'): void {
  const r = spawnSync('mount', ['-o', `remount,${how}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -o remount,${how} ${dir}: ${r.stderr}`);
}

/** Whether dir is a mount point (listed in /proc/self/mounts). */
export function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);
}

function unmount(dir: string): void {
  for (let i = 0; i < 5 && isMounted(dir); i++) {
    if (spawnSync('umount', [dir]).status === 0) return;
    spawnSync('mount', ['-o', 'remount,rw', dir]);
  }
  if (isMounted(dir)) spawnSync('umount', ['-l', dir]);
}

/** A unique token for a test's unit commands (found again by processesWith). */
export const token = (): string => `uoh-${randomBytes(5).toString('hex')}`;

/**
 * The notify socket a unit's process was given (NOTIFY_SOCKET in its environment, read from
 * /proc): wherever the agent puts it, that is the address a hostile user would aim at.
 */
export function notifySocketOfPid(pid: number): string | undefined {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return env.find((e) => e.startsWith('NOTIFY_SOCKET='))?.slice('NOTIFY_SOCKET='.length);
  } catch { return undefined; }
}

/** A unit's own processes found by a token in their command line (uo-shim, which repeats the command, left out). */
export function unitProcesses(tok: string): Array<{ pid: number; uid: number | undefined; cmd: string }> {
  return processesWith(tok).filter((p) => !/(^|\/)uo-shim /.test(p.cmd.split(' -- ')[0] ?? ''));
}

/**
 * Makes dir read-only from now on: a bind mount of dir on itself, remounted read-only (files
 * already open for writing keep working, as they would not on a disk that failed; a tmpfs
 * remounted read-only is refused while the shims hold their logs open). Unmounted after the
 * test, also on failure, after the test's processes are gone.
 */
export function bindReadOnly(t: Scope, dir: string): void {
  const bind = spawnSync('mount', ['--bind', dir, dir], { encoding: 'utf8' });
  if (bind.status !== 0) throw new Error(`mount --bind ${dir}: ${bind.stderr}`);
  t.defer(async () => {
    await killPids(processesOfTest(dir));
    unmount(dir);
  });
  const ro = spawnSync('mount', ['-o', 'remount,bind,ro', dir], { encoding: 'utf8' });
  if (ro.status !== 0) throw new Error(`mount -o remount,bind,ro ${dir}: ${ro.stderr}`);
}
