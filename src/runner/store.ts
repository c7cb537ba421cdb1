// The unit store: the only module that knows how a unit's folder looks on disk and what its
// state file holds. Everyone else (runner, host, CLI, leftovers, benchmarks, tests) goes through
// these functions.
//
//   <unit dir>/state.0, state.1         the unit's state (format below), two slots written in turn
//   <unit dir>/journal.log              the captured stdout/stderr (written by the shims)
//   (the unit's sd_notify socket is not in its folder, which is the agent's alone: notifysock.ts)
//   <unit dir>/run/<seq>-<kind>-<index>/events   one spawn's event log (see shimproto.ts)
//
// The state, version 3 (issue 19): two slot files written in place in turn, each a header line
// (generation, payload length, CRC-32) and the payload; the valid slot with the higher generation
// holds the state, and a write goes to the other one, so a write cut short (kill -9 in the middle
// of it) leaves the previous state readable. stateslot.ts has the bytes, the trust checks of the
// slots and why this is as safe as the create + rename of versions 1-2 (which took a new inode
// per write: 23 % of the agent's CPU in a crash storm). The payload is JSON: every field is always
// written (null for "none"); reading fills what an older writer left out with the defaults below,
// so an agent upgrade that adds a field re-adopts units with a defined value. A folder with no
// slot is read from the state.json of versions 1-2 (one JSON object, written atomically by a
// rename) and migrated by its first write, which removes state.json after writing a slot.
// Version 1 (until issue 11) had `machine` fields left out where undefined, its spawn records held
// an absolute `dir` and not the effect. A downgrade: an agent older than version 3 finds no
// state.json in a migrated folder, so it neither adopts the unit nor knows its processes (it
// would start a unit of its manifests anew beside them): stop the units before going back. What
// such an older agent wrote is not lost on the way forward again: a state.json newer than the
// newest slot is read before the slots (and migrated again by the next write).
// The spawn records are the write-ahead record: they reach the disk before any process starts,
// and each holds the whole spawn effect the engine decided (command and environment), so a
// spawn interrupted by an agent crash is redone exactly.
//
// Trust (issue 12): the agent runs as root, so nothing it reads from the state folder may have
// been written by anyone else. Folders are made 0700 and files 0600 whatever the umask (an
// explicit chmod/fchmod after creation); writes never follow a symbolic link (a temporary
// file or a new slot is created O_EXCL|O_NOFOLLOW; an existing slot is opened O_NOFOLLOW and
// checked before a byte is written). A state file, unit folder, spawn folder or event log that
// is not a regular file/folder owned by the agent's uid, or that is group- or world-writable
// (or, for a slot, has a second hard link), is refused (loadUnitState() says why; tail.ts refuses such an event log): never run, never used
// to signal a process. A recorded shim PID is believed only while /proc shows a process of the
// agent's uid running uo-shim on that spawn's event log (shimAlive()), or, for at most
// REEXEC_GRACE_MS, that process inside execve() (re-executing itself into hold mode). A state
// file that does not parse or holds values of the wrong type is damaged: recoverFromEventLogs()
// reads what the shims' event logs and the live shims say instead.

import { accessSync, chmodSync, closeSync, constants as FS, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { INITIAL_MACHINE, SERVICE_STATES, type Effect, type ExecKind, type Machine, type Role } from '../engine/index.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { parseShimLine } from './shimproto.ts';
import { AGENT_UID, distrust, StateError, unsafeWalk } from './trust.ts';
import { forgetSlots, loadSlots, slotPath, slotsLabel, slotsRemembered, writeSlots } from './stateslot.ts';
import { bootId, descendants, insideExecve, isAlive, liveStart, sameProcess, startTime, uidOf } from './procfs.ts';

export const STATE_VERSION = 3;

export type SpawnEffect = Extract<Effect, { t: 'spawn' }>;

/** One spawn the runner decided: where its event log is and how far it has been read. */
export interface SpawnRecord {
  readonly seq: number;
  /** The spawn's folder (derived from the unit folder; not saved). */
  readonly dir: string;
  readonly role: Role;
  readonly kind: ExecKind;
  readonly index: number;
  /** The engine's effect, whole; undefined for a record saved by a version-1 agent. */
  readonly effect: SpawnEffect | undefined;
  shimPid: number;
  pid: number;
  offset: number;
  done: boolean;
  started: boolean;
  /**
   * Who the recorded PIDs were (issue 12: liveness that survives PID reuse): the boot they ran in
   * (/proc/sys/kernel/random/boot_id) and the start times (/proc/PID/stat field 22) of the shim,
   * of `pid`, and of a main PID the unit took from MAINPID= or PIDFile= (`mainPid`). A PID is
   * believed only while boot and start time match (procfs.ts sameProcess()). Absent in records
   * of older agents (then not checked).
   */
  bootId?: string | undefined;
  shimStart?: number | undefined;
  pidStart?: number | undefined;
  mainPid?: number | undefined;
  mainStart?: number | undefined;
}

export interface UnitState {
  readonly unitName: string;
  /** The agent's id for the unit (namespace/name in a cluster); undefined when never given. */
  readonly id: string | undefined;
  /** The spec the unit last ran with; undefined only in a damaged file. */
  readonly spec: ServiceUnitSpec | undefined;
  readonly specHash: string;
  readonly invocationId: string;
  readonly mainCommandLine: string | undefined;
  /** The last spawn sequence number handed out. */
  readonly seq: number;
  readonly machine: Machine;
  readonly spawns: readonly SpawnRecord[];
}

// ---- layout ----------------------------------------------------------------------------------

/** The state file of version 1 and 2 (until issue 19): read when the folder has no slot, removed by the first write. */
export const legacyStatePath = (dir: string): string => join(dir, 'state.json');
/** How messages name a unit's state (its two slot files). */
export const stateLabel = slotsLabel;
export { slotPath } from './stateslot.ts';
export const journalPath = (dir: string): string => join(dir, 'journal.log');
/** The unit folder a journal path (as status reports it) belongs to. */
export const unitDirOfJournal = (journal: string): string => dirname(journal);
export const spawnDir = (dir: string, seq: number, kind: ExecKind, index: number): string => join(dir, 'run', `${seq}-${kind}-${index}`);
export const eventsPath = (spawnFolder: string): string => join(spawnFolder, 'events');

/** The notify socket lives outside the unit folder, where a User= service can reach it: notifysock.ts. */
export { notifySocketPath, prepareNotifySocket } from './notifysock.ts';

const exists = (p: string): boolean => lstatSync(p, { throwIfNoEntry: false }) !== undefined;

/** Whether a unit folder holds a state file (of any kind: trust is loadUnitState()'s part). */
export function hasUnitState(dir: string): boolean { return exists(slotPath(dir, 0)) || exists(slotPath(dir, 1)) || exists(legacyStatePath(dir)); }

/** The unit folders under a units folder that hold a state file ([] when it cannot be read). */
export function unitDirs(unitsDir: string): string[] {
  let names: string[];
  try { names = readdirSync(unitsDir); } catch { return []; }
  return names.map((d) => join(unitsDir, d)).filter((d) => { try { return hasUnitState(d); } catch { return false; } });
}

// ---- trust -----------------------------------------------------------------------------------

export { AGENT_UID, StateError, distrust } from './trust.ts';
const agentUid = (): number => AGENT_UID;

/** Throws a StateError when `path` exists and is not to be trusted; false when it does not exist. */
function checkTrusted(path: string, want: 'file' | 'dir'): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return false;
  const why = distrust(st, want);
  if (why !== undefined) throw new StateError(path, why);
  return true;
}

