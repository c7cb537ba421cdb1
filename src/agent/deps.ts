// The dependency engine's effectful edge (issue 16): owns one group of units' graph and
// DepsState, feeds src/deps decide() through ONE FIFO queue (user requests, the runners' engine
// decisions, refused starts, job timers), turns its start/stop/reload effects into runner calls,
// keeps its jobs for the CLI (list-jobs) and resolves the waiters of a request when its job ends.
// Pure decisions stay in src/deps; this file only routes.

import {
  ActiveStates, buildGraph, decide, depsEventsFromEngine, depsFromSpec, engineEventFor, initialState,
  isInactiveOrFailed, NO_HOST_MOUNTS,
  type DepsEffect, type HostMounts, type DepsEvent, type DepsState, type Graph, type Job, type JobMode, type JobResult, type JobType, type RequestJobType, type TxErrorCode, type UnitDeps,
} from '../deps/index.ts';
import type { ActiveState } from '../engine/states.ts';
import type { Effect, Event } from '../engine/types.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import type { StartNotRun } from '../runner/unit.ts';
import { monotonicUs } from '../runner/unit.ts';

/** What the driver needs of a hosted unit (a UnitRunner has it). */
export interface DepsMember {
  readonly spec: ServiceUnitSpec;
  readonly activeState: string;
  startJob(): string | StartNotRun | undefined;
  stop(): void;
  reload(): void;
  /** An engine event: the answer to the restart job its engine asked for (restart-job). */
  send(ev: Event): void;
}

/** How a request ended: its transaction could not be built, or its anchor job finished with a result. */
export type JobOutcome =
  | { readonly ok: true; readonly id: number; readonly unit: string; readonly type: JobType; readonly result: JobResult }
  | { readonly ok: false; readonly error: string; readonly code?: TxErrorCode };

/** A request the engine refused: why, and systemd's bus error for it (systemctl's exit status). */
export interface Refused { readonly error: string; readonly code?: TxErrorCode }

/** systemctl's exit status for a refused job request (translate_bus_error_to_exit_status(), v257). */
export function refusalExit(code: TxErrorCode | undefined): number {
  switch (code) {
    case 'ENOENT': return 5; // EXIT_NOTINSTALLED
    case 'EREFUSED': case 'EDESTRUCTIVE': case 'ENOISOLATION': return 4; // EXIT_NOPERMISSION
    default: return 1;
  }
}

export interface Queued {
  /** Settles as soon as the transaction is installed (its anchor job's id) or refused (--no-block). */
  readonly queued: Promise<{ readonly id: number } | Refused>;
  /** Settles when the anchor job finishes (systemctl's wait for its job). */
  readonly done: Promise<JobOutcome>;
}

export interface DepsDriverOptions {
  readonly log: (level: 'debug' | 'info' | 'notice' | 'warning' | 'error', message: string, unit: string | undefined) => void;
  /** The host's mounts (RequiresMountsFor=/WantsMountsFor=), read at each change of the units; only "/" without. */
  readonly mounts?: () => HostMounts;
  /** The installed jobs changed (a job queued, ended, or changed type): the host saves them for the next agent. */
  readonly onJobsChanged?: () => void;
  /** Monotonic µs (job timers' deadlines); the runners' clock by default. */
  readonly clock?: () => number;
}

type Item = { readonly ev: DepsEvent; readonly req?: { queued: (q: { id: number } | Refused) => void; done: (o: JobOutcome) => void } };

/** How many of the dependency engine's lines are kept per unit for status. */
const MANAGER_LINES = 10;
/** Who the dependency engine's lines are from in status (systemd's are "systemd[1]"). */
export const MANAGER_IDENT = 'unit-operator';

/** The most events one drain of the queue handles before it gives up, loudly (a loop between the engines is a bug). */
const MAX_STEPS = 100_000;

