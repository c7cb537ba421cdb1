// The node agent in cluster mode: watches the ServiceUnits that target its node (nodeName, or
// nodeSelector against its Node's labels, re-evaluated when they change), runs them with the
// engine, publishes its own status.nodes[] entry, records Events, acts on the restart / reload /
// reset-failed annotations once each, stops units whose object is being deleted (the
// controller then releases this node's finalizer), and renews its Lease. While the API server
// is unreachable, services keep running and restarting; status catches up when it returns.

import type { ForkServer } from '../runner/forkserver.ts';
import type { CgroupContext } from '../runner/cgroup/index.ts';
import { releaseAgentCgroups } from '../runner/cgroup/agent.ts';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { KubeClient } from '../kube/client.ts';
import { Informer, keyOf, type KubeObject } from '../kube/informer.ts';
import { WorkQueue } from '../kube/queue.ts';
import { tryHold } from '../kube/lease.ts';
import { ANNOTATIONS, type NodeStatus, type ServiceUnit } from '../api/types.ts';
import { AGENT_LEASE, agentUnitSelectors, FIELD_NOT_SELECTABLE, targetsNode, unitNameOf } from '../api/contract.ts';
import { chooseRevision, CONTROLLER_REVISIONS_PATH, hashRevision, revisionData, revisionHash, revisionHolds, revisionName, specAtRevision, withoutRolloutFields, type RevisionData } from '../api/revision.ts';
import type { Outcome } from '../kube/queue.ts';
import { depsGroupOf, UnitHost } from './host.ts';
import { StatusPublisher } from './publisher.ts';
import { toNodeStatus } from '../api/status.ts';
import { unitUsage } from './status.ts';
import { notAppliedEntries, type AllowUnenforced, type Unapplied } from '../api/applied.ts';
import type { Transition } from '../engine/index.ts';
import { EventRecorder, unitEvent } from './events.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface ClusterAgentOptions {
  readonly client: KubeClient;
  readonly node: string;
  readonly stateDir: string;
  readonly shimPath: string;
  /** The fork server the agent started (src/runner/forkserver.ts); absent: shims are spawned by the agent. */
  readonly forkServer?: ForkServer | undefined;
  /** Namespace of the agent's Lease. */
  readonly leaseNamespace: string;
  readonly leaseDurationS?: number;
  readonly statusIntervalMs?: number;
  /** The host's root file system when the agent runs in a container. */
  readonly hostRoot?: string;
  readonly log: (level: 'debug' | 'info' | 'notice' | 'warning' | 'error', message: string, fields?: Record<string, unknown>) => void;
  readonly metrics?: Metrics;
  /** --allow-unenforced: protections a unit may run without on this node. */
  readonly allowUnenforced?: AllowUnenforced;
  /** The node's cgroups and this agent's top slice (issue 13; src/runner/cgroup/agent.ts). */
  readonly cgroups?: CgroupContext | undefined;
}

const SELECTABLE_HINT = 'The agent filters ServiceUnits by spec.nodeName, which needs Kubernetes 1.31 or later and this release\'s CRD (it declares the field selectable): kubectl apply -k manifests/ (or -f crds/)';
const ACTION_ANNOTATIONS = [ANNOTATIONS.restart, ANNOTATIONS.reload, ANNOTATIONS.resetFailed] as const;

/** The action annotations' values present on an object. */
function actionAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of ACTION_ANNOTATIONS) if (annotations?.[a] !== undefined) out[a] = annotations[a];
  return out;
}
/** ControllerRevision data kept per unit: what runs, what is granted, and one more (a revert). */
const REVISIONS_CACHED = 3;