/**
 * A folder of the agent's, mode 0700 whatever the umask. `tighten`: an existing folder of the
 * agent's that others may write to is made 0700 (the state and units folders, whose entries are
 * checked one by one); otherwise such a folder is refused (a unit or spawn folder someone else
 * could have written into).
 */
function privateDir(path: string, tighten: boolean): void {
  try { mkdirSync(path, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  const st = lstatSync(path);
  const why = distrust(st, 'dir');
  // a shared folder (sticky, as /tmp) is never taken over
  if (why !== undefined && !(tighten && st.isDirectory() && st.uid === agentUid() && (st.mode & 0o1000) === 0)) throw new StateError(path, why);
  if ((st.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
}

/** A unit's folder and its run/ folder: made (0700), or refused (StateError) when not the agent's alone. */
export function ensureUnitDir(dir: string): void {
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 }); // only what is missing (0700 or less: the umask only removes bits)
  privateDir(dir, false);
  privateDir(join(dir, 'run'), false);
}
export function createSpawnDir(rec: SpawnRecord): void { privateDir(rec.dir, false); }
/** Whether a spawn's shim ever ran (it creates its event log first thing). */
export function hasSpawnEvents(rec: SpawnRecord): boolean { return exists(eventsPath(rec.dir)); }
/**
 * Removes a spawn's folder: its event log and the folder (two system calls: a restart of a
 * crash-looping unit removes one), or all of it when it holds anything else.
 */
export function removeSpawnDir(rec: SpawnRecord): void {
  const st = lstatSync(rec.dir, { throwIfNoEntry: false });
  if (!st) return;
  // a folder (not a link to one: its events would be another folder's), holding its log alone
  if (st.isDirectory()) {
    try { unlinkSync(eventsPath(rec.dir)); } catch { /* no log (never ran), or not a file: rm -r below */ }
    try { rmdirSync(rec.dir); return; } catch { /* something else in it */ }
  }
  rmSync(rec.dir, { recursive: true, force: true });
}

/** Whether the unit folder can be written right now (undefined) or why not (an fs error). */
export function unwritable(dir: string): Error | undefined {
  try { accessSync(dir, FS.W_OK); return undefined; } catch (e) { return e as Error; }
}

/**
 * The state folder for an agent: made 0700 (tightened when an older agent left it open), its
 * units/ folder too, and written to once. Returns what is wrong and what to do, or undefined.
 */
export function prepareStateDir(stateDir: string): string | undefined {
  try {
    mkdirSync(dirname(stateDir), { recursive: true, mode: 0o755 });
    // whoever can change a folder above it can move the state folder away and put their own in
    // its place: a fork server the agent then hands every service's command line and environment,
    // a control socket root's unitctl believes (a hostile probe). Every folder above it, as named
    // and as it really is, must be root's or the agent's and not writable by others (/tmp's
    // sticky bit is fine: no one else can move the agent's folder out of it).
    const why = unsafeWalk(dirname(resolve(stateDir)));
    if (why) return `the state folder ${stateDir} cannot be used: ${why}; whoever can change a folder above it can put their own state folder, fork server and control socket in its place. Make every folder above it owned by root${agentUid() === 0 ? '' : ` or uid ${agentUid()}`} and not writable by its group or others, or give another --state-dir.`;
    privateDir(stateDir, true);
    privateDir(join(stateDir, 'units'), true);
    const probe = join(stateDir, `.write-test-${process.pid}`);
    writeAtomic(probe, 'ok\n');
    unlinkSync(probe);
    return undefined;
  } catch (e) {
    if (e instanceof StateError) return `the state folder cannot be used: ${e.path}: ${e.why}. Make it a folder owned by uid ${agentUid()} that only it can write (chown ${agentUid()} ${e.path}; chmod 0700 ${e.path}), or give another --state-dir.`;
    return `the state folder ${stateDir} cannot be used: ${fsErrorText(e)}. ${fsAdvice(e, stateDir)}`;
  }
}

/** Writes the agent's pid file (0600, never through a link). */
export function writeAgentPid(stateDir: string): void { writeAtomic(join(stateDir, 'agent.pid'), `${process.pid}\n`); }

/**
 * The dependency engine's installed jobs as they last changed (issue 16; systemd keeps its jobs
 * across a re-exec): the next agent queues them again. jobs.json in the state folder, version 1;
 * no jobs: no file.
 */
export interface SavedJob { readonly group: string; readonly unit: string; readonly type: string }
const jobsPath = (stateDir: string): string => join(stateDir, 'jobs.json');
const JOB_TYPES = ['start', 'stop', 'restart', 'reload', 'verify-active', 'nop'];

export function writeSavedJobs(stateDir: string, jobs: readonly SavedJob[]): void {
  if (jobs.length === 0) { rmSync(jobsPath(stateDir), { force: true }); return; }
  writeAtomic(jobsPath(stateDir), JSON.stringify({ version: 1, jobs }) + '\n');
}

/** The saved jobs; a file that is not ours (malformed, another version) is an error, never half-read. */
export function readSavedJobs(stateDir: string): { jobs: SavedJob[]; error?: string } {
  let text: string;
  try { text = readFileSync(jobsPath(stateDir), 'utf8'); } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? { jobs: [] } : { jobs: [], error: `${jobsPath(stateDir)}: ${fsErrorText(e)}` };
  }
  try {
    const j = JSON.parse(text) as { version?: unknown; jobs?: unknown };
    const ok = (x: unknown): x is SavedJob => typeof x === 'object' && x !== null && typeof (x as SavedJob).group === 'string'
      && typeof (x as SavedJob).unit === 'string' && JOB_TYPES.includes((x as SavedJob).type);
    if (j.version !== 1 || !Array.isArray(j.jobs) || !j.jobs.every(ok)) return { jobs: [], error: `${jobsPath(stateDir)}: not a version 1 jobs file; ignored` };
    return { jobs: j.jobs };
  } catch (e) { return { jobs: [], error: `${jobsPath(stateDir)}: ${(e as Error).message}; ignored` }; }
}

/**
 * --stop-on-exit's mark (stopped-on-exit in the state folder): the agent itself stopped every
 * unit as it exited — a shutdown, not the user's `stop` — so the next agent starts the units
 * whose spec says state: running again, as systemd starts enabled units at boot. Written before
 * the stop jobs (an agent killed half-way through its shutdown still leaves it), taken (read and
 * removed) by the next agent.
 */
const stoppedOnExitPath = (stateDir: string): string => join(stateDir, 'stopped-on-exit');

export function markStoppedOnExit(stateDir: string): void {
  writeAtomic(stoppedOnExitPath(stateDir), `${new Date().toISOString()}\n`);
}

/** Whether the previous agent stopped every unit on exit; the mark is removed. */
export function takeStoppedOnExit(stateDir: string): boolean {
  try { rmSync(stoppedOnExitPath(stateDir)); return true; } catch { return false; }
}

/**
 * The exec runtime a unit holds (nsruntime.ts: JoinsNamespaceOf=, PrivateTmp=, PrivateNetwork=,
 * PrivateIPC=): runtime.json in the unit's folder, version 1, written when an invocation takes a
 * runtime (before its command starts) and removed when the unit lets it go. It says whose
 * runtime it is (owner, and the owner's invocation `id`: the PrivateTmp= folders are named after
 * both) and which namespaces it held, so that the next agent rebuilds it and a joined unit's
 * later commands (ExecStop=, ExecReload=) see the same /tmp. Read defensively: a file that is not
 * the agent's, not version 1, or holds anything else is an error naming the file, never half-read.
 */
export interface RuntimeRecord {
  /** The unit's invocation that took the runtime (a record of another invocation is stale). */
  readonly invocation: string;
  readonly owner: string;
  readonly id: string;
  readonly tmp: boolean;
  readonly types: readonly ('net' | 'ipc')[];
  /** The namespaces it stores by path (its owner's NetworkNamespacePath=, IPCNamespacePath=). */
  readonly paths: { readonly net?: string; readonly ipc?: string };
}
export const runtimeRecordPath = (dir: string): string => join(dir, 'runtime.json');
const HEX32 = /^[0-9a-f]{32}$/;
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]{1,256}$/;
const RECORD_KEYS = ['version', 'invocation', 'owner', 'id', 'tmp', 'types', 'paths'];

