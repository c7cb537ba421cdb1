// The engine's process-level effects, carried out: signals to a unit's processes (kill), the
// main-PID search of Type=forking (PIDFile=, GuessMainPID=), and the one-shot timers (state
// timer, watchdog) on the runner's µs clock. Also the main-PID rules every source of a main PID
// goes through (MAINPID=, PIDFile=): systemd's service_is_suitable_main_pid().

import { closeSync, constants as C, fstatSync, lstatSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KillTarget, Machine } from '../engine/index.ts';
import { bootId, children, commOf, isAlive, liveStart, sameProcess, signal, type ProcessIdentity } from './procfs.ts';
import type { Membership } from './membership.ts';
import { expandSpecifiers } from './environment.ts';

/** A one-shot timer for a µs deadline on the caller's clock. */
export class Deadline {
  private handle: NodeJS.Timeout | undefined;
  private now: NodeJS.Immediate | undefined;

  arm(deadline: number, now: number, fire: () => void): void {
    this.disarm();
    const ms = Math.max(0, Math.ceil((deadline - now) / 1000));
    // a deadline already due (RestartSec=0) fires on the next turn of the event loop, not through
    // setTimeout(), which makes 0 ms into 1 ms and then waits for the loop's timer phase (issue 19:
    // 1.4 ms of a 4.2 ms restart)
    if (ms === 0) { this.now = setImmediate(() => { this.now = undefined; fire(); }); return; }
    this.handle = setTimeout(() => { this.handle = undefined; fire(); }, Math.min(ms, 2_147_000_000));
  }

  disarm(): void {
    if (this.handle) { clearTimeout(this.handle); this.handle = undefined; }
    if (this.now) { clearImmediate(this.now); this.now = undefined; }
  }
}

/** What the kill path needs to know about the unit's processes. */
export interface KillScope {
  /** The unit's processes now (the "group" target). */
  readonly membership: Membership;
  /** The recorded identity (start time, boot ID) of a main or control PID; undefined when none was recorded. */
  readonly identity: (pid: number) => ProcessIdentity | undefined;
  /** Told once per PID that is not signalled because it is no longer the recorded process. */
  readonly skipped?: (pid: number, why: string) => void;
}

/** Why a main or control PID is not signalled when its process has simply exited (not logged: systemd's kill() meets ESRCH). */
export const PROCESS_GONE = 'the process is gone';

/**
 * Whether a main or control PID the machine holds may be signalled: never the agent, PID 1 or a
 * shim; when its start time (and boot) were recorded, only while they still match (a PID reused
 * by another process after the recorded one died is left alone); without a record (state of an
 * older agent), only when it belongs to the unit.
 */
function signallable(pid: number, s: KillScope): string | undefined {
  if (pid === process.pid || pid <= 1) return 'it is the agent or PID 1';
  if (s.membership.holders().includes(pid)) return 'it is a uo-shim';
  const id = s.identity(pid);
  if (id && (id.start !== undefined || id.boot !== undefined)) {
    if (sameProcess(pid, id)) return undefined;
    // this boot's process that exited (an ExecStop= that killed it, an exit not read yet): nothing to say
    const thisBoot = id.boot === undefined || id.boot === '' || bootId() === '' || id.boot === bootId();
    return thisBoot && liveStart(pid) === undefined ? PROCESS_GONE : 'its start time or boot ID no longer match the recorded process (the PID was reused)';
  }
  if (s.membership.has(pid)) return undefined;
  // an exit read late (a storm: the spawn's line read after the command had ended) left no start time: gone, nothing to say
  return liveStart(pid) === undefined ? PROCESS_GONE : 'no start time was recorded for it and it does not belong to the unit';
}

/**
 * Signals the targets of a kill effect: the main and control processes the machine knows, and
 * for "group" every other live process of the unit (membership). SIGCONT follows, as systemd
 * sends it, so stopped processes see the signal; then SIGHUP when asked (SendSIGHUP=). A main or
 * control PID that no longer names the recorded process is never signalled (signallable()).
 */
export function killTargets(m: Machine, targets: readonly KillTarget[], sig: number, sighup: boolean, scope: KillScope): void {
  const pids = new Set<number>();
  for (const [target, pid] of [['main', m.mainPid], ['control', m.controlPid]] as const) {
    if (!targets.includes(target) || pid <= 0) continue;
    const why = signallable(pid, scope);
    if (why === undefined) pids.add(pid);
    else scope.skipped?.(pid, why);
  }
  const all = targets.includes('group') ? scope.membership.signalAll : undefined;
  if (targets.includes('group') && !all) for (const p of scope.membership.pids()) if (p !== m.mainPid && p !== m.controlPid) pids.add(p);
  for (const p of pids) {
    signal(p, sig);
    if (sig !== 9 && sig !== 18) signal(p, 18);
    if (sighup) signal(p, 1);
  }
  // a unit with a cgroup: every other process of it, through the cgroup (killCgroup())
  if (all) all.call(scope.membership, sig, { exclude: pids, cont: true, hup: sighup });
}

