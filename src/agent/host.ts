// The units one agent hosts, by id: open (adopting whatever a previous agent left), apply a new
// spec with systemd's daemon-reload rules (a runtime change restarts, a description change does
// not), honour spec.state and masking, and stop-then-forget removed units. Shared by the
// standalone and the cluster agent.

import type { ForkServer } from '../runner/forkserver.ts';
import { namespaceSlice, type CgroupContext } from '../runner/cgroup/index.ts';
import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UnitRunner, specHash } from '../runner/unit.ts';
import { forgetUnitFolder, fsErrorText, hasUnitState, loadUnitState, markStoppedOnExit, readSavedJobs, readUnitState, recoverFromEventLogs, takeStoppedOnExit, unitDirs, writeSavedJobs, type SavedJob } from '../runner/store.ts';
import { SharedRuntimes, startHolder } from '../runner/nsruntime.ts';
import type { Transition } from '../engine/index.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { canonicalSpec } from '../api/canonical.ts';
import { describeUnapplied, type AllowUnenforced, type Unapplied } from '../api/applied.ts';
import { APPLYING, DIRECTIVES } from '../api/directives.ts';
import { LIVE_DIRECTIVES } from '../runner/cgroup/resources.ts';
import { LIVE_IP_DIRECTIVES } from '../runner/cgroup/ipaccess.ts';
import { LIVE_BIND_DIRECTIVES } from '../runner/cgroup/socketbind.ts';
import { hostMounts } from './mounts.ts';
import { DepsDriver, type DepsMember, type Queued } from './deps.ts';
import { invalidDependencies, isInactiveOrFailed, type Job, type JobMode, type RequestJobType } from '../deps/index.ts';
import type { ActiveState } from '../engine/states.ts';

export interface Hosted {
  readonly id: string;
  runner: UnitRunner;
  source: string;
  hash: string;
  removing: boolean;
  /** Adopted after a --stop-on-exit shutdown: started at its first apply if its spec still says state: running. */
  boot?: boolean;
  /** The not-applied report last logged for this unit (logged again only when it changes). */
  reported?: string;
  /** The invalid dependency names last warned about (again only when they change). */
  reportedDeps?: string;
}