/** Writes (or, for undefined, removes) the unit's runtime record. Throws the file system's error. */
export function writeRuntimeRecord(dir: string, r: RuntimeRecord | undefined): void {
  if (!r) { rmSync(runtimeRecordPath(dir), { force: true }); return; }
  writeAtomic(runtimeRecordPath(dir), JSON.stringify({ version: 1, invocation: r.invocation, owner: r.owner, id: r.id, tmp: r.tmp, types: r.types, paths: r.paths }) + '\n');
}

/** The unit's runtime record: none when absent; an error naming the file when it is refused or not a version 1 record. */
export function readRuntimeRecord(dir: string): { record?: RuntimeRecord; error?: string } {
  const file = runtimeRecordPath(dir);
  let text: string | undefined;
  try { text = readTrustedFile(file, 4096); } catch (e) {
    return { error: e instanceof StateError ? `${file}: refused: ${e.why}` : `${file}: ${fsErrorText(e)}` };
  }
  if (text === undefined) return {};
  let j: unknown;
  try { j = JSON.parse(text); } catch (e) { return { error: `${file}: ${(e as Error).message}` }; }
  const bad = (why: string): { error: string } => ({ error: `${file}: not a version 1 runtime record (${why})` });
  if (!isObj(j) || j['version'] !== 1) return bad('version');
  const extra = Object.keys(j).find((k) => !RECORD_KEYS.includes(k));
  if (extra !== undefined) return bad(`unknown field ${JSON.stringify(extra)}`);
  const { invocation, owner, id, tmp, types, paths } = j;
  if (typeof invocation !== 'string' || !HEX32.test(invocation)) return bad('invocation');
  if (typeof id !== 'string' || !HEX32.test(id)) return bad('id');
  if (typeof owner !== 'string' || !UNIT_NAME.test(owner)) return bad('owner');
  if (typeof tmp !== 'boolean') return bad('tmp');
  if (!Array.isArray(types) || types.some((t) => t !== 'net' && t !== 'ipc') || new Set(types).size !== types.length) return bad('types');
  const absolute = (v: unknown): boolean => typeof v === 'string' && v.startsWith('/') && v.length <= 4096 && !v.includes('\0');
  if (!isObj(paths) || Object.keys(paths).some((k) => (k !== 'net' && k !== 'ipc') || !absolute(paths[k]))) return bad('paths');
  return { record: { invocation, owner, id, tmp, types: types as ('net' | 'ipc')[], paths: paths as RuntimeRecord['paths'] } };
}

/**
 * The errno name of a file-system error. Node leaves `code` empty for some (rmSync on a
 * read-only file system throws errno -4094, code ''), so the message decides then.
 */
