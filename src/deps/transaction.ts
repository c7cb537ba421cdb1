// Transactions as transaction.c builds them: the anchor job, the jobs pulled in along each
// dependency, merged per unit, minimized (mode fail), stripped of redundant jobs, checked against
// the installed jobs. Pure: reads the unit graph, the units' states and their installed jobs.

import type { ActiveState } from '../engine/states.ts';
import { exists, related, type Graph } from './graph.ts';
import { collapse, isActiveOrActivating, isConflicting, isInactiveOrFailed, isRedundant, mergeAndCollapse, mustWait, type JobType, type RequestJobType } from './jobs.ts';
import type { JobMode } from './spec.ts';
import { localeCompare } from '../api/collate.ts';

export interface World {
  readonly graph: Graph;
  state(unit: string): ActiveState;
  installed(unit: string): JobType | undefined;
  /** Whether the unit's installed job ignores ordering (--job-mode=ignore-dependencies); false when not given. */
  installedIgnoresOrder?(unit: string): boolean;
}

/**
 * Why a transaction was refused, as systemd's bus errors (systemctl maps them to its exit
 * status): ENOENT no such unit (5), EBADR job type not applicable, ECONFLICT contradicting jobs,
 * EMASKED a masked unit, ECYCLIC an ordering cycle it could not break, EDESTRUCTIVE it would
 * replace a queued job (4), EREFUSED RefuseManualStart=/Stop= (4), EUNSUPPORTED a job mode,
 * ENOISOLATION an isolate of a unit without AllowIsolate= (4), EINVAL an isolate that is no start.
 */
export type TxErrorCode = 'ENOENT' | 'EBADR' | 'ECONFLICT' | 'EMASKED' | 'ECYCLIC' | 'EDESTRUCTIVE' | 'EREFUSED' | 'EUNSUPPORTED' | 'ENOISOLATION' | 'EINVAL';

/** A line a transaction logs above debug (ordering cycles: found, broken, or not). */
export interface TxLog { readonly unit: string | undefined; readonly level: 'warning' | 'err'; readonly message: string }

export interface TransactionOptions {
  /** JOB_RESTART_DEPENDENCIES: a start propagates as try-restart to the units that need this one (automatic restarts). */
  readonly propagateStartAsRestart?: boolean;
  /** TRANSACTION_REENQUEUE_ANCHOR: merged into the unit's installed job, the anchor makes it run again (no late merge). */
  readonly reenqueueAnchor?: boolean;
  readonly ignoreOrder?: boolean;
  readonly ignoreRequirements?: boolean;
}

/** One job of a built transaction, after merging: what gets installed. */
export interface PlannedJob {
  readonly unit: string;
  readonly type: JobType;
  readonly ignoreOrder: boolean;
  readonly irreversible: boolean;
}

export type Built =
  | { readonly ok: true; readonly anchor: string; readonly jobs: readonly PlannedJob[]; readonly debug: readonly string[]; readonly logs: readonly TxLog[] }
  | { readonly ok: false; readonly error: string; readonly code: TxErrorCode; readonly debug: readonly string[]; readonly logs: readonly TxLog[] };

interface TJob { unit: string; type: JobType; ignoreOrder: boolean; matters: boolean; anchor: boolean }
interface Link { subject: TJob | undefined; object: TJob; matters: boolean; conflicts: boolean }

class Err {
  readonly code: TxErrorCode;
  readonly message: string;
  constructor(code: TxErrorCode, message: string) { this.code = code; this.message = message; }
}

class Tx {
  readonly jobs = new Map<string, TJob[]>();
  readonly links: Link[] = [];
  readonly debug: string[] = [];
  readonly logs: TxLog[] = [];
  anchor: TJob | undefined;
  readonly w: World;
  constructor(w: World) { this.w = w; }

  private all(): TJob[] { return [...this.jobs.values()].flat(); }

