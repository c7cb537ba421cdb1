// Transactions as transaction.c builds them: the anchor job, the jobs pulled in along each
// dependency, merged per unit, minimized (mode fail), stripped of redundant jobs, checked against
// the installed jobs. Pure: reads the unit graph, the units' states and their installed jobs.

import type { ActiveState } from '../engine/states.ts';
import { exists, related, type Graph } from './graph.ts';
import { collapse, isActiveOrActivating, isConflicting, isRedundant, mergeAndCollapse, type JobType, type RequestJobType } from './jobs.ts';
import type { JobMode } from './spec.ts';

export interface World {
  readonly graph: Graph;
  state(unit: string): ActiveState;
  installed(unit: string): JobType | undefined;
}

export interface TransactionOptions {
  /** JOB_RESTART_DEPENDENCIES: a start propagates as try-restart to the units that need this one (automatic restarts). */
  readonly propagateStartAsRestart?: boolean;
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
  | { readonly ok: true; readonly anchor: string; readonly jobs: readonly PlannedJob[]; readonly debug: readonly string[] }
  | { readonly ok: false; readonly error: string; readonly debug: readonly string[] };

interface TJob { unit: string; type: JobType; ignoreOrder: boolean; matters: boolean; anchor: boolean }
interface Link { subject: TJob | undefined; object: TJob; matters: boolean; conflicts: boolean }

class Err {
  readonly code: 'ENOENT' | 'EBADR' | 'ECONFLICT';
  readonly message: string;
  constructor(code: 'ENOENT' | 'EBADR' | 'ECONFLICT', message: string) { this.code = code; this.message = message; }
}

class Tx {
  readonly jobs = new Map<string, TJob[]>();
  readonly links: Link[] = [];
  readonly debug: string[] = [];
  anchor: TJob | undefined;
  readonly w: World;
  constructor(w: World) { this.w = w; }

  private all(): TJob[] { return [...this.jobs.values()].flat(); }

  /** transaction_add_job_and_dependencies(). Returns an Err instead of throwing. */
  add(type: JobType, unit: string, by: TJob | undefined, matters: boolean, conflicts: boolean, o: TransactionOptions & { graceful?: boolean }): Err | undefined {
    const g = this.w.graph;
    if (type !== 'stop' && type !== 'nop' && !exists(g, unit)) return new Err('ENOENT', `Unit ${unit} not found.`);
    const d = g.units.get(unit);
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

  merged(): PlannedJob[] {
    const out: PlannedJob[] = [];
    for (const [unit, list] of [...this.jobs].sort(([a], [b]) => a.localeCompare(b))) {
      let t: JobType = list[0]!.type;
      for (const k of list.slice(1)) t = mergeAndCollapse(t, k.type, this.w.state(unit)) ?? t;
      out.push({ unit, type: collapse(t, this.w.state(unit)), ignoreOrder: list.some((k) => k.ignoreOrder), irreversible: false });
    }
    return out;
  }
}

/** manager_add_job() up to transaction_apply(): builds and checks a transaction; installing it is the manager's. */
export function buildTransaction(w: World, requested: RequestJobType, unit: string, mode: JobMode, opts: TransactionOptions = {}): Built {
  if (mode === 'isolate' || mode === 'flush') return { ok: false, error: `Job mode ${mode} is not supported.`, debug: [] };
  const type = collapse(requested, w.state(unit));
  const tx = new Tx(w);
  const o: TransactionOptions = {
    ...opts,
    ignoreOrder: opts.ignoreOrder || mode === 'ignore-dependencies',
    ignoreRequirements: opts.ignoreRequirements || mode === 'ignore-dependencies' || mode === 'ignore-requirements',
  };
  const e = tx.add(type, unit, undefined, true, false, o);
  if (e) return { ok: false, error: e.message, debug: tx.debug };
  tx.markMatters();
  if (mode === 'fail') tx.minimizeImpact();
  tx.dropRedundant();
  tx.collectGarbage();
  const me = tx.mergeJobs();
  if (me) return { ok: false, error: me.message, debug: tx.debug };
  tx.dropRedundant();
  const jobs = tx.merged().map((j) => ({ ...j, irreversible: mode === 'replace-irreversibly' }));
  if (mode === 'fail') {
    for (const j of jobs) {
      const inst = w.installed(j.unit);
      if (inst !== undefined && isConflicting(inst, j.type)) {
        return { ok: false, error: `Transaction for ${unit}/${type} is destructive (${j.unit} has '${inst}' job queued, but '${j.type}' is included in transaction).`, debug: tx.debug };
      }
    }
  }
  return { ok: true, anchor: unit, jobs, debug: tx.debug };
}