export class ClusterAgent {
  readonly host: UnitHost;
  readonly publisher: StatusPublisher;
  private readonly opts: ClusterAgentOptions;
  /** Units with spec.nodeName = this node. */
  private readonly pinned: Informer;
  /** Units placed by nodeSelector (no spec.nodeName); re-evaluated when the Node's labels change. */
  private readonly placed: Informer;
  private readonly nodes: Informer;
  private readonly queue: WorkQueue;
  private readonly events: EventRecorder;
  private readonly handled = new Map<string, Record<string, string>>();
  private readonly deleting = new Set<string>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private labels: Record<string, string> = {};
  /**
   * The revision each unit runs (issue 18). After a change that restarts the unit, `old` is still
   * reported until the unit's state changes after `sinceUs` (the restart taking effect), so the
   * controller never counts the old process as the new revision being up.
   */
  private readonly revs = new Map<string, { rev: string; old?: string; sinceUs?: number }>();
  /**
   * ControllerRevision data fetched, per unit by hash (immutable; checked against its hash): the
   * REVISIONS_CACHED last used of each unit, dropped with the unit (forget()).
   */
  private readonly revisionCache = new Map<string, Map<string, RevisionData>>();
  /** Units not started because another ServiceUnit of their namespace runs the unit they name here (rivalOf()): why, as their status says it, and whether its Event went out (the recorder drops some under a burst). */
  private readonly nameConflicts = new Map<string, { why: string; evented: boolean }>();

  constructor(opts: ClusterAgentOptions) {
    this.opts = opts;
    const unitsDir = join(opts.stateDir, 'units');
    mkdirSync(unitsDir, { recursive: true });
    this.publisher = new StatusPublisher(opts.client, opts.node, {
      intervalMs: opts.statusIntervalMs ?? 200, log: (m) => opts.log('warning', m),
      // a start's fork and its PID in one write (the PID comes a few ms after the decision)
      settling: (id) => this.host.units.get(id)?.runner.forking === true,
    });
    this.events = new EventRecorder(opts.client, 'unit-operator-agent', opts.node);
    this.host = new UnitHost({
      unitsDir, shimPath: opts.shimPath, forkServer: opts.forkServer, ...(opts.hostRoot ? { hostRoot: opts.hostRoot } : {}), log: opts.log,
      onChange: (id) => this.changed(id),
      onTransition: (id, t) => this.transition(id, t),
      ...(opts.allowUnenforced ? { allowUnenforced: opts.allowUnenforced } : {}),
      ...(opts.cgroups ? { cgroups: opts.cgroups } : {}),
      onNotApplied: (id, notApplied, refusal) => this.notApplied(id, notApplied, refusal),
      dependencies: true, // issue 16: one graph per namespace (host.ts depsGroupOf)
    });
    // reconciles are mostly local work; the API writes they cause are coalesced by the publisher.
    // 16 a turn of the event loop: the units of a turn start together once the dependency graph
    // of their namespace is rebuilt (host.commit(), a cost that grows with the namespace's units),
    // so a burst of 200 new units rebuilds it half as often as at 8 a turn (bench:cluster, 5
    // alternated pairs: all running p50 2359 -> 1882 ms, max 3321 -> 2874 ms, issue 19)
    this.queue = new WorkQueue((key) => this.reconcile(key), { concurrency: 16, qps: 1000, burst: 2000 });
    if (opts.metrics) {
      opts.metrics.observeClient(opts.client);
      this.queue.observer = opts.metrics.queue('agent', () => this.queue.depth);
      opts.metrics.trackUnits(() => this.host.activeStates());
      opts.metrics.trackUsage(this.host.units);
      opts.metrics.trackStatusWrites(() => this.publisher.writes);
      opts.metrics.trackCaches(() => this.cached());
    }
    const selectors = agentUnitSelectors(opts.node);
    const watchUnits = (fieldSelector: string): Informer => new Informer(opts.client, {
      path: '/apis/unit-operator.dev/v1alpha1/serviceunits', query: { fieldSelector },
      onEvent: (_t, o) => this.queue.add(keyOf(o)),
      log: (l, m) => opts.log(l, FIELD_NOT_SELECTABLE.test(m) ? `${m}. ${SELECTABLE_HINT}` : m),
    });
    this.pinned = watchUnits(selectors.pinned);
    this.placed = watchUnits(selectors.placed);
    this.nodes = new Informer(opts.client, {
      path: '/api/v1/nodes', query: { fieldSelector: `metadata.name=${opts.node}` },
      onEvent: (t, o) => {
        const next = t === 'DELETED' ? {} : (((o.metadata as { labels?: Record<string, string> }).labels) ?? {});
        if (JSON.stringify(next) === JSON.stringify(this.labels)) return;
        this.labels = next;
        for (const k of this.placed.cache.keys()) this.queue.add(k);
      },
      log: (l, m) => opts.log(l, m),
    });
  }

