// The controller (leader-elected; safe with two replicas): sets the kstatus conditions and
// the summary for the printer columns, marks a node's entry Unknown when its agent's Lease
// expires, keeps one finalizer per targeted node, and releases it once that node's agent
// reports the unit stopped for deletion, or the node is gone, so deletions never hang.

import type { KubeClient } from '../kube/client.ts';
import { ApiError } from '../kube/client.ts';
import { Informer, keyOf, type KubeObject } from '../kube/informer.ts';
import { WorkQueue, type QueueObserver } from '../kube/queue.ts';
import { elect, leaseExpired, LEASES_PATH, type Elector } from '../kube/lease.ts';
import type { ServiceUnit, NodeStatus } from '../api/types.ts';
import { AGENT_LEASE, CONTROLLER_FIELD_MANAGER, CONTROLLER_LEASE, FINALIZER_PREFIX, SU_LIST_PATH, SU_PATH, targetsNode } from '../api/contract.ts';
import { compute } from './conditions.ts';
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
  /** What this controller last applied per unit, to skip writes that change nothing. */
  private readonly applied = new Map<string, string>();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    if (opts.metrics) {
      opts.metrics.observeClient(opts.client);
      this.queueObserver = opts.metrics.queue('controller', () => this.queue?.depth ?? 0);
      opts.metrics.trackStatusWrites(() => this.writes);
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
    await Promise.all(this.informers.map((i) => i.stop()));
    this.informers = [];
  }

  private agentAlive(node: string): boolean {
    const l = this.leases?.cache.get(`${this.opts.namespace}/${AGENT_LEASE(node)}`) as LeaseObj | undefined;
    return !!l && !leaseExpired(l as never);
  }

  private async reconcile(key: string): Promise<void> {
    if (!this.isLeader || !this.units?.synced || !this.nodes?.synced || !this.leases?.synced) return;
    const obj = this.units.cache.get(key) as (KubeObject & ServiceUnit) | undefined;
    if (!obj) return;
    const nodes = [...this.nodes.cache.values()] as NodeObj[];
    const targeted = obj.spec.nodeName !== undefined ? [obj.spec.nodeName] : nodes.filter((n) => targetsNode(obj.spec, n.metadata.name, n.metadata.labels ?? {})).map((n) => n.metadata.name).sort();
    const path = SU_PATH(obj.metadata.namespace!, obj.metadata.name);
    const nodeExists = (n: string): boolean => nodes.some((x) => x.metadata.name === n);

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
    const c = compute(withUnknown, targeted, new Date().toISOString(), obj.status?.conditions ?? []);
    // compare in a key order of our own: the API server returns objects with sorted keys
    const before = stableJson({ c: (obj.status?.conditions ?? []).map((x) => [x.type, x.status, x.reason, x.message, x.observedGeneration]), s: obj.status?.summary, g: obj.status?.observedGeneration, u: unknown });
    const after = stableJson({ c: c.conditions.map((x) => [x.type, x.status, x.reason, x.message, x.observedGeneration]), s: c.summary, g: obj.metadata.generation, u: unknown });
    if (before === after && this.applied.get(key) === after) return;
    await this.opts.client.apply(`${path}/status`, {
      apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
      status: { observedGeneration: obj.metadata.generation, conditions: c.conditions, summary: c.summary, nodes: unknown },
    }, CONTROLLER_FIELD_MANAGER);
    this.applied.set(key, after);
    this.writes++;
  }

  async stop(): Promise<void> {
    this.elector?.stop();
    await this.follow();
  }
}
