// The manager's half of systemd: installed jobs, the run queue, unit_notify()'s job processing and
// retroactive dependencies, OnFailure=/OnSuccess=, and the upheld/bound/unneeded queues (job.c,
// unit.c, manager.c). decide(state, event, graph, now) → state + effects. Pure and deterministic.

import type { ActiveState } from '../engine/states.ts';
import { hasRel, INACTIVE_TARGETS, related, WELL_KNOWN_TARGETS, type Atom, type Graph } from './graph.ts';
import {
  allowsLateMerge, doneMessage, isActiveOrActivating, isActiveOrReloading, isConflicting, isInactiveOrDeactivating, isInactiveOrFailed,
  isSuperset, mergeAndCollapse, mustWait, RESULT_LEVEL, startMessage, type JobResult, type JobType, type RequestJobType,
} from './jobs.ts';
import type { JobMode } from './spec.ts';
import { buildTransaction, type TransactionOptions, type TxErrorCode } from './transaction.ts';
import type { DepsDecision, DepsEffect, DepsEvent, DepsState, Job } from './types.ts';
import { ActiveStates } from './active.ts';

/** The state of a node whose units are all inactive: the node's well-known targets are active. */
export function initialState(graph: Graph, active: Readonly<Record<string, ActiveState>> = {}): DepsState {
  const units: Record<string, ActiveState> = {};
  for (const u of graph.units.keys()) units[u] = 'inactive';
  for (const t of WELL_KNOWN_TARGETS) units[t] = 'active';
  for (const t of INACTIVE_TARGETS) units[t] = 'inactive';
  for (const [m, st] of graph.hostMounts) if (graph.units.get(m)?.hostMount) units[m] = st;
  return { units: ActiveStates.from({ ...units, ...active }), jobs: {}, nextJobId: 1 };
}

type MJob = { -readonly [K in keyof Job]: Job[K] };

class Ctx {
  /** Replaced (ActiveStates.with()), never changed in place: the state decide() was given stays as it was. */
  units: ActiveStates;
  readonly jobs: Record<string, MJob>;
  nextJobId: number;
  readonly effects: DepsEffect[] = [];
  private readonly runQueue = new Set<number>();
  private readonly upheldQ = new Set<string>();
  private readonly boundQ = new Set<string>();
  private readonly unneededQ = new Set<string>();
  /**
   * Whether installed jobs may now wait on each other in a circle: transactions are checked for
   * ordering cycles before they are installed, but not what the graph changing under installed
   * jobs, or a job merged into an installed one of another type, does.
   */
  private mayDeadlock = false;

  readonly g: Graph;
  readonly now: number;
  constructor(s: DepsState, g: Graph, now: number) {
    this.g = g; this.now = now;
    this.units = s.units;
    this.jobs = Object.fromEntries(Object.entries(s.jobs).map(([k, j]) => [k, { ...j }]));
    this.nextJobId = s.nextJobId;
  }

  state(): DepsState { return { units: this.units, jobs: this.jobs, nextJobId: this.nextJobId }; }
  st(u: string): ActiveState { return this.units.get(u) ?? 'inactive'; }
  log(unit: string | undefined, level: 'debug' | 'info' | 'notice' | 'warning' | 'err', message: string): void { this.effects.push({ t: 'log', unit, level, message }); }
  rel(u: string, a: Atom): string[] { return related(this.g, u, a); }
  private byId(id: number): MJob | undefined { return Object.values(this.jobs).find((j) => j.id === id); }
  private isTarget(u: string): boolean { return this.g.units.get(u)?.target ?? false; }