// ---- main-PID rules (service_is_suitable_main_pid()) -------------------------------------------

export type MainPidVerdict =
  /** The PID belongs to the unit: take it. */
  | { readonly t: 'member' }
  /** Alive but outside the unit: only a trusted source (root sender, root-owned PID file) may name it. */
  | { readonly t: 'foreign' }
  /** Never: the agent, PID 1, a shim, the control process, a dead process. */
  | { readonly t: 'refuse'; readonly why: string };

/** systemd's service_is_suitable_main_pid(), with the shims (the unit's holders) refused too. */
export function judgeMainPid(pid: number, membership: Membership, controlPid: number): MainPidVerdict {
  if (pid === process.pid || pid === 1) return { t: 'refuse', why: `New main PID ${pid} is the manager, refusing.` };
  if (membership.holders().includes(pid) || commOf(pid) === 'uo-shim') return { t: 'refuse', why: `New main PID ${pid} is a uo-shim, refusing.` };
  if (pid === controlPid) return { t: 'refuse', why: `New main PID ${pid} is the control process, refusing.` };
  if (!isAlive(pid)) return { t: 'refuse', why: `New main PID ${pid} does not exist or is a zombie.` };
  return membership.has(pid) ? { t: 'member' } : { t: 'foreign' };
}

/** A decimal PID as systemd's parse_pid() takes it (> 0, fits pid_t); undefined otherwise. */
export function parsePid(s: string): number | undefined {
  const t = s.trim();
  if (!/^[0-9]{1,10}$/.test(t)) return undefined;
  const n = Number(t);
  return n > 0 && n <= 0x7fffffff ? n : undefined;
}

// ---- PID files, read as hostile ----------------------------------------------------------------

/** How much of a PID file is read: its first line is a PID; the rest is not looked at. */
export const PID_FILE_MAX = 4096;

export type PidFileRead =
  | { readonly t: 'pid'; readonly pid: number; readonly owner: number; readonly questionable: boolean }
  | { readonly t: 'absent'; readonly why: string }
  | { readonly t: 'bad'; readonly why: string };

/**
 * Follows path as systemd's chase(CHASE_SAFE) does: each step from a directory owned by a
 * non-root uid to an entry owned by a different uid is an "unsafe transition" (that user could
 * swap it). Symlinks are followed (at most 40); returns the resolved path and whether an unsafe
 * transition was seen (systemd then retries with relaxed checks and calls the file questionable).
 */
function chaseSafe(path: string, root = '/'): { path: string; questionable: boolean } {
  // `done` is the path as the unit sees it; real() where the agent reaches it (the host's root
  // when the agent runs in a container): '..' and absolute link targets stay inside root
  const real = (p: string): string => (root === '/' ? p : p === '/' ? root : `${root}${p}`);
  let questionable = false;
  let todo = resolve('/', path).split('/').filter(Boolean);
  let done = '/';
  let prev: Stats = lstatSync(real('/'));
  for (let hops = 0; todo.length > 0;) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') { done = dirname(done); prev = lstatSync(real(done)); continue; }
    const next = done === '/' ? `/${name}` : `${done}/${name}`;
    const st = lstatSync(real(next));
    if (prev.uid !== 0 && prev.uid !== st.uid) questionable = true;
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw Object.assign(new Error('Too many levels of symbolic links'), { code: 'ELOOP' });
      const target = readlinkSync(real(next));
      todo = [...target.split('/').filter(Boolean), ...todo];
      // systemd's unsafe_transition(link, root): a link not owned by root that leads back to the
      // root-owned root makes the chain unsafe (chase(CHASE_SAFE) on an absolute destination)
      if (isAbsolute(target)) { done = '/'; prev = lstatSync(real('/')); if (st.uid !== 0 && st.uid !== prev.uid) questionable = true; }
      continue;
    }
    done = next;
    prev = st;
  }
  return { path: real(done), questionable };
}

/**
 * Reads a PID file the way a root process must read a file an unprivileged user may control:
 * no blocking open (O_NONBLOCK: a FIFO does not freeze the agent), no symlink swapped in at the
 * last step (O_NOFOLLOW after chaseSafe()), a regular file only (not /dev/zero, a FIFO or a
 * socket), at most PID_FILE_MAX bytes, and its owner from the open file (fstat), for the
 * ownership rule.
 */
