// UnitRunner: one service on this node — the dispatch loop. It feeds OS happenings (the shims'
// event logs, timers) to the pure engine and carries out the effects it decides: spawning
// through uo-shim (launch.ts), signals, timers, PID-file waits. The machine and the spawn
// records are saved together (store.ts) before any process starts, so a restarted agent
// re-adopts running services, learns exits that happened meanwhile, and never starts a second
// copy.

import { createHash, randomUUID } from 'node:crypto';
import { getSystemErrorMessage } from 'node:util';
import { decide, configFromSpec, properties, INITIAL_MACHINE, ACTIVE_STATE, type Machine, type Event, type Effect, type ServiceConfig } from '../engine/index.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { refusalMessage, refusedDirectives, unappliedDirectives, type AllowUnenforced, type Unapplied } from '../api/applied.ts';
import { isEmptyLine, parseShimLine, serviceShimNames } from './shimproto.ts';
import { EventLogTail, readNewLines, type ReadCause } from './tail.ts';
import { bootId, descendants, procReadable, signal, startTime, type ProcessIdentity } from './procfs.ts';
import { cgroupMembership, type Membership } from './membership.ts';
import { applyUnitIpFilter, applyUnitLimits, limitLayout, reapplyUnitIpFilter, reapplyUnitLimits, resourceGaps, unitResources } from './cgroup/apply.ts';
import { oomKilled, readOomKills } from './cgroup/oom.ts';
import type { Resources } from './cgroup/resources.ts';
import { cgroupExists, cgroupKilled, cgroupOfPid, cgroupPids, ensureHolders, ensureUnitCgroup, eventsFile, insideAgent, isPopulated, readUsage, realizeFor, realizedIn, removeUnitCgroup, removeUnrealized, sameCgroup, unitCgroup, widenCgroup, type CgroupContext, type CgroupUsage, type UnitCgroup } from './cgroup/index.ts';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { NotifyJudge } from './notifyaccess.ts';
import { Deadline, findMainPid, killTargets, PROCESS_GONE } from './control.ts';
import { executionContext, type ExecContext } from './context.ts';
import { withDynamicUser } from '../api/dynamicuser.ts';
import { ipcOwnerOf, refUser, removeIpc, unrefUser } from './removeipc.ts';
import { exitWatched, prepareLaunch, startShim } from './launch.ts';
import type { ForkServer } from './forkserver.ts';
import { removePrivateTmp, shimHasFeature, truthy } from './sandbox.ts';
import { restartLead } from './restartlead.ts';
import { arm, ensureNextDir, nextDir, pause, readStandbyFile, removeStandbyFile, retract, shimLinePid, standbyConfigReason, standbyRan, standbyStateReason, startedByStandby, stoppedNow, take, takeBack, tokenOf, TOWARDS_RESTART, writeStandbyFile, type Standby } from './standby.ts';
import { heldTypes, namespacePaths, runtimeNeeds, SharedRuntimes, startHolder } from './nsruntime.ts';
import { execDirectories, removeRuntimeDirectories, type SetupFailure } from './directories.ts';
import { credentialPlan, hasCredentials, removeCredentials } from './credentials.ts';
import { expandSpecifiers } from './environment.ts';
import { createSpawnDir, ensureUnitDir, eventsPath, hasSpawnEvents, journalPath, newSpawnRecord, prepareNotifySocket, removeSpawnDir, writeUnitState, type SpawnEffect, type SpawnRecord } from './store.ts';
import { readRuntimeRecord, runtimeRecordPath, writeRuntimeRecord, type RuntimeRecord } from './store.ts';
import { fsErrorText, isHolderOf, loadUnitState, reexecOverdue, REEXEC_GRACE_MS, shimAlive, stateLabel, StateError, unwritable } from './store.ts';
import { adoptState, contradiction, recoverState } from './recovery.ts';
import { LogGate } from './loggate.ts';
import { PUNCH_STEP, punchRead } from './punch.ts';
import { HostFacts, startChecks, type Facts } from '../conditions/index.ts';

export type { SpawnRecord } from './store.ts';

export interface UnitRunnerOptions {
  readonly unitName: string;
  readonly spec: ServiceUnitSpec;
  /** This unit's own folder (state, run records, logs). */
  readonly dir: string;
  readonly shimPath: string;
  /** The agent's fork server (forkserver.ts): shims are started by it; absent or down, by spawn(). */
  readonly forkServer?: ForkServer | undefined;
  readonly clock?: () => number;
  /** How far ahead of its deadline an automatic restart is prepared (µs; restartlead.ts's estimate unless a test fixes it). */
  readonly restartLeadUs?: number;
  readonly agentEnv?: Readonly<Record<string, string | undefined>>;
  readonly logMaxBytes?: number;
  readonly onChange?: (r: UnitRunner) => void;
  /** Called after every engine decision with the unit's properties and the decision (for exact timelines). */
  readonly onDecision?: (props: ReturnType<typeof properties>, machine: Machine, effects: readonly Effect[]) => void;
  readonly onLog?: (level: 'info' | 'notice' | 'warning', message: string) => void;
  /** Whether the unit is related by a dependency to another hosted unit (its automatic restart is then not prepared ahead: armTimer()). */
  readonly related?: () => boolean;
  /** The host's root file system when the agent runs in a container (commands run chroot()ed there). */
  readonly hostRoot?: string;
  /** Directives that protect the host or the service which this agent may run without (--allow-unenforced). */
  readonly allowUnenforced?: AllowUnenforced;
  /**
   * How often to look at the event logs of spawns inotify does not watch (ms); watched ones
   * only every SAFETY_NET_TICKS-th time (tail.ts). 0: no timer of its own; the owner calls
   * pollTick() (one timer for all of an agent's units: 1,000 timers of their own wake the event
   * loop 200 times a second).
   */
  readonly pollMs?: number;
  /** How much more of an event log is read and saved before its read part is deallocated (bytes; punch.ts PUNCH_STEP unless a test sets it). */
  readonly punchStep?: number;
  /**
   * The node's cgroups and the agent's top slice (issue 13): the unit's processes are placed in
   * <base>/<Slice=>/<unit> of every hierarchy, its shims in <base>/uo-holders.scope. Undefined:
   * no cgroup (the process tree under the shims, as before issue 13).
   */
  readonly cgroups?: CgroupContext | undefined;
  /** A slice of the agent's between its base and Slice= (cluster mode: the namespace's, naming.ts namespaceSlice()). */
  readonly cgroupGroup?: string | undefined;
  /** What Condition*=/Assert*= are checked against; by default the host's (under hostRoot, with agentEnv as the manager's environment). */
  readonly facts?: Facts | undefined;
  /**
   * The exec runtimes of the units JoinsNamespaceOf= can reach (one per folder or namespace:
   * nsruntime.ts); by default the unit's own, shared by its commands only.
   */
  readonly runtimes?: SharedRuntimes | undefined;
}

/**
 * A start that did not run because of the unit's checks (systemd's unit_start()): an unmet
 * condition skips it (the job is done, the unit stays as it is), a failed assert fails the job
 * (job result "assert"). Not a refusal: the unit may start once its checks hold.
 */
export interface StartNotRun {
  readonly check: 'condition' | 'assert';
  readonly jobResult: 'done' | 'assert';
  /** "unmet condition check ConditionPathExists=/x", "Assertion failed for u.service (AssertPathExists=/y)". */
  readonly message: string;
  /**
   * systemd's status words for the job (the console's, not the journal's, which the runner logs):
   * "u.service was skipped because of an unmet condition check (ConditionPathExists=/x).",
   * "u.service was skipped because no trigger condition checks were met.", "Assertion failed for u.service."
   */
  readonly statusMessage: string;
}

/** How long a "spawn" line may wait for its command's "exec" line (UnitRunner.holdSpawn()). */
const SPAWN_HOLD_MS = 50;

/** The least lead worth preparing a restart with (µs). */
const MIN_PREPARED_LEAD_US = 1_000;

/** How long ago a holder's "exit"/"empty" line may say its happening was and still date the decision it causes (µs). */
const LINE_AGE_MAX_US = 1_000_000;

/** CLOCK_MONOTONIC in µs, the clock of uo-shim's AT and UO_SHIM_NOT_BEFORE fields. */
function hrtimeUs(): number { return Number(process.hrtime.bigint() / 1000n); }

/** The states in which a unit has stopped (systemd's service_enter_dead()), before an automatic restart too. */
const ENDED: ReadonlySet<string> = new Set(['dead', 'failed', 'dead-before-auto-restart', 'failed-before-auto-restart', 'auto-restart', 'auto-restart-queued']);

/**
 * The states in which systemd 257 removes a unit's emptied cgroup (unit_prune_cgroup(): from
 * unit_notify() on entering inactive or failed — the before-auto-restart states too — and from
 * service_set_state() on entering exited): the next invocation gets a new one, so its kernel
 * counters (CPU, memory peak, IO, tasks) are its own (test/fixtures/cgroup-invocation).
 */
const PRUNED: ReadonlySet<string> = new Set([...ENDED, 'exited']);

/** PrivateTmp= on the host's folders (yes; not "disconnected", whose tmpfs leaves nothing to remove). */
const privateTmpAsked = (service: Readonly<Record<string, unknown>> | undefined): boolean => truthy(service?.['privateTmp']);

/** Inactive or failed with no restart to follow. */
const STOPPED: ReadonlySet<string> = new Set(['dead', 'failed']);

// Facts about one spawn record, for the UnitRunner that made it (setupFailures, leadSamples,
// heldForDeadline, emptied below): a record belongs to one runner and one only (made by allocate()
// or read from its own state folder), so one weak collection for every runner holds exactly the
// entries per-runner ones held, and each goes with its record. Per runner, the four empty
// collections were ~0.8 KB of heap each unit (issue 19: 1,000 idle units).
const SETUP_FAILURES = new WeakMap<SpawnRecord, SetupFailure>();
const LEAD_SAMPLES = new WeakMap<SpawnRecord, number>();
const HELD_FOR_DEADLINE = new WeakSet<SpawnRecord>();
const EMPTIED = new WeakSet<SpawnRecord>();
/** The offset up to which a spawn's event log was last deallocated (persist(), punch.ts). */
const PUNCHED = new WeakMap<SpawnRecord, number>();