  /** manager_add_job(): build the transaction and install it (transaction_apply() + job_install()). */
  addJob(type: RequestJobType, unit: string, mode: JobMode, opts: TransactionOptions = {}): { id: number; jobs: number[] } | { error: string; code: TxErrorCode } {
    const built = buildTransaction({
      graph: this.g, state: (u) => this.st(u), installed: (u) => this.jobs[u]?.type, installedIgnoresOrder: (u) => this.jobs[u]?.ignoreOrder ?? false,
    }, type, unit, mode, opts);
    for (const d of built.debug) this.log(undefined, 'debug', d);
    for (const l of built.logs) this.log(l.unit, l.level, l.message);
    if (!built.ok) {
      // transaction_activate(): a transaction that would replace queued jobs (mode fail) is said so, once, by the manager
      if (built.code === 'EDESTRUCTIVE') this.log(undefined, 'notice', `Requested transaction contradicts existing jobs: ${built.error}`);
      return { error: built.error, code: built.code };
    }
    for (const j of built.jobs) {
      const inst = this.jobs[j.unit];
      if (inst?.irreversible && isConflicting(inst.type, j.type)) {
        const error = `Transaction for ${unit}/${type} is destructive (${j.unit} has '${inst.type}' job queued, but '${j.type}' is included in transaction).`;
        this.log(undefined, 'notice', `Requested transaction contradicts existing jobs: ${error}`);
        return { error, code: 'EDESTRUCTIVE' };
      }
    }
    if (mode === 'isolate' || mode === 'flush') {
      // transaction_apply(): installed jobs not in the new transaction are canceled (not
      // recursively: no OnFailure=), those of IgnoreOnIsolate= units aside
      const planned = new Set(built.jobs.map((j) => j.unit));
      for (const j of Object.values(this.jobs).sort((a, b) => a.id - b.id)) {
        if (planned.has(j.unit) || this.g.units.get(j.unit)?.ignoreOnIsolate) continue;
        this.finish(j, 'canceled', false, false);
      }
    }
    let anchorId = 0;
    const ids: number[] = [];
    for (const p of built.jobs) {
      const uj = this.jobs[p.unit];
      let id: number;
      if (uj && !isConflicting(uj.type, p.type)) {
        // job_install(): merge into the installed job; a running job that can't absorb it runs again
        const merged = mergeAndCollapse(uj.type, p.type, this.st(p.unit)) ?? uj.type;
        const late = uj.state === 'waiting' || (allowsLateMerge(p.type) && isSuperset(uj.type, p.type));
        if (merged !== uj.type) { uj.type = merged; this.mayDeadlock = true; this.effects.push({ t: 'job-changed', id: uj.id, unit: uj.unit, type: merged }); }
        if (!late || (opts.reenqueueAnchor && p.unit === unit)) uj.state = 'waiting';
        uj.irreversible ||= p.irreversible;
        id = uj.id;
      } else {
        if (uj) this.finish(uj, 'canceled', false, false);
        id = this.nextJobId++;
        this.jobs[p.unit] = { id, unit: p.unit, type: p.type, state: 'waiting', ignoreOrder: p.ignoreOrder, irreversible: p.irreversible };
        this.effects.push({ t: 'job-new', id, unit: p.unit, type: p.type });
        const timeout = this.g.units.get(p.unit)?.jobTimeoutUSec ?? Infinity;
        if (Number.isFinite(timeout)) this.armTimer(this.jobs[p.unit]!, this.now + timeout);
      }
      this.runQueue.add(id);
      ids.push(id);
      if (p.unit === unit) anchorId = id;
    }
    return { id: anchorId, jobs: ids };
  }

  /** job_is_runnable(): a job waits for the jobs of the units it is ordered against, per job_compare(). */
  private runnable(j: MJob): boolean {
    if (j.type === 'nop' || j.ignoreOrder) return true;
    for (const dep of ['after', 'before'] as const) {
      for (const o of this.rel(j.unit, dep)) {
        const oj = this.jobs[o];
        if (oj && !oj.ignoreOrder && mustWait(j.type, oj.type, dep)) return false;
      }
    }
    return true;
  }

  private armTimer(j: MJob, deadline: number): void {
    j.deadline = deadline;
    this.effects.push({ t: 'arm-job-timer', id: j.id, deadline });
  }