export function fsErrorCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && err.code !== '') return err.code;
  const m = String(err?.message ?? e);
  if (/read-only file system/i.test(m)) return 'EROFS';
  if (/no space left/i.test(m)) return 'ENOSPC';
  if (/disk quota/i.test(m)) return 'EDQUOT';
  if (/permission denied/i.test(m)) return 'EACCES';
  if (/operation not permitted/i.test(m)) return 'EPERM';
  if (/not a directory/i.test(m)) return 'ENOTDIR';
  if (/no such file/i.test(m)) return 'ENOENT';
  return 'EIO';
}

const FS_WORDS: Record<string, string> = {
  EROFS: 'read-only file system', ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EACCES: 'permission denied',
  EPERM: 'operation not permitted', ENOTDIR: 'not a folder', ENOENT: 'no such file or folder', EEXIST: 'it exists', ELOOP: 'a symbolic link', EIO: 'input/output error',
};

/** "read-only file system (EROFS)" and the like, naming the path when the error has one. */
export function fsErrorText(e: unknown): string {
  if (e instanceof StateError) return e.message;
  const code = fsErrorCode(e);
  const path = (e as NodeJS.ErrnoException)?.path;
  return `${FS_WORDS[code] ?? String((e as Error)?.message ?? e)} (${code})${path ? ` on ${path}` : ''}`;
}

/** What an operator does about a file-system error on the state folder. */
export function fsAdvice(e: unknown, dir: string): string {
  switch (fsErrorCode(e)) {
    case 'EROFS': return `Remount its file system read-write (or give another --state-dir).`;
    case 'ENOSPC': case 'EDQUOT': return `Free space on the file system of ${dir}.`;
    case 'EACCES': case 'EPERM': return `Let uid ${agentUid()} write ${dir} (or give another --state-dir).`;
    case 'ENOTDIR': case 'EEXIST': return `Give a folder as --state-dir (${dir} or a parent is not one).`;
    default: return `Check ${dir} and its file system.`;
  }
}

// ---- live shims --------------------------------------------------------------------------------

/**
 * Whether `pid` is, right now, the uo-shim of this spawn folder: a live process of the agent's
 * uid whose command line is `uo-shim <this spawn's event log> -- …`. A PID from a state file
 * (planted, damaged, or reused since) is never signalled or waited for otherwise.
 */
export function isShimOf(pid: number, spawnFolder: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status) || Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== agentUid()) return false;
    return isShimCommand(pid, spawnFolder);
  } catch { return false; }
}

/** Whether `pid`'s command line is `uo-shim <this spawn's event log> -- …` (no other check). */
function isShimCommand(pid: number, spawnFolder: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[1] === eventsPath(spawnFolder) && argv[2] === '--';
  } catch { return false; }
}

/**
 * How long a uo-shim caught inside execve() (re-executing itself into hold mode, issue 19; it
 * lasts microseconds) still counts as the holder it was. Past it, the process is judged by its
 * command line alone, so that a process stuck there, or one that is no uo-shim any more, never
 * holds a unit for ever.
 */
export const REEXEC_GRACE_MS = 3000;
/** `pid:start` → when that process was first seen inside execve() (ms, monotonic). */
const seenInExecve = new Map<string, number>();

/**
 * Whether `pid`, which its command line does not show as a uo-shim, is one caught inside
 * execve(): a process of the agent's uid (started at `start`, when the record has it) whose
 * command line reads empty (procfs.ts insideExecve()), for less than REEXEC_GRACE_MS since it
 * was first seen so. Its holder is looked at again later.
 */
export function reexecuting(pid: number, start?: number): boolean {
  if (!insideExecve(pid, start) || uidOf(pid) !== agentUid()) return false;
  const key = `${pid}:${start ?? startTime(pid)}`;
  const now = performance.now();
  let since = seenInExecve.get(key);
  if (since === undefined) {
    for (const [k, t] of seenInExecve) if (now - t > 10 * REEXEC_GRACE_MS) seenInExecve.delete(k); // processes not looked at again
    seenInExecve.set(key, (since = now));
  }
  return now - since < REEXEC_GRACE_MS;
}

/** Whether `pid` is still inside execve() past REEXEC_GRACE_MS (what a log says when it is given up). */
export function reexecOverdue(pid: number, start?: number): boolean {
  return insideExecve(pid, start) && uidOf(pid) === agentUid() && !reexecuting(pid, start);
}

/**
 * Whether `pid` is this spawn folder's uo-shim (isShimOf()) or, for a while, that shim inside
 * execve() (reexecuting()). Each reads the command line anew: one that read empty in isShimOf()
 * may read whole by reexecuting() (the execve() ended in between: neither matched, and a live
 * holder was taken for gone — a unit "killed by SIGKILL" ~10 ms after its start, 1 in ~200
 * cluster applies). A command line only goes from empty to whole, so it is read once more last.
 */
export function isHolderOf(pid: number, spawnFolder: string, start?: number): boolean {
  const shim = (): boolean => {
    if (!isShimOf(pid, spawnFolder)) return false;
    if (seenInExecve.size > 0) seenInExecve.delete(`${pid}:${start ?? startTime(pid)}`); // it came back
    return true;
  };
  return shim() || reexecuting(pid, start) || shim();
}

type ShimRef = Pick<SpawnRecord, 'shimPid' | 'dir'> & Partial<Pick<SpawnRecord, 'shimStart' | 'bootId'>>;

/**
 * Records whose shim this agent has seen whole (isHolderOf() and sameProcess() both true), with
 * the `pid:start` seen: that process's uid was read then, and its start time tells a reused PID
 * apart, so what can change since is only whether it lives and its command line.
 */
const seenWhole = new WeakMap<object, string>();

/** Whether a spawn's recorded shim runs (see isHolderOf). */
export function shimAlive(rec: ShimRef): boolean {
  // seen whole before (each poll of a running unit asks again: issue 19's crash storm made ~5
  // /proc reads of it a batch): one stat (alive, no zombie, same start) and the command line
  const key = rec.shimStart === undefined ? undefined : `${rec.shimPid}:${rec.shimStart}`;
  if (key !== undefined && seenWhole.get(rec) === key && liveStart(rec.shimPid) === rec.shimStart && isShimCommand(rec.shimPid, rec.dir)) return true;
  // a shim recorded in another boot, or whose start time changed, is gone (its PID was reused);
  // one caught inside execve() (no command line for a moment) is judged here, as the first time
  const alive = isHolderOf(rec.shimPid, rec.dir, rec.shimStart) && sameProcess(rec.shimPid, { start: rec.shimStart, boot: rec.bootId });
  if (key !== undefined) { if (alive && isShimCommand(rec.shimPid, rec.dir)) seenWhole.set(rec, key); else seenWhole.delete(rec); }
  return alive;
}

