// The controller (leader-elected; safe with two replicas): sets the kstatus conditions and
// the summary for the printer columns, marks a node's entry Unknown when its agent's Lease
// expires, keeps one finalizer per targeted node, and releases it once that node's agent
// reports the unit stopped for deletion, or the node is gone, so deletions never hang.

import type { KubeClient } from '../kube/client.ts';
import { ApiError } from '../kube/client.ts';
import { Informer, keyOf, type KubeObject } from '../kube/informer.ts';
import { WorkQueue, type QueueObserver } from '../kube/queue.ts';
import { elect, leaseExpired, LEASES_PATH, type Elector } from '../kube/lease.ts';
import type { ServiceUnit, NodeStatus, RolloutStatus } from '../api/types.ts';
import { AGENT_LEASE, CONTROLLER_FIELD_MANAGER, CONTROLLER_LEASE, FINALIZER_PREFIX, SU_LIST_PATH, SU_PATH, targetsNode } from '../api/contract.ts';
import { compute } from './conditions.ts';
import { planRollout, revisionsToPrune, type RolloutPlan } from './rollout.ts';
import { CONTROLLER_REVISIONS_PATH, REVISION_LABELS, hashRevision, revisionData, revisionHash, revisionHolds, revisionName, type RevisionData } from '../api/revision.ts';
import type { Outcome } from '../kube/queue.ts';
import type { Metrics } from '../observability/metrics.ts';

/** JSON with object keys sorted, for comparing what we computed with what the server stores. */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : x));
}

export interface ControllerOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationS?: number;
  readonly resyncMs?: number;
  readonly log: (level: 'info' | 'notice' | 'warning' | 'error', message: string) => void;
  readonly metrics?: Metrics;
}

/** A ControllerRevision as read back. */
interface StoredRevision { metadata: { uid?: string; resourceVersion?: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind?: string; uid?: string }> }; data?: RevisionData }

/** Why a stored ControllerRevision is not revision `hash` of unit `unit`; undefined when it is. */
export function revisionProblem(found: StoredRevision, unit: string, hash: string): string | undefined {
  const labels = found.metadata.labels ?? {};
  if (labels[REVISION_LABELS.unit] !== unit) return `is labelled for serviceunit ${JSON.stringify(labels[REVISION_LABELS.unit] ?? null)}, not ${JSON.stringify(unit)}`;
  if (labels[REVISION_LABELS.hash] !== hash) return `is labelled revision ${JSON.stringify(labels[REVISION_LABELS.hash] ?? null)}, not ${hash}`;
  if (!revisionHolds(found.data ?? {}, hash)) return `holds data of revision ${hashRevision(found.data ?? {})}, not ${hash}`;
  return undefined;
}

/**
 * How long the controller leaves a new unit alone while the agents of its nodes (all alive) have
 * not reported it yet: their first report normally comes within moments (a start), and what the
 * controller would write before it (its finalizer, its ControllerRevision, Progressing with no
 * node reporting) is written once, with Ready, after it. In a burst of 200 new units those writes
 * took the API server from the creates and the agents' reports (bench:cluster, issue 19).
 */
export const FIRST_REPORT_WAIT_MS = 3000;

interface NodeObj extends KubeObject { metadata: KubeObject['metadata'] & { labels?: Record<string, string> } }
interface LeaseObj extends KubeObject { spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string } }