  /** job_run_and_invalidate() + job_perform_on_unit(). */
  private run(j: MJob): void {
    if (j.state !== 'waiting' || !this.runnable(j)) return;
    j.state = 'running';
    // job_start_timer(j, true): JobRunningTimeoutSec= from now, unless JobTimeoutSec='s deadline comes first
    const running = this.g.units.get(j.unit)?.jobRunningTimeoutUSec ?? Infinity;
    if (Number.isFinite(running) && (j.deadline === undefined || j.deadline > this.now + running)) this.armTimer(j, this.now + running);
    const u = j.unit, s = this.st(u);
    if (this.g.units.get(u)?.hostMount && j.type !== 'nop' && j.type !== 'verify-active') {
      // a mount unit of the host (RequiresMountsFor=): the agent does not mount or unmount host file systems
      const want = j.type === 'stop' ? isInactiveOrFailed(s) : isActiveOrReloading(s);
      if (want) { this.finish(j, 'done', true, true); return; }
      this.log(u, 'warning', `${u}: ${j.type === 'stop' ? 'not unmounted' : 'not mounted'}: the agent does not ${j.type === 'stop' ? 'unmount' : 'mount'} the host's file systems.`);
      this.finish(j, 'failed', true, false);
      return;
    }
    switch (j.type) {
      case 'nop': this.finish(j, 'done', true, true); return;
      case 'verify-active':
        if (isActiveOrReloading(s)) this.finish(j, 'done', true, true);
        else if (s === 'activating') j.state = 'waiting';
        else this.finish(j, 'skipped', true, false);
        return;
      case 'start':
        if (isActiveOrReloading(s)) { this.finish(j, 'done', true, true); return; }
        if (s === 'deactivating') { j.state = 'waiting'; return; }
        // unit_start() of a masked unit: -ERFKILL, the job fails (a job queued before it was masked)
        if (this.g.units.get(u)?.masked) { this.log(u, 'warning', `${u}: Unit is masked, not starting.`); this.finish(j, 'failed', true, false); return; }
        if (isInactiveOrFailed(s)) this.log(u, 'info', startMessage('start', u)!);
        if (this.isTarget(u)) this.setTargetState(u, 'active');
        else this.effects.push({ t: 'start', unit: u });
        return;
      case 'stop': case 'restart':
        if (isInactiveOrFailed(s)) { this.finish(j, 'done', true, true); return; }
        if (s !== 'deactivating') this.log(u, 'info', startMessage('stop', u)!);
        if (this.isTarget(u)) this.setTargetState(u, 'inactive');
        // deactivating too: unit_stop() calls service_stop() unless the unit is inactive, and a
        // unit stopping by itself must learn that this stop forbids its restart (forbid_restart)
        else this.effects.push({ t: 'stop', unit: u });
        return;
      case 'reload':
        if (s === 'activating' || s === 'reloading') { j.state = 'waiting'; return; }
        if (s !== 'active') { this.log(u, 'warning', `${u}: Unit cannot be reloaded because it is inactive.`); this.finish(j, 'invalid', true, false); return; }
        this.log(u, 'info', startMessage('reload', u)!);
        this.effects.push({ t: 'reload', unit: u });
        return;
    }
  }

  private setTargetState(u: string, to: ActiveState): void {
    const from = this.st(u);
    this.effects.push({ t: 'target-state', unit: u, from, to });
    this.notify(u, from, to, {});
  }

  /** job_finish_and_invalidate(). */
  finish(j: MJob, result: JobResult, recursive: boolean, already: boolean): void {
    const u = j.unit, t = j.type;
    if (!already) {
      const msg = t === 'start' && result === 'done' && this.g.units.get(u)?.oneshot ? `Finished ${u}.` : doneMessage(t, result, u);
      if (msg) this.log(u, RESULT_LEVEL[result] === 'err' ? 'err' : RESULT_LEVEL[result], msg);
    }
    if (result === 'done' && t === 'restart') {
      j.type = 'start'; j.state = 'waiting'; this.mayDeadlock = true;
      this.effects.push({ t: 'job-changed', id: j.id, unit: u, type: 'start' });
      this.runQueue.add(j.id);
    } else {
      if (this.jobs[u] === j) delete this.jobs[u];
      this.runQueue.delete(j.id);
      this.effects.push({ t: 'job-done', id: j.id, unit: u, type: t, result });
      if (result !== 'done' && recursive) {
        if (t === 'start' || t === 'verify-active') this.failDependencies(u, 'propagateStartFailure');
        else if (t === 'stop') this.failDependencies(u, 'propagateStopFailure');
      }
      if (result === 'done' && recursive && (t === 'start' || t === 'reload') && !isActiveOrReloading(this.st(u))) this.failDependencies(u, 'propagateInactiveStartAsFailure');
      if (result === 'timeout' || result === 'dependency') {
        this.log(u, 'notice', `${u}: Job ${u}/${t} failed with result '${result}'.`);
        this.startOnTermination(u, 'OnFailure=', 'onFailure');
      }
    }
    for (const o of [...this.rel(u, 'after'), ...this.rel(u, 'before')]) { const oj = this.jobs[o]; if (oj) this.runQueue.add(oj.id); }
    this.upheldQ.add(u); this.boundQ.add(u); this.unneededQ.add(u);
  }