  async start(): Promise<void> {
    // supervise what a previous agent ran, even before the API server answers
    const adopted = this.host.adoptAll();
    if (adopted.length > 0) this.opts.log('info', `adopted ${adopted.length} unit(s) from ${this.opts.stateDir}`);
    this.nodes.start();
    this.pinned.start();
    this.placed.start();
    let beating = false; // one renewal at a time: a throttled API server must not stack them up
    const heartbeat = async (): Promise<void> => {
      if (beating) return;
      beating = true;
      try { await tryHold(this.opts.client, this.opts.leaseNamespace, AGENT_LEASE(this.opts.node), this.opts.node, this.opts.leaseDurationS ?? 40, true); }
      catch (e) { this.opts.log('warning', `lease renewal failed: ${(e as Error).message}`); }
      finally { beating = false; }
    };
    void heartbeat();
    this.leaseTimer = setInterval(() => { void heartbeat(); }, ((this.opts.leaseDurationS ?? 40) * 1000) / 4);
    this.sweepTimer = setInterval(() => this.sweep(), 500);
  }

  /** Units removed or no longer targeted: once stopped, forget them and their status entry. */
  private sweep(): void {
    for (const id of this.host.forgetStopped()) {
      this.forget(id);
      if (this.deleting.has(id)) continue; // keep the entry that says "stopped for deletion"
      this.publisher.publish(id, () => null);
    }
    for (const id of this.deleting) {
      const h = this.host.units.get(id);
      if (!h) this.publisher.publish(id, () => this.deletionEntry());
    }
  }

  /** The entry of a unit this node does not run (inactive/dead), saying why. */
  private notRunningEntry(why: Partial<NodeStatus> & { message: string }): NodeStatus {
    return { node: this.opts.node, activeState: 'inactive', subState: 'dead', ...why, lastHeartbeatTime: new Date().toISOString() };
  }

  private deletionEntry(): NodeStatus {
    return this.notRunningEntry({ stoppedForDeletion: true, message: 'stopped: the ServiceUnit is being deleted' });
  }

  /** Records an Event about the unit; false: the recorder dropped it (its rate limit). */
  private event(id: string, ev: Parameters<EventRecorder['record']>[1]): boolean {
    const obj = this.unit(id);
    const [namespace, name] = id.split('/') as [string, string];
    return this.events.record({ namespace, name, ...(obj?.metadata['uid'] ? { uid: String(obj.metadata['uid']) } : {}) }, ev);
  }

  /** Ready once both caches hold a full list (the readiness probe). */
  get ready(): boolean { return this.synced && this.nodes.synced; }

  private get synced(): boolean { return this.pinned.synced && this.placed.synced; }

  /** The ServiceUnit as last seen by either watch (a unit moving between them is in one or both). */
  private unit(key: string): (KubeObject & ServiceUnit) | undefined {
    return (this.pinned.cache.get(key) ?? this.placed.cache.get(key)) as (KubeObject & ServiceUnit) | undefined;
  }

  private transition(id: string, t: Transition): void {
    this.opts.metrics?.transition(id, t);
    const ev = unitEvent(t);
    if (ev) this.event(id, ev);
  }

  /** Events for what a unit asks for and this node does not apply (once per spec change). */
  private notApplied(id: string, notApplied: readonly Unapplied[], refusal: string | undefined): void {
    if (refusal !== undefined) this.event(id, { type: 'Warning', reason: 'StartRefused', message: refusal });
    const others = notApplied.filter((u) => !this.host.units.get(id)?.runner.refused.includes(u)).map((u) => `${u.name}=`);
    if (others.length > 0) this.event(id, { type: 'Normal', reason: 'NotApplied', message: `not applied on this node (status.nodes[].notApplied says why): ${others.join(', ')}` });
  }