export function readPidFile(path: string, root = '/'): PidFileRead {
  let chased: { path: string; questionable: boolean };
  try { chased = chaseSafe(path, root); } catch (e) { return { t: 'absent', why: (e as Error).message }; }
  let fd: number;
  try { fd = openSync(chased.path, C.O_RDONLY | C.O_NONBLOCK | C.O_NOFOLLOW | C.O_NOCTTY); } catch (e) { return { t: 'absent', why: (e as Error).message }; }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { t: 'bad', why: `PID file ${path} is not a regular file, refusing.` };
    const buf = Buffer.alloc(PID_FILE_MAX);
    const n = readSync(fd, buf, 0, PID_FILE_MAX, 0);
    const text = buf.subarray(0, n).toString('latin1');
    const line = text.split('\n', 1)[0] ?? '';
    const pid = parsePid(line);
    if (pid === undefined) return { t: 'bad', why: `Failed to parse PID from file ${path}: Invalid argument` };
    return { t: 'pid', pid, owner: st.uid, questionable: chased.questionable };
  } catch (e) {
    return { t: 'absent', why: (e as Error).message };
  } finally { closeSync(fd); }
}

export type PidFileVerdict = { readonly t: 'take'; readonly pid: number } | { readonly t: 'wait'; readonly why?: string; readonly level?: 'info' | 'warning' };

/**
 * systemd's service_load_pid_file(): the PID must be suitable (judgeMainPid()); one outside the
 * unit is taken only from a PID file owned by root (or the agent's own uid, when it is not
 * root) that was not reached through an unsafe symlink chain.
 */
export function judgePidFile(path: string, membership: Membership, controlPid: number, root = '/'): PidFileVerdict {
  const r = readPidFile(path, root);
  if (r.t === 'absent') return { t: 'wait' };
  if (r.t === 'bad') return { t: 'wait', why: r.why, level: 'warning' };
  const v = judgeMainPid(r.pid, membership, controlPid);
  if (v.t === 'refuse') return { t: 'wait', why: `${v.why} (PID file ${path})`, level: v.why.includes('does not exist') ? 'info' : 'warning' };
  if (v.t === 'member') return { t: 'take', pid: r.pid };
  if (r.questionable) return { t: 'wait', why: `Refusing to accept PID outside of service control group, acquired through unsafe symlink chain: ${path}`, level: 'warning' };
  const agentUid = process.getuid?.() ?? 0;
  if (r.owner !== 0 && r.owner !== agentUid) {
    return { t: 'wait', why: `New main PID ${r.pid} from PID file ${path} does not belong to service, and PID file is owned by ${r.owner} (must be owned by 0). Refusing.`, level: 'warning' };
  }
  return { t: 'take', pid: r.pid };
}

export interface MainPidSearch {
  readonly unitName: string;
  readonly pidFile: string | undefined;
  /** Where the unit's / is for the agent (the host's root when the agent runs in a container); default /. */
  readonly root?: string | undefined;
  readonly guess: boolean;
  /** The shim of the latest start command (its only child is the guess), 0 when none. */
  readonly startShim: () => number;
  /** The unit's processes (PIDFile= rules). */
  readonly membership: Membership;
  readonly controlPid: () => number;
  /** Whether to keep waiting for the PID file (the unit is still starting, the runner open). */
  readonly waiting: () => boolean;
  /** Stops the search (the runner closed). */
  readonly closed: () => boolean;
  readonly found: (pid: number | undefined) => void;
  readonly log: (level: 'info' | 'warning', message: string) => void;
}

/**
 * Reports the main PID: from PIDFile= (waited for while starting), else guessed, else none. A
 * PID file that is refused is waited on as systemd waits (service_demand_pid_file()): it may be
 * rewritten until the start times out. Each refusal is logged once.
 */
export function findMainPid(s: MainPidSearch, since = Date.now(), said = new Set<string>()): void {
  if (s.closed()) return;
  if (s.pidFile) {
    const path = expandSpecifiers(s.pidFile, { unitName: s.unitName });
    const v = judgePidFile(path, s.membership, s.controlPid(), s.root ?? '/');
    if (v.t === 'take') { s.found(v.pid); return; }
    if (v.why !== undefined && !said.has(v.why) && said.size < 16) { said.add(v.why); s.log(v.level ?? 'warning', v.why); }
    // systemd waits for the PID file (inotify) until the start timeout; so do we, by polling.
    if (s.waiting() && Date.now() - since < 600_000) setTimeout(() => findMainPid(s, since, said), 20).unref();
    return;
  }
  if (s.guess) {
    const shim = s.startShim();
    const kids = shim > 0 ? children(shim) : [];
    s.found(kids.length === 1 ? kids[0] : undefined);
    return;
  }
  s.found(undefined);
}