  /** job_fail_dependencies(). */
  private failDependencies(u: string, atom: Atom): void {
    for (const o of this.rel(u, atom)) {
      const oj = this.jobs[o];
      if (oj && (oj.type === 'start' || oj.type === 'verify-active')) this.finish(oj, 'dependency', true, false);
    }
  }

  /** unit_start_on_termination_deps() for OnFailure= / OnSuccess=. */
  private startOnTermination(u: string, name: string, atom: 'onFailure' | 'onSuccess'): void {
    const targets = this.rel(u, atom);
    if (targets.length === 0) return;
    this.log(u, 'info', `${u}: Triggering ${name} dependencies.`);
    const d = this.g.units.get(u);
    const mode = atom === 'onFailure' ? d?.onFailureJobMode ?? 'replace' : d?.onSuccessJobMode ?? 'replace';
    for (const o of targets) {
      const r = this.addJob('start', o, mode);
      if ('error' in r) this.log(u, 'warning', `${u}: Failed to enqueue ${name}${o} job, ignoring: ${r.error}`);
    }
  }

  /** unit_notify(): job processing, retroactive dependencies, OnFailure=/OnSuccess=, queues. */
  notify(u: string, os: ActiveState, ns: ActiveState, flags: { willAutoRestart?: boolean; reloadFailed?: boolean }): void {
    this.units = this.units.with(u, ns);
    const j = this.jobs[u];
    let unexpected = false;
    if (j) {
      if (j.state === 'waiting') this.runQueue.add(j.id);
      switch (j.type) {
        case 'start': case 'verify-active':
          if (isActiveOrReloading(ns)) this.finish(j, 'done', true, false);
          else if (j.state === 'running' && ns !== 'activating') {
            unexpected = true;
            if (isInactiveOrFailed(ns)) this.finish(j, ns === 'failed' ? 'failed' : 'done', true, false);
          }
          break;
        case 'reload':
          if (j.state === 'running') {
            if (ns === 'active') this.finish(j, flags.reloadFailed ? 'failed' : 'done', true, false);
            else if (ns !== 'activating' && ns !== 'reloading') { unexpected = true; if (isInactiveOrFailed(ns)) this.finish(j, ns === 'failed' ? 'failed' : 'done', true, false); }
          }
          break;
        case 'stop': case 'restart':
          if (isInactiveOrFailed(ns)) this.finish(j, 'done', true, false);
          else if (j.state === 'running' && ns !== 'deactivating') { unexpected = true; this.finish(j, 'failed', true, false); }
          break;
        case 'nop': break;
      }
    } else unexpected = true;

    if (unexpected) {
      if (isInactiveOrFailed(os) && isActiveOrActivating(ns)) this.retroactivelyStart(u);
      else if (isActiveOrActivating(os) && isInactiveOrDeactivating(ns)) this.retroactivelyStop(u);
    }
    if (ns !== os && ns === 'failed' && !flags.willAutoRestart) this.startOnTermination(u, 'OnFailure=', 'onFailure');
    if (ns === 'inactive' && os !== 'failed' && os !== 'inactive' && !flags.willAutoRestart) this.startOnTermination(u, 'OnSuccess=', 'onSuccess');
    if (isInactiveOrFailed(ns)) {
      for (const o of this.rel(u, 'addStopWhenUnneededQueue')) this.unneededQ.add(o);
      for (const o of this.rel(u, 'addCannotBeActiveWithoutQueue')) this.boundQ.add(o);
      this.upheldQ.add(u);
    }
    if (isActiveOrReloading(ns)) {
      for (const o of this.rel(u, 'addStartWhenUpheldQueue')) this.upheldQ.add(o);
      this.unneededQ.add(u); this.boundQ.add(u);
    }
  }

  private retroactivelyStart(u: string): void {
    for (const o of this.rel(u, 'retroactiveStartReplace')) if (!hasRel(this.g, u, 'after', o) && !isActiveOrActivating(this.st(o))) this.addJob('start', o, 'replace');
    for (const o of this.rel(u, 'retroactiveStartFail')) if (!hasRel(this.g, u, 'after', o) && !isActiveOrActivating(this.st(o))) this.addJob('start', o, 'fail');
    for (const o of this.rel(u, 'retroactiveStopOnStart')) if (!isInactiveOrDeactivating(this.st(o))) this.addJob('stop', o, 'replace');
  }