export class DepsDriver {
  private graph: Graph = buildGraph({});
  private state: DepsState = initialState(this.graph);
  private members = new Map<string, DepsMember>();
  private readonly queue: Item[] = [];
  private draining = false;
  private readonly waiters = new Map<number, Array<(o: JobOutcome) => void>>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly opts: DepsDriverOptions;
  private readonly clock: () => number;
  private closed = false;
  /** The manager's last lines about each unit ("Dependency failed for X.", job results), as the journal lines systemctl status shows. */
  private readonly managerLines = new Map<string, string[]>();

  constructor(opts: DepsDriverOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? monotonicUs;
  }

  /**
   * The group's units changed (added, spec changed, removed): rebuilds the graph and takes each
   * unit's ActiveState from its runner. Installed jobs of units still there are kept; those of
   * units gone are canceled through the engine, over the graph they were installed in (a job
   * that Requires= a canceled start fails, one only ordered after it runs), before the switch.
   */
  setUnits(members: ReadonlyMap<string, DepsMember>): void {
    const given: Record<string, UnitDeps> = {};
    for (const [name, m] of members) given[name] = depsFromSpec(m.spec);
    const graph = buildGraph(given, this.opts.mounts?.() ?? NO_HOST_MOUNTS);
    for (const j of Object.values(this.state.jobs)) if (!graph.units.has(j.unit)) this.push({ ev: { t: 'cancel', id: j.id } });
    this.members = new Map(members);
    this.graph = graph;
    const base = initialState(this.graph);
    const units: Record<string, ActiveState> = {};
    // (a host mount unit: as the mount table stands now)
    for (const u of this.graph.units.keys()) units[u] = (members.get(u)?.activeState as ActiveState | undefined) ?? (this.graph.hostMounts.has(u) ? base.units.get(u) : undefined) ?? this.state.units.get(u) ?? base.units.get(u) ?? 'inactive';
    const jobs: Record<string, Job> = {};
    // (a job of a unit gone is left only while this is called from inside a drain: it ends here)
    const gone: Job[] = [];
    for (const [u, j] of Object.entries(this.state.jobs)) (this.graph.units.has(u) ? (jobs[u] = j) : gone.push(j));
    this.state = { units: ActiveStates.from(units), jobs, nextJobId: this.state.nextJobId };
    for (const j of gone) this.jobEnded(j.id, j.unit, j.type, 'canceled');
    // a unit gone takes its lines with it (a unit of that name added again starts without them)
    for (const u of this.managerLines.keys()) if (!this.graph.units.has(u)) this.managerLines.delete(u);
    // what the waiting jobs wait for may have changed (and they may now wait on each other)
    if (Object.keys(jobs).length > 0) this.push({ ev: { t: 'graph-changed' } });
  }

  /** Whether a dependency of any kind (either way) ties the unit to another unit of the group (not the node's targets or mounts). */
  relatesToMembers(unit: string): boolean {
    for (const others of this.graph.rels.get(unit)?.values() ?? []) for (const o of others) if (o !== unit && this.members.has(o)) return true;
    return false;
  }

  /** The hosted unit of that name. */
  memberOf(unit: string): DepsMember | undefined { return this.members.get(unit); }

  /** Whether the unit is part of the graph (hosted, or one of the node's targets). */
  has(unit: string): boolean { return this.graph.units.has(unit); }
  get graphNow(): Graph { return this.graph; }
  /** A unit's ActiveState as the dependency engine knows it (hosted units: their runner's, live). */
  stateOf(unit: string): string { return this.members.get(unit)?.activeState ?? this.state.units.get(unit) ?? 'inactive'; }

  /** systemctl start|stop|restart|reload|try-restart UNIT: a transaction anchored on it. */
  request(unit: string, type: RequestJobType, mode: JobMode = 'replace', manual = true): Queued {
    let queued!: (q: { id: number } | Refused) => void;
    let done!: (o: JobOutcome) => void;
    const q = new Promise<{ id: number } | Refused>((r) => { queued = r; });
    const d = new Promise<JobOutcome>((r) => { done = r; });
    if (this.closed) { queued({ error: 'the agent is shutting down' }); done({ ok: false, error: 'the agent is shutting down' }); }
    else this.push({ ev: { t: 'request', unit, type, mode, manual }, req: { queued, done } });
    return { queued: q, done: d };
  }