export interface HostOptions {
  readonly unitsDir: string;
  readonly shimPath: string;
  /** The agent's fork server (src/runner/forkserver.ts): told to quit by closeAll(). */
  readonly forkServer?: ForkServer | undefined;
  readonly log: (level: 'info' | 'notice' | 'warning' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** A unit changed (called once per batch of decisions: status tables and status writes). */
  readonly onChange?: (id: string) => void;
  /** Every transition the engine reports (exited, restart scheduled, start-limit hit…: metrics, events). */
  readonly onTransition?: (id: string, t: Transition) => void;
  readonly logMaxBytes?: number;
  readonly hostRoot?: string;
  /** --allow-unenforced: protections this agent may run a unit without. */
  readonly allowUnenforced?: AllowUnenforced;
  /** A unit's directives that are not applied here changed (loaded, or a new spec): events. */
  readonly onNotApplied?: (id: string, notApplied: readonly Unapplied[], refusal: string | undefined) => void;
  /** The node's cgroups and this agent's top slice (issue 13); undefined: none (process trees). */
  readonly cgroups?: CgroupContext | undefined;
  /**
   * Jobs and dependencies between units (issue 16, src/agent/deps.ts): starts, stops and restarts
   * go through the dependency engine as systemd's jobs, one graph per group (a cluster
   * namespace; the standalone agent's folder). Off: every unit starts on its own.
   */
  readonly dependencies?: boolean;
}

/** The source of a unit adopted at the agent's start, until a manifest names it again. */
export const ADOPTED_SOURCE = '(adopted)';

/**
 * The resource-control fields a running unit takes without a restart (systemctl set-property):
 * those of LIVE_DIRECTIVES whose table row is applied. A row not applied yet stays in the hash,
 * so that a changed limit still restarts the unit into the fail-closed check at start.
 */
export function liveResourceFields(): ReadonlySet<string> {
  const live = new Set<string>([...LIVE_DIRECTIVES, ...LIVE_IP_DIRECTIVES, ...LIVE_BIND_DIRECTIVES]);
  return new Set(DIRECTIVES.filter((d) => d.section === 'Service' && live.has(d.name) && APPLYING.has(d.applier)).map((d) => d.field));
}

/**
 * Fields whose change needs a restart: everything that shapes the processes, but the limits
 * applied live (`live`), in canonical form (src/api/canonical.ts, as the revision hash): a
 * re-spelling of the same spec restarts nothing.
 */
export function runtimeHash(spec: ServiceUnitSpec, live: ReadonlySet<string> = liveResourceFields()): string {
  const unit = { ...(spec.unit ?? {}) };
  for (const k of ['description', 'documentation']) delete unit[k];
  const { state: _s, nodeName: _n, nodeSelector: _ns, masked: _m, ...rest } = spec;
  const service = spec.service === undefined ? undefined : Object.fromEntries(Object.entries(spec.service).filter(([k]) => !live.has(k)));
  return specHash(canonicalSpec({ ...rest, ...(service !== undefined ? { service } : {}), unit, install: {} }));
}

/** Directory names are ids with "/" replaced (namespace/name → namespace_name). */
export const dirOf = (id: string): string => id.replaceAll('/', '_');

/**
 * A cluster unit's id is NAMESPACE/NAME (a unit name never holds '/'): its cgroup goes in a slice
 * of its namespace, so two namespaces' web.service never share one; a standalone unit has none.
 */
/** The group whose units may depend on each other: a cluster id's namespace; '' for a standalone unit. */
export const depsGroupOf = (id: string): string => { const i = id.indexOf('/'); return i > 0 ? id.slice(0, i) : ''; };

export const cgroupGroupOf = (id: string, base: string): string | undefined => {
  const i = id.indexOf('/');
  return i > 0 ? namespaceSlice(base, id.slice(0, i)) : undefined;
};

const isInactive = (s: string): boolean => isInactiveOrFailed(s as ActiveState);

/** How long the previous agent's saved jobs wait for their units to be hosted again (ms). */
const SAVED_JOBS_MS = 60_000;

/** How often the host's one poller ticks every unit's safety-net poll (ms). */
const POLL_MS = 5000;

export class UnitHost {
  readonly units = new Map<string, Hosted>();
  private readonly opts: HostOptions;
  /** liveResourceFields(), made once (a Set built from the directive table each apply, before). */
  private readonly live = liveResourceFields();
  private readonly poller: NodeJS.Timeout;
  /** One dependency driver per group (dependencies on). */
  private readonly drivers = new Map<string, DepsDriver>();
  /** The exec runtimes JoinsNamespaceOf= shares, one set per folder or namespace (as the dependency graphs). */
  private readonly runtimes = new Map<string, SharedRuntimes>();
  /** Jobs asked for while applying a batch, run once the graph holds the whole batch (commit()). */
  private pending: Array<{ id: string; type: RequestJobType }> = [];
  private graphStale = false;
  private commitQueued = false;

  /** The jobs the previous agent had installed (jobs.json), queued again as their units are hosted. */
  private saved: SavedJob[] = [];
  /** The previous agent stopped every unit on exit (--stop-on-exit): units of state: running start again, as at boot. */
  private readonly boot: boolean;
  private saveQueued = false;
  /** The jobs jobs.json was last written with (JSON), undefined until the first write: a write that changes nothing is left out. */
  private jobsWritten: string | undefined;
  /** No more saving: the agent is closing, or stopping every unit (--stop-on-exit: nothing to redo). */
  private jobsFrozen = false;

  constructor(opts: HostOptions) {
    this.opts = opts;
    this.boot = takeStoppedOnExit(dirname(opts.unitsDir));
    if (this.boot) opts.log('info', 'the previous agent stopped every unit on exit (--stop-on-exit): the units of state: running start again');
    if (opts.dependencies) {
      const r = readSavedJobs(dirname(opts.unitsDir));
      if (r.error !== undefined) opts.log('warning', `the previous agent's jobs are not queued again: ${r.error}`);
      this.saved = r.jobs;
      // a saved job whose unit is not back within a minute (the folder or the namespace lost it) is dropped
      if (this.saved.length > 0) setTimeout(() => { this.saved = []; }, SAVED_JOBS_MS).unref();
    }
    this.poller = setInterval(() => { for (const h of this.units.values()) h.runner.pollTick(); }, POLL_MS);
    this.poller.unref();
  }