/** A new spawn record for an effect (the caller saves the state before starting it). */
export function newSpawnRecord(dir: string, seq: number, effect: SpawnEffect): SpawnRecord {
  return { seq, dir: spawnDir(dir, seq, effect.kind, effect.index), role: effect.role, kind: effect.kind, index: effect.index, effect, shimPid: 0, pid: 0, offset: 0, done: false, started: false };
}

// ---- reading ---------------------------------------------------------------------------------

/** What a unit folder's state file says: nothing, a state, refused (not the agent's alone) or damaged. */
export type StateRead =
  | { readonly t: 'absent' }
  | { readonly t: 'ok'; readonly state: UnitState }
  | { readonly t: 'refused'; readonly path: string; readonly why: string }
  | { readonly t: 'damaged'; readonly path: string; readonly why: string };

/** A state file is read whole; anything larger is not one the agent wrote. */
const MAX_STATE_BYTES = 64 << 20;

/** The unit's saved state, migrated and with defaults; undefined when absent, refused or damaged. */
export function readUnitState(dir: string): UnitState | undefined {
  const r = loadUnitState(dir);
  return r.t === 'ok' ? r.state : undefined;
}

/**
 * Reads a unit folder's state with every check (trust, then shape): the newest valid slot; none
 * there, the version-2 state.json. A folder whose slots are all torn (with no state.json to fall
 * back on) is damaged; it is read again twice first, in case another process was writing it.
 */
export function loadUnitState(dir: string): StateRead {
  let r = loadOnce(dir);
  for (let i = 0; i < 2 && r.torn; i++) r = loadOnce(dir);
  return r.read;
}

/** One read of the state; `torn`: damaged because every slot there is torn. */
function loadOnce(dir: string): { read: StateRead; torn: boolean } {
  const done = (read: StateRead): { read: StateRead; torn: boolean } => ({ read, torn: false });
  let got: ReturnType<typeof loadSlots>;
  try {
    if (!checkTrusted(dir, 'dir')) return done({ t: 'absent' });
    got = loadSlots(dir, MAX_STATE_BYTES);
  } catch (e) {
    if (e instanceof StateError) return done({ t: 'refused', path: e.path, why: e.why });
    return done({ t: 'damaged', path: stateLabel(dir), why: `it cannot be read: ${fsErrorText(e)}` });
  }
  const legacy = legacyStatePath(dir);
  // a state.json written after the newest slot is an older agent's (a downgrade, then this one
  // again): it knows what ran since, the slot does not; one older than the slot is a migration's
  // leftover (a crash before its removal)
  if (got.newest && !(mtimeOf(legacy) > mtimeOf(got.newest.path))) return done(parseState(got.newest.payload, got.newest.path, dir));
  const torn = got.slots.filter((x) => x.t === 'torn');
  if (torn.length > 0 && !exists(legacy)) {
    return { read: { t: 'damaged', path: torn.length === 1 ? torn[0]!.path : stateLabel(dir), why: torn.map((x) => `${basename(x.path)}: ${x.why}`).join('; ') }, torn: true };
  }
  // no slot yet (or only a torn first write): the state.json of version 1 or 2
  let text: string;
  try {
    const read = readTrustedFile(legacy, MAX_STATE_BYTES);
    if (read === undefined) return done({ t: 'absent' });
    text = read;
  } catch (e) {
    if (e instanceof StateError) return done({ t: 'refused', path: e.path, why: e.why });
    return done({ t: 'damaged', path: legacy, why: `it cannot be read: ${fsErrorText(e)}` });
  }
  return done(parseState(text, legacy, dir));
}

/** A file's modification time (ns), -1 when it is not there. */
function mtimeOf(path: string): bigint {
  try { return lstatSync(path, { bigint: true }).mtimeNs; } catch { return -1n; }
}

/** A state's JSON text, from `path`, checked and decoded. */
function parseState(text: string, path: string, dir: string): StateRead {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { return { t: 'damaged', path, why: text.length === 0 ? 'it is empty' : `it is not JSON (${(e as Error).message})` }; }
  const why = validateUnitState(raw);
  if (why !== undefined) return { t: 'damaged', path, why };
  const state = decodeUnitState(raw, dir);
  return state ? { t: 'ok', state } : { t: 'damaged', path, why: 'it is not a unit state' };
}

/**
 * A regular file of the agent's, read whole (O_NOFOLLOW, O_NONBLOCK: a FIFO or link planted
 * there neither blocks nor redirects the read); undefined when absent; StateError when refused.
 */
export function readTrustedFile(file: string, maxBytes: number): string | undefined {
  return withTrustedFile(file, (fd, size) => {
    if (size > maxBytes) throw new StateError(file, `it is ${size} bytes, more than the ${maxBytes} a state file may have`);
    return readAt(fd, 0, size).toString('utf8');
  });
}

/**
 * The whole lines of a regular file of the agent's (as readTrustedFile()) at its two ends: all of
 * it when it holds no more than `head` + `tail` bytes; else those of its first `head` bytes and
 * of its last `tail` bytes (the line cut at either edge left out). `end`: the offset after its
 * last whole line. An event log is read so (recoverFromEventLogs()): a long-lived command's log
 * grows with its notify lines (its read part deallocated, punch.ts), and what recovery needs is
 * at its start (shim, spawn) and its end (exits, empty).
 */
export function readTrustedEnds(file: string, head: number, tail: number): { text: string; end: number } | undefined {
  return withTrustedFile(file, (fd, size) => {
    const upTo = (b: Buffer): Buffer => b.subarray(0, b.lastIndexOf(0x0a) + 1);
    if (size <= head + tail) { const whole = upTo(readAt(fd, 0, size)); return { text: whole.toString('utf8'), end: whole.length }; }
    const first = upTo(readAt(fd, 0, head));
    // from one byte before the last `tail`: a line that begins right there is whole
    const start = size - tail - 1;
    const last = readAt(fd, start, tail + 1);
    const nl = last.indexOf(0x0a);
    // no line end in it (all of it deallocated, or a line being written after a hole): the tail
    // resumes after the last NUL byte, never before the end (a read back from the head would
    // take a sparse middle of any size into memory)
    if (nl < 0) { const z = last.lastIndexOf(0); return { text: first.toString('utf8'), end: z >= 0 ? start + z + 1 : size }; }
    const lines = upTo(last.subarray(nl + 1));
    return { text: first.toString('utf8') + lines.toString('utf8'), end: start + nl + 1 + lines.length };
  });
}