  /** A runner's engine decision (UnitRunnerOptions.onDecision): its ActiveState changes and scheduled restarts. */
  engineDecision(unit: string, effects: readonly Effect[]): void {
    if (this.closed) return;
    for (const ev of depsEventsFromEngine(unit, effects)) this.push({ ev });
  }

  /** The unit's installed job, if any (systemctl status: "Job: N"). */
  jobOf(unit: string): Job | undefined { return this.state.jobs[unit]; }

  /**
   * The dependency engine's last lines about the unit (at most MANAGER_LINES), each led by its
   * time as the unit's journal lines are (27 characters, microseconds): systemctl status shows
   * systemd's "Dependency failed for X." and job-result lines among the unit's own.
   */
  linesOf(unit: string): readonly string[] { return this.managerLines.get(unit) ?? []; }

  /** The installed jobs, by id (systemctl list-jobs). */
  jobs(): Job[] { return Object.values(this.state.jobs).sort((a, b) => a.id - b.id); }

  /** Cancels the timers and answers every waiter (the agent is going away). */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const j of Object.values(this.state.jobs)) this.jobEnded(j.id, j.unit, j.type, 'canceled');
  }

  private push(item: Item): void {
    this.queue.push(item);
    if (this.draining) return;
    this.draining = true;
    try {
      let steps = 0;
      for (; this.queue.length > 0 && steps < MAX_STEPS; steps++) this.step(this.queue.shift()!);
      if (this.queue.length > 0) {
        // never silent: the rest is dropped, and whoever waits on it is answered
        const left = this.queue.splice(0);
        this.opts.log('error', `dependency engine: gave up after ${steps} events in one go (${left.length} left: ${[...new Set(left.map((i) => i.ev.t))].join(', ')}); this is a bug. Jobs may be left waiting: unitctl list-jobs`, undefined);
        for (const i of left) { i.req?.queued({ error: 'the dependency engine gave up (see the agent log)' }); i.req?.done({ ok: false, error: 'the dependency engine gave up (see the agent log)' }); this.refuseRestart(i.ev, 'the dependency engine gave up (see the agent log)'); }
      }
    } finally { this.draining = false; }
    if (this.opts.onJobsChanged && !this.closed) {
      const sig = Object.values(this.state.jobs).map((j) => `${j.id}:${j.type}`).join(',');
      if (sig !== this.jobsSig) { this.jobsSig = sig; this.opts.onJobsChanged(); }
    }
  }
  private jobsSig = '';

  /** An engine that asked for its restart job and will not get it is told so (it fails, Result resources), never left waiting. */
  private refuseRestart(ev: DepsEvent, error: string): void {
    if (ev.t === 'auto-restart') this.members.get(ev.unit)?.send({ t: 'restart-job', outcome: 'failed', shortcut: ev.shortcut ?? false, error });
  }

  /** The unit an event is about, for the error log. */
  private static unitOf(ev: DepsEvent, state: DepsState): string | undefined {
    if ('unit' in ev) return ev.unit;
    if ('id' in ev) return Object.values(state.jobs).find((j) => j.id === ev.id)?.unit;
    return undefined;
  }

  private step(item: Item): void {
    let d: ReturnType<typeof decide>;
    try {
      d = decide(this.state, item.ev, this.graph, this.clock());
    } catch (e) {
      // a bug in the engine must not reach the runner that reported the event: logged, the job failed
      const unit = DepsDriver.unitOf(item.ev, this.state);
      this.opts.log('error', `dependency engine failed on ${item.ev.t}${unit ? ` of ${unit}` : ''}: ${(e as Error).stack ?? String(e)}`, unit);
      const err = `the dependency engine failed: ${(e as Error).message}`;
      item.req?.queued({ error: err }); item.req?.done({ ok: false, error: err });
      this.refuseRestart(item.ev, err);
      const j = unit !== undefined ? this.state.jobs[unit] : undefined;
      if (j && item.ev.t !== 'cancel') {
        const jobs = { ...this.state.jobs };
        delete jobs[j.unit];
        this.state = { ...this.state, jobs };
        this.jobEnded(j.id, j.unit, j.type, 'failed');
      }
      return;
    }
    this.state = d.state;
    for (const e of d.effects) {
      try { this.effect(e, item); } catch (x) {
        const unit = 'unit' in e ? e.unit : undefined;
        this.opts.log('error', `dependency engine: ${e.t}${unit ? ` of ${unit}` : ''} failed: ${(x as Error).stack ?? String(x)}`, unit);
        if (e.t === 'start' && unit !== undefined) this.queue.push({ ev: { t: 'start-refused', unit, result: 'failed' } });
      }
    }
  }

  private effect(e: DepsEffect, item: Item): void {
    switch (e.t) {
      case 'start': return this.start(e.unit);
      case 'stop': this.members.get(e.unit)?.stop(); return;
      case 'reload': this.members.get(e.unit)?.reload(); return;
      case 'request-queued':
        item.req?.queued({ id: e.id });
        if (item.req) { const ws = this.waiters.get(e.id) ?? []; ws.push(item.req.done); this.waiters.set(e.id, ws); }
        return;
      case 'request-failed':
        item.req?.queued({ error: e.error, code: e.code });
        item.req?.done({ ok: false, error: e.error, code: e.code });
        return;
      case 'job-done': return this.jobEnded(e.id, e.unit, e.type, e.result);
      case 'arm-job-timer': {
        const old = this.timers.get(e.id);
        if (old) clearTimeout(old);
        const t = setTimeout(() => { this.timers.delete(e.id); this.push({ ev: { t: 'job-timer', id: e.id } }); }, Math.max(0, (e.deadline - this.clock()) / 1000));
        t.unref();
        this.timers.set(e.id, t);
        return;
      }
      case 'log':
        this.opts.log(e.level === 'err' ? 'error' : e.level, e.message, e.unit);
        if (e.unit !== undefined && e.level !== 'debug') {
          const ls = this.managerLines.get(e.unit) ?? [];
          ls.push(`${new Date().toISOString().replace('Z', '000Z')} ${MANAGER_IDENT}: ${e.message}`);
          if (ls.length > MANAGER_LINES) ls.splice(0, ls.length - MANAGER_LINES);
          this.managerLines.set(e.unit, ls);
        }
        return;
      case 'restart-job': {
        // service_enter_restart()'s answer, before the job's effects (its start) reach the unit
        const cmd = engineEventFor(e);
        if (cmd) this.members.get(e.unit)?.send(cmd.event);
        return;
      }
      case 'job-new': case 'job-changed': case 'target-state': return;
    }
  }

  /**
   * A start job runs: the runner checks its conditions and asserts first (unit_start()); a start
   * it refuses ends the job. A start that did not begin (the unit stayed inactive or failed: the
   * start limit, a masked unit) fails it (-ECANCELED: JOB_FAILED); never left running.
   */
  private start(unit: string): void {
    const id = this.state.jobs[unit]?.id;
    const refuse = (result: JobResult, message?: string): void => this.push({ ev: { t: 'start-refused', unit, result, ...(message !== undefined ? { message } : {}), ...(id !== undefined ? { id } : {}) } });
    const m = this.members.get(unit);
    if (!m) { refuse('failed'); return; }
    if (m.spec.masked === true) { this.opts.log('warning', `${unit}: Unit is masked, not starting.`, unit); refuse('failed'); return; }
    const r = m.startJob();
    if (r === undefined) {
      // the start limit's refusal comes as a transition (depsEventsFromEngine()); whatever else
      // keeps a start from beginning must not leave the job running forever either. Checked once
      // the runner is done with its queue (a start asked of a runner in the middle of its own
      // decision is queued there and begins after it).
      if (id !== undefined) queueMicrotask(() => {
        const j = this.state.jobs[unit];
        if (this.closed || !j || j.id !== id || j.state !== 'running' || j.type !== 'start' || this.members.get(unit) !== m) return;
        if (!isInactiveOrFailed(m.activeState as ActiveState)) return;
        this.opts.log('warning', `${unit}: start did not begin (the unit is still ${m.activeState}); failing its start job`, unit);
        refuse('failed');
      });
      return;
    }
    if (typeof r === 'string') refuse('failed');
    else refuse(r.jobResult, r.check === 'condition' ? r.statusMessage : undefined);
  }

  private jobEnded(id: number, unit: string, type: JobType, result: JobResult): void {
    const t = this.timers.get(id);
    if (t) { clearTimeout(t); this.timers.delete(id); }
    const ws = this.waiters.get(id);
    this.waiters.delete(id);
    for (const w of ws ?? []) w({ ok: true, id, unit, type, result });
  }
}