  private retroactivelyStop(u: string): void {
    for (const o of this.rel(u, 'retroactiveStopOnStop')) if (!isInactiveOrDeactivating(this.st(o))) this.addJob('stop', o, 'replace');
  }

  /** manager_dispatch_start_when_upheld_queue() / _stop_when_bound_ / _stop_when_unneeded_, then the run queue. */
  dispatch(): void {
    for (let guard = 0; ; guard++) {
      if (guard === 10_000) {
        // never silent: a loop this long is a bug, and the jobs it left are canceled rather than left waiting
        this.log(undefined, 'err', `Dependency engine: gave up dispatching after ${guard} steps (run queue ${this.runQueue.size}, jobs ${Object.keys(this.jobs).length}); this is a bug`);
        return;
      }
      const u1 = first(this.upheldQ);
      if (u1 !== undefined) {
        this.upheldQ.delete(u1);
        if (!isInactiveOrFailed(this.st(u1))) continue;
        const culprit = this.rel(u1, 'startSteadily').find((o) => isActiveOrReloading(this.st(o)));
        if (!culprit) continue;
        this.log(u1, 'debug', `${u1}: Unit is started because upheld by active unit ${culprit}.`);
        const r = this.addJob('start', u1, 'fail');
        if ('error' in r) this.log(u1, 'warning', `${u1}: Failed to enqueue start job, ignoring: ${r.error}`);
        continue;
      }
      const u2 = first(this.boundQ);
      if (u2 !== undefined) {
        this.boundQ.delete(u2);
        if (!isActiveOrReloading(this.st(u2)) || this.jobs[u2]) continue;
        const culprit = this.rel(u2, 'cannotBeActiveWithout').find((o) => !this.jobs[o] && isInactiveOrFailed(this.st(o)));
        if (!culprit) continue;
        this.log(u2, 'debug', `${u2}: Unit is bound to inactive unit ${culprit}. Stopping, too.`);
        const r = this.addJob('stop', u2, 'replace');
        if ('error' in r) this.log(u2, 'warning', `${u2}: Failed to enqueue stop job, ignoring: ${r.error}`);
        continue;
      }
      const u3 = first(this.unneededQ);
      if (u3 !== undefined) {
        this.unneededQ.delete(u3);
        if (!(this.g.units.get(u3)?.stopWhenUnneeded ?? false) || !isActiveOrReloading(this.st(u3)) || this.jobs[u3]) continue;
        if (this.rel(u3, 'pinsStopWhenUnneeded').some((o) => this.jobs[o] || !isInactiveOrFailed(this.st(o)))) continue;
        this.log(u3, 'debug', `${u3}: Unit not needed anymore. Stopping.`);
        const r = this.addJob('stop', u3, 'fail');
        if ('error' in r) this.log(u3, 'warning', `${u3}: Failed to enqueue stop job, ignoring: ${r.error}`);
        continue;
      }
      const id = [...this.runQueue].sort((a, b) => a - b)[0];
      if (id === undefined) {
        if (this.mayDeadlock && this.breakDeadlock()) continue;
        this.mayDeadlock = false;
        return;
      }
      this.runQueue.delete(id);
      const j = this.byId(id);
      if (j) this.run(j);
    }
  }

  jobById(id: number): MJob | undefined { return this.byId(id); }

  /** Puts every waiting job in the run queue (the graph changed: what they wait for may have). */
  requeueAll(): void { for (const j of Object.values(this.jobs)) if (j.state === 'waiting') this.runQueue.add(j.id); this.mayDeadlock = true; }