/** `n` bytes of `fd` from `at` (fewer at its end). */
function readAt(fd: number, at: number, n: number): Buffer {
  const buf = Buffer.alloc(n);
  let got = 0;
  while (got < n) { const k = readSync(fd, buf, got, n - got, at + got); if (k === 0) break; got += k; }
  return buf.subarray(0, got);
}

/** `read(fd, size)` on a regular file of the agent's alone (O_NOFOLLOW, O_NONBLOCK); undefined when absent; StateError when refused. */
function withTrustedFile<T>(file: string, read: (fd: number, size: number) => T): T | undefined {
  let fd: number;
  try { fd = openSync(file, FS.O_RDONLY | FS.O_NOFOLLOW | FS.O_NONBLOCK); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new StateError(file, 'it is a symbolic link, not a regular file');
    throw e;
  }
  try {
    const st = fstatSync(fd);
    const why = distrust(st, 'file');
    if (why !== undefined) throw new StateError(file, why);
    return read(fd, st.size);
  } finally { closeSync(fd); }
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const bool = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);

/** The payload versions this agent reads (1 and 2 from state.json, 3 from the slots). */
const READ_VERSIONS: readonly unknown[] = [1, 2, 3];

/** Turns a parsed state file of any known version into the current shape. */
export function decodeUnitState(raw: unknown, dir: string): UnitState | undefined {
  if (!isObj(raw) || !READ_VERSIONS.includes(raw['version'])) return undefined;
  const spawns = Array.isArray(raw['spawns']) ? raw['spawns'].filter(isObj).map((s) => decodeSpawn(s, dir)) : [];
  return {
    unitName: str(raw['unitName'], basename(dir)),
    id: optStr(raw['id']),
    spec: isObj(raw['spec']) ? (raw['spec'] as ServiceUnitSpec) : undefined,
    specHash: str(raw['specHash'], ''),
    invocationId: str(raw['invocationId'], ''),
    mainCommandLine: optStr(raw['mainCommandLine']),
    seq: num(raw['seq'], Math.max(0, ...spawns.map((s) => s.seq))),
    machine: decodeMachine(raw['machine']),
    spawns,
  };
}

/** The engine's initial machine supplies every field a file lacks (or holds as null). */
function decodeMachine(raw: unknown): Machine {
  const m = isObj(raw) ? raw : {};
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(INITIAL_MACHINE)) out[k] = m[k] ?? d;
  out['startLimit'] = { ...INITIAL_MACHINE.startLimit, ...(isObj(m['startLimit']) ? m['startLimit'] : {}) };
  out['timestamps'] = { ...INITIAL_MACHINE.timestamps, ...(isObj(m['timestamps']) ? dropNulls(m['timestamps']) : {}) };
  return out as unknown as Machine;
}

function decodeSpawn(s: Raw, dir: string): SpawnRecord {
  const effect = isObj(s['effect']) && s['effect']['t'] === 'spawn' ? (s['effect'] as unknown as SpawnEffect) : undefined;
  const role = (effect?.role ?? str(s['role'], 'main')) as Role;
  const kind = (effect?.kind ?? str(s['kind'], 'start')) as ExecKind;
  const index = effect?.index ?? num(s['index'], 0);
  const seq = num(s['seq'], 0);
  return {
    seq, dir: spawnDir(dir, seq, kind, index), role, kind, index, effect,
    shimPid: num(s['shimPid'], 0), pid: num(s['pid'], 0), offset: num(s['offset'], 0),
    done: bool(s['done'], false), started: bool(s['started'], false),
    ...definedOnly({ bootId: optStr(s['bootId']), shimStart: optNum(s['shimStart']), pidStart: optNum(s['pidStart']), mainPid: optNum(s['mainPid']), mainStart: optNum(s['mainStart']) }),
  };
}

/** The identity fields a record holds (older records hold none: then none are set). */
function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function optNum(v: unknown): number | undefined { return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined; }

function dropNulls(o: Raw): Raw { return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)); }

// ---- shape -----------------------------------------------------------------------------------

export const EXEC_KINDS: readonly ExecKind[] = ['condition', 'startPre', 'start', 'startPost', 'reload', 'stop', 'stopPost'];
const RESULTS = ['success', 'resources', 'protocol', 'timeout', 'exit-code', 'signal', 'core-dump', 'watchdog', 'start-limit-hit', 'oom-kill', 'exec-condition'];
const isInt = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const absent = (v: unknown): boolean => v === undefined || v === null;

/**
 * Why a parsed state file is not one an agent wrote (a value of the wrong type, a state that
 * does not exist, a spawn kind that would name another folder), or undefined. Fields left out
 * (or null) are fine: decoding fills them with defaults.
 */
export function validateUnitState(raw: unknown): string | undefined {
  if (!isObj(raw)) return 'it is not a JSON object';
  if (!READ_VERSIONS.includes(raw['version'])) return `its version ${JSON.stringify(raw['version'])} is not one this agent reads (${READ_VERSIONS.join(', ')})`;
  for (const k of ['unitName', 'id', 'specHash', 'invocationId', 'mainCommandLine']) if (!absent(raw[k]) && typeof raw[k] !== 'string') return `${k} is not a string`;
  if (typeof raw['unitName'] === 'string' && /[/\0\n]/.test(raw['unitName'])) return 'unitName holds a slash, NUL or newline';
  if (!absent(raw['seq']) && !isInt(raw['seq'], 0)) return 'seq is not a whole number';
  if (!absent(raw['spec']) && !isObj(raw['spec'])) return 'spec is not an object';
  const m = raw['machine'];
  if (!absent(m)) {
    if (!isObj(m)) return 'machine is not an object';
    const why = validateMachine(m);
    if (why !== undefined) return `machine.${why}`;
  }
  const spawns = raw['spawns'];
  if (!absent(spawns)) {
    if (!Array.isArray(spawns)) return 'spawns is not a list';
    const seqs = new Set<number>();
    for (const [i, x] of spawns.entries()) {
      const why = isObj(x) ? validateSpawn(x) : 'is not an object';
      if (why !== undefined) return `spawns[${i}].${why}`;
      const seq = (x as Raw)['seq'] as number;
      if (seqs.has(seq)) return `spawns[${i}].seq ${seq} is recorded twice`;
      seqs.add(seq);
      if (isInt(raw['seq'], 0) && seq > (raw['seq'] as number)) return `spawns[${i}].seq ${seq} is above seq ${String(raw['seq'])}`;
    }
  }
  return undefined;
}