  private changed(id: string): void {
    const h = this.host.units.get(id);
    if (!h) return;
    if (!h.removing || !this.deleting.has(id)) this.publisher.publish(id, () => this.entry(id));
  }

  private entry(id: string): NodeStatus | null {
    const h = this.host.units.get(id);
    const conflict = this.nameConflicts.get(id);
    if (!h && conflict !== undefined && !this.deleting.has(id)) {
      const obj = this.unit(id);
      // the annotations present now count as handled: the unit acts on none of them when it takes over
      return this.notRunningEntry({
        notStarted: 'UnitNameConflict', message: `not started: ${conflict.why}`,
        lastHandledAnnotations: actionAnnotations(obj?.metadata.annotations), ...(obj?.metadata.generation !== undefined ? { observedGeneration: obj.metadata.generation } : {}),
      });
    }
    if (!h) return this.deleting.has(id) ? this.deletionEntry() : null;
    const r = h.runner;
    const obj = this.unit(id);
    const e: NodeStatus = { ...toNodeStatus(this.opts.node, r.machine, r.cgroup ? unitUsage(r) : undefined), lastHandledAnnotations: this.handled.get(id) ?? {}, lastHeartbeatTime: new Date().toISOString() };
    if (r.notApplied.length > 0) e.notApplied = notAppliedEntries(r.notApplied, r.refused);
    if (r.refusal !== undefined && (r.activeState === 'inactive' || r.activeState === 'failed')) e.notStarted = 'StartRefused';
    const message = [...(r.refusal !== undefined ? [`not started: ${r.refusal}`] : []), ...r.problems];
    if (message.length > 0) e.message = message.join('; ');
    if (obj?.metadata.generation !== undefined) e.observedGeneration = obj.metadata.generation;
    const rev = this.revs.get(id);
    if (rev?.old !== undefined && (r.machine.timestamps.stateChange ?? 0) >= (rev.sinceUs ?? 0)) { delete rev.old; delete rev.sinceUs; }
    if (rev) e.revision = rev.old ?? rev.rev;
    return e;
  }

  /** A revision's data from its ControllerRevision (the controller wrote it before granting it). */
  private async revisionData(ns: string, name: string, hash: string): Promise<RevisionData> {
    const id = `${ns}/${revisionName(name, hash)}`;
    const unit = `${ns}/${name}`;
    const known = this.revisionCache.get(unit);
    const cached = known?.get(hash);
    if (cached) { known!.delete(hash); known!.set(hash, cached); return cached; } // the last used last
    const cr = await this.opts.client.request<{ data?: RevisionData }>(`${CONTROLLER_REVISIONS_PATH(ns)}/${revisionName(name, hash)}`);
    const data = cr.data ?? {};
    if (!revisionHolds(data, hash)) throw new Error(`ControllerRevision ${id} does not hold revision ${hash} (its data hashes to ${hashRevision(data)})`);
    const mine = this.revisionCache.get(unit) ?? new Map<string, RevisionData>();
    mine.set(hash, data);
    for (const old of mine.keys()) { if (mine.size <= REVISIONS_CACHED) break; mine.delete(old); }
    this.revisionCache.set(unit, mine);
    return data;
  }

  /** A unit gone from this node (deleted, pinned elsewhere, or untargeted and stopped): what the agent kept about it goes. */
  private forget(key: string): void {
    this.handled.delete(key);
    this.revisionCache.delete(key);
    this.nameConflicts.delete(key);
  }