  /** transaction_add_job_and_dependencies(). Returns an Err instead of throwing. */
  add(type: JobType, unit: string, by: TJob | undefined, matters: boolean, conflicts: boolean, o: TransactionOptions & { graceful?: boolean }): Err | undefined {
    const g = this.w.graph;
    if (type !== 'stop' && type !== 'nop' && !exists(g, unit)) return new Err('ENOENT', `Unit ${unit} not found.`);
    const d = g.units.get(unit);
    // bus_unit_validate_load_state(): a masked unit may be stopped, nothing else
    if (type !== 'stop' && type !== 'nop' && d?.masked) return new Err('EMASKED', `Unit ${unit} is masked.`);
    if ((type === 'reload') && !(d?.canReload ?? false)) return new Err('EBADR', `Job type reload is not applicable for unit ${unit}.`);
    let list = this.jobs.get(unit);
    if (!list) this.jobs.set(unit, (list = []));
    let j = list.find((x) => x.type === type);
    const isNew = !j;
    if (!j) { j = { unit, type, ignoreOrder: o.ignoreOrder === true, matters: false, anchor: !by }; list.push(j); }
    if (by) this.links.push({ subject: by, object: j, matters, conflicts });
    else this.anchor = j;
    if (!isNew || o.ignoreRequirements || type === 'nop') return undefined;
    const flags = { ignoreOrder: o.ignoreOrder };
    const fail = (e: Err): Err => { this.debug.push(`Cannot add dependency job to transaction, deleting job ${unit}/${type} again: ${e.message}`); this.delete(j, false); return e; };

    if (type === 'start' || type === 'restart') {
      for (const dep of related(g, unit, 'pullInStart')) { const e = this.add('start', dep, j, true, false, flags); if (e && e.code !== 'EBADR') return fail(e); }
      for (const dep of related(g, unit, 'pullInStartIgnored')) { const e = this.add('start', dep, j, false, false, flags); if (e) this.debug.push(`${dep}: Cannot add dependency job, ignoring: ${e.message}`); }
      for (const dep of related(g, unit, 'pullInVerify')) { const e = this.add('verify-active', dep, j, true, false, flags); if (e && e.code !== 'EBADR') return fail(e); }
      for (const dep of related(g, unit, 'pullInStop')) { const e = this.add('stop', dep, j, true, true, flags); if (e && e.code !== 'EBADR') return fail(e); }
      for (const dep of related(g, unit, 'pullInStopIgnored')) { const e = this.add('stop', dep, j, false, false, flags); if (e) this.debug.push(`${dep}: Cannot add dependency job, ignoring: ${e.message}`); }
    }
    if (type === 'stop' || type === 'restart' || (type === 'start' && o.propagateStartAsRestart)) {
      for (const dep of related(g, unit, 'propagateStop')) {
        const nt = collapse(type === 'stop' ? 'stop' : 'try-restart', this.w.state(dep));
        if (nt === 'nop') continue;
        const e = this.add(nt, dep, j, true, false, flags);
        if (e && e.code !== 'EBADR') return e;
      }
      if (!by || o.graceful) {
        for (const dep of related(g, unit, 'propagateStopGraceful')) {
          // job_type_propagate_stop_graceful(): stop it unless a start of it is already planned
          const planned = this.jobs.get(dep)?.[0];
          if (planned && planned.type !== 'stop') continue;
          const e = this.add('stop', dep, j, true, false, { ...flags, graceful: true });
          if (e && e.code !== 'EBADR') return e;
        }
      }
    }
    if (type === 'reload') this.propagateReload(unit, j, flags);
    return undefined;
  }

  private propagateReload(unit: string, by: TJob, o: TransactionOptions): void {
    for (const dep of related(this.w.graph, unit, 'propagatesReloadTo')) {
      const nt = collapse('try-reload', this.w.state(dep));
      if (nt === 'nop') continue;
      const e = this.add(nt, dep, by, false, false, o);
      if (e) this.debug.push(`${dep}: Cannot add dependency job, ignoring: ${e.message}`);
    }
  }

  /** transaction_delete_job(): with delete_dependencies, the jobs that required this one go too. */
  delete(j: TJob, deleteDependencies: boolean): void {
    const list = this.jobs.get(j.unit);
    if (!list || !list.includes(j)) return;
    list.splice(list.indexOf(j), 1);
    if (list.length === 0) this.jobs.delete(j.unit);
    // a job that needed this one (a link that matters) cannot stay without it
    const pulledBy = this.links.filter((l) => l.object === j && l.matters).map((l) => l.subject);
    for (let i = this.links.length - 1; i >= 0; i--) { const l = this.links[i]!; if (l.object === j || l.subject === j) this.links.splice(i, 1); }
    if (deleteDependencies) for (const s of pulledBy) if (s) { this.debug.push(`Deleting job ${s.unit}/${s.type} as dependency of job ${j.unit}/${j.type}`); this.delete(s, true); }
  }

  /** transaction_find_jobs_that_matter_to_anchor(). */
  markMatters(): void {
    for (const j of this.all()) j.matters = false;
    const visit = (j: TJob): void => {
      if (j.matters) return;
      j.matters = true;
      for (const l of this.links) if (l.subject === j && l.matters) visit(l.object);
    };
    if (this.anchor) visit(this.anchor);
  }

  /** transaction_minimize_impact() (mode fail): drop jobs that don't matter and would stop running units or change installed jobs. */
  minimizeImpact(): void {
    for (let again = true; again;) {
      again = false;
      for (const j of this.all()) {
        if (j.matters) continue;
        const st = this.w.state(j.unit);
        const stopsRunning = j.type === 'stop' && isActiveOrActivating(st);
        const inst = this.w.installed(j.unit);
        const changesExisting = inst !== undefined && isConflicting(j.type, inst);
        if (!stopsRunning && !changesExisting) continue;
        this.debug.push(`Deleting ${j.unit}/${j.type} to minimize impact.`);
        this.delete(j, true); again = true; break;
      }
    }
  }