  private open(id: string, unitName: string, spec: ServiceUnitSpec): UnitRunner {
    const runner = this.openRunner(id, unitName, spec);
    this.restartByJob(runner);
    // a unit that waited for its restart job when the previous agent went away (the job went with it)
    if (this.opts.dependencies && runner.machine.state === 'auto-restart-queued') {
      this.opts.log('info', `${unitName} was waiting for its restart job; queuing its start again`, { unit: id });
      this.job(id, 'start');
    }
    return runner;
  }

  /**
   * With dependencies, an automatic restart is a job of the dependency engine, as in systemd
   * (service_enter_restart()): the unit's engine asks for it and waits, so that the units that
   * Requires= it stop first. Set again after every spec change (updateSpec() makes a new config).
   */
  private restartByJob(runner: UnitRunner): void {
    if (this.opts.dependencies) runner.cfg = { ...runner.cfg, restartByJob: true };
  }

  private updateSpec(runner: UnitRunner, spec: ServiceUnitSpec, id: string): void {
    runner.updateSpec(spec, id);
    this.restartByJob(runner);
  }

  private openRunner(id: string, unitName: string, spec: ServiceUnitSpec): UnitRunner {
    return UnitRunner.open({
      unitName, spec, dir: join(this.opts.unitsDir, dirOf(id)), shimPath: this.opts.shimPath, forkServer: this.opts.forkServer, pollMs: 0, runtimes: this.runtimesOf(depsGroupOf(id)),
      ...(this.opts.logMaxBytes ? { logMaxBytes: this.opts.logMaxBytes } : {}),
      ...(this.opts.hostRoot ? { hostRoot: this.opts.hostRoot } : {}),
      ...(this.opts.allowUnenforced ? { allowUnenforced: this.opts.allowUnenforced } : {}),
      ...(this.opts.cgroups ? { cgroups: this.opts.cgroups, cgroupGroup: cgroupGroupOf(id, this.opts.cgroups.base) } : {}),
      onLog: (level, message) => this.opts.log(level, message, { unit: id }),
      ...(this.opts.dependencies ? { related: () => this.driver(depsGroupOf(id)).relatesToMembers(unitName) } : {}),
      onChange: () => this.opts.onChange?.(id),
      ...(this.opts.onTransition || this.opts.dependencies ? {
        onDecision: (_props, _m, effects) => {
          if (this.opts.onTransition) for (const e of effects) if (e.t === 'transition') this.opts.onTransition(id, e.transition);
          if (this.opts.dependencies) this.driver(depsGroupOf(id)).engineDecision(unitName, effects);
        },
      } : {}),
    });
  }

  /** A unit removed for good: its JoinsNamespaceOf= declarations go, and its group's runtimes once nothing is left there. */
  private forgetRuntimes(id: string, unitName: string): void {
    const group = depsGroupOf(id);
    const r = this.runtimes.get(group);
    if (!r) return;
    const others = [...this.units.values()].filter((h) => h.id !== id && depsGroupOf(h.id) === group);
    // (two ServiceUnits of a namespace may name one unit: the other's declarations and runtime stay)
    if (!others.some((h) => h.runner.unitName === unitName)) r.forget(unitName);
    if (r.idle && others.length === 0) this.runtimes.delete(group);
  }

  /** Per-group state kept beside the hosted units (metrics: it falls back as namespaces empty). */
  cached(): Record<string, number> {
    let declared = 0;
    for (const r of this.runtimes.values()) declared += r.declaredUnits;
    return { 'dependency-graphs': this.drivers.size, 'runtime-groups': this.runtimes.size, 'runtime-declarations': declared };
  }

  private runtimesOf(group: string): SharedRuntimes {
    let r = this.runtimes.get(group);
    if (!r) { r = new SharedRuntimes((types, from) => startHolder(this.opts.shimPath, types, from)); this.runtimes.set(group, r); }
    return r;
  }