export class Controller {
  private readonly opts: ControllerOptions;
  private elector: Elector | undefined;
  private informers: Informer[] = [];
  private units: Informer | undefined;
  private nodes: Informer | undefined;
  private leases: Informer | undefined;
  private queue: WorkQueue | undefined;
  /** Reconcile timings for metrics, handed to each queue this controller leads with. */
  private queueObserver: QueueObserver | undefined;
  private resync: NodeJS.Timeout | undefined;
  writes = 0;
  /** When this controller first saw each new unit it waits for (FIRST_REPORT_WAIT_MS). */
  private readonly firstSeen = new Map<string, number>();
  /** What this controller last applied per unit, to skip writes that change nothing. */
  private readonly applied = new Map<string, string>();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    if (opts.metrics) {
      opts.metrics.observeClient(opts.client);
      this.queueObserver = opts.metrics.queue('controller', () => this.queue?.depth ?? 0);
      opts.metrics.trackStatusWrites(() => this.writes);
      opts.metrics.trackCaches(() => this.cached());
    }
  }

  get isLeader(): boolean { return this.elector?.isLeader() ?? false; }

  /** The readiness probe: a standby replica is ready; the leader once its caches are full. */
  get ready(): boolean { return !this.isLeader || this.informers.every((i) => i.synced); }

  start(): void {
    this.elector = elect(this.opts.client, this.opts.namespace, CONTROLLER_LEASE, this.opts.identity, {
      durationS: this.opts.leaseDurationS ?? 15, renewMs: Math.max(500, ((this.opts.leaseDurationS ?? 15) * 1000) / 5),
      onStart: () => this.lead(), onStop: () => { void this.follow(); }, log: (m) => this.opts.log('info', m),
    });
  }

  private lead(): void {
    const c = this.opts.client;
    const log = (l: 'info' | 'warning', m: string): void => this.opts.log(l, m);
    this.queue = new WorkQueue((k) => this.reconcile(k), { concurrency: 8, qps: 200, burst: 400 });
    this.queue.observer = this.queueObserver;
    const all = (): void => { for (const k of this.units?.cache.keys() ?? []) this.queue?.add(k); };
    this.units = new Informer(c, { path: SU_LIST_PATH, onEvent: (_t, o) => this.queue?.add(keyOf(o)), log });
    this.nodes = new Informer(c, { path: '/api/v1/nodes', onEvent: all, log });
    this.leases = new Informer(c, { path: LEASES_PATH(this.opts.namespace), onEvent: all, log });
    this.informers = [this.units, this.nodes, this.leases];
    for (const i of this.informers) i.start();
    this.resync = setInterval(all, this.opts.resyncMs ?? 3000);
  }

  private async follow(): Promise<void> {
    if (this.resync) clearInterval(this.resync);
    this.queue?.stop();
    // another replica leads meanwhile: what this one wrote or made may be stale when it leads
    // again; a reconcile still running writes none of it (epoch), nor does a leadership won while
    // the informers stop lose what it starts
    this.epoch++;
    for (const m of [this.firstSeen, this.applied, this.wrote, this.revisions]) m.clear();
    const informers = this.informers;
    this.informers = [];
    await Promise.all(informers.map((i) => i.stop()));
  }

  /** Bumped when leadership is lost: a reconcile started under an older one keeps nothing it learned. */
  private epoch = 0;

  /** A unit gone from the cache (deleted): what this controller kept about it goes too. */
  private forget(key: string): void {
    for (const m of [this.firstSeen, this.applied, this.wrote, this.revisions]) m.delete(key);
  }

  /** What this controller keeps per unit (metrics: each falls back as units are deleted). */
  cached(): Record<string, number> {
    let revisions = 0;
    for (const s of this.revisions.values()) revisions += s.size;
    return { 'first-seen': this.firstSeen.size, applied: this.applied.size, wrote: this.wrote.size, revisions };
  }

  private agentAlive(node: string): boolean {
    const l = this.leases?.cache.get(`${this.opts.namespace}/${AGENT_LEASE(node)}`) as LeaseObj | undefined;
    return !!l && !leaseExpired(l as never);
  }

  /** When a node's agent lease expired (ms since the epoch); 0 when it never had one. */
  private lostSince(node: string): number {
    const l = this.leases?.cache.get(`${this.opts.namespace}/${AGENT_LEASE(node)}`) as LeaseObj | undefined;
    if (!l?.spec.renewTime) return 0;
    return Date.parse(l.spec.renewTime) + (l.spec.leaseDurationSeconds ?? 40) * 1000;
  }

  /** The rollout status last written per unit and the resourceVersion it was planned from. */
  private readonly wrote = new Map<string, { fromRv: string | undefined; rollout: RolloutStatus }>();
  /** Revisions this controller knows exist (created, or found already there), per unit (its key) by name and owner UID (revisionKey()). */
  private readonly revisions = new Map<string, Set<string>>();
  /** ControllerRevision writes (bench: the API writes a rollout costs). */
  revisionWrites = 0;

  /**
   * The ControllerRevision of a unit's revision, created once (as a DaemonSet's history). One
   * already there (a revert to a known revision, a restarted controller, or someone else's) must
   * hold this revision: this unit's and this hash's labels, data that hashes to it. One that does
   * not is replaced when it is ours (owned by this ServiceUnit) and no node is granted it or runs
   * it; otherwise it is a conflict: the message naming the object is returned, and the caller
   * grants nothing until it is gone (an agent would refuse the data, and the rollout would
   * stall without saying why).
   */
  private async ensureRevision(obj: KubeObject & ServiceUnit, hash: string): Promise<string | undefined> {
    const ns = obj.metadata.namespace!;
    const name = revisionName(obj.metadata.name, hash);
    const epoch = this.epoch;
    if (this.revisions.get(keyOf(obj))?.has(revisionKey(name, obj))) return undefined;
    const path = `${CONTROLLER_REVISIONS_PATH(ns)}/${name}`;
    const body = {
      apiVersion: 'apps/v1', kind: 'ControllerRevision',
      metadata: {
        name, namespace: ns, labels: { [REVISION_LABELS.unit]: obj.metadata.name, [REVISION_LABELS.hash]: hash },
        ...(obj.metadata.uid ? { ownerReferences: [{ apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', name: obj.metadata.name, uid: obj.metadata.uid, controller: true, blockOwnerDeletion: false }] } : {}),
      },
      data: revisionData(obj.spec), revision: obj.metadata.generation ?? 1,
    };
    for (let replaced = false, conflicts = 0; ;) {
      try {
        await this.opts.client.request(CONTROLLER_REVISIONS_PATH(ns), { method: 'POST', body });
        this.revisionWrites++;
        break;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409)) throw e;
      }
      // 409: it exists — is it this revision?
      const found = await this.opts.client.request<StoredRevision>(path).catch((e: unknown) => { if (e instanceof ApiError && e.status === 404) return undefined; throw e; });
      if (!found) continue; // deleted meanwhile: create it
      const problem = revisionProblem(found, obj.metadata.name, hash);
      const owners = (found.metadata.ownerReferences ?? []).filter((o) => o.kind === 'ServiceUnit');
      const ours = obj.metadata.uid !== undefined && owners.some((o) => o.uid === obj.metadata.uid);
      const r = obj.status?.rollout;
      const inUse = (r?.nodes ?? []).some((g) => g.revision === hash) || r?.stableRevision === hash || (obj.status?.nodes ?? []).some((e) => e.revision === hash);
      // right, but an earlier ServiceUnit's of this name (deleted and made again): the garbage
      // collector deletes it with its owner, under a rollout that relies on it — made ours instead,
      // in use or not (same name and data: an agent reading it meanwhile keeps what runs and reads
      // it again, agent/cluster.ts)
      const stale = problem === undefined && obj.metadata.uid !== undefined && owners.length > 0 && !ours && !replaced;
      if (problem === undefined && !stale) break;
      if (stale) this.opts.log('notice', `${ns}/${obj.metadata.name}: ControllerRevision ${name} belongs to an earlier ServiceUnit of this name (UID ${owners[0]!.uid}), which the garbage collector deletes it with: replacing it with this one's`);
      else if (!ours || inUse || replaced) return `ControllerRevision ${ns}/${name} ${problem}${!ours ? '; it is not owned by this ServiceUnit, so it is left alone' : inUse ? '; a node is granted it or runs it, so it is left alone' : ''}: delete it (or change the spec) and the rollout goes on`;
      else this.opts.log('warning', `${ns}/${obj.metadata.name}: ControllerRevision ${name} ${problem}; it is ours and no node uses it: replacing it`);
      // a 409: it changed since it was read (its preconditions): read it again and judge again
      const deleted = await this.opts.client.request(path, { method: 'DELETE', body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: found.metadata.uid, resourceVersion: found.metadata.resourceVersion } } })
        .then(() => true, (e: unknown) => { if (e instanceof ApiError && e.status === 404) return true; if (e instanceof ApiError && e.status === 409 && ++conflicts < 5) return false; throw e; });
      this.revisionWrites++;
      if (deleted) replaced = true;
    }
    if (epoch === this.epoch) {
      let known = this.revisions.get(keyOf(obj));
      if (!known) this.revisions.set(keyOf(obj), (known = new Set()));
      known.add(revisionKey(name, obj));
    }
    // a unit with no rollout status yet (a new one) has no older revision of ours to prune: no
    // label-selected LIST per new unit (200 in a burst); the next revision's creation prunes
    if (obj.status?.rollout !== undefined) await this.pruneRevisions(obj, hash);
    return undefined;
  }

  /** Keeps REVISION_HISTORY_LIMIT revisions per unit: the oldest that no node is granted go (after a new one is made). */
  private async pruneRevisions(obj: KubeObject & ServiceUnit, hash: string): Promise<void> {
    const ns = obj.metadata.namespace!;
    try {
      const list = await this.opts.client.request<{ items: Array<{ metadata: { name: string; labels?: Record<string, string> }; revision?: number }> }>(CONTROLLER_REVISIONS_PATH(ns), { query: { labelSelector: `${REVISION_LABELS.unit}=${obj.metadata.name}` } });
      const inUse = new Set([hash, ...(obj.status?.rollout?.nodes ?? []).map((g) => g.revision), ...(obj.status?.rollout?.stableRevision ? [obj.status.rollout.stableRevision] : [])]);
      const items = list.items.map((i) => ({ name: i.metadata.name, hash: i.metadata.labels?.[REVISION_LABELS.hash] ?? '', revision: i.revision ?? 0 }));
      for (const name of revisionsToPrune(items, inUse)) {
        await this.opts.client.request(`${CONTROLLER_REVISIONS_PATH(ns)}/${name}`, { method: 'DELETE' }).catch((e: unknown) => { if (!(e instanceof ApiError && e.status === 404)) throw e; });
        this.revisions.get(keyOf(obj))?.delete(revisionKey(name, obj));
      }
    } catch (e) {
      this.opts.log('warning', `${ns}/${obj.metadata.name}: cannot prune old ControllerRevisions: ${(e as Error).message}`);
    }
  }

  private event(obj: KubeObject & ServiceUnit, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const ns = obj.metadata.namespace!;
    const ts = new Date().toISOString();
    void this.opts.client.request(`/api/v1/namespaces/${ns}/events`, {
      method: 'POST',
      body: {
        apiVersion: 'v1', kind: 'Event', metadata: { generateName: `${obj.metadata.name}.`, namespace: ns },
        involvedObject: { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', name: obj.metadata.name, namespace: ns, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) },
        reason, message, type, source: { component: 'unit-operator-controller' }, firstTimestamp: ts, lastTimestamp: ts, count: 1,
      },
    }).catch(() => { /* events are best effort */ });
  }

  private async reconcile(key: string): Promise<Outcome | void> {
    if (!this.isLeader || !this.units?.synced || !this.nodes?.synced || !this.leases?.synced) return;
    const epoch = this.epoch;
    const obj = this.units.cache.get(key) as (KubeObject & ServiceUnit) | undefined;
    if (!obj) { this.forget(key); return; }
    const nodes = [...this.nodes.cache.values()] as NodeObj[];
    const targeted = obj.spec.nodeName !== undefined ? [obj.spec.nodeName] : nodes.filter((n) => targetsNode(obj.spec, n.metadata.name, n.metadata.labels ?? {})).map((n) => n.metadata.name).sort();
    const path = SU_PATH(obj.metadata.namespace!, obj.metadata.name);
    const nodeExists = (n: string): boolean => nodes.some((x) => x.metadata.name === n);
    const wait = this.firstReportWait(key, obj, targeted);
    if (wait > 0) return { requeueAfterMs: wait };

    // finalizers: one per targeted node while the object lives; released on deletion when safe
    const finalizers = obj.metadata.finalizers ?? [];
    const ours = finalizers.filter((f) => f.startsWith(FINALIZER_PREFIX));
    let wanted: string[];
    const entries = new Map((obj.status?.nodes ?? []).map((n) => [n.node, n]));
    if (obj.metadata.deletionTimestamp) {
      wanted = ours.filter((f) => {
        const n = f.slice(FINALIZER_PREFIX.length);
        const e = entries.get(n);
        if (e?.stoppedForDeletion) return false;
        if (!nodeExists(n)) return false;
        if (!this.agentAlive(n)) return false;
        return true;
      });
    } else {
      wanted = targeted.filter((n) => this.agentAlive(n) || entries.has(n)).map((n) => `${FINALIZER_PREFIX}${n}`);
    }
    if (JSON.stringify([...wanted].sort()) !== JSON.stringify([...ours].sort())) {
      const next = [...finalizers.filter((f) => !f.startsWith(FINALIZER_PREFIX)), ...wanted];
      try {
        await this.opts.client.jsonPatch(path, [{ op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion }, { op: 'replace', path: '/metadata/finalizers', value: next }], CONTROLLER_FIELD_MANAGER);
        this.writes++;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 422 || e.status === 409)) return; // changed meanwhile: the watch brings it back
        throw e;
      }
    }
    if (obj.metadata.deletionTimestamp) return;

    // entries of nodes whose agent stopped renewing its lease become Unknown
    const unknown: NodeStatus[] = [];
    for (const n of targeted) {
      const e = entries.get(n);
      if (e && !this.agentAlive(n)) unknown.push({ node: n, activeState: 'Unknown', message: `the agent on ${n} stopped renewing its lease` });
    }
    const withUnknown: ServiceUnit = { ...obj, status: { ...obj.status, nodes: (obj.status?.nodes ?? []).map((e) => unknown.find((u) => u.node === e.node) ? { ...e, activeState: 'Unknown' } : e).filter((e) => targeted.includes(e.node)) } };
    // the rollout (issue 18): which revision each node may run
    // the cache may not hold our last write yet: plan from what we wrote when it is that object
    const wrote = this.wrote.get(key);
    const stale = wrote !== undefined && wrote.fromRv === obj.metadata.resourceVersion;
    // the revision's ControllerRevision first: a node is granted only a revision that is stored
    // (checked again while a conflict stands: the Stalled condition remembers it across restarts)
    const target = revisionHash(obj.spec);
    const hadConflict = obj.status?.conditions?.some((x) => x.type === 'Stalled' && x.reason === 'RevisionConflict') === true;
    const conflict = target !== obj.status?.rollout?.updatedRevision || !obj.status?.rollout || hadConflict ? await this.ensureRevision(obj, target) : undefined;
    const plan = this.plan(obj, targeted, entries, stale ? wrote.rollout : obj.status?.rollout, target, conflict);
    const c = compute(withUnknown, targeted, new Date().toISOString(), obj.status?.conditions ?? [], plan);
    const outcome: Outcome | undefined = plan.recheckAfterMs !== undefined ? { requeueAfterMs: Math.max(100, plan.recheckAfterMs + 50) } : undefined;
    // compare in a key order of our own: the API server returns objects with sorted keys
    const before = stableJson({ c: (obj.status?.conditions ?? []).map((x) => [x.type, x.status, x.reason, x.message, x.observedGeneration]), s: obj.status?.summary, g: obj.status?.observedGeneration, u: unknown, r: obj.status?.rollout });
    const after = stableJson({ c: c.conditions.map((x) => [x.type, x.status, x.reason, x.message, x.observedGeneration]), s: c.summary, g: obj.metadata.generation, u: unknown, r: plan.status });
    if ((before === after || stale) && this.applied.get(key) === after) return outcome;
    await this.opts.client.apply(`${path}/status`, {
      apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
      status: { observedGeneration: obj.metadata.generation, conditions: c.conditions, summary: c.summary, nodes: unknown, rollout: plan.status },
    }, CONTROLLER_FIELD_MANAGER);
    if (epoch === this.epoch) {
      this.applied.set(key, after);
      this.wrote.set(key, { fromRv: obj.metadata.resourceVersion, rollout: plan.status });
    }
    this.writes++;
    if (plan.granted.length > 0) this.opts.log('info', `${key}: revision ${plan.status.updatedRevision} granted to ${plan.granted.join(', ')}`);
    const wasHalted = obj.status?.rollout?.halted;
    if (plan.halted && (wasHalted?.node !== plan.halted.node || wasHalted.revision !== plan.halted.revision)) {
      this.opts.log('warning', `${key}: rollout halted: ${plan.halted.message}`);
      this.event(obj, 'Warning', 'RolloutHalted', `rollout halted: ${plan.halted.message}`);
    } else if (!plan.halted && wasHalted && wasHalted.revision === plan.status.updatedRevision && !stale) {
      // the halted node recovered on its own (a slow start, or someone fixed the host): the halt lifts
      const e = entries.get(wasHalted.node);
      const why = this.agentAlive(wasHalted.node) ? `${wasHalted.node} runs revision ${wasHalted.revision} ${e?.activeState ?? 'with no report'} again` : `the agent on ${wasHalted.node} stopped renewing its lease: it counts as unavailable`;
      this.opts.log('info', `${key}: rollout resumed: ${why}`);
      this.event(obj, 'Normal', 'RolloutResumed', `rollout resumed: ${why}`);
    }
    if (conflict && !hadConflict) {
      this.opts.log('warning', `${key}: ${conflict}`);
      this.event(obj, 'Warning', 'RevisionConflict', conflict);
    }
    return outcome;
  }

  /**
   * How long (ms) a new unit is still left alone: nothing written in its status by anyone, not
   * being deleted, and every node it targets has a live agent; at most FIRST_REPORT_WAIT_MS from
   * when this controller first saw it. 0: reconcile it now.
   */
  private firstReportWait(key: string, obj: KubeObject & ServiceUnit, targeted: readonly string[]): number {
    const st = obj.status;
    const fresh = st === undefined || ((st.nodes ?? []).length === 0 && (st.conditions ?? []).length === 0 && st.observedGeneration === undefined && st.rollout === undefined);
    if (!fresh || obj.metadata.deletionTimestamp || targeted.length === 0 || !targeted.every((n) => this.agentAlive(n))) { this.firstSeen.delete(key); return 0; }
    const now = Date.now();
    const since = this.firstSeen.get(key) ?? now;
    this.firstSeen.set(key, since);
    const left = FIRST_REPORT_WAIT_MS - (now - since);
    if (left <= 0) this.firstSeen.delete(key);
    return Math.max(0, left);
  }

  private plan(obj: KubeObject & ServiceUnit, targeted: readonly string[], entries: ReadonlyMap<string, NodeStatus>, previous: RolloutStatus | undefined, target: string, conflict: string | undefined): RolloutPlan {
    const spec = obj.spec;
    return planRollout({
      target,
      ...(conflict !== undefined ? { blocked: conflict } : {}),
      nodes: targeted.map((n) => ({ node: n, alive: this.agentAlive(n), lostSinceMs: this.lostSince(n), entry: entries.get(n) })),
      previous,
      strategy: { maxUnavailable: spec.updateStrategy?.rollingUpdate?.maxUnavailable, minReadySeconds: spec.minReadySeconds, progressDeadlineSeconds: spec.progressDeadlineSeconds, paused: spec.paused },
      wantRunning: (spec.state ?? 'running') === 'running' && !spec.masked,
      oneshot: spec.service?.['type'] === 'oneshot',
      nowMs: Date.now(),
    });
  }

  async stop(): Promise<void> {
    this.elector?.stop();
    await this.follow();
  }
}

/**
 * A known revision's key: its owner's UID in it, so that a unit deleted and made again with the
 * same name and spec in one controller lifetime (a new UID) makes its ControllerRevision again —
 * the old one went with the old unit (the garbage collector), and a rollout waiting for it stalled.
 */
function revisionKey(name: string, owner: KubeObject): string {
  return `${name}/${owner.metadata.uid ?? ''}`;
}