export function monotonicUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function specHash(spec: ServiceUnitSpec): string {
  const { state: _s, nodeName: _n, nodeSelector: _ns, ...rest } = spec;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

export class UnitRunner {
  readonly unitName: string;
  readonly dir: string;
  cfg: ServiceConfig;
  spec: ServiceUnitSpec;
  /** What the commands run with, parsed from spec.service (context.ts). */
  execContext: ExecContext;
  machine: Machine = INITIAL_MACHINE;
  spawns: SpawnRecord[] = [];
  invocationId = '';
  mainCommandLine: string | undefined;
  /** The agent's id for this unit, saved with its state. */
  id: string | undefined;
  /** Directives the spec sets that this node does not apply (directive table, src/api/applied.ts). */
  notApplied: readonly Unapplied[] = [];
  /** The unapplied directives that protect and are not allowed: the unit may not start. */
  refused: readonly Unapplied[] = [];
  /** Why the unit may not start (from `refused`), or undefined. */
  refusal: string | undefined;
  /** Problems that keep the unit from running as written (bad EnvironmentFile=, unknown User=). */
  readonly problems: string[] = [];
  /**
   * Why the unit may not start because of its state folder (a refused or damaged state file
   * while a previous process may live), or undefined. Status shows it (LoadState error).
   */
  stateError: string | undefined;
  /** The state file is refused (not the agent's alone): nothing is written into its folder. */
  stateRefused = false;
  /** The last write of the state file failed (EROFS, ENOSPC…): why; retried on every poll tick and start. */
  writeError: string | undefined;
  /** How open() found the state: 'recovered' from the event logs of a damaged file, 'clean' (damaged, nothing ran). */
  recovered: 'running' | 'held' | 'clean' | undefined;
  /** State-file writes and engine decisions so far (the benchmark reports them). */
  stateWrites = 0;
  decisions = 0;
  /** Restarts whose spawn was a standby (standby.ts), and of them those its holder had started at the exit. */
  standbyRestarts = 0;
  handedOver = 0;
  private seq = 0;
  private dirty = false;
  /** While > 0, state writes wait for the end of the batch (a poll of one event log). */
  private batchDepth = 0;
  private readonly opts: UnitRunnerOptions;
  private readonly clock: () => number;
  private readonly timer = new Deadline();
  private readonly watchdog = new Deadline();
  private readonly tail: EventLogTail<SpawnRecord>;
  private readonly queue: Event[] = [];
  private dispatching = false;
  private closed = false;
  /** The unit's resource-control directives, parsed (cgroup/apply.ts). */
  resources: Resources | undefined;
  /** The unit's cgroup (undefined without cgroups, or when its name is refused: problems says why). */
  cgroup: UnitCgroup | undefined;
  /** The cgroup the spec names; `cgroup` differs from it while an invocation started under another name runs. */
  private named: UnitCgroup | undefined;
  /** All shims are done but the cgroup still has processes: group-empty waits for it to empty (watched, and polled each tick). */
  private awaitingEmpty = false;
  private emptyWatch: FSWatcher | undefined;
  /** The cgroup is to be removed once it can be (rmdir refused while busy): retried each tick. */
  private pendingRemoval = false;
  /** The invocation whose IP filter is attached to the unit's cgroup (applyUnitIpFilter()). */
  private ipFilterFor: string | undefined;
  /** Why the unit is held because its cgroup has processes no record follows (adoption); cleared when it empties. */
  private cgroupHold: string | undefined;
  /** The unit's cgroup's OOM kill counter when last read (cgroup/oom.ts); undefined before a first reading. */
  private oomSeen: number | undefined;
  /** The exec runtimes this unit's is taken from (nsruntime.ts). */
  private readonly runtimes: SharedRuntimes;
  /** The invocation open() adopted running (its processes' namespaces are its runtime's: adoptedProcess()). */
  private adoptedInvocation: string | undefined;
  /** The runtime record last written to the unit's folder (store.ts runtime.json), as JSON. */
  private runtimeSaved: string | undefined;

  private constructor(opts: UnitRunnerOptions) {
    this.opts = opts;
    this.unitName = opts.unitName;
    this.dir = opts.dir;
    this.spec = opts.spec;
    this.runtimes = opts.runtimes ?? new SharedRuntimes((types, from) => startHolder(opts.shimPath, types, from));
    this.declareJoins();
    this.cfg = configFromSpec(opts.spec, opts.unitName);
    this.execContext = executionContext(this.patchedSpec());
    this.resources = unitResources(this.spec, this.opts.cgroups);
    this.cgroup = this.named = this.nameCgroup();
    this.judge();
    this.clock = opts.clock ?? monotonicUs;
    this.tail = new EventLogTail<SpawnRecord>((rec, why) => this.poll(rec, why), () => this.spawns, opts.pollMs ?? 5000);
  }

  /** Opens a unit: adopts what a previous agent left in `dir` (processes, exits, timers). */
  static open(opts: UnitRunnerOptions): UnitRunner {
    const r = new UnitRunner(opts);
    let read: ReturnType<typeof loadUnitState>;
    try { ensureUnitDir(r.dir); read = loadUnitState(r.dir); } catch (e) {
      // a refused folder (StateError) or one that cannot be made (EROFS…): nothing is adopted
      read = e instanceof StateError ? { t: 'refused', path: e.path, why: e.why } : loadUnitState(r.dir);
      if (!(e instanceof StateError)) r.writeFailed(e);
    }
    if (read.t === 'refused') r.refuseState(read.path, read.why);
    if (read.t === 'ok') { const lie = contradiction(r.dir, read.state); if (lie !== undefined) read = { t: 'damaged', path: stateLabel(r.dir), why: lie }; }
    const said = (level: 'info' | 'notice' | 'warning', m: string): void => r.log(level, m);
    const recovery = read.t === 'damaged' ? recoverState(r.dir, r.unitName, read.path, read.why, r.cfg.type, said) : undefined;
    if (recovery) {
      r.recovered = recovery.outcome;
      if (recovery.hold !== undefined) { r.stateError = recovery.hold; r.problem(recovery.hold); }
    }
    if (read.t === 'ok') r.keepRunningCgroup(read.state.spawns);
    const inCgroup = r.cgroup && cgroupExists(r.cgroup) ? cgroupPids(r.cgroup) : [];
    const saved = read.t === 'ok' ? adoptState(r.dir, read.state, said, inCgroup) : recovery?.state;
    if (saved) {
      // A spec that changed while we were away keeps running under the old config until the
      // caller decides (the agent restarts a unit whose command changed).
      r.machine = saved.machine;
      r.spawns = [...saved.spawns];
      r.seq = saved.seq;
      r.invocationId = saved.invocationId;
      // started: saved so, or its shim wrote its log (a write deferred by a quiet batch, poll(), may not have said so)
      if (saved.spawns.some((s) => !s.done && (s.started || hasSpawnEvents(s)))) r.adoptedInvocation = saved.invocationId;
      r.rejoinRuntime();
      r.mainCommandLine = saved.mainCommandLine;
      r.id = saved.id;
      r.recoverStandby(); // before the spawns are watched or spawned again: an adopted standby may be either
      for (const s of r.spawns) if (!s.done) {
        if (!s.started && !hasSpawnEvents(s)) { r.respawn(s); continue; }
        r.tail.watch(s);
      }
      r.rearmTimers();
    } else r.recoverStandby(); // (with a state, done above)
    r.tail.readAll();
    r.adoptCgroup(read.t === 'ok' && !!saved);
    r.checkOom(); // the baseline: an OOM kill while no agent watched is not seen (the counter has no time)
    if (recovery) r.persist();
    r.adoptIpcOwner();
    r.opened = true;
    return r;
  }

  /**
   * A running invocation keeps the cgroup it was started in when the spec now names another (its
   * Slice= or the naming changed while no agent ran): found from a live process whose start time
   * matches its record; the next invocation takes the new name (updateSpec()).
   */
  private keepRunningCgroup(spawns: readonly SpawnRecord[]): void {
    const ctx = this.opts.cgroups;
    if (!ctx || !this.cgroup) return;
    const live = spawns.find((s) => !s.done && s.pid > 0 && s.pidStart !== undefined && startTime(s.pid) === s.pidStart);
    const actual = live ? cgroupOfPid(ctx, live.pid, (p) => readFileSync(p, 'utf8')) : undefined;
    if (!actual || actual.rel === this.cgroup.rel) return;
    this.log('notice', `${this.unitName}: its running processes are in ${actual.rel}, not ${this.cgroup.rel}; that cgroup is kept until the unit stops`);
    this.cgroup = actual;
    this.cgroupRemoved = undefined;
  }

  /** The unit's cgroup from the spec (Slice=), or undefined with the reason kept as a problem. */
  private nameCgroup(): UnitCgroup | undefined {
    const ctx = this.opts.cgroups;
    if (!ctx || ctx.layout.hierarchies.length === 0) return undefined;
    const slice = this.spec.service?.['slice'];
    let cg: UnitCgroup | undefined;
    const group = this.opts.cgroupGroup;
    // made in the hierarchies systemd would realize it in (realize.ts), not in every one
    const realize = realizeFor(this.spec, this.resources ?? unitResources(this.spec, ctx), ctx.layout.unified !== undefined);
    try { cg = unitCgroup(ctx, this.unitName, slice !== undefined ? String(slice) : undefined, group, realize); } catch (e) {
      this.problem(`${(e as Error).message}; the unit's cgroup is made in ${[ctx.base, group].filter(Boolean).join('/')} instead`);
      cg = unitCgroup(ctx, this.unitName, undefined, group, realize);
    }
    const inside = cg ? insideAgent(ctx.layout, cg.rel) : undefined;
    if (inside) { this.problem(`${inside}; the unit runs without a cgroup of its own`); return undefined; }
    return cg;
  }

  /**
   * Adoption by cgroup: processes in the unit's cgroup that no live shim of its records holds
   * (its state was lost, or an older agent's) keep it from starting a second copy until they
   * end (said, shown, re-checked every tick). Leftovers of KillMode=process/none that a state
   * file in order knows about are only reported, as systemd's "Found left-over process".
   */
  private adoptCgroup(stateInOrder: boolean): void {
    const cg = this.cgroup;
    if (!cg || !cgroupExists(cg) || !isPopulated(cg)) return;
    const live = this.spawns.some((s) => !s.done && s.shimPid > 0 && shimAlive(s)) || (this.standby !== undefined && this.standby.rec.shimPid > 0 && shimAlive(this.standby.rec));
    const pids = cgroupPids(cg);
    if (live) return; // its shims hold the unit; the cgroup's processes are its own (membership)
    const left = ACTIVE_STATE[this.machine.state] === 'inactive' || ACTIVE_STATE[this.machine.state] === 'failed';
    if (stateInOrder && left && (this.cfg.killMode === 'process' || this.cfg.killMode === 'none')) {
      for (const p of pids) this.log('notice', `${this.unitName}: found left-over process ${p} in control group ${cg.rel} (KillMode=${this.cfg.killMode}); ignoring`);
      return;
    }
    this.cgroupHold = `processes of ${this.unitName} (PID ${pids.slice(0, 10).join(', ')}${pids.length > 10 ? ', …' : ''}) still run in its cgroup ${cg.primary}, and no record of this agent holds them; it is not started until they end`;
    this.stateError ??= this.cgroupHold;
    this.problem(this.cgroupHold);
    this.awaitingEmpty = false;
  }

  /**
   * A live process of an invocation a previous agent started (adopted by open()), whose
   * namespaces the runtime takes: the invocation's later commands (ExecStop=, ExecReload=) join
   * the network and IPC namespaces its processes run in. Undefined for a fresh invocation.
   */
  private adoptedProcess(): { pid: number; start: number } | undefined {
    if (!this.adoptedInvocation || this.adoptedInvocation !== this.invocationId) return undefined;
    const live = this.spawns.find((s) => !s.done && s.pid > 0 && s.pidStart !== undefined && startTime(s.pid) === s.pidStart);
    return live ? { pid: live.pid, start: live.pidStart! } : undefined;
  }

  /**
   * The exec runtime the adopted invocation held under the previous agent (store.ts
   * runtime.json): handed to the runtimes to rebuild, so that its later commands see the same
   * PrivateTmp= folders and namespaces. A record of another invocation is stale (removed); one
   * that is refused or broken is said, naming the file, and not used.
   */
  private rejoinRuntime(): void {
    if (this.stateRefused) return;
    const { record, error } = readRuntimeRecord(this.dir);
    if (error !== undefined) {
      this.problem(`${this.unitName}: ${error}; its exec runtime is not rebuilt (its later commands get PrivateTmp= folders and namespaces of their own)`);
      this.log('warning', `${this.unitName}: ${error}; its exec runtime is not rebuilt`);
      this.runtimeSaved = '(refused)'; // removed when the unit lets its runtime go
      return;
    }
    if (!record) return;
    if (record.invocation !== this.adoptedInvocation) { this.saveRuntime(undefined); return; }
    this.runtimeSaved = JSON.stringify(record);
    this.runtimes.rejoin(this.unitName, record, runtimeNeeds(this.spec.service), () => this.adoptedProcess());
  }

  /** Writes (undefined: removes) the runtime record; throws the file system's error. */
  private saveRuntime(r: RuntimeRecord | undefined): void {
    const text = r ? JSON.stringify(r) : undefined;
    if (text === this.runtimeSaved) return;
    writeRuntimeRecord(this.dir, r);
    this.runtimeSaved = text;
  }

  /** JoinsNamespaceOf= as the spec says now (nsruntime.ts: the runtimes go both ways). */
  private declareJoins(): void {
    const v = this.spec.unit?.['joinsNamespaceOf'];
    this.runtimes.declare(this.unitName, Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : [], namespacePaths(this.spec.service));
  }

  /** specHash() of the spec, kept while the spec is the same object (a sha256 of its JSON each write, before). */
  private hashed: { spec: ServiceUnitSpec; hash: string } | undefined;
  private specHashNow(): string {
    if (this.hashed?.spec !== this.spec) this.hashed = { spec: this.spec, hash: specHash(this.spec) };
    return this.hashed.hash;
  }

  /** Writes the state; false (reported, retried later) when the folder refuses the write. spawnSoon: a spawn record, its process started next. */
  persist(spawnSoon = false): boolean {
    if (this.stateRefused) { this.removeDropped(); return false; } // nothing is written into a folder someone else may write to
    this.stateWrites++;
    this.dirty = false;
    try {
      writeUnitState(this.dir, {
        unitName: this.unitName, id: this.id, spec: this.spec, specHash: this.specHashNow(), invocationId: this.invocationId,
        mainCommandLine: this.mainCommandLine, seq: this.seq, machine: this.machine, spawns: this.spawns,
      });
    } catch (e) {
      this.dirty = true;
      this.writeFailed(e);
      return false;
    }
    // the event logs read and saved since they were last freed (punch.ts): rarely more than a compare
    const step = this.opts.punchStep ?? PUNCH_STEP;
    for (const s of this.spawns) {
      if (s.done || s.offset < (PUNCHED.get(s) ?? 0) + step || !shimHasFeature(this.opts.shimPath, 'punch')) continue;
      PUNCHED.set(s, s.offset);
      punchRead(this.opts.shimPath, eventsPath(s.dir), s.offset, (level, m) => this.log(level, `${this.unitName}: ${m}`));
    }
    // the folders it no longer follows go now, or, after a spawn record (spawnSoon), once this
    // turn of the event loop is done: not on the way from a restart's record to its fork (issue
    // 19's restart gap)
    if (this.dropped.length > 0) {
      const gone = this.dropped.splice(0);
      if (spawnSoon) setImmediate(() => this.removeDropped(gone)); else this.removeDropped(gone);
    }
    if (this.writeError !== undefined) {
      const i = this.problems.indexOf(this.writeError);
      if (i >= 0) this.problems.splice(i, 1);
      this.writeError = undefined;
      this.log('notice', `${stateLabel(this.dir)} is written again`);
    }
    return true;
  }

  /** A failed write of the state folder: logged once per reason, kept for status, retried. */
  writeFailed(e: unknown): string {
    const why = `cannot write the state of ${this.unitName} in ${this.dir}: ${fsErrorText(e)}; the unit's processes are left as they are and no new one is started until it can be written (retried every poll)`;
    if (why !== this.writeError) { this.writeError = why; this.problem(why); }
    return why;
  }

  /** A state file or folder that is not the agent's alone: named, never run or used to signal anything. */
  refuseState(path: string, why: string): void {
    this.stateRefused = true;
    this.stateError = `refusing ${path}: ${why}. Nothing in it is run or used to signal a process; the unit is not started while it is there. If the unit is yours, check that none of its processes runs, remove ${this.dir}, and start it again`;
    this.problem(this.stateError);
  }

  /**
   * Why a start (or restart, reload) may not begin now: the state is refused or held by a
   * previous process, or the state folder cannot be written (the write-ahead record of what
   * it would spawn could not reach the disk). Retries a failed write first.
   */
  startBlocker(): string | undefined {
    if (this.stateRefused && loadUnitState(this.dir).t === 'absent') {
      // the operator removed what was refused: start afresh
      this.stateRefused = false;
      this.stateError = undefined;
      try { ensureUnitDir(this.dir); } catch (e) { if (e instanceof StateError) this.refuseState(e.path, e.why); else this.writeFailed(e); }
    }
    if (this.stateError !== undefined) return this.stateError;
    if (this.writeError !== undefined && !this.persist()) return this.writeError;
    const e = unwritable(this.dir);
    return e ? this.writeFailed(e) : undefined;
  }

  /** Applies a new spec (as after daemon-reload); the caller restarts the unit when it must. */
  updateSpec(spec: ServiceUnitSpec, id?: string): void {
    this.settleStandby(); // prepared with the spec before (adoption compares the command too)
    this.spec = spec;
    this.declareJoins();
    this.cfg = configFromSpec(spec, this.unitName);
    this.execContext = executionContext(this.patchedSpec());
    const before = this.resources;
    this.resources = unitResources(this.spec, this.opts.cgroups);
    // the same name keeps the same object: cgroup and named stay one (issue 19: ~1 KB a unit)
    const fresh = this.nameCgroup();
    const cg = this.named = sameCgroup(fresh, this.named) ? this.named : fresh;
    // a new Slice= (or set of hierarchies) takes effect for the next invocation: at once when the
    // cgroup is gone (stopped, or removed for a wait to restart) and no spawn is on its way into
    // it; a cgroup that is there keeps its name until it is removed (pruneCgroup() switches)
    for (const s of this.placed) if (s.done) this.placed.delete(s);
    const there = this.cgroup !== undefined && cgroupExists(this.cgroup);
    if (cg !== this.cgroup && !there && this.placed.size === 0) { this.cgroup = cg; this.cgroupRemoved = undefined; }
    // a cgroup that is there whose new directives need a hierarchy it is not made in: made there
    // now, its processes moved in (realize.ts); what failed is said, and the narrower one kept
    if (there && cg && this.cgroup && cg.rel === this.cgroup.rel && cg.hierarchies.some((h) => !this.cgroup!.hierarchies.includes(h))) {
      const had = this.cgroup.hierarchies, wider = realizedIn(this.cgroup, (h) => had.includes(h) || cg.hierarchies.includes(h));
      const { made, problems } = widenCgroup(this.cgroup, wider);
      for (const m of problems) this.log('warning', `${this.unitName}: ${m}`);
      if (made) this.cgroup = sameCgroup(wider, cg) ? cg : wider;
    }
    this.judge();
    // changed limits reach a running unit at once, as systemctl set-property (no restart: runtimeHash leaves them out)
    const changed: string[] = [], problems: string[] = [];
    if (before && this.resources && this.cgroup && this.opts.cgroups && cgroupExists(this.cgroup) && isPopulated(this.cgroup)) {
      const r = reapplyUnitLimits(before, this.resources, this.cgroup, this.opts.cgroups);
      changed.push(...r.changed); problems.push(...r.problems);
    }
    // the IP filter of an invocation under way (its process may not have joined the cgroup yet) is
    // replaced at once; otherwise the next start attaches the new one
    const underWay = this.activeState !== 'inactive' && this.activeState !== 'failed';
    if (before && this.resources && this.cgroup && this.opts.cgroups && cgroupExists(this.cgroup) && (underWay || isPopulated(this.cgroup))) {
      const ip = reapplyUnitIpFilter(before, this.resources, this.cgroup, this.opts.shimPath, this.opts.cgroups);
      changed.push(...ip.changed);
      if (ip.problem !== undefined) problems.push(`${this.unitName}: the changed cgroup filter (IPAddressAllow=/IPAddressDeny=, SocketBindAllow=/SocketBindDeny=, DevicePolicy=/DeviceAllow= on cgroup2) could not be attached, the previous one stays: ${ip.problem}`);
    } else this.ipFilterFor = undefined;
    if (changed.length > 0) this.log('info', `Applied ${changed.join(', ')} to the running ${this.unitName} (set-property)`);
    for (const m of problems) this.log('warning', m);

    if (id !== undefined) this.id = id;
    this.persist();
  }

  /** Fail closed: a unit that asks for a protection this node does not apply never starts (this.resources: the spec's, read before). */
  private judge(): void {
    this.resources ??= unitResources(this.spec, this.opts.cgroups);
    // judged by the cgroup the spec names (made in the hierarchies its directives need), not by the one an invocation under way keeps
    this.notApplied = [...unappliedDirectives(this.spec), ...resourceGaps(this.spec, this.resources, this.named ?? this.cgroup, this.opts.cgroups, this.opts.shimPath)];
    this.refused = refusedDirectives(this.notApplied, this.opts.allowUnenforced);
    this.refusal = this.loadProblem ?? (this.refused.length > 0 ? refusalMessage(this.refused) : undefined);
  }

  /** Why the unit's file cannot be loaded now (its spec is the last one loaded), undefined when it can. */
  private loadProblem: string | undefined;

  /** Whether the unit's file cannot be loaded now (setLoadProblem()). */
  get badFile(): boolean { return this.loadProblem !== undefined; }

  /**
   * The unit's file is there but cannot be loaded now (why), or loads again (undefined): as
   * systemd's bad-setting unit, it keeps running as it is, and is refused any start — a manual
   * one ("has a bad unit file setting") and its automatic restart (turned into a stop, as for a
   * protection it lacks: send()).
   */
  setLoadProblem(why: string | undefined): void {
    if (why === this.loadProblem) return;
    this.settleStandby();
    this.loadProblem = why;
    this.judge();
  }

  /**
   * Starts the unit; returns why it was refused, if it was (the unit then stays as it is). A
   * start its checks kept from running (an unmet Condition*=, a failed Assert*=) is not a
   * refusal: startJob() reports it, and `skippedStart` keeps it.
   */
  start(): string | undefined { const r = this.startJob(); return typeof r === 'string' ? r : undefined; }

  /** The last start (or restart) that its Condition*=/Assert*= kept from running; undefined once one runs. */
  skippedStart: StartNotRun | undefined;

  /** start(), reporting a start its checks kept from running as well as a refusal. */
  startJob(): string | StartNotRun | undefined {
    if (this.refusal !== undefined) { this.log('warning', `Refusing to start ${this.unitName}: ${this.refusal}`); this.endStandby('its start is refused'); return this.refusal; }
    const blocked = this.startBlocker();
    if (blocked !== undefined) { this.log('warning', `Not starting ${this.unitName}: ${blocked}`); this.endStandby('its start is refused'); return blocked; }
    const skipped = this.checkStart();
    if (skipped !== undefined) return skipped;
    this.send({ t: 'start' });
    return undefined;
  }

  private notRun(check: 'condition' | 'assert', reason: string | undefined): StartNotRun {
    const message = reason ?? check;
    const statusMessage = check === 'assert' ? `Assertion failed for ${this.unitName}.`
      : message.startsWith('unmet condition check ') ? `${this.unitName} was skipped because of an unmet condition check (${message.slice('unmet condition check '.length)}).`
      : `${this.unitName} was skipped because no trigger condition checks were met.`;
    return { check, jobResult: check === 'condition' ? 'done' : 'assert', message, statusMessage };
  }

  private factsCache: Facts | undefined;
  private get facts(): Facts { return (this.factsCache ??= this.opts.facts ?? new HostFacts({ hostRoot: this.opts.hostRoot, env: this.opts.agentEnv ?? process.env })); }

  /**
   * systemd's unit_start(): from inactive or failed (not while active or activating, so never
   * for an automatic restart), the conditions are checked, then the asserts, on the node, and
   * the result kept (ConditionResult=, AssertResult=). An unmet condition leaves the unit as it
   * is (inactive, Result=success); a failed assert too, and fails the start job.
   */
  private checkStart(): StartNotRun | undefined {
    const st = this.activeState;
    if (st !== 'inactive' && st !== 'failed') return undefined;
    const o = startChecks(this.unitName, this.spec.unit, this.facts, this.clock(), this.machine.checks);
    this.machine = { ...this.machine, checks: o.checks };
    for (const l of o.logs) this.log(l.level, l.message);
    this.opts.onDecision?.(properties(this.machine), this.machine, []);
    this.skippedStart = o.verdict === 'start' ? undefined : this.notRun(o.verdict, o.reason);
    if (o.verdict === 'start') return undefined;
    this.dirty = true;
    if (!this.dispatching && this.batchDepth === 0) this.flush();
    this.opts.onChange?.(this);
    return this.skippedStart;
  }
  stop(): void { this.send({ t: 'stop' }); }
  /**
   * Restarts the unit; a refused unit is stopped instead (its new spec may not run here). The
   * start half checks the conditions and asserts: when they do not hold, the unit is stopped
   * and not started (systemd checks them once the stop is done; here, before it begins).
   */
  restart(): string | undefined { const r = this.restartJob(); return typeof r === 'string' ? r : undefined; }

  /** restart(), reporting a start its checks kept from running as well as a refusal. */
  restartJob(): string | StartNotRun | undefined {
    if (this.refusal !== undefined) {
      this.log('warning', `Refusing to start ${this.unitName}: ${this.refusal}`);
      if (this.activeState !== 'inactive' && this.activeState !== 'failed') this.send({ t: 'stop' });
      return this.refusal;
    }
    // a restart whose start could not be recorded is not begun (the running process is kept)
    const blocked = this.startBlocker();
    if (blocked !== undefined) { this.log('warning', `Not restarting ${this.unitName}: ${blocked}`); return blocked; }
    const st = this.activeState;
    if (st === 'inactive' || st === 'failed') {
      const skipped = this.checkStart();
      if (skipped !== undefined) return skipped;
    } else if (st === 'active' || st === 'reloading') {
      const o = startChecks(this.unitName, this.spec.unit, this.facts, this.clock(), this.machine.checks);
      this.machine = { ...this.machine, checks: o.checks };
      for (const l of o.logs) this.log(l.level, l.message);
      if (o.verdict !== 'start') {
        this.skippedStart = this.notRun(o.verdict, o.reason);
        this.send({ t: 'stop' });
        return this.skippedStart;
      }
      this.skippedStart = undefined;
    }
    this.send({ t: 'restart' });
    return undefined;
  }
  reload(): void { this.send({ t: 'reload' }); }
  resetFailed(): void { this.send({ t: 'reset-failed' }); }

  get props(): ReturnType<typeof properties> { return properties(this.machine); }
  get activeState(): string { return ACTIVE_STATE[this.machine.state]; }
  /**
   * A process of the unit is being forked: the engine decided (a simple service is "running"
   * from then on) and its PID comes with the 'spawned' event a few ms later (systemd forks
   * synchronously and never shows that in-between; the status publisher waits it out).
   */
  get forking(): boolean { return this.machine.mainPid === -1 || this.machine.controlPid === -1; }

  /** Feeds one event to the engine and runs what it decides (events it causes are queued). */
  send(ev: Event): void {
    if (this.standby && changesRestart(ev, this.machine.state)) this.settleStandby();
    this.queue.push(ev);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      let changed = false;
      for (let guard = 0; this.queue.length > 0 && guard < 10_000; guard++) {
        let next = this.queue.shift()!;
        // fail closed for automatic restarts too: a refused unit waiting to restart stops instead
        if (this.refusal !== undefined && next.t === 'timer' && this.machine.state === 'auto-restart') {
          this.log('warning', `Refusing to restart ${this.unitName}: ${this.refusal}`);
          next = { t: 'stop' };
        }
        if (next.t === 'start' && (this.machine.state === 'dead' || this.machine.state === 'failed')) {
          this.invocationId = randomUUID().replaceAll('-', '');
          this.problems.length = 0;
        }
        const d = decide(this.machine, next, this.cfg, this.decisionClock(), Math.random()); // randomness enters here, as the clock does
        this.decisions++;
        const before = this.machine.state;
        if (this.batchDepth > 0 && !quiet(this.machine, d.machine, d.effects)) this.urgent = true;
        this.machine = d.machine;
        if (ENDED.has(d.machine.state) && !ENDED.has(before)) this.destroyRuntimeData(d.machine.state !== 'dead' && d.machine.state !== 'failed');
        this.opts.onDecision?.(properties(this.machine), this.machine, d.effects);
        // write-ahead: spawn records, holding their whole effect, are on disk before any process starts
        const records = new Map<Effect, SpawnRecord>();
        for (const e of d.effects) if (e.t === 'spawn') records.set(e, this.adoptStandby(e) ?? this.allocate(e));
        const recorded = records.size === 0 || this.persist(true);
        if (records.size === 0) this.dirty = true;
        for (const e of d.effects) {
          const rec = records.get(e);
          if (rec && !recorded) { this.notSpawned(rec, `its write-ahead record could not be written (${this.writeError ?? 'the state is refused'}); not started`); continue; }
          this.execute(e, rec);
        }
        if (d.machine.state !== before || d.effects.length > 0) changed = true;
      }
      if (this.batchDepth === 0) this.flush();
      if (changed) this.opts.onChange?.(this);
    } finally {
      this.dispatching = false;
    }
    this.afterDispatch();
  }

  /** Set-up failures of spawns whose shim fails the command (issue 14), until its exec-failed line is read. */
  private readonly setupFailures = SETUP_FAILURES;
  /** RemoveIPC=: the user the unit's commands run as, while it counts as running (removeipc.ts). */
  private ipcOwner: { uid: number; gid: number | undefined } | undefined;
  /** The service's UO_SHIM_* variables already warned about (once each: shimproto.ts SERVICE_ENV_PREFIX). */
  private shimNamesSaid: Set<string> | undefined; // made at the first (most units have none: issue 19)

  /**
   * systemd's unit_destroy_runtime_data() when the unit stops (service_enter_dead()): its
   * RuntimeDirectory= (unless RuntimeDirectoryPreserve= keeps it) and its credentials.
   */
  private destroyRuntimeData(restarting: boolean): void {
    const root = this.opts.hostRoot ?? '/';
    const expand = (s: string): string => expandSpecifiers(s, { unitName: this.unitName });
    const problems = removeRuntimeDirectories(execDirectories(this.spec.service), root, restarting, expand);
    if (hasCredentials(credentialPlan(this.spec.service).plan)) { const p = removeCredentials(root, this.unitName); if (p !== undefined) problems.push(p); }
    // the exec runtime (nsruntime.ts): let go; its PrivateTmp= folders go with its last unit
    const ended = this.runtimes.release(this.unitName);
    for (const w of this.runtimes.takeWarnings(this.unitName)) problems.push(w);
    this.adoptedInvocation = undefined;
    if (!this.stateRefused) try { this.saveRuntime(undefined); } catch (err) { problems.push(`its runtime record could not be removed: ${fsErrorText(err)}`); }
    // PrivateTmp= (sandbox.ts): looked for at the first stop this agent sees (what a crash left)
    // and after each invocation whose spec asked for it, not at every stop (two folder listings)
    if (this.tmpSweep) {
      const failed = removePrivateTmp(this.unitName, this.runtimes.ownedBy(this.unitName)?.id, this.opts.hostRoot).failed;
      problems.push(...failed);
      this.tmpSweep = failed.length > 0 || privateTmpAsked(this.spec.service);
    }
    if (ended && ended.owner !== this.unitName) problems.push(...removePrivateTmp(ended.owner, undefined, this.opts.hostRoot).failed);
    // RemoveIPC=: the user's IPC objects once its last unit stopped (removeipc.ts)
    if (this.ipcOwner && !restarting) {
      const o = this.ipcOwner;
      this.ipcOwner = undefined;
      if (unrefUser(o.uid, this.unitName)) { const p = removeIpc(this.opts.shimPath, o.uid, o.gid); if (p !== undefined) problems.push(p); }
    }
    for (const p of problems) this.log('warning', `${this.unitName}: ${p}`);
  }

  /**
   * RemoveIPC= after an agent restart: a unit found running counts again as running as its user
   * (its recorded dynamic user, or User= looked up), so its stop, or the last of that user's
   * units, still removes the user's IPC objects (removeipc.ts).
   */
  private adoptIpcOwner(): void {
    const service = this.patchedSpec().service;
    if (service?.['removeIPC'] !== true || this.unitProcesses().length === 0) return;
    const owner = ipcOwnerOf(service, this.execContext.user, this.dir, this.unitName, this.opts.hostRoot);
    if (!owner || owner.uid === 0) return;
    this.ipcOwner = owner;
    refUser(owner.uid, this.unitName);
  }

  /** The spec as systemd's manager completes it at load: DynamicUser='s user and implied sandbox (src/api/dynamicuser.ts). */
  private patchedSpec(): ServiceUnitSpec {
    const service = withDynamicUser(this.spec.service, this.unitName);
    return service === this.spec.service ? this.spec : { ...this.spec, service };
  }

  /** Writes the state if a decision changed it and no batch is open. */
  private flush(): void {
    if (this.dirty) { this.dirty = false; this.persist(); }
  }

  private allocate(e: SpawnEffect): SpawnRecord {
    const rec = newSpawnRecord(this.dir, ++this.seq, e);
    this.spawns.push(rec);
    return rec;
  }

  private log(level: 'info' | 'notice' | 'warning', message: string): void {
    if (this.logGate.open) this.opts.onLog?.(level, message); // the usual case: no closure a line
    else this.logGate.say(() => this.opts.onLog?.(level, message));
  }

  /** Where the lines of a restart prepared ahead (armTimer()) wait for its deadline, when systemd says them ("Scheduled restart job…"): this unit's, and the dependency engine's about it (sayLog(); loggate.ts). */
  private readonly logGate = new LogGate();

  /** Says a line about this unit that is not the runner's own (the dependency engine's "Started X."), in order with its held lines. */
  sayLog(line: () => void): void { this.logGate.say(line); }

  /** A reason the unit can't run as written: logged, and kept for status until the next start. */
  private problem(message: string): void {
    this.log('warning', message);
    if (!this.problems.includes(message)) this.problems.push(message);
  }

  /** Runs one effect; kinds this runner has no part in (the engine's records for others) pass. */
  private execute(e: Effect, rec: SpawnRecord | undefined): void {
    switch (e.t) {
      case 'spawn': this.spawnShim(e, rec!); break;
      case 'kill':
        killTargets(this.machine, e.targets, e.signal, e.sighup, {
          membership: this.membershipNow(), identity: (pid) => this.identityOf(pid),
          skipped: (pid, why) => { if (why !== PROCESS_GONE) this.log('warning', `${this.unitName}: not signalling PID ${pid}: ${why}`); },
        });
        break;
      case 'arm-timer': this.armTimer(e.deadline, e.gen); break;
      case 'disarm-timer': this.timer.disarm(); break;
      case 'arm-watchdog': this.armWatchdog(e.deadline); break;
      case 'disarm-watchdog': this.watchdog.disarm(); break;
      case 'find-main-pid':
        findMainPid({
          unitName: this.unitName, pidFile: e.pidFile, root: this.opts.hostRoot, guess: e.guess,
          startShim: () => { const s = [...this.spawns].reverse().find((x) => x.kind === 'start'); return s && shimAlive(s) ? s.shimPid : 0; },
          membership: this.membership, controlPid: () => this.machine.controlPid, log: (level, m) => this.log(level, m),
          waiting: () => this.machine.state === 'start', closed: () => this.closed, found: (pid) => { this.send({ t: 'main-pid', pid }); this.noteMainPid(); },
        });
        break;
      case 'log': this.log(e.level, e.message); break;
      // in the order of the decision's effects: a restart's dead comes before its next spawn;
      // exited or a wait to restart ending in dead/failed (a stop) releases it again: its leaf may
      // have been kept (a background process) or removed alone (slices stay while a restart follows)
      case 'state-changed':
        // a restart handed to a standby keeps the cgroup the standby forks into (standby.ts)
        if (this.standby !== undefined && !STOPPED.has(e.to)) break;
        if ((PRUNED.has(e.to) && !PRUNED.has(e.from)) || (STOPPED.has(e.to) && !STOPPED.has(e.from))) this.releaseCgroup();
        break;
      default: break;
    }
  }

  private armTimer(deadline: number, gen: number): void {
    const now = this.clock();
    // an automatic restart's timer fires its lead early (restartlead.ts: what the node's set-up
    // needs); every spawn until the deadline waits for it (spawnShim())
    // (the node's lead: at most half the delay, so that a short RestartSec=, systemd's default 100 ms
    // too, is still prepared — and still measured — when the lead has grown under load)
    const ahead = this.opts.restartLeadUs ?? Math.min(restartLead.current(), Math.floor((deadline - now) / 2));
    // not for PrivatePIDs= (the held process is PID 1 of its namespace: a SIGTERM then is lost), nor
    // with a shim that would not hold the command (built from older sources: it would start early)
    // nor when the restart's job reaches other units (the dependency engine: their stops and starts
    // then happen at the deadline, as systemd's do, not the lead's length early)
    const lead = this.machine.state === 'auto-restart' && ahead >= MIN_PREPARED_LEAD_US && deadline - now > ahead && !truthy((this.spec.service as Record<string, unknown>)['privatePIDs'])
      && this.opts.related?.() !== true
      && shimHasFeature(this.opts.shimPath, 'not-before') ? ahead : 0;
    this.timer.arm(deadline - lead, now, () => {
      if (lead > 0) { this.notBefore = deadline; this.leadSample = lead; this.logGate.hold(Math.ceil((deadline - this.clock()) / 1000)); }
      this.send({ t: 'timer', gen });
      if (STOPPED.has(this.machine.state)) { this.notBefore = undefined; this.leadSample = 0; } // no restart followed (refused, stopped)
    });
  }

  /**
   * The RestartSec= deadline of a restart prepared ahead, until it has passed: every command spawned
   * meanwhile execs no sooner (UO_SHIM_NOT_BEFORE: the main one, ExecStartPost= beside it, an
   * ExecStop= of a stop in the window), and the engine decides as of that deadline (decisionClock()):
   * the restart is the deadline's, its timestamps are the deadline's, only its preparation is early.
   */
  private notBefore: number | undefined;

  /** The pending deadline's time left (µs), 0 once it has passed (and then forgotten). */
  private leftToDeadline(now = this.clock()): number {
    if (this.notBefore === undefined) return 0;
    if (this.notBefore > now) return this.notBefore - now;
    this.notBefore = undefined;
    return 0;
  }

  /** Whether the last read of an event log failed for the agent's own want (said once until a read succeeds). */
  private readBusy = false;
  /** Spawns whose event log is to be read again shortly (readAgain()). */
  private readonly rereads = new Set<SpawnRecord>();

  /**
   * An event log the agent could not open for a want of its own (out of descriptors: EMFILE…) is
   * read again in 500 ms, and so on until it can: inotify may say nothing more (its holder has
   * exited), and the safety-net poll comes only every 30 s. Said once a streak, not at every try.
   */
  private readAgain(rec: SpawnRecord, why: string): void {
    if (!this.readBusy) this.log('warning', `${this.unitName}: cannot read ${why}; read again every 0.5 s until it can`);
    this.readBusy = true;
    if (this.rereads.has(rec) || this.closed) return;
    this.rereads.add(rec);
    setTimeout(() => { this.rereads.delete(rec); this.poll(rec, 'poll'); }, 500).unref();
  }

  /** Whether /proc could not be read when a holder was last looked at (said once until it can again). */
  private procUnreadable = false;

  /**
   * A holder that read as not alive is taken for gone only if /proc can be read now and it still
   * reads so: a read that failed for want of descriptors (EMFILE) says nothing about it, and
   * concluding "vanished" then would let the unit start a second copy beside the live one. It is
   * looked at again at the next poll tick.
   */
  private surelyGone(rec: SpawnRecord): boolean {
    if (!procReadable()) {
      if (!this.procUnreadable) this.log('warning', `${this.unitName}: cannot read /proc now (out of file descriptors or memory?); uo-shim ${rec.shimPid} is not taken for gone, it is looked at again`);
      this.procUnreadable = true;
      return false;
    }
    this.procUnreadable = false;
    return !shimAlive(rec);
  }

  /** The lead the pending deadline's restart was prepared with (µs), until its first spawn takes it as its measure (leadSamples); 0: none. */
  private leadSample = 0;

  /** The first spawn of a prepared restart, with its lead: how early it reaches its hold is the node's set-up time (restartlead.ts). Later spawns in the window (an ExecStop= of a stop) also wait for other things: not measures. */
  private readonly leadSamples = LEAD_SAMPLES;

  /**
   * The time the engine decides at: a prepared restart's deadline while it is ahead; else when
   * the holder line being read says its happening was (lineAt: a command's exit, the group's
   * end — systemd counts RestartSec= from the exit it handles, and so does the agent, not from
   * when it got to the line: not before the decision before, not after now); else now.
   */
  private decisionClock(): number {
    const now = this.clock();
    const left = this.leftToDeadline(now);
    const at = left > 0 ? now + left : this.lineAt !== undefined ? Math.min(now, Math.max(this.lineAt, this.lastDecisionAt)) : now;
    this.lastDecisionAt = at;
    return at;
  }

  /** The time of the decision before (decisionClock()). */
  private lastDecisionAt = 0;

  /** While a batch of event-log lines is read: when its latest "exit"/"empty" line says it happened, on the agent's clock. */
  private lineAt: number | undefined;

  /** Dates the decisions that follow by a holder line's AT (CLOCK_MONOTONIC µs), when it is recent (real clock only: a test's clock is its own). */
  private dateByLine(at: number | undefined): void {
    if (at === undefined || this.opts.clock !== undefined) return;
    const age = hrtimeUs() - at;
    if (age >= 0 && age <= LINE_AGE_MAX_US) this.lineAt = this.clock() - age;
  }

  /** UO_SHIM_NOT_BEFORE for a spawn now: CLOCK_MONOTONIC nanoseconds of the pending deadline, or undefined when none or past. */
  private notBeforeEnv(): string | undefined {
    const left = this.leftToDeadline();
    return left > 0 ? String(process.hrtime.bigint() + BigInt(Math.ceil(left)) * 1000n) : undefined;
  }

  /** Spawns held for a deadline: their "spawn" line is read at once (holdSpawn() would hide the PID a stop in the window must signal). */
  private readonly heldForDeadline = HELD_FOR_DEADLINE;

  private armWatchdog(deadline: number): void { this.watchdog.arm(deadline, this.clock(), () => this.send({ t: 'watchdog-timer' })); }

  private rearmTimers(): void {
    if (this.machine.timer) this.armTimer(this.machine.timer.deadline, this.machine.timer.gen);
    if (this.machine.watchdogDeadline !== undefined) this.armWatchdog(this.machine.watchdogDeadline);
  }

  /** A spawn that is not started: its record dropped, the engine told (spawn-failed, as a failed fork). */
  /** A spawn that could not start (service_spawn() failed): the engine is told, as systemd's "Failed to spawn" paths. */
  private notSpawned(rec: SpawnRecord, why: string, message = why): void {
    this.log('warning', `${this.unitName}: ${rec.kind}[${rec.index}] ${why}`);
    // an adopted standby whose record could not be written: ended (its holder may have started it)
    const after = this.adopting.get(rec);
    if (after !== undefined) { this.adopting.delete(rec); this.dropStandby({ rec, invocationId: this.invocationId, after }, why); }
    rec.done = true;
    try { removeSpawnDir(rec); } catch { /* a read-only state folder: left behind, harmless */ }
    this.spawns = this.spawns.filter((s) => s !== rec);
    this.dirty = true;
    this.send({ t: 'spawn-failed', role: rec.role, message });
    // nothing else of the unit runs: the stop the engine enters ends at once
    if (this.spawns.every((s) => s.done)) this.send({ t: 'group-empty' });
  }

  private spawnShim(e: SpawnEffect, rec: SpawnRecord): void {
    const after = this.adopting.get(rec);
    if (after !== undefined) { this.adopting.delete(rec); this.goStandby(rec, after); return; }
    const l = this.prepareSpawn(e, rec, (why, message) => this.notSpawned(rec, why, message));
    if (!l) return;
    if (e.role === 'main' && e.kind === 'start') this.mainCommandLine = [l.path, ...l.argv.slice(1)].join(' ');
    if (l.setupFailure) this.setupFailures.set(rec, l.setupFailure); // the shim fails the command with its status
    // through the fork server, a second command of the unit (ExecStartPost= right after a
    // Type=simple main process) starts once the first has exec()ed (SPAWN_HOLD_MS at most), in
    // the order the agent's slower spawn() gave them
    if (this.opts.forkServer?.ready && [...this.execPending].some((s) => !s.done)) { this.afterExec.push(() => this.launch(rec, l)); this.armAfterExec(); return; }
    this.launch(rec, l);
  }

  /**
   * Everything of a spawn but its start: its folder, its cgroup and limits, its exec runtime and
   * launch; undefined when it cannot be (told to `fail`, as service_spawn()'s failures).
   */
  private prepareSpawn(e: SpawnEffect, rec: SpawnRecord, fail: (why: string, message?: string) => void): ReturnType<typeof prepareLaunch> | undefined {
    if (privateTmpAsked(this.spec.service) || this.runtimes.ownedBy(this.unitName)?.tmp) this.tmpSweep = true;
    try { createSpawnDir(rec); } catch (err) {
      fail(`cannot make its folder: ${err instanceof StateError ? err.message : this.writeFailed(err)}; not started`);
      return undefined;
    }
    // the unit's cgroup exists in every hierarchy before its first process starts (systemd:
    // unit_realize_cgroup(); a failure fails the spawn, Result=resources)
    let holders: readonly string[] | undefined;
    if (this.cgroup) {
      const existed = this.cgroup.dirs['unified'] !== undefined && existsSync(this.cgroup.dirs['unified']);
      let fresh = false; // made in every hierarchy just now (a restart's new cgroup): its files hold the kernel's initial values
      this.cgroupRemoved = undefined;
      // once a unit under this agent: what an older agent (every hierarchy) or an earlier set left elsewhere
      if (!this.unrealizedSwept) { this.unrealizedSwept = true; removeUnrealized(this.cgroup); }
      const made = { anyMade: false };
      try { fresh = ensureUnitCgroup(this.cgroup, made); } catch (err) {
        this.problem(`${this.unitName}: ${(err as Error).message}`);
        fail(`not started: ${(err as Error).message}`, `Failed to create cgroup ${this.cgroup.rel}: ${(err as Error).message}`);
        return undefined;
      }
      this.pendingRemoval = false;
      this.placed.add(rec);
      // the OOM kill counter's baseline: a memory cgroup made just now counts from 0 (no read)
      if (fresh) this.oomSeen = 0; else this.checkOom();
      // its resource limits, before its first process (systemd: cgroup_context_apply() at realize time)
      // — not again into a cgroup kept since they were (a restart through a standby keeps it): as
      // systemd, which writes a realized cgroup's attributes again only when they are invalidated
      // (made anew in a hierarchy, by another's hand too: its files hold the kernel's defaults there)
      if (this.resources && (made.anyMade || this.limitsOn?.cgroup !== this.cgroup || this.limitsOn.resources !== this.resources)) {
        const problems = applyUnitLimits(this.resources, this.cgroup, this.opts.cgroups!, fresh);
        for (const m of problems) this.log('warning', m);
        this.limitsOn = problems.length === 0 ? { cgroup: this.cgroup, resources: this.resources } : undefined;
      }
      // its IP filter and bind rules (IPAddressAllow=/Deny=, SocketBindAllow=/Deny=), once an invocation, before its first process: one that cannot be attached fails the start
      if (this.resources && this.ipFilterFor !== this.invocationId) {
        const failed = applyUnitIpFilter(this.resources, this.cgroup, this.opts.shimPath, existed, this.opts.cgroups);
        if (failed !== undefined) {
          fail(`not started: its cgroup filter (IPAddressAllow=/IPAddressDeny=, SocketBindAllow=/SocketBindDeny=, DevicePolicy=/DeviceAllow= on cgroup2) could not be attached: ${failed}`, `Failed to attach the cgroup filter to ${this.cgroup.rel}: ${failed}`);
          return undefined;
        }
        this.ipFilterFor = this.invocationId;
      }
      try { holders = ensureHolders(this.opts.cgroups!)?.placement; } catch (err) { this.log('warning', `${this.unitName}: ${(err as Error).message}; its uo-shim stays in the agent's cgroup`); }
    }
    let l: ReturnType<typeof prepareLaunch>;
    try {
      // the exec runtime, at the invocation's first command (systemd: unit_setup_exec_runtime() in service_spawn())
      const runtime = this.runtimes.acquire(this.unitName, runtimeNeeds(this.spec.service), this.invocationId, this.adoptedProcess());
      for (const w of this.runtimes.takeWarnings(this.unitName)) this.log('warning', `${this.unitName}: ${w}`);
      // write-ahead, as the spawn record: whose runtime this is reaches the disk before the command runs
      if (runtime) {
        try { this.saveRuntime({ invocation: this.invocationId, owner: runtime.owner, id: runtime.id, tmp: runtime.tmp, types: [...heldTypes(runtime)], paths: runtime.paths }); } catch (err) {
          throw new Error(`its exec runtime record ${runtimeRecordPath(this.dir)} could not be written (${fsErrorText(err)}); not started`);
        }
      }
      l = prepareLaunch({
        runtime,
        effect: e, exec: this.execContext, cfg: this.cfg, unitName: this.unitName, invocationId: this.invocationId,
        notifySocket: this.notifySocket(), journal: this.logPath(), logMaxBytes: this.opts.logMaxBytes ?? 8 * 1024 * 1024,
        agentEnv: this.opts.agentEnv ?? process.env, hostRoot: this.opts.hostRoot,
        ...(this.cgroup ? { cgroups: this.cgroup.joins, holderCgroups: holders } : {}),
        directories: execDirectories(this.spec.service), credentials: credentialPlan(this.spec.service).plan,
        service: this.patchedSpec().service, // the mount namespace's directives (sandbox.ts), privileges (privs.ts)
        unitDir: this.dir, // DynamicUser='s allocation (dynuser.ts)
      });
    } catch (err) { // the agent never dies of one unit's set-up: the spawn fails (Result=resources)
      fail(`not started: ${(err as Error).message}`, (err as Error).message);
      return undefined;
    }
    for (const p of l.problems) this.problem(p);
    if (this.cgroup && cgroupKilled(this.cgroup)) l.shimEnv['UO_SHIM_CGROUP_FORK'] = '1'; // (ops.ts: cloned into, the command would die at birth)
    for (const name of serviceShimNames(l.shimEnv)) {
      if (this.shimNamesSaid?.has(name)) continue;
      (this.shimNamesSaid ??= new Set()).add(name);
      this.log('warning', `${this.unitName}: its environment sets ${name}, a name of uo-shim's own settings; the service gets it, the holder never reads it as a setting`);
    }
    if (l.failure) { // EnvironmentFile=: service_spawn() fails before fork() (Result=resources)
      this.problem(l.failure.message);
      fail(`not started: ${l.failure.message}`, l.failure.errnoText);
      return undefined;
    }
    const notBefore = this.notBeforeEnv();
    if (notBefore !== undefined) {
      l.shimEnv['UO_SHIM_NOT_BEFORE'] = notBefore;
      this.heldForDeadline.add(rec);
      if (this.leadSample > 0) { this.leadSamples.set(rec, this.leadSample); this.leadSample = 0; }
    }
    // its holder hands the next run over to a standby when it ends (standby.ts)
    if (e.role === 'main' && e.kind === 'start' && e.index === 0 && this.standbyAllowed()) {
      try { l.shimEnv['UO_SHIM_NEXT'] = this.nextMade ??= ensureNextDir(this.dir); l.shimEnv['UO_SHIM_NEXT_SEQ'] = String(rec.seq); } catch { /* no hand-over: the agent spawns the next run itself */ }
    }
    return l;
  }

  // ---- the standby (standby.ts) ----------------------------------------------------------------

  /** The armed (or taken) standby: the next run's spawn, until the restart's spawn adopts it or it is taken back; `after`: the spawn whose holder may start it. */
  private standby: Standby | undefined;
  /** Spawn records adopted from a standby, between the decision's write-ahead and their execute(), with the spawn whose holder could start them. */
  private readonly adopting = new Map<SpawnRecord, number>();
  /** Why the spec's runs are not handed over (standbyConfigReason(), the shim, UNIT_OPERATOR_STANDBY=0), for the spec it was judged for. */
  private standbyJudged: { spec: ServiceUnitSpec; why: string | undefined } | undefined;
  /** The hand-over folder, once made (ensureNextDir()). */
  private nextMade: string | undefined;
  /** A standby could not be prepared or did not wait: none again until the spec changes. */
  private standbyFailed: ServiceUnitSpec | undefined;

  private standbyAllowed(): boolean {
    if (this.standbyJudged?.spec !== this.spec) {
      const why = (this.opts.agentEnv ?? process.env)['UNIT_OPERATOR_STANDBY'] === '0' ? 'UNIT_OPERATOR_STANDBY=0'
        : standbyConfigReason(this.cfg, this.patchedSpec().service) ?? (shimHasFeature(this.opts.shimPath, 'standby') ? undefined : 'uo-shim has no standby');
      this.standbyJudged = { spec: this.spec, why };
    }
    return this.standbyJudged.why === undefined;
  }

  /** After a decision (or a batch of them): a standby the engine will not adopt is ended; one is armed where it may be. */
  private afterDispatch(): void {
    if (this.dispatching || this.batchDepth > 0 || this.closed || this.arming) return;
    if (this.standby) {
      if (!TOWARDS_RESTART.has(this.machine.state) || this.machine.forbidRestart) this.dropStandby(this.standby, `the unit is ${this.machine.state}, not restarting`);
      // a dependency added since: its restarts go through the restart job (units stopped and started around it)
      else if (this.opts.related?.() === true) this.dropStandby(this.standby, 'it is tied to another unit now');
      return;
    }
    // not while open() adopts what an agent before left (the dependency graph is not built yet: related())
    if (!this.opened) return;
    if (this.machine.state !== 'running' || !this.standbyAllowed() || this.standbyFailed === this.spec) return;
    if (this.opts.related?.() === true || this.refusal !== undefined || this.stateRefused || this.writeError !== undefined || this.leftToDeadline() > 0) return;
    if (standbyStateReason(this.machine, this.cfg, this.clock()) !== undefined) return;
    // as soon as the running command's spawn is decided; only its holder may start the standby (armed.<its number>)
    const main = this.spawns.find((s) => s.role === 'main' && s.kind === 'start' && s.index === 0 && !s.done && s.effect !== undefined);
    if (main) this.armStandby(main);
  }

  /**
   * The dependency graph changed (the host rebuilt it): a standby of a unit now tied to another
   * is taken back at once, while its run before still runs — not at that run's end, when its
   * holder has already started it (its run is then ended with SIGKILL).
   */
  relationsChanged(): void {
    if (this.standby && !this.dispatching && this.batchDepth === 0 && this.opts.related?.() === true) this.dropStandby(this.standby, 'it is tied to another unit now');
  }

  private armStandby(main: SpawnRecord): void {
    this.arming = true;
    try { this.armStandbyNow(main); } finally { this.arming = false; }
  }

  /** Set while a standby is prepared: what its set-up causes (an OOM event read then) arms no second one. */
  private arming = false;
  /** open() is done (standbys are armed from then on). */
  private opened = false;

  /** A standby taken whose start the agent refuses now (a dependency engine's start job): ended. */
  private endStandby(why: string): void { if (this.standby) this.dropStandby(this.standby, why); }

  private armStandbyNow(main: SpawnRecord): void {
    const e = main.effect!;
    const rec = newSpawnRecord(this.dir, ++this.seq, e);
    const s: Standby = { rec, invocationId: this.invocationId, after: main.seq };
    this.dirty = true; // the sequence number reaches the state with the next write
    const gaveUp = (why: string): void => {
      this.standbyFailed = this.spec;
      this.nextMade = undefined;
      takeBack(this.dir, s.after);
      this.placed.delete(rec);
      try { removeStandbyFile(this.dir); removeSpawnDir(rec); } catch { /* left behind, harmless */ }
      this.log('notice', `${this.unitName}: no standby for its next run (${why}); its restarts are spawned by the agent`);
    };
    let why: string | undefined;
    const l = this.prepareSpawn(e, rec, (w) => { why = w; });
    if (!l) { gaveUp(why ?? 'its set-up failed'); return; }
    l.shimEnv['UO_SHIM_STANDBY'] = nextDir(this.dir);
    l.shimEnv['UO_SHIM_STANDBY_AGENT'] = String(process.pid);
    l.shimEnv['UO_SHIM_STANDBY_SEQ'] = String(rec.seq);
    l.shimEnv['UO_SHIM_STANDBY_AFTER'] = String(s.after);
    // write-ahead: a restarted agent takes back or adopts what this file names (standby.ts); then armed
    try {
      this.nextMade ??= ensureNextDir(this.dir);
      writeStandbyFile(this.dir, { seq: rec.seq, after: s.after, effect: e, invocationId: this.invocationId });
      arm(this.dir, s.after, rec.seq);
    } catch (err) { gaveUp(fsErrorText(err)); return; }
    if (l.setupFailure) this.setupFailures.set(rec, l.setupFailure);
    this.standby = s;
    this.startHolder(rec, l, () => this.standbyExited(s));
  }

  /** A standby's holder ended: adopted, its exit is read as any spawn's; forgotten, nothing; not run, it is forgotten. */
  private standbyExited(s: Standby): void {
    if (this.spawns.includes(s.rec)) { this.poll(s.rec); return; }
    if (this.standby !== s || standbyRan(s.rec.dir)) return; // taken and run: the restart's spawn reads what it did
    // it ended while armed (it could not wait: no pidfd, its folder; or killed): no standby again for this spec
    if (takeBack(this.dir, s.after)) { this.standbyFailed = this.spec; this.log('notice', `${this.unitName}: its standby (uo-shim ${s.rec.shimPid}) ended without being taken; its restarts are spawned by the agent`); }
    this.forgetStandby(s);
  }

  private forgetStandby(s: Standby): void {
    if (this.standby === s) this.standby = undefined;
    this.placed.delete(s.rec);
    this.setupFailures.delete(s.rec);
    // the folder first: standby.json keeps its number from being handed out again while it is there
    try { removeSpawnDir(s.rec); removeStandbyFile(this.dir); } catch { /* left behind, harmless */ }
  }

  /**
   * Something that may change the engine's restart decision (a stop, a reload, a kill, a timeout,
   * a new spec) comes: the standby is taken back. When its holder took it first, the restart has
   * begun: the exit lines are read now (unless they are being read: a batch's own event), so that
   * the engine hears of the exit before what comes.
   */
  private settleStandby(): void {
    const s = this.standby;
    if (!s) return;
    if (takeBack(this.dir, s.after)) { this.forgetStandby(s); return; }
    if (this.batchDepth === 0) for (const r of this.spawns) if (!r.done) this.poll(r);
  }

  /** Ends a standby the engine will not adopt: taken back; or, taken, its `go` retracted; or, running, its processes killed. */
  private dropStandby(s: Standby, why: string): void {
    if (!takeBack(this.dir, s.after) && !retract(this.dir)) {
      // its command runs or is about to: its holder is stopped first (it forks nothing more), then
      // what it started, stopped too, round after round while the stopped holder keeps them in its
      // tree, so that nothing forked meanwhile is left (a hostile probe's command forking as it was
      // killed left orphans holding its lock beside the next run), then the holder
      const holder = s.rec.shimPid > 0 ? s.rec.shimPid : shimLinePid(s.rec.dir);
      if (holder > 0 && isHolderOf(holder, s.rec.dir, s.rec.shimStart)) {
        signal(holder, 19);
        for (let i = 0; i < 50 && !stoppedNow(holder); i++) pause(1); // SIGSTOP lands within a scheduling tick; bounded
        for (let round = 0; round < 32; round++) {
          const tree = descendants([holder], true);
          if (tree.length === 0) break;
          for (const pid of tree) signal(pid, 19);
          for (const pid of tree) signal(pid, 9);
        }
        signal(holder, 9);
        this.log('warning', `${this.unitName}: the run its holder had started at once (standby, uo-shim ${holder}) is ended with SIGKILL: ${why}`);
      }
      // every spawn of the engine's done (the run before has ended: the standby was taken once its
      // holder's last process was reaped, or at the restart decision): what is in the cgroup is the
      // standby's, frozen and killed (not through cgroup.kill: the next run is cloned into the same
      // cgroup, ops.ts cgroupKilled()). Not so for a standby a restarted agent cannot tell about:
      // the run before may live on, adopted (its record may not know its holder's PID yet)
      if (this.spawns.every((r) => r.done)) this.membership.signalAll?.call(this.membership, 9, { cont: true, noKillFile: true });
    }
    this.forgetStandby(s);
  }

  /** Adopts the standby as the engine's spawn `e`, when it is that spawn; else ends it (the engine spawns anew). */
  private adoptStandby(e: SpawnEffect): SpawnRecord | undefined {
    const s = this.standby;
    if (!s) return undefined;
    if (e.role !== 'main' || e.kind !== 'start' || e.index !== 0 || s.invocationId !== this.invocationId || JSON.stringify(e) !== JSON.stringify(s.rec.effect)
      || (this.cgroup !== undefined && this.cgroupRemoved !== undefined) || (s.rec.shimPid > 0 && !shimAlive(s.rec) && !standbyRan(s.rec.dir))) {
      this.dropStandby(s, 'the restart is not the one it was prepared for');
      return undefined;
    }
    this.standby = undefined;
    this.adopting.set(s.rec, s.after);
    this.spawns.push(s.rec);
    return s.rec;
  }

  /** The adopted standby starts (if its holder has not started it already) and is read as the restart's spawn. */
  private goStandby(rec: SpawnRecord, after: number): void {
    this.standbyRestarts++;
    if (!take(this.dir, after)) this.handedOver++;
    try { removeStandbyFile(this.dir); } catch { /* the state file names it now */ }
    if (this.cgroup) { this.pendingRemoval = false; this.cgroupRemoved = undefined; }
    this.tail.watch(rec);
    this.execPending.add(rec);
    this.poll(rec);
  }

  /** A restarted agent's standby: taken back if still armed, kept for adoption if taken, started if adopted. */
  private recoverStandby(): void {
    if (this.stateRefused) return; // nothing in a refused folder is used
    const f = readStandbyFile(this.dir);
    if (!f) return;
    this.seq = Math.max(this.seq, f.seq);
    const adopted = this.spawns.find((r) => r.seq === f.seq);
    if (adopted) {
      // the adoption's write-ahead was done, its go may not have been: given now; a standby that
      // took itself back meanwhile (its agent died) never ran: its record is spawned anew
      if (!take(this.dir, f.after) && !standbyRan(adopted.dir) && !(adopted.shimPid > 0 && shimAlive(adopted)) && !isHolderOf(shimLinePid(adopted.dir), adopted.dir)) {
        adopted.started = false;
        try { removeSpawnDir(adopted); } catch { /* respawn() makes it again */ }
      }
      removeStandbyFile(this.dir);
      return;
    }
    const rec = newSpawnRecord(this.dir, f.seq, f.effect);
    const s: Standby = { rec, invocationId: f.invocationId, after: f.after };
    rec.started = true;
    rec.shimPid = shimLinePid(rec.dir);
    if (rec.shimPid > 0 && isHolderOf(rec.shimPid, rec.dir)) rec.shimStart = startTime(rec.shimPid); else rec.shimPid = 0;
    // still armed: taken back; taken (its go, or its command started): kept for the restart to adopt
    if (takeBack(this.dir, f.after)) { this.forgetStandby(s); return; }
    if (tokenOf(this.dir) === f.seq || standbyRan(rec.dir)) { this.standby = s; return; }
    // neither: it took itself back, or it is between taking its go and saying so: a live one is ended
    this.dropStandby(s, 'a restarted agent cannot tell whether it ran');
  }

  /**
   * The unit's membership without the standby's holder and what it started (not the engine's until
   * adopted: the kills of the run before must not reach the run after). Judged per process as it
   * is read (its parent chain), not from a list taken before: the standby may fork meanwhile.
   */
  private membershipNow(): Membership {
    const s = this.standby;
    // (even while armed: the holder may take it between this look and the kill; so no cgroup.kill
    // for such a unit, its processes are signalled one by one)
    if (!s) return this.membership;
    // its holder by its PID, or, before the fork server's answer gave it, as a uo-shim none of the spawns has
    const m = this.membership, holder = s.rec.shimPid, ours = new Set(this.spawns.map((r) => r.shimPid));
    const theirs = (pid: number): boolean => startedByStandby(pid, holder, s.rec.dir, ours);
    return { holders: () => m.holders(), pids: () => m.pids().filter((p) => !theirs(p)), has: (p) => !theirs(p) && m.has(p), cgroup: m.cgroup };
  }

  /** Whether the unit's cgroup holds a process of the unit's (the standby's, not adopted yet, are not). */
  private populatedNow(cg: UnitCgroup): boolean {
    return isPopulated(cg) && (this.standby === undefined || this.membershipNow().pids().length > 0);
  }

  /** Spawns whose command has not exec()ed yet (no "exec" or "exec-failed" line read). */
  private readonly execPending = new Set<SpawnRecord>();
  /** Launches waiting for execPending to empty (spawnShim()), and the timer that ends their wait. */
  private readonly afterExec: (() => void)[] = [];
  private afterExecTimer: NodeJS.Timeout | undefined;

  private armAfterExec(): void {
    if (this.afterExecTimer) return;
    this.afterExecTimer = setTimeout(() => { this.afterExecTimer = undefined; this.runAfterExec(true); }, SPAWN_HOLD_MS);
    this.afterExecTimer.unref();
  }

  /** Starts the launches that waited, one at a time while each next waits for the one before. */
  private runAfterExec(expired = false): void {
    for (const s of this.execPending) if (s.done) this.execPending.delete(s);
    while (this.afterExec.length > 0 && (expired || this.execPending.size === 0) && !this.closed) { this.afterExec.shift()!(); expired = false; }
    if (this.afterExec.length > 0 && !this.closed) this.armAfterExec();
    else if (this.afterExecTimer) { clearTimeout(this.afterExecTimer); this.afterExecTimer = undefined; }
  }

  /** Starts the shim of a spawn whose folder, cgroup and launch are ready. */
  private launch(rec: SpawnRecord, l: ReturnType<typeof prepareLaunch>): void {
    this.tail.watch(rec); // before the shim runs, so that none of its first lines go unnoticed
    // RemoveIPC= (implied by DynamicUser=): the unit counts as running as its user until it stops
    const ipcUid = l.shimEnv['UO_SHIM_UID'];
    if (ipcUid !== undefined && ipcUid !== '0' && this.patchedSpec().service?.['removeIPC'] === true) {
      this.ipcOwner = { uid: Number(ipcUid), gid: l.shimEnv['UO_SHIM_GID'] !== undefined ? Number(l.shimEnv['UO_SHIM_GID']) : undefined };
      refUser(this.ipcOwner.uid, this.unitName);
    }
    this.execPending.add(rec);
    this.startHolder(rec, l, () => this.poll(rec));
  }

  /** Starts a spawn's uo-shim (through the fork server, or spawn()), its identity recorded; `onExit` when its exit is told. */
  private startHolder(rec: SpawnRecord, l: ReturnType<typeof prepareLaunch>, onExit: () => void): void {
    // through the fork server, the shim's PID comes with its answer (or its "shim" line, whichever
    // is first); like a spawn()ed shim's, it reaches the state file with the next write (no write
    // of its own: a restarted agent finds the shim by its event log's "shim" line all the same)
    const known = (pid: number): void => {
      if (rec.done || this.closed || (rec.shimPid === pid && rec.shimStart !== undefined)) return;
      rec.shimPid = pid;
      rec.shimStart = startTime(pid);
    };
    rec.bootId = bootId();
    rec.started = true;
    rec.shimPid = startShim(this.opts.shimPath, eventsPath(rec.dir), l, (m) => this.log('warning', m), onExit, this.opts.forkServer, known);
    if (rec.shimPid > 0) rec.shimStart = startTime(rec.shimPid);
  }

  /** Redoes a spawn an agent crash interrupted, as the engine decided it (a version-1 record: from the config). */
  private respawn(rec: SpawnRecord): void {
    if (rec.effect) { this.spawnShim(rec.effect, rec); return; }
    const cmd = this.cfg.exec[rec.kind][rec.index];
    if (!cmd) { rec.done = true; return; }
    this.spawnShim({ t: 'spawn', role: rec.role, kind: rec.kind, index: rec.index, command: cmd, env: {} }, rec);
  }

  logPath(): string { return journalPath(this.dir); }

  /** One tick of the safety-net poller (see pollMs). */
  pollTick(): void {
    this.tail.tick();
    this.cgroupTick();
    if (this.writeError !== undefined && !this.dispatching && this.batchDepth === 0) this.persist(); // the retry of a failed write
    else if (this.dirty && !this.dispatching && this.batchDepth === 0) this.flush(); // a quiet batch's changes (poll())
  }

  /** Reads what a shim wrote since last time and turns it into engine events. */
  private poll(rec: SpawnRecord, why: ReadCause = 'poll'): void {
    if (rec.done || this.closed) return;
    this.batchDepth++;
    try { this.pollBatch(rec, why); } finally { this.batchDepth--; }
    if (this.batchDepth > 0) return;
    // what a batch of event-log lines changed is written at its end when it must be (urgent), and
    // then not when a timer is due at once (RestartSec=0): that timer's decision, in this turn of
    // the event loop, writes it with the restart's spawn record. Quiet batches wait for the next
    // write (pollTick() at the latest): a restarted agent reads their lines again from the offsets
    // saved with the rest (issue 19: 4 writes a restart → 2, 1 at RestartSec=0)
    const urgent = this.urgent;
    this.urgent = false;
    if (urgent && !this.timerDue()) this.flush();
    this.afterDispatch();
  }

  /** A batch of event-log lines made a decision that is not quiet() (or ended a spawn): written at the batch's end. */
  private urgent = false;

  /** The state timer is due now: it fires in this turn of the event loop (Deadline.arm()), and its decision writes. */
  private timerDue(): boolean { return this.machine.timer !== undefined && this.machine.timer.deadline <= this.clock(); }

  /** A spawn's command has exec()ed (or failed to): launches that waited for it go on. */
  private execDone(rec: SpawnRecord): void {
    this.placed.delete(rec);
    if (this.execPending.delete(rec) && this.afterExec.length > 0) queueMicrotask(() => this.runAfterExec());
  }

  /** Spawns whose "spawn" line waits for its "exec" line (holdSpawn()): the timer, or 'expired'. */
  private readonly spawnHolds = new Map<SpawnRecord, NodeJS.Timeout | 'expired'>();

  /**
   * Where to stop reading a batch: at a "spawn" line whose "exec" (or "exec-failed") line is not
   * there yet, for SPAWN_HOLD_MS at most, so that the engine hears of the main process once it
   * has exec()ed where it can (Type=simple is running from the fork on, and what reads its
   * /proc files then sees the command, not the shim's child in its set-up). The agent's own
   * spawn() used to give that time by itself; the fork server answers sooner. A shim that is
   * gone holds nothing: its lines are all there is.
   */
  private holdSpawn(rec: SpawnRecord, lines: readonly string[], lookAtShim: boolean): number {
    const i = lines.findIndex((l) => l.startsWith('spawn '));
    const hold = this.spawnHolds.get(rec);
    // (a shim gone since is told by the poll its reaped exit makes: lookAtShim then)
    if (i < 0 || this.heldForDeadline.has(rec) || lines.slice(i + 1).some((l) => l.startsWith('exec ') || l.startsWith('exec-failed ')) || hold === 'expired' || (lookAtShim && rec.shimPid > 0 && !shimAlive(rec))) {
      if (hold !== undefined && hold !== 'expired') clearTimeout(hold);
      this.spawnHolds.delete(rec);
      return lines.length;
    }
    if (hold === undefined) {
      const t = setTimeout(() => { this.spawnHolds.set(rec, 'expired'); this.poll(rec); }, SPAWN_HOLD_MS);
      t.unref();
      this.spawnHolds.set(rec, t);
    }
    return i;
  }

  /** Reads a spawn's new event-log lines; the decisions they cause are dated by their lines (lineAt) until it returns. */
  private pollBatch(rec: SpawnRecord, why: ReadCause = 'poll'): void {
    try { this.readBatch(rec, why); } finally { this.lineAt = undefined; }
  }

  /**
   * Reads a spawn's new event-log lines. Whether its shim still lives (/proc reads: shimAlive())
   * is asked when nothing new was read, on a poll, or when no one will tell of its exit — not
   * after lines inotify announced from a shim whose reaped exit the fork server or Node will
   * report (startShim()'s onExit: a poll then; issue 19: 3-4 such checks a restart, ~10 % of
   * the agent's time in a RestartSec=0 loop).
   */
  private readBatch(rec: SpawnRecord, why: ReadCause): void {
    const read = readNewLines(eventsPath(rec.dir), rec.offset);
    if (read.refused !== undefined) { this.problem(`refusing the event log ${read.refused}; it is not read`); return; }
    if (read.busy !== undefined) { this.readAgain(rec, read.busy); return; }
    this.readBusy = false;
    const lookAtShim = why === 'poll' || read.lines.length === 0 || !exitWatched(rec.shimPid, this.opts.forkServer);
    const held = this.holdSpawn(rec, read.lines, lookAtShim);
    const lines = read.lines.slice(0, held);
    const offset = held === read.lines.length ? read.offset : held === 0 ? rec.offset : read.ends![held - 1]!;
    if (lines.some(isEmptyLine)) this.emptied.add(rec);
    for (const line of lines) {
      this.lineAt = undefined; // a line that says no time is read now
      const ev = parseShimLine(line);
      if (!ev) continue;
      switch (ev.t) {
        case 'shim': rec.started = true; if (rec.shimPid !== ev.pid) { rec.shimPid = ev.pid; rec.shimStart = startTime(ev.pid); } break;
        case 'spawn': rec.pid = ev.pid; rec.pidStart = startTime(ev.pid); rec.offset = offset; this.send({ t: 'spawned', role: rec.role, pid: ev.pid }); break;
        case 'exec': {
          // a held command says how early it got to its hold: the node's set-up time, which sizes the lead (restartlead.ts)
          const lead = this.leadSamples.get(rec);
          if (lead !== undefined && ev.slack !== undefined && this.opts.restartLeadUs === undefined) restartLead.observe(lead, ev.slack);
          // the held command ran: its deadline is past, the lines held for it are said before what follows
          if (lead !== undefined) this.logGate.release();
          this.execDone(rec);
          this.send({ t: 'exec-ok', pid: ev.pid });
          break;
        }
        case 'exec-failed': {
          this.execDone(rec);
          const f = this.setupFailures.get(rec); // an exec directory or the credentials (issue 14): systemd's step and errno
          this.setupFailures.delete(rec);
          this.log('warning', setupFailure(this.cfg.exec[rec.kind][rec.index]?.path ?? '?', f && f.status === ev.status ? { ...ev, step: f.step, errnoText: f.errnoText } : ev));
          break;
        }
        case 'note': if (ev.step === 'CGROUP' && ev.pid === rec.shimPid) { this.log('warning', `uo-shim ${ev.pid} of ${this.unitName} could not join the holders' cgroup ${ev.value ?? '?'}: ${errnoText(ev.errno)}; it dies with the agent's cgroup`); break; }
          // the command's own: its cgroup's file refused it, and it fails at step CGROUP (219) next, as systemd's exec_invoke() says it
          if (ev.step === 'CGROUP') { this.problem(`${this.unitName}: Failed to attach to cgroup ${ev.value ?? '?'}: ${errnoText(ev.errno)}`); break; }
          this.log('notice', ev.step === 'OOM_ADJUST'
          ? `Failed to adjust OOM setting, assuming containerized execution, ignoring: ${errnoText(ev.errno)}`
          : `Failed at step ${ev.step}, ignoring: ${errnoText(ev.errno)}${ev.value !== undefined ? ` (applied ${ev.value} instead)` : ''}`); break;
        case 'exit': this.dateByLine(ev.at); this.checkOom(); this.send({ t: 'exited', pid: ev.pid, code: ev.code, status: ev.status }); break;
        case 'notify':
          // A lone BARRIER=1 (sd_notify_barrier(), sent by systemd-notify) is consumed by the
          // manager and never reaches the unit (manager_process_barrier_fd()).
          if (Object.keys(ev.fields).length === 1 && ev.fields['BARRIER'] === '1') break;
          {
            // judged by the sender's credentials before the engine sees it (notifyaccess.ts)
            const fields = this.notifyJudge.judge(ev, { access: this.cfg.notifyAccess, machine: this.machine, membership: this.membership });
            if (fields === undefined) break;
            this.urgent = true; // judged by its sender's credentials now: read again later, it may be judged otherwise
            this.send({ t: 'notify', pid: ev.pid, fields });
            this.noteMainPid();
          }
          break;
        case 'notify-dropped': this.notifyJudge.dropped(ev); break;
        case 'empty': this.dateByLine(ev.at); rec.done = true; this.tail.unwatch(rec); break;
      }
    }
    rec.offset = offset;
    // A shim re-executing itself into hold mode (issue 19) has no command line for a moment while
    // execve() swaps its memory: shimAlive() counts that process (same start time) as alive, and
    // it is looked at again at the next poll or read (lookAtShim) — for REEXEC_GRACE_MS at most, then it is
    // judged by its command line
    if (lookAtShim && !rec.done && rec.started && rec.shimPid > 0 && !shimAlive(rec) && this.surelyGone(rec)) {
      if (reexecOverdue(rec.shimPid, rec.shimStart)) {
        this.log('warning', `uo-shim ${rec.shimPid} of ${this.unitName} has read as no command line for more than ${REEXEC_GRACE_MS / 1000} s (stuck inside execve(), or no uo-shim any more); it is judged by its command line`);
      }
      // The shim died without saying "empty" (killed from outside): what it held is gone or orphaned.
      const again = readNewLines(eventsPath(rec.dir), rec.offset);
      if (again.lines.length > 0) { this.pollBatch(rec, 'poll'); return; }
      this.lineAt = undefined; // now, not a line's time
      this.log('warning', `uo-shim ${rec.shimPid} of ${this.unitName} vanished; treating its processes as killed`);
      if (rec.pid > 0) this.send({ t: 'exited', pid: rec.pid, code: 'killed', status: 9 });
      rec.done = true;
      this.tail.unwatch(rec);
    }
    if (lines.length > 0 || rec.done) {
      if (this.spawns.every((s) => s.done)) {
        // their folders (event logs) go once a state file without their records is on disk
        // (persist()): a restarted agent that finds a record not done reads its exit there
        this.spawns = this.spawns.filter((s) => { if (s.done) this.dropped.push(s); return !s.done; });
        if (this.recovered === 'held' && this.stateError !== undefined) {
          this.log('notice', `${this.unitName}: the processes a damaged state file left are gone; the unit may start again`);
          const i = this.problems.indexOf(this.stateError);
          if (i >= 0) this.problems.splice(i, 1);
          this.stateError = undefined;
        }
        this.groupDone();
      }
      // what the engine decided is written (send() marks it); lines it was not told of (the
      // "shim" line, notes) are not worth a write of their own: the event log keeps them, and a
      // restarted agent reads them again from the offset saved with the rest
      if (rec.done) { this.dirty = true; this.urgent = true; }
    }
  }

  /** Spawn records dropped from `spawns` whose folders wait for the next written state (persist()). */
  private readonly dropped: SpawnRecord[] = [];

  private removeDropped(gone: readonly SpawnRecord[] = this.dropped.splice(0)): void {
    for (const s of gone) {
      try { removeSpawnDir(s); } catch (e) { this.log('warning', `cannot remove ${s.dir}: ${fsErrorText(e)}; it is left behind`); }
    }
  }

  /** Every live process of the unit except the shims themselves (only shims /proc confirms: shimAlive). */
  unitProcesses(): number[] { return this.membership.pids(); }

  /** The unit's processes: its cgroup, and the trees under its live shims (membership.ts). */
  readonly membership: Membership = cgroupMembership(() => this.cgroup, () => this.liveShims(false), () => this.liveShims(true));

  /** The live shims of the unit's spawns; withTree: only those that may still hold a process (not emptied). */
  private liveShims(withTree: boolean): number[] {
    return this.spawns.filter((s) => !s.done && s.shimPid > 0 && !(withTree && this.emptied.has(s)) && shimAlive(s)).map((s) => s.shimPid);
  }

  /** Spawns whose holder wrote "empty" in the batch being read: no process is left under it, so the decisions of the lines before (a main exit's kill) walk no tree for it. */
  private readonly emptied = EMPTIED;

  /** Tasks, memory and CPU from the unit's cgroup; undefined without one (status then scans /proc). */
  cgroupUsage(): CgroupUsage | undefined {
    return this.cgroup && cgroupExists(this.cgroup) ? readUsage(this.cgroup) : undefined;
  }

  /**
   * Every shim is done: the group is empty when the cgroup is too (systemd's "cgroup empty"
   * event). Processes the shims no longer hold (a shim killed from outside) keep the unit's
   * stop going until they end: cgroup.events is watched, and polled each tick.
   */
  private groupDone(): void {
    const cg = this.cgroup;
    if (cg && !this.cgroupHold && cgroupExists(cg) && this.populatedNow(cg)) {
      if (!this.awaitingEmpty) {
        // none listed: exiting processes (zombies) whose parent has not reaped them yet — orphans of
        // a killed holder wait for the node's init to
        const left = cgroupPids(cg);
        this.log('notice', `${this.unitName}: its uo-shims are done but processes remain in its cgroup (${left.length > 0 ? `PID ${left.join(', ')}` : 'exiting ones, not reaped yet'}); waiting for them to end`);
      }
      this.awaitingEmpty = true;
      this.watchEmpty(cg);
      return;
    }
    this.awaitingEmpty = false;
    this.unwatchEmpty();
    this.send({ t: 'group-empty' });
    // in exited only the removal its entry asked for and left for its commands' shims (systemd 257 prunes when it enters exited)
    if (cg && (ENDED.has(this.machine.state) || (this.machine.state === 'exited' && this.pendingRemoval))) this.releaseCgroup();
  }

  private watchEmpty(cg: UnitCgroup): void {
    const f = eventsFile(cg);
    if (!f || this.emptyWatch || this.closed) return;
    try {
      this.emptyWatch = watch(f, () => { if (this.awaitingEmpty && !this.populatedNow(cg)) this.groupDone(); });
      this.emptyWatch.on('error', () => this.unwatchEmpty());
      this.emptyWatch.unref();
    } catch { /* polled each tick */ }
  }

  private unwatchEmpty(): void { this.emptyWatch?.close(); this.emptyWatch = undefined; }

  /**
   * The unit entered a state in which systemd removes its cgroup (PRUNED: stopped, failed,
   * waiting to restart, exited): removed now when empty, else once it empties (pruneCgroup(),
   * each tick, while the unit stays in such a state). A cgroup with processes is never removed.
   */
  private releaseCgroup(): void {
    // removed by this agent and not made since: no second removal (a wait to restart releases it
    // as it is entered and again when the group empties: each rmdir() then fails, in every
    // hierarchy) — but a leaf removed alone still has its slices to remove once the unit stops
    if (!this.cgroup || this.cgroupRemoved === 'all' || (this.cgroupRemoved === 'leaf' && !this.stopped())) return;
    this.pendingRemoval = true;
    this.pruneCgroup(true);
  }

  /** Inactive or failed with no restart to follow (its slices go with its cgroup when they empty). */
  private stopped(): boolean { return STOPPED.has(this.machine.state); }

  /** Whether the next stop looks for PrivateTmp= folders to remove (destroyRuntimeData()). */
  private tmpSweep = true;

  /** The cgroup object and limits last written whole into it (prepareSpawn(); a hierarchy made anew since is written again there: ensureUnitCgroup()'s anyMade). */
  private limitsOn: { readonly cgroup: UnitCgroup; readonly resources: Resources } | undefined;

  /** Whether spawnShim() removed the cgroup's folders in the hierarchies it is not made in (removeUnrealized()). */
  private unrealizedSwept = false;

  /** The unit's cgroup was removed by pruneCgroup() and not made again since (spawnShim()): its leaf alone (a wait to restart), or with its empty slices (stopped). */
  private cgroupRemoved: 'leaf' | 'all' | undefined;

  /** Spawns whose cgroup spawnShim() made, until their command exec()ed, failed, or they are done (pruneCgroup() leaves the cgroup while one is on its way into it). */
  private readonly placed = new Set<SpawnRecord>();

  /** Removes the unit's cgroup once the unit is in a PRUNED state and its cgroup empty (retried each tick while busy). */
  private pruneCgroup(now = false): void {
    const cg = this.cgroup;
    if (!cg || !this.pendingRemoval) return;
    // retried while stopped or waiting to restart; in exited only when it is entered (systemd 257
    // keeps the cgroup a background process held there, also once that process ended)
    if (!now && (!PRUNED.has(this.machine.state) || this.machine.state === 'exited')) { this.pendingRemoval = false; return; }
    // a spawn the cgroup was made for may have its command on its way into it (the shim not
    // started yet, or not joined; the command joins before it exec()s): removing the folder
    // under it would fail it at step CGROUP
    for (const s of this.placed) if (s.done) this.placed.delete(s);
    if (this.placed.size > 0) return;
    // processes in it: kept (retried while stopped or waiting to restart; in exited, for good)
    if (cgroupExists(cg) && isPopulated(cg)) { if (this.machine.state === 'exited') this.pendingRemoval = false; return; }
    if (removeUnitCgroup(cg, !this.stopped()).length === 0) {
      this.pendingRemoval = false;
      // another name next: that one is not known to be gone
      this.cgroupRemoved = this.named?.rel !== cg.rel ? undefined : this.stopped() ? 'all' : 'leaf';
      this.oomSeen = undefined;
      this.ipFilterFor = undefined; // its BPF programs went with it: the next invocation attaches them again
      if (this.named !== cg) this.cgroup = this.named; // the next invocation takes the name (and hierarchies) the spec gives
    }
  }

  /**
   * systemd's unit_check_oom(): the OOM kill counter of the unit's memory cgroup rose since it was
   * last read, so the kernel's OOM killer killed one of its processes: { t: 'oom-kill' } goes to
   * the engine (OOMPolicy=) before the exit it caused, as manager_dispatch_sigchld() checks OOM
   * first. Read on each exit, at each start and on every tick (a killed process that was not the
   * main one has no exit of ours). On v1 and hybrid nodes the counter is memory.oom_control's
   * oom_kill: the agent reports Result=oom-kill as systemd does on v2 (systemd 257 itself looks for
   * memory.events in the v1 hierarchy and reports Result=signal there).
   */
  private checkOom(): void {
    const cg = this.cgroup, ctx = this.opts.cgroups;
    if (!cg || !ctx || this.closed) return;
    const now = readOomKills(cg.dirs, limitLayout(ctx));
    const rose = oomKilled(this.oomSeen, now);
    if (now !== undefined) this.oomSeen = now;
    if (rose && this.activeState !== 'inactive' && this.activeState !== 'failed') this.send({ t: 'oom-kill' });
  }

  /** The cgroup's part of a safety-net tick: an "empty" the watch missed, a hold that ended, a removal to retry. */
  private cgroupTick(): void {
    const cg = this.cgroup;
    if (!cg || this.closed) return;
    this.checkOom();
    if (this.awaitingEmpty && !(cgroupExists(cg) && this.populatedNow(cg))) this.groupDone();
    if (this.cgroupHold !== undefined && !(cgroupExists(cg) && isPopulated(cg))) {
      this.log('notice', `${this.unitName}: the processes in its cgroup are gone; the unit may start again`);
      const i = this.problems.indexOf(this.cgroupHold);
      if (i >= 0) this.problems.splice(i, 1);
      if (this.stateError === this.cgroupHold) this.stateError = undefined;
      this.cgroupHold = undefined;
    }
    this.pruneCgroup();
  }

  private readonly notifyJudge = new NotifyJudge((level, m) => this.log(level, `${this.unitName}: ${m}`));

  /** The unit's notify socket (NOTIFY_SOCKET), its folder made where a User= service reaches it (notifysock.ts). */
  private notifySocket(): string {
    const { path, problem } = prepareNotifySocket(this.dir, this.opts.hostRoot);
    if (problem !== undefined) this.log('warning', `${this.unitName}: ${problem}; the notify socket is ${path} instead`);
    return path;
  }

  /** The recorded identity of a main or control PID (spawn records), for the kill path. */
  private identityOf(pid: number): ProcessIdentity | undefined {
    for (const s of this.spawns) {
      if (s.pid === pid && s.pidStart !== undefined) return { start: s.pidStart, boot: s.bootId };
      if (s.mainPid === pid && s.mainStart !== undefined) return { start: s.mainStart, boot: s.bootId };
    }
    return undefined;
  }

  /** Records who a main PID taken from MAINPID= or PIDFile= is (its start time), on the latest main spawn. */
  private noteMainPid(): void {
    const pid = this.machine.mainPid;
    if (pid <= 0 || this.spawns.some((s) => (s.pid === pid && s.pidStart !== undefined) || s.mainPid === pid)) return;
    const rec = [...this.spawns].reverse().find((s) => s.role === 'main' && !s.done);
    if (!rec) return;
    rec.mainPid = pid;
    rec.mainStart = startTime(pid);
    this.dirty = true;
    if (this.batchDepth === 0 && !this.dispatching) this.flush();
  }

  /** Stops watching; the service's processes keep running (agent shutdown without stopping). */
  close(): void {
    if (this.dirty && !this.dispatching && this.batchDepth === 0 && !this.stateRefused) this.flush(); // a quiet batch's changes (poll())
    if (!this.dirty) this.removeDropped(); // the folders a written state no longer follows
    // a standby still armed ends (a next agent adopts one its holder took: recoverStandby())
    if (this.standby && takeBack(this.dir, this.standby.after)) this.forgetStandby(this.standby);
    this.closed = true;
    this.unwatchEmpty();
    this.timer.disarm();
    this.watchdog.disarm();
    this.logGate.release();
    this.tail.close();
    if (this.afterExecTimer) clearTimeout(this.afterExecTimer);
    for (const h of this.spawnHolds.values()) if (h !== 'expired') clearTimeout(h);
    this.spawnHolds.clear();
  }
}