  /**
   * Waiting jobs that wait for each other in a circle never run (transactions are checked for
   * ordering cycles when installed, but the graph may change under installed jobs: a unit file
   * edited, added). Finds such a cycle, logs it as transaction_verify_order() does and cancels
   * its newest job. Returns whether it canceled one.
   */
  private breakDeadlock(): boolean {
    const waiting = Object.values(this.jobs).filter((j) => j.state === 'waiting');
    if (waiting.length < 2) return false;
    const waitsFor = (j: MJob): MJob[] => {
      if (j.type === 'nop' || j.ignoreOrder) return [];
      const out: MJob[] = [];
      for (const dep of ['after', 'before'] as const) {
        for (const o of this.rel(j.unit, dep)) {
          const oj = this.jobs[o];
          if (oj && oj.state === 'waiting' && !oj.ignoreOrder && mustWait(j.type, oj.type, dep)) out.push(oj);
        }
      }
      return out;
    };
    const mark = new Map<number, 'path' | 'done'>();
    const path: MJob[] = [];
    const visit = (j: MJob): MJob[] | undefined => {
      const m = mark.get(j.id);
      if (m === 'done') return undefined;
      if (m === 'path') return path.slice(path.indexOf(j));
      mark.set(j.id, 'path'); path.push(j);
      for (const o of waitsFor(j)) { const c = visit(o); if (c) return c; }
      path.pop(); mark.set(j.id, 'done');
      return undefined;
    };
    for (const j of waiting.sort((a, b) => a.id - b.id)) {
      const cycle = visit(j);
      if (!cycle) continue;
      const head = cycle[0]!, victim = cycle.reduce((a, b) => (b.id > a.id ? b : a));
      cycle.forEach((k, i) => this.log(head.unit, 'warning', `${head.unit}: Found ${i === 0 ? 'ordering cycle' : 'dependency'} on ${k.unit}/${k.type}`));
      this.log(head.unit, 'err', `${head.unit}: Job ${victim.unit}/${victim.type} canceled to break ordering cycle starting with ${head.unit}/${head.type}`);
      this.finish(victim, 'canceled', true, false);
      return true;
    }
    return false;
  }
}

const first = <T>(s: Set<T>): T | undefined => { for (const x of s) return x; return undefined; };

/** The dependency engine: one event in, the next state and the effects out. */
export function decide(state: DepsState, event: DepsEvent, graph: Graph, now: number): DepsDecision {
  const c = new Ctx(state, graph, now);
  switch (event.t) {
    case 'request': {
      const d = graph.units.get(event.unit);
      const manual = event.manual ?? true;
      const starts = event.type !== 'stop';
      if (manual && d && ((starts && event.type !== 'reload' && d.refuseManualStart) || (event.type === 'stop' && d.refuseManualStop))) {
        c.effects.push({ t: 'request-failed', unit: event.unit, type: event.type, code: 'EREFUSED', error: `Operation refused, unit ${event.unit} may be requested by dependency only (it is configured to refuse manual start/stop).` });
        break;
      }
      const r = c.addJob(event.type, event.unit, event.mode ?? 'replace');
      if ('error' in r) c.effects.push({ t: 'request-failed', unit: event.unit, type: event.type, error: r.error, code: r.code });
      else c.effects.push({ t: 'request-queued', unit: event.unit, type: event.type, id: r.id, jobs: r.jobs });
      break;
    }
    case 'state':
      c.notify(event.unit, event.from, event.to, { willAutoRestart: event.willAutoRestart, reloadFailed: event.reloadFailed });
      break;
    case 'auto-restart': {
      // service_enter_restart(): not while a stop job is pending; else a start job in mode
      // JOB_RESTART_DEPENDENCIES (try-restart propagated to the units that need it; RestartMode=direct:
      // replace), re-enqueued if merged into a start job the unit has (a start during the delay)
      const shortcut = event.shortcut ?? false;
      if (c.jobs[event.unit]?.type === 'stop') { c.effects.push({ t: 'restart-job', unit: event.unit, outcome: 'skipped', shortcut }); break; }
      const r = c.addJob('start', event.unit, 'replace', { propagateStartAsRestart: !event.direct, reenqueueAnchor: true });
      c.effects.push('error' in r ? { t: 'restart-job', unit: event.unit, outcome: 'failed', shortcut, error: r.error } : { t: 'restart-job', unit: event.unit, outcome: 'queued', shortcut });
      break;
    }
    case 'start-refused': {
      const j = c.jobs[event.unit];
      if (!j || j.type !== 'start' || j.state !== 'running' || (event.id !== undefined && j.id !== event.id)) break;
      if (event.message) c.log(event.unit, 'info', event.message);
      c.finish(j, event.result, true, event.message !== undefined);
      break;
    }
    case 'cancel': {
      const j = c.jobById(event.id);
      if (j) c.finish(j, 'canceled', true, false);
      break;
    }
    case 'graph-changed':
      c.requeueAll();
      break;
    case 'job-timer': {
      const j = c.jobById(event.id);
      if (!j) break;
      c.log(j.unit, 'warning', `${j.unit}: Job ${j.unit}/${j.type} timed out.`);
      c.finish(j, 'timeout', true, false);
      break;
    }
  }
  c.dispatch();
  return { state: c.state(), effects: c.effects };
}

export type { JobType };