const EXPLANATIONS: Readonly<Record<string, string>> = {
  resources: 'of unavailable resources or another system error', protocol: 'the service did not take the steps required by its unit configuration',
  timeout: 'a timeout was exceeded', 'exit-code': 'the control process exited with error code', signal: 'a fatal signal was delivered to the control process',
  'core-dump': 'a fatal signal was delivered causing the control process to dump core', watchdog: 'the service failed to send watchdog ping',
  'start-limit-hit': 'start of the service was attempted too often',
};

/**
 * What systemctl prints when the job it waited for ended (bus-wait-for-jobs.c check_wait_response()
 * and log_job_error_with_service_result(), v257), with unitctl's commands in its hints; undefined
 * for done and skipped. `serviceResult`: the unit's Result= (a failed job's explanation).
 */
export function jobFailureMessage(unit: string, result: JobResult, serviceResult: string | undefined): string | undefined {
  switch (result) {
    case 'done': case 'skipped': return undefined;
    case 'canceled': return `Job for ${unit} canceled.`;
    case 'timeout': return `Job for ${unit} timed out.`;
    case 'dependency': return `A dependency job for ${unit} failed. See 'journalctl -xe' for details.`;
    case 'invalid': return `${unit} is not active, cannot reload.`;
    case 'assert': return `Assertion failed on job for ${unit}.`;
    case 'unsupported': return `Operation on or unit type of ${unit} not supported on this system.`;
    case 'collected': return `Queued job for ${unit} was garbage collected.`;
    case 'once': return `Unit ${unit} was started already once and can't be started again.`;
    case 'failed': {
      const why = serviceResult !== undefined ? EXPLANATIONS[serviceResult] : undefined;
      const see = `See "unitctl status ${unit}" and "unitctl logs ${unit}" for details.`;
      const text = why ? `Job for ${unit} failed because ${why}.\n${see}` : `Job for ${unit} failed.\n${see}`;
      return serviceResult === 'start-limit-hit' ? `${text}\nTo force a start use "unitctl reset-failed ${unit}"\nfollowed by "unitctl start ${unit}" again.` : text;
    }
  }
}