/**
 * A decision that leaves nothing a restarted agent would not read again, the same, from the event
 * log lines it came from: the state, its timer and the watchdog's deadline as they were, and no
 * effect but the records for users (a transition, a log line) — the PID of a simple service's main
 * process, its exec. Its write may wait for the next one (UnitRunner.poll()).
 */
function quiet(before: Machine, after: Machine, effects: readonly Effect[]): boolean {
  return after.state === before.state && after.timer?.deadline === before.timer?.deadline && after.timer?.gen === before.timer?.gen
    && after.watchdogDeadline === before.watchdogDeadline && effects.every((e) => e.t === 'transition' || e.t === 'log');
}

/** strerror(3)'s words for an errno (libuv's message, capitalized as glibc writes it). */
function errnoText(n: number): string {
  try { const m = getSystemErrorMessage(-n); return m ? m[0]!.toUpperCase() + m.slice(1) : `errno ${n}`; } catch { return `errno ${n}`; }
}

/** systemd's words for a failed spawn: "Failed at step CHDIR spawning /bin/sleep: No such file or directory". */
function setupFailure(path: string, ev: { errno: number; status: number; step?: string; errnoText?: string }): string {
  if (ev.step === undefined || ev.step === 'EXEC') return `Failed to execute ${path}: ${errnoText(ev.errno)} (exit status ${ev.status}${ev.step ? `/${ev.step}` : ''})`;
  return `Failed at step ${ev.step} spawning ${path}: ${ev.errnoText ?? errnoText(ev.errno)}`; // as systemd 257 words it; the status follows in "Main process exited"
}

/**
 * Whether an event may change what the engine does when the main process of a unit with a
 * standby ends (standby.ts): the user's jobs, timeouts, the watchdog, an OOM kill, a new main PID.
 * Not the event-log's own, nor the restart's (its timer, its job, its start).
 */
function changesRestart(ev: Event, state: string): boolean {
  switch (ev.t) {
    case 'spawned': case 'exec-ok': case 'exited': case 'group-empty': case 'spawn-failed': case 'restart-job': case 'start': case 'reset-failed': return false;
    case 'timer': return state !== 'auto-restart' && state !== 'auto-restart-queued';
    default: return true;
  }
}