  private driver(group: string): DepsDriver {
    let d = this.drivers.get(group);
    if (!d) {
      // the transactions' debug lines (jobs merged, dropped) are not the agent log's; a line about
      // a unit goes in order with the lines its runner holds (a restart prepared ahead: loggate.ts)
      const driver: DepsDriver = d = new DepsDriver({
        onJobsChanged: () => this.saveJobsSoon(),
        log: (level, message, unit) => {
          if (level === 'debug') return;
          const say = (): void => this.opts.log(level, message, unit === undefined ? {} : { unit: group ? `${group}/${unit}` : unit });
          const m = unit === undefined ? undefined : driver.memberOf(unit);
          if (m instanceof UnitRunner) m.sayLog(say); else say();
        },
        mounts: () => hostMounts(this.opts.hostRoot),
      });
      this.drivers.set(group, d);
    }
    return d;
  }

  /** Saves every group's installed jobs once this turn of the event loop is done (jobs.json). */
  private saveJobsSoon(): void {
    if (this.saveQueued || this.jobsFrozen) return;
    this.saveQueued = true;
    setImmediate(() => {
      this.saveQueued = false;
      if (this.jobsFrozen) return;
      const jobs: SavedJob[] = [];
      for (const [group, d] of this.drivers) for (const j of d.jobs()) jobs.push({ group, unit: j.unit, type: j.type });
      // the same jobs as last written (none, most turns: a restart's job comes and goes in one): no write
      const text = JSON.stringify(jobs);
      if (text === this.jobsWritten) return;
      try { writeSavedJobs(dirname(this.opts.unitsDir), jobs); this.jobsWritten = text; } catch (e) {
        this.opts.log('warning', `cannot save the queued jobs (${fsErrorText(e)}): a restart of the agent now would lose them`);
      }
    });
  }

  /**
   * The previous agent's jobs (jobs.json) whose units are hosted now, queued again as the agent's
   * own (not manual): a restart job that was stopping a dependent finishes with its start.
   */
  private redoSaved(): void {
    if (this.saved.length === 0) return;
    const left: SavedJob[] = [];
    for (const s of this.saved) {
      const h = [...this.units.values()].find((x) => depsGroupOf(x.id) === s.group && x.runner.unitName === s.unit && !x.removing);
      const type = s.type === 'start' || s.type === 'stop' || s.type === 'restart' ? s.type : undefined;
      if (!h) { left.push(s); continue; }
      if (type === undefined) continue;
      this.opts.log('info', `${s.unit} had a ${s.type} job when the previous agent went away; queuing it again`, { unit: h.id });
      void this.driver(s.group).request(s.unit, type, 'replace', false).queued.then((r) => {
        if ('error' in r) this.opts.log('warning', `Failed to ${type} ${s.unit}: ${r.error}`, { unit: h.id });
      });
    }
    this.saved = left;
  }

  /** The unit set changed: the graphs are rebuilt at the next commit() (at the latest once this batch of applies is done). */
  private changed(): void {
    if (!this.opts.dependencies) return;
    this.graphStale = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.commitQueued) return;
    this.commitQueued = true;
    queueMicrotask(() => { this.commitQueued = false; this.commit(); });
  }

  /** A job the host asks for itself (a unit to run, a changed or removed one); `direct` without dependencies. */
  private job(id: string, type: RequestJobType, direct?: () => void): void {
    if (!this.opts.dependencies) { direct?.(); return; }
    this.pending.push({ id, type });
    this.schedule();
  }