  /**
   * Another ServiceUnit of the namespace that runs, or comes first to run, the unit `unitName` on
   * this node: two would share one cgroup and one dependency graph (a stop of one would kill the
   * other's processes). Hosted first is served first (a unit being removed still holds its cgroup
   * until it is gone); between units not hosted yet, the older object (creation time, then name).
   * A unit hosted already never yields (two an older agent ran both of keep running: stopping one
   * would kill the other's processes in their one cgroup).
   */
  private rivalOf(key: string, unitName: string, obj: KubeObject): string | undefined {
    if (this.host.units.has(key)) return undefined;
    const group = depsGroupOf(key);
    const older = (o: KubeObject): boolean => {
      const a = String(o.metadata['creationTimestamp'] ?? ''), b = String(obj.metadata['creationTimestamp'] ?? '');
      return a !== b ? a < b : (o.metadata.name ?? '') < (obj.metadata.name ?? '');
    };
    for (const h of this.host.units.values()) if (h.runner.unitName === unitName && depsGroupOf(h.id) === group) return h.id;
    const prefix = `${group}/`;
    for (const cache of [this.pinned.cache, this.placed.cache]) {
      for (const [k, o] of cache) {
        if (k === key || !k.startsWith(prefix) || o.metadata.deletionTimestamp) continue;
        const su = o as KubeObject & ServiceUnit;
        if (unitNameOf(su) === unitName && targetsNode(su.spec ?? {}, this.opts.node, this.labels) && older(o)) return k;
      }
    }
    return undefined;
  }

  /** Per-unit entries this agent keeps beside its hosted units (metrics: they must fall as units go). */
  cached(): Record<string, number> {
    let revisions = 0;
    for (const m of this.revisionCache.values()) revisions += m.size;
    return { annotations: this.handled.size, revisions, deleting: this.deleting.size, revs: this.revs.size, 'name-conflicts': this.nameConflicts.size, ...this.host.cached() };
  }