function validateMachine(m: Raw): string | undefined {
  for (const [k, d] of Object.entries(INITIAL_MACHINE)) {
    const v = m[k];
    if (absent(v)) continue;
    if (typeof d === 'number' && !isNum(v)) return `${k} is not a number`;
    if (typeof d === 'boolean' && typeof v !== 'boolean') return `${k} is not true or false`;
  }
  if (!absent(m['state']) && !(SERVICE_STATES as readonly unknown[]).includes(m['state'])) return `state ${JSON.stringify(m['state'])} is not a service state`;
  for (const k of ['result', 'reloadResult']) if (!absent(m[k]) && !RESULTS.includes(m[k] as string)) return `${k} is not a service result`;
  for (const k of ['mainPid', 'controlPid']) if (!absent(m[k]) && !isInt(m[k], -1)) return `${k} is not a process ID`;
  for (const k of ['nRestarts', 'timerGen']) if (!absent(m[k]) && !isInt(m[k], 0)) return `${k} is not a whole number`;
  if (!absent(m['statusText']) && typeof m['statusText'] !== 'string') return 'statusText is not a string';
  for (const k of ['watchdogOverrideUSec', 'watchdogDeadline']) if (!absent(m[k]) && !isNum(m[k])) return `${k} is not a number`;
  for (const k of ['mainCommand', 'controlCommand']) {
    const c = m[k];
    if (!absent(c) && !(isObj(c) && EXEC_KINDS.includes(c['kind'] as ExecKind) && isInt(c['index'], 0))) return `${k} is not a command reference`;
  }
  const x = m['mainExec'];
  if (!absent(x) && !(isObj(x) && ['exited', 'killed', 'dumped'].includes(x['code'] as string) && isNum(x['status']) && (absent(x['startUs']) || isNum(x['startUs'])) && (absent(x['exitUs']) || isNum(x['exitUs'])))) return 'mainExec is not an exit status';
  const t = m['timer'];
  if (!absent(t) && !(isObj(t) && isNum(t['deadline']) && isInt(t['gen'], 0))) return 'timer is not a deadline';
  for (const k of ['startLimit', 'timestamps']) {
    const o = m[k];
    if (absent(o)) continue;
    if (!isObj(o) || !Object.values(o).every((v) => absent(v) || isNum(v))) return `${k} is not a set of numbers`;
  }
  return undefined;
}

function validateSpawn(s: Raw): string | undefined {
  if (!isInt(s['seq'], 1)) return 'seq is not a positive whole number';
  if (!absent(s['kind']) && !EXEC_KINDS.includes(s['kind'] as ExecKind)) return `kind ${JSON.stringify(s['kind'])} is not a command list`;
  if (!absent(s['role']) && s['role'] !== 'main' && s['role'] !== 'control') return 'role is not main or control';
  for (const k of ['index', 'shimPid', 'pid', 'offset']) if (!absent(s[k]) && !isInt(s[k], 0)) return `${k} is not a whole number`;
  for (const k of ['done', 'started']) if (!absent(s[k]) && typeof s[k] !== 'boolean') return `${k} is not true or false`;
  const e = s['effect'];
  if (absent(e)) return undefined;
  if (!isObj(e) || e['t'] !== 'spawn') return 'effect is not a spawn';
  if (!EXEC_KINDS.includes(e['kind'] as ExecKind) || (e['role'] !== 'main' && e['role'] !== 'control') || !isInt(e['index'], 0)) return 'effect names no command list';
  if ((!absent(s['kind']) && s['kind'] !== e['kind']) || (!absent(s['index']) && s['index'] !== e['index'])) return 'effect is for another command';
  const c = e['command'];
  if (!isObj(c) || typeof c['path'] !== 'string' || !Array.isArray(c['argv']) || !c['argv'].every((a) => typeof a === 'string') || (!absent(c['flags']) && !isObj(c['flags']))) return 'effect.command is not a command';
  if (!isObj(e['env']) || !Object.values(e['env']).every((v) => typeof v === 'string')) return 'effect.env is not an environment';
  return undefined;
}

// ---- recovery ----------------------------------------------------------------------------------

/** What a spawn's event log says (recoverFromEventLogs). */
export interface SpawnLog {
  readonly seq: number;
  readonly kind: ExecKind;
  readonly index: number;
  readonly dir: string;
  readonly shimPid: number;
  /** The forked command's PID (0 when the log has no "spawn" line). */
  readonly pid: number;
  /** Whether the shim still runs (isHolderOf: a live uo-shim of the agent's on this log, or one inside execve()). */
  readonly live: boolean;
  /** The live shim's start time (undefined when it is not live). */
  readonly shimStart: number | undefined;
  /** Whether the command itself still runs (its "exit" line not written, the PID alive). */
  readonly pidLive: boolean;
  /** Bytes of whole lines read. */
  readonly offset: number;
}

const SPAWN_NAME = /^([0-9]{1,15})-([a-zA-Z]+)-([0-9]{1,9})$/;
/** What recovery reads of an event log: its head (the holder's first lines; punch.c keeps as much) and its end (readTrustedEnds()). */
const EVENTS_HEAD_BYTES = 64 << 10;
const EVENTS_TAIL_BYTES = 4 << 20;

/**
 * Reads every spawn folder under a unit's run/ folder (the trusted ones: others are listed in
 * `refused`) for what survives a damaged state file: which shims still run, which commands,
 * and the highest sequence number used.
 */