  /** transaction_drop_redundant(): drop a unit's jobs when all of them would change nothing. */
  dropRedundant(): void {
    for (let again = true; again;) {
      again = false;
      for (const [unit, list] of this.jobs) {
        const st = this.w.state(unit);
        const inst = this.w.installed(unit);
        const keep = list.some((k) => k.anchor || !isRedundant(k.type, st) || (inst !== undefined && isConflicting(k.type, inst)));
        if (keep) continue;
        for (const k of [...list]) this.delete(k, false);
        again = true; break;
      }
    }
  }

  /** transaction_collect_garbage(): drop jobs nothing pulls in any more. */
  collectGarbage(): void {
    for (let again = true; again;) {
      again = false;
      for (const j of this.all()) {
        if (j.anchor || this.links.some((l) => l.object === j && l.subject)) continue;
        this.delete(j, false); again = true; break;
      }
    }
  }

  /** transaction_merge_jobs(): one job per unit; of two conflicting ones, drop the one that matters less. */
  mergeJobs(): Err | undefined {
    for (;;) {
      let dropped = false;
      for (const [unit, list] of this.jobs) {
        for (let a = 0; a < list.length && !dropped; a++) {
          for (let b = a + 1; b < list.length && !dropped; b++) {
            const j = list[a]!, k = list[b]!;
            if (mergeAndCollapse(j.type, k.type, this.w.state(unit)) !== undefined) continue;
            let d: TJob;
            if (!j.matters && !k.matters) {
              const stop = j.type === 'stop' ? j : k, other = stop === j ? k : j;
              const byConflict = this.links.some((l) => l.object === stop && l.conflicts);
              d = byConflict ? other : stop;
            } else if (!j.matters) d = j;
            else if (!k.matters) d = k;
            else return new Err('ECONFLICT', `Transaction contains conflicting jobs '${j.type}' and '${k.type}' for ${unit}. Probably contradicting requirement dependencies configured.`);
            this.debug.push(`Looking at job ${d.unit}/${d.type} conflicted_by=${d.type === 'stop' ? 'yes' : 'no'}; deleting it.`);
            this.delete(d, true); dropped = true;
          }
        }
        if (dropped) break;
      }
      if (!dropped) break;
      this.collectGarbage();
    }
    return undefined;
  }

  /**
   * transaction_verify_order(): walks the ordering graph along the edges of the job execution
   * order (job_compare(), the transaction's jobs and the installed ones); on a cycle, deletes a
   * job of the transaction on it that does not matter to the anchor (the caller retries) or
   * fails with "Transaction order is cyclic".
   */
  verifyOrder(): Err | 'again' | undefined {
    // marker: the unit we came from (itself for the start of a walk); null once the walk from it found no cycle
    const marker = new Map<string, string | null>();
    const node = (u: string): { type: JobType; ignoreOrder: boolean } | undefined => {
      const h = this.jobs.get(u)?.[0];
      if (h) return h;
      const t = this.w.installed(u);
      return t === undefined ? undefined : { type: t, ignoreOrder: this.w.installedIgnoresOrder?.(u) ?? false };
    };
    const visit = (u: string, from: string | undefined): Err | 'again' | undefined => {
      const seen = marker.get(u);
      if (seen === null) return undefined;
      if (seen !== undefined) {
        const path: string[] = [];
        let del: string | undefined;
        for (let k: string | undefined = from; k !== undefined;) {
          path.push(k);
          if (del === undefined && this.jobs.has(k) && !this.jobs.get(k)![0]!.matters) del = k;
          if (k === u) break;
          const m = marker.get(k);
          k = m === undefined || m === null || m === k ? undefined : m;
        }
        const name = (k: string): string => `${k}/${node(k)?.type ?? 'nop'}`;
        path.forEach((k, i) => this.logs.push({ unit: u, level: 'warning', message: `${u}: Found ${i === 0 ? 'ordering cycle' : 'dependency'} on ${name(k)}` }));
        if (del !== undefined) {
          this.logs.push({ unit: u, level: 'err', message: `${u}: Job ${name(del)} deleted to break ordering cycle starting with ${name(u)}` });
          for (const j of [...(this.jobs.get(del) ?? [])]) this.delete(j, true);
          return 'again';
        }
        this.logs.push({ unit: u, level: 'err', message: `${u}: Unable to break cycle starting with ${name(u)}` });
        return new Err('ECYCLIC', 'Transaction order is cyclic. See system logs for details.');
      }
      marker.set(u, from ?? u);
      const j = node(u)!;
      for (const dep of ['before', 'after'] as const) {
        for (const o of related(this.w.graph, u, dep)) {
          const oj = node(o);
          if (!oj) continue;
          // job_compare() < 0: j runs before o (o waits for it)
          if (j.type === 'nop' || oj.type === 'nop' || j.ignoreOrder || oj.ignoreOrder || mustWait(j.type, oj.type, dep)) continue;
          const r = visit(o, u);
          if (r) return r;
        }
      }
      marker.set(u, null);
      return undefined;
    };
    for (const u of [...this.jobs.keys()]) {
      const r = visit(u, undefined);
      if (r) return r;
    }
    return undefined;
  }