  /**
   * Rebuilds the graph of every group from its hosted units (those being removed too, until
   * they are forgotten), then runs the jobs the last applies asked for, in order: a unit
   * applied before the unit it Requires= still finds it. Called after a batch of applies.
   */
  commit(): void {
    if (!this.opts.dependencies) return;
    if (this.graphStale) {
      this.graphStale = false;
      const groups = new Map<string, Map<string, DepsMember>>();
      for (const g of this.drivers.keys()) groups.set(g, new Map());
      for (const h of this.units.values()) {
        const g = depsGroupOf(h.id);
        if (!groups.has(g)) groups.set(g, new Map());
        groups.get(g)!.set(h.runner.unitName, h.runner);
      }
      for (const [g, members] of groups) {
        const d = this.driver(g);
        d.setUnits(members);
        // a group (namespace) with no unit left: its dependency engine goes; a unit added there makes a new one
        if (members.size === 0 && d.jobs().length === 0) { d.close(); this.drivers.delete(g); }
      }
      // a standby armed for a unit now tied to another is taken back (its restarts become jobs)
      for (const h of this.units.values()) h.runner.relationsChanged();
    }
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      const h = this.units.get(p.id);
      if (!h) continue;
      // nothing silent: a job the agent could not queue (a Requires= on a unit not hosted) is logged
      void this.driver(depsGroupOf(p.id)).request(h.runner.unitName, p.type, 'replace', false).queued.then((r) => {
        if ('error' in r) this.opts.log('warning', `Failed to ${p.type} ${h.runner.unitName}: ${r.error}`, { unit: p.id });
      });
    }
    this.redoSaved();
  }

  /** A user's job (unitctl start|stop|restart|reload): undefined without dependencies (the caller runs the runner itself). */
  request(id: string, type: RequestJobType, mode: JobMode = 'replace'): Queued | undefined {
    const h = this.units.get(id);
    if (!this.opts.dependencies || !h) return undefined;
    this.commit();
    return this.driver(depsGroupOf(id)).request(h.runner.unitName, type, mode);
  }

  /**
   * A user's action that comes by another way than the socket (the cluster's restart / reload /
   * reset-failed annotations): the same job unitctl would queue, so Requires= dependents restart
   * with it and After= is honoured; what does not end well is logged. Without dependencies, the
   * runner directly.
   */
  act(id: string, type: 'start' | 'restart' | 'reload'): void {
    const h = this.units.get(id);
    if (!h) return;
    const name = h.runner.unitName;
    const q = this.request(id, type);
    if (!q) { if (type === 'restart') h.runner.restart(); else if (type === 'reload') h.runner.reload(); else h.runner.start(); return; }
    void q.queued.then((r) => { if ('error' in r) this.opts.log('warning', `Failed to ${type} ${name}: ${r.error}`, { unit: id }); });
    void q.done.then((o) => {
      if (o.ok && o.result !== 'done' && o.result !== 'skipped') this.opts.log('warning', `Job ${name}/${o.type} finished with result '${o.result}'`, { unit: id });
    });
  }

  /** The installed jobs of a group (unitctl list-jobs). */
  jobs(group = ''): Job[] { return this.opts.dependencies ? this.driver(group).jobs() : []; }

  /** The dependency driver of a group, when dependencies are on (list-dependencies, status). */
  depsOf(group = ''): DepsDriver | undefined { return this.opts.dependencies ? this.driver(group) : undefined; }

  /** Units a previous agent left in the state folder, re-adopted with their saved spec. */
  adoptAll(): string[] {
    const ids: string[] = [];
    for (const dir of unitDirs(this.opts.unitsDir)) {
      const d = basename(dir);
      try {
        const read = loadUnitState(dir);
        if (read.t === 'refused') {
          this.opts.log('warning', `refusing ${read.path}: ${read.why}. Nothing in it is run or used to signal a process; if it is yours, check that none of its processes runs and remove ${dir}`, { unit: d });
          continue;
        }
        if (read.t === 'damaged') {
          // recovered (from the event logs) when its unit file is loaded: the file has no spec to run
          const live = recoverFromEventLogs(dir).spawns.filter((s) => s.live).map((s) => (s.pidLive ? s.pid : s.shimPid));
          this.opts.log('warning', `${read.path} is damaged (${read.why}); ${live.length > 0 ? `PID ${live.join(', ')} of it still run; they` : 'it'} will be recovered from the event logs when its unit file is loaded`, { unit: d });
          continue;
        }
        if (read.t !== 'ok') continue;
        const saved = read.state;
        const id = saved.id ?? d;
        if (this.units.has(id) || !saved.spec) continue;
        const runner = this.open(id, saved.unitName, saved.spec);
        const h: Hosted = { id, runner, source: ADOPTED_SOURCE, hash: runtimeHash(saved.spec, this.live), removing: false, ...(this.boot ? { boot: true } : {}) };
        this.units.set(id, h);
        this.changed();
        this.reportNotApplied(h);
        ids.push(id);
      } catch (e) { this.opts.log('warning', `cannot adopt ${dir}: ${fsErrorText(e)}`); }
    }
    return ids;
  }

  /** Brings one unit to its spec. Returns the runner. */
  apply(id: string, unitName: string, spec: ServiceUnitSpec, source: string): UnitRunner {
    const hash = runtimeHash(spec, this.live);
    const cur = this.units.get(id);
    const stopped = spec.masked === true || spec.state === 'stopped';
    if (!cur) {
      const dir = join(this.opts.unitsDir, dirOf(id));
      const fresh = !hasUnitState(dir);
      const savedSpec = fresh ? undefined : readUnitState(dir)?.spec;
      const savedHash = savedSpec ? runtimeHash(savedSpec, this.live) : undefined;
      const runner = this.open(id, unitName, spec);
      // a new unit's runner was just made from this spec (config, cgroup, the not-applied check):
      // only its id is new (updateSpec() did it all again: ~2.5 % of the agent's busy time in a
      // burst of 200 new units, issue 19); one found in the folder may have run another spec
      if (fresh) { runner.id = id; runner.persist(); } else this.updateSpec(runner, spec, id);
      const h: Hosted = { id, runner, source, hash, removing: false };
      this.units.set(id, h);
      this.reportNotApplied(h);
      this.changed();
      if (runner.stateError !== undefined) this.opts.log('warning', `${unitName} is not started: ${runner.stateError}`, { unit: id });
      // state: stopped is systemctl stop: stopped now (not again while a dependency pulls it in)
      else if (stopped) { if (this.opts.dependencies && !isInactive(runner.activeState)) this.job(id, 'stop'); else if (!this.opts.dependencies) runner.stop(); }
      else if (fresh || runner.recovered === 'clean' || (this.boot && isInactive(runner.activeState))) { this.opts.log('info', `Starting ${unitName} (${source})`, { unit: id }); this.job(id, 'start', () => runner.start()); }
      else if (savedHash !== undefined && savedHash !== hash) { this.opts.log('info', `${unitName} changed while the agent was away; restarting`, { unit: id }); this.job(id, 'restart', () => runner.restart()); }
      else this.opts.log('info', `Adopted ${unitName}: ${runner.props.ActiveState} (${runner.props.SubState}), MainPID ${runner.props.MainPID}`, { unit: id });
      return runner;
    }
    cur.source = source;
    const wasStopped = cur.runner.spec.masked === true || cur.runner.spec.state === 'stopped';
    const boot = cur.boot === true;
    cur.boot = false;
    if (cur.removing) { cur.removing = false; }
    if (hash !== cur.hash) {
      this.updateSpec(cur.runner, spec, id);
      this.changed();
      this.reportNotApplied(cur);
      cur.hash = hash;
      if (stopped) this.job(id, 'stop', () => cur.runner.stop());
      else { this.opts.log('info', `${unitName} changed; restarting (daemon-reload + restart)`, { unit: id }); this.job(id, 'restart', () => cur.runner.restart()); }
    } else if (JSON.stringify(cur.runner.spec) !== JSON.stringify(spec)) {
      this.updateSpec(cur.runner, spec, id);
      this.changed();
      if (stopped && !wasStopped) this.job(id, 'stop', () => cur.runner.stop());
      else if (!stopped && wasStopped) this.job(id, 'start', () => cur.runner.start());
      else if (boot && !stopped && isInactive(cur.runner.activeState)) this.bootStart(cur, unitName, source);
    } else if (boot && !stopped && isInactive(cur.runner.activeState)) this.bootStart(cur, unitName, source);
    return cur.runner;
  }

  /** A unit the previous agent stopped on exit (--stop-on-exit), started as at boot. */
  private bootStart(h: Hosted, unitName: string, source: string): void {
    this.opts.log('info', `Starting ${unitName} (${source}; the previous agent stopped it on exit)`, { unit: h.id });
    this.job(h.id, 'start', () => h.runner.start());
  }

  /**
   * Nothing silent: every directive the unit sets that this node does not apply is logged when
   * the unit is loaded or its spec changes (warning for a refused protection, notice otherwise).
   * A running unit adopted under a stricter --allow-unenforced keeps running; it is not started again.
   */
  private reportNotApplied(h: Hosted): void {
    const r = h.runner;
    // systemd at load time: an invalid unit name in a dependency is warned about and dropped (depsFromSpec() drops it)
    if (this.opts.dependencies) {
      const bad = invalidDependencies(r.spec).map((d) => `${d.field}=${d.name}`).join(' ');
      if (bad !== (h.reportedDeps ?? '')) {
        h.reportedDeps = bad;
        for (const d of invalidDependencies(r.spec)) this.opts.log('warning', `${h.source}: ${d.field}=: ${d.message}`, { unit: h.id });
      }
    }
    const key = `${r.notApplied.map((u) => u.name).join(',')}|${r.refusal ?? ''}`;
    if (key === (h.reported ?? '|')) return;
    h.reported = key;
    for (const u of r.notApplied) this.opts.log(r.refused.includes(u) ? 'warning' : 'notice', `${r.unitName}: ${describeUnapplied(u)}`, { unit: h.id });
    if (r.refused.length > 0 && r.activeState !== 'inactive' && r.activeState !== 'failed') {
      this.opts.log('warning', `${r.unitName} is running without ${r.refused.map((u) => `${u.name}=`).join(', ')}, which it asks for; it will not be started again`, { unit: h.id });
    }
    this.opts.onNotApplied?.(h.id, r.notApplied, r.refusal);
  }

  /** Starts stopping a unit that should not run here any more; forgetStopped() drops it once dead. */
  remove(id: string, why: string): void {
    const cur = this.units.get(id);
    if (!cur || cur.removing) return;
    this.opts.log('info', `${cur.runner.unitName}: ${why}; stopping it`, { unit: id });
    cur.removing = true;
    this.job(id, 'stop', () => cur.runner.stop());
  }

  /** Drops removed units that have stopped; returns their ids. */
  forgetStopped(): string[] {
    const gone: string[] = [];
    for (const [id, h] of this.units) {
      if (!h.removing) continue;
      const s = h.runner.props.ActiveState;
      if ((s === 'inactive' || s === 'failed') && h.runner.unitProcesses().length === 0) {
        h.runner.close();
        const dir = join(this.opts.unitsDir, dirOf(id));
        forgetUnitFolder(dir);
        this.forgetRuntimes(id, h.runner.unitName);
        try { rmSync(dir, { recursive: true, force: true }); } catch (e) {
          this.opts.log('warning', `cannot remove ${dir}: ${fsErrorText(e)}; it is left behind`, { unit: id });
        }
        this.units.delete(id);
        this.changed();
        gone.push(id);
        this.opts.log('info', `${h.runner.unitName}: stopped and forgotten`, { unit: id });
      }
    }
    return gone;
  }

  async stopAll(timeoutMs: number): Promise<void> {
    this.commit();
    // every unit stops: no job is left to redo (a next agent boots the state: running units anyway)
    this.jobsFrozen = true;
    if (this.opts.dependencies) try { writeSavedJobs(dirname(this.opts.unitsDir), []); } catch { /* a read-only state folder */ }
    // not the user's stop: the next agent starts them again (a read-only folder: it adopts them stopped, said in the log)
    try { markStoppedOnExit(dirname(this.opts.unitsDir)); } catch (e) { this.opts.log('warning', `the next agent will not start the units again: ${fsErrorText(e)}`); }
    // with dependencies: stop jobs, run in the reverse of the start order (After=/Before=); the
    // agent's own (not manual: RefuseManualStop= does not keep a unit running at shutdown)
    for (const h of this.units.values()) {
      if (!this.opts.dependencies) { h.runner.stop(); continue; }
      void this.driver(depsGroupOf(h.id)).request(h.runner.unitName, 'stop', 'replace', false).queued.then((r) => {
        if ('error' in r) this.opts.log('warning', `Failed to stop ${h.runner.unitName}: ${r.error}`, { unit: h.id });
      });
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && [...this.units.values()].some((h) => !['inactive', 'failed'].includes(h.runner.props.ActiveState))) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every hosted unit's ActiveState (the units-by-state metric). */
  activeStates(): string[] { return [...this.units.values()].map((h) => h.runner.props.ActiveState); }

  closeAll(): void {
    // the jobs the agent cancels as it goes are not saved: the next agent redoes them
    this.jobsFrozen = true;
    this.opts.forkServer?.close();
    clearInterval(this.poller);
    for (const d of this.drivers.values()) d.close();
    for (const h of this.units.values()) h.runner.close();
  }
}