export function recoverFromEventLogs(dir: string, skip: ReadonlySet<string> = new Set()): { spawns: SpawnLog[]; seq: number; refused: string[] } {
  const spawns: SpawnLog[] = [];
  const refused: string[] = [];
  let seq = 0;
  const run = join(dir, 'run');
  let names: string[] = [];
  try { if (checkTrusted(run, 'dir')) names = readdirSync(run); } catch (e) { refused.push(fsErrorText(e)); }
  for (const name of names) {
    const m = SPAWN_NAME.exec(name);
    if (!m || !EXEC_KINDS.includes(m[2] as ExecKind)) continue;
    const folder = join(run, name);
    seq = Math.max(seq, Number(m[1]));
    if (skip.has(folder)) continue;
    let read: { text: string; end: number } | undefined;
    try { if (checkTrusted(folder, 'dir')) read = readTrustedEnds(eventsPath(folder), EVENTS_HEAD_BYTES, EVENTS_TAIL_BYTES); } catch (e) { refused.push(fsErrorText(e)); continue; }
    if (read === undefined) continue;
    let shimPid = 0, pid = 0, empty = false;
    const exited = new Set<number>();
    for (const line of read.text.split('\n')) {
      const ev = parseShimLine(line);
      if (!ev) continue;
      if (ev.t === 'shim' && isInt(ev.pid, 0)) shimPid = ev.pid;
      else if (ev.t === 'spawn' && isInt(ev.pid, 0)) pid = ev.pid;
      else if (ev.t === 'exit') exited.add(ev.pid);
      else if (ev.t === 'empty') empty = true;
    }
    // a holder caught re-executing itself into hold mode (issue 19) counts as live: taken for
    // gone, the unit it holds would be started a second time
    const live = !empty && isHolderOf(shimPid, folder);
    const shimStart = live ? startTime(shimPid) : undefined;
    // the main process only while its holder holds it: its exit line may lie in a part of the
    // log not read (between the ends) or deallocated, and its PID be another process's since
    spawns.push({ seq: Number(m[1]), kind: m[2] as ExecKind, index: Number(m[3]), dir: folder, shimPid, shimStart, pid, live, pidLive: live && pid > 0 && !exited.has(pid) && isAlive(pid) && descendants([shimPid]).includes(pid), offset: read.end });
  }
  spawns.sort((a, b) => a.seq - b.seq);
  return { spawns, seq, refused };
}

/** A spawn record for a spawn found by recoverFromEventLogs() (its effect is not known). */
export function recoveredSpawnRecord(l: SpawnLog): SpawnRecord {
  return {
    seq: l.seq, dir: l.dir, role: l.kind === 'start' ? 'main' : 'control', kind: l.kind, index: l.index, effect: undefined, shimPid: l.shimPid, pid: l.pid, offset: l.offset, done: false, started: true,
    ...(l.shimStart !== undefined ? { shimStart: l.shimStart, bootId: bootId() } : {}),
  };
}

/**
 * Moves a damaged state aside: each slot and a version-2 state.json there is to NAME.damaged
 * (replacing an older one). Returns the new paths; the next write starts the slots afresh.
 */
export function setAsideDamaged(dir: string): string {
  const moved: string[] = [];
  forgetSlots(dir);
  for (const p of [slotPath(dir, 0), slotPath(dir, 1), legacyStatePath(dir)]) {
    if (!exists(p)) continue;
    renameSync(p, `${p}.damaged`);
    moved.push(`${p}.damaged`);
  }
  return moved.join(', ');
}

// ---- writing ---------------------------------------------------------------------------------

/** The payload for a state (version 3; the same fields as version 2): every field present, null for none. */
export function encodeUnitState(s: UnitState): string {
  const machine: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(INITIAL_MACHINE), ...Object.keys(s.machine)])) machine[k] = (s.machine as unknown as Raw)[k] ?? null;
  return JSON.stringify({
    version: STATE_VERSION,
    unitName: s.unitName,
    id: s.id ?? null,
    specHash: s.specHash,
    invocationId: s.invocationId,
    mainCommandLine: s.mainCommandLine ?? null,
    seq: s.seq,
    machine,
    spawns: s.spawns.map((r) => ({ seq: r.seq, role: r.role, kind: r.kind, index: r.index, shimPid: r.shimPid, pid: r.pid, offset: r.offset, done: r.done, started: r.started, effect: r.effect ?? null,
      bootId: r.bootId ?? null, shimStart: r.shimStart ?? null, pidStart: r.pidStart ?? null, mainPid: r.mainPid ?? null, mainStart: r.mainStart ?? null })),
    spec: s.spec ?? null,
  });
}

/** Unit folders whose version-2 state.json (and its .tmp) this process removed, or found absent, after a slot write. */
const migrated = new Set<string>();

/** A unit folder removed for good: what this process remembers of its slots and migration goes (no growth as units come and go). */
export function forgetUnitFolder(dir: string): void {
  forgetSlots(dir);
  migrated.delete(dir);
}

/** Entries this process keeps about unit folders (tests: they fall back as folders are forgotten). */
export function rememberedUnitFolders(): number { return migrated.size + slotsRemembered(); }

/**
 * Writes the unit's state into its slots (stateslot.ts: in place, the slot not holding the newest
 * state). The first write in a folder then removes a version-2 state.json: it is older than any
 * slot, and while it is there a folder whose slots are all torn is read from it. Throws
 * StateError (a refused slot, named) or the file system's error.
 */
export function writeUnitState(dir: string, s: UnitState): void {
  writeSlots(dir, encodeUnitState(s), MAX_STATE_BYTES);
  if (migrated.has(dir)) return;
  rmSync(legacyStatePath(dir), { force: true });
  rmSync(`${legacyStatePath(dir)}.tmp`, { force: true });
  migrated.add(dir);
}

/**
 * Writes a file of the agent's, mode 0600 whatever the umask, and atomically: a temporary file
 * created O_EXCL|O_NOFOLLOW (whatever was planted at its name is unlinked, never followed),
 * then renamed over the file. Throws the file system's error (EROFS, ENOSPC…).
 */
export function writeAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  const flags = FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW;
  let fd: number;
  try { fd = openSync(tmp, flags, 0o600); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    unlinkSync(tmp); // a leftover or a planted link: unlink() does not follow it
    fd = openSync(tmp, flags, 0o600);
  }
  try {
    fchmodSync(fd, 0o600);
    const buf = Buffer.from(data);
    for (let n = 0; n < buf.length;) n += writeSync(fd, buf, n, buf.length - n);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* the folder may be read-only now */ }
    throw e;
  }
}