  /**
   * transaction_add_isolate_jobs(): a stop job for every unit that is active or has a job, is not
   * in the transaction and not IgnoreOnIsolate=. The node's units (its targets, the host's mounts)
   * are not the agent's to stop: an isolate acts among the units of one folder or namespace.
   */
  addIsolateJobs(): void {
    const g = this.w.graph;
    for (const [u, d] of [...g.units].sort(([a], [b]) => localeCompare(a, b))) {
      if (d.target || d.hostMount || d.ignoreOnIsolate || this.jobs.has(u)) continue;
      if (isInactiveOrFailed(this.w.state(u)) && this.w.installed(u) === undefined) continue;
      const e = this.add('stop', u, this.anchor, true, false, {});
      if (e) this.debug.push(`Cannot add isolate job for unit ${u}, ignoring: ${e.message}`);
    }
  }

  merged(): PlannedJob[] {
    const out: PlannedJob[] = [];
    for (const [unit, list] of [...this.jobs].sort(([a], [b]) => localeCompare(a, b))) {
      let t: JobType = list[0]!.type;
      for (const k of list.slice(1)) t = mergeAndCollapse(t, k.type, this.w.state(unit)) ?? t;
      out.push({ unit, type: collapse(t, this.w.state(unit)), ignoreOrder: list.some((k) => k.ignoreOrder), irreversible: false });
    }
    return out;
  }
}

/** manager_add_job() up to transaction_apply(): builds and checks a transaction; installing it is the manager's. */
export function buildTransaction(w: World, requested: RequestJobType, unit: string, mode: JobMode, opts: TransactionOptions = {}): Built {
  const type = collapse(requested, w.state(unit));
  // manager_add_job()
  if (mode === 'isolate' && type !== 'start') return { ok: false, error: 'Isolate is only valid for start.', code: 'EINVAL', debug: [], logs: [] };
  if (mode === 'isolate' && !(w.graph.units.get(unit)?.allowIsolate ?? false)) return { ok: false, error: 'Operation refused, unit may not be isolated.', code: 'ENOISOLATION', debug: [], logs: [] };
  const tx = new Tx(w);
  const o: TransactionOptions = {
    ...opts,
    ignoreOrder: opts.ignoreOrder || mode === 'ignore-dependencies',
    ignoreRequirements: opts.ignoreRequirements || mode === 'ignore-dependencies' || mode === 'ignore-requirements',
  };
  const fail = (e: Err): Built => ({ ok: false, error: e.message, code: e.code, debug: tx.debug, logs: tx.logs });
  const e = tx.add(type, unit, undefined, true, false, o);
  if (e) return fail(e);
  if (mode === 'isolate') tx.addIsolateJobs();
  tx.markMatters();
  if (mode === 'fail') tx.minimizeImpact();
  tx.dropRedundant();
  // collect garbage, then check the order; a job deleted to break a cycle: again
  for (let guard = 0; ; guard++) {
    tx.collectGarbage();
    const v = guard < 10_000 ? tx.verifyOrder() : new Err('ECYCLIC', 'Transaction order is cyclic. See system logs for details.');
    if (v === undefined) break;
    if (v !== 'again') {
      tx.logs.push({ unit: undefined, level: 'warning', message: `Requested transaction contains an unfixable cyclic ordering dependency: ${v.message}` });
      return fail(v);
    }
  }
  const me = tx.mergeJobs();
  if (me) return fail(me);
  tx.dropRedundant();
  const jobs = tx.merged().map((j) => ({ ...j, irreversible: mode === 'replace-irreversibly' }));
  if (mode === 'fail') {
    for (const j of jobs) {
      const inst = w.installed(j.unit);
      if (inst !== undefined && isConflicting(inst, j.type)) {
        return fail(new Err('EDESTRUCTIVE', `Transaction for ${unit}/${type} is destructive (${j.unit} has '${inst}' job queued, but '${j.type}' is included in transaction).`));
      }
    }
  }
  return { ok: true, anchor: unit, jobs, debug: tx.debug, logs: tx.logs };
}