  private async reconcile(key: string): Promise<Outcome | void> {
    const obj = this.unit(key);
    if (!obj) {
      // deleted, or now pinned to another node: either way not ours (the sweep removes our entry)
      if (!this.synced) return;
      this.deleting.delete(key);
      this.revs.delete(key);
      const conflicted = this.nameConflicts.has(key);
      this.forget(key);
      this.host.remove(key, 'its ServiceUnit is gone or now pinned to another node');
      // a unit that ran nothing here (another ran its name): its entry goes now (a 404 if deleted ends it)
      if (conflicted) this.publisher.publish(key, () => null); else this.publisher.forget(key);
      return;
    }
    const spec = obj.spec ?? {};
    const targeted = targetsNode(spec, this.opts.node, this.labels);
    if (!targeted) {
      if (this.host.units.has(key)) this.host.remove(key, 'its ServiceUnit no longer targets this node');
      if (this.nameConflicts.delete(key)) this.publisher.publish(key, () => null); // it ran nothing here: its entry goes now
      return;
    }
    if (obj.metadata.deletionTimestamp) {
      this.deleting.add(key);
      if (this.host.units.has(key)) this.host.remove(key, 'its ServiceUnit is being deleted');
      else this.publisher.publish(key, () => this.deletionEntry());
      return;
    }
    // which revision this node runs: the one the controller granted it (issue 18)
    const hosted = this.host.units.get(key);
    if (!hosted) this.revs.delete(key); // forgotten (untargeted, then stopped): it runs nothing
    const running = hosted ? this.revs.get(key)?.rev ?? revisionHash(hosted.runner.spec) : undefined;
    const choice = chooseRevision(revisionHash(spec), obj.status?.rollout, this.opts.node, running);
    let runSpec = withoutRolloutFields(spec);
    // the revision this node runs, by the name it was granted (an older controller's name too)
    let named: string | undefined;
    if (choice.t === 'keep' || (choice.t === 'revision' && choice.hash === running)) {
      if (hosted) { runSpec = specAtRevision(spec, revisionData(hosted.runner.spec)); named = running; }
    } else if (choice.t === 'revision') {
      try { runSpec = specAtRevision(spec, await this.revisionData(obj.metadata.namespace!, obj.metadata.name, choice.hash)); named = choice.hash; } catch (e) {
        this.opts.log('warning', `${key}: cannot read revision ${choice.hash} granted to this node: ${(e as Error).message}; ${hosted ? 'keeping what runs' : 'not started yet'}, retrying`, { unit: key });
        if (!hosted) return { requeueAfterMs: 2000 };
        runSpec = specAtRevision(spec, revisionData(hosted.runner.spec));
        named = running;
      }
    }
    const rev = named ?? revisionHash(runSpec);
    const hashBefore = hosted?.hash;
    const unitName = runSpec.unitName ?? `${obj.metadata.name}.service`;
    // spec.unitName changed: another unit (its cgroup, its place in the dependency graph). As a
    // unit file renamed and daemon-reload'ed: the old unit stops, the new one starts once it is gone
    if (hosted && hosted.runner.unitName !== unitName) {
      this.host.remove(key, `its ServiceUnit now names the unit ${unitName}`);
      return { requeueAfterMs: 500 };
    }
    const rival = this.rivalOf(key, unitName, obj);
    if (rival !== undefined) {
      const why = `${unitName} is run on this node by ServiceUnit ${rival}; two ServiceUnits of a namespace cannot run one unit on a node`;
      const known = this.nameConflicts.get(key);
      if (known?.why !== why) this.opts.log('warning', `${key}: not started: ${why}`, { unit: key });
      const evented = known?.why === why && known.evented ? true : this.event(key, { type: 'Warning', reason: 'UnitNameConflict', message: `not started: ${why}` });
      this.nameConflicts.set(key, { why, evented });
      this.publisher.publish(key, () => this.entry(key));
      return { requeueAfterMs: 2000 }; // the unit is taken over once the other goes
    }
    if (this.nameConflicts.delete(key)) this.opts.log('info', `${key}: ${unitName} is no longer run by another ServiceUnit here; starting it`, { unit: key });
    if (choice.t !== 'current') this.opts.log('debug', `${key}: runs revision ${rev} (${choice.t === 'keep' ? 'no grant of the new one yet' : 'granted'})`, { unit: key });
    const runner = this.host.apply(key, unitName, runSpec, `${key} (generation ${String(obj.metadata['generation'] ?? '?')}, revision ${rev})`);
    if (running !== rev || !this.revs.has(key)) {
      const restarted = hosted !== undefined && hashBefore !== this.host.units.get(key)?.hash && runSpec.state !== 'stopped' && !runSpec.masked;
      this.revs.set(key, restarted && running !== undefined ? { rev, old: running, sinceUs: Date.now() * 1000 } : { rev });
    }
    // Annotations act once per value; values present when the unit is first seen count as handled.
    const mine = (obj.status?.nodes ?? []).find((n) => n.node === this.opts.node);
    let handled = this.handled.get(key);
    const annotations = obj.metadata.annotations ?? {};
    if (!handled) {
      handled = { ...(mine?.lastHandledAnnotations ?? {}) };
      if (!mine) Object.assign(handled, actionAnnotations(annotations));
      this.handled.set(key, handled);
    }
    for (const a of ACTION_ANNOTATIONS) {
      const v = annotations[a];
      if (v === undefined || handled[a] === v) continue;
      handled[a] = v;
      this.opts.log('info', `${key}: ${a}=${v}: acting on it`, { unit: key });
      // as unitctl restart|reload|start: a job through the namespace's dependency engine
      if (a === ANNOTATIONS.restart) this.host.act(key, 'restart');
      else if (a === ANNOTATIONS.reload) this.host.act(key, 'reload');
      else { runner.resetFailed(); if (runner.spec.state !== 'stopped' && !runner.spec.masked) this.host.act(key, 'start'); }
    }
    this.publisher.publish(key, () => this.entry(key));
  }

  async shutdown(stopUnits: boolean): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.queue.stop();
    await Promise.all([this.pinned.stop(), this.placed.stop(), this.nodes.stop()]);
    if (stopUnits) await this.host.stopAll(30_000);
    this.publisher.stop();
    this.host.closeAll();
    // no unit runs any more (all stopped, an uninstall): the agent's top slice goes too
    if (this.opts.cgroups) await releaseAgentCgroups(this.opts.cgroups, this.opts.log);
  }
}