/** systemctl list-dependencies: the relations it follows, forward and --reverse (targets are expanded, services are leaves). */
const TREE_FORWARD = ['requires', 'requisite', 'wants', 'consistsOf', 'bindsTo', 'upholds'] as const;
const TREE_REVERSE = ['requiredBy', 'requisiteOf', 'wantedBy', 'partOf', 'boundBy', 'upheldBy'] as const;

export interface DepTree { readonly unit: string; readonly active: string; readonly children: readonly DepTree[] }

/** The dependency tree of `unit` in `graph`; `state` gives each unit's ActiveState. Pure. */
export function dependencyTree(graph: Graph, unit: string, state: (u: string) => string, reverse = false): DepTree {
  const seen = new Set<string>();
  const walk = (u: string, depth: number): DepTree => {
    seen.add(u);
    const rels = graph.rels.get(u);
    const names = new Set<string>();
    for (const r of reverse ? TREE_REVERSE : TREE_FORWARD) for (const o of rels?.get(r) ?? []) names.add(o);
    const expand = depth === 0 || (graph.units.get(u)?.target ?? false);
    const children = expand ? [...names].sort().filter((o) => !seen.has(o)).map((o) => walk(o, depth + 1)) : [];
    return { unit: u, active: graph.units.has(u) ? state(u) : 'inactive', children };
  };
  return walk(unit, 0);
}
