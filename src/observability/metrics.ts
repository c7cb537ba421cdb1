// Prometheus metrics of the agent and the controller (prom-client, one Registry per process
// object, no global default registry). The kube client, the work queues and the unit host
// report through small observer interfaces, so those modules do not depend on prom-client.
// Per unit, the cgroup's accounting (issue 13) is read when /metrics is scraped: one read of
// each unit's cgroup files per scrape (UnitRunner.cgroupUsage()), labels namespace and unit only.

import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { KubeClient, RequestObserver } from '../kube/client.ts';
import type { QueueObserver } from '../kube/queue.ts';
import type { Transition } from '../engine/types.ts';
import type { CgroupUsage } from '../runner/cgroup/usage.ts';
import { unitLabels } from './labels.ts';

/** The hosted units, by id, as the agents keep them (UnitHost.units): each one's cgroup accounting. */
export type UsageSource = ReadonlyMap<string, { readonly runner: { cgroupUsage(): CgroupUsage | undefined } }>;

const PREFIX = 'unit_operator_';

/**
 * The resource an API path addresses, for a label with bounded cardinality:
 * /apis/unit-operator.dev/v1alpha1/namespaces/x/serviceunits/y/status → serviceunits/status.
 */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : [];
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  if (rest.length === 0) return 'other';
  return rest[2] ? `${rest[0]}/${rest[2]}` : rest[0]!;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly apiDuration: Histogram<'verb' | 'resource' | 'code'>;
  private readonly apiErrors: Counter<'verb' | 'resource' | 'reason'>;
  private readonly watchRestarts: Counter<'resource'>;
  private readonly reconcileDuration: Histogram<'controller' | 'result'>;
  private readonly restarts: Counter<'namespace' | 'unit' | 'result'>;
  private readonly startLimitHits: Counter<'namespace' | 'unit'>;
  private readonly exits: Counter<'namespace' | 'unit' | 'code'>;
  private readonly queues = new Map<string, () => number>();
  private unitStates: () => Iterable<string> = () => [];
  private readonly statusWriteSources: Array<() => number> = [];
  private readonly cacheSources: Array<() => Record<string, number>> = [];
  private usageSource: UsageSource | undefined;
  /** The units' accounting, read once per scrape (text()) for all the per-unit cgroup metrics. */
  private usage: Array<{ labels: { namespace: string; unit: string }; u: CgroupUsage }> = [];

  constructor(component: 'agent' | 'controller', labels: Record<string, string> = {}) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ component, ...labels });
    collectDefaultMetrics({ register: this.registry }); // process_* and nodejs_*, the standard names
    this.apiDuration = new Histogram({ name: `${PREFIX}api_request_duration_seconds`, help: 'Latency of requests to the Kubernetes API server (watches excluded).', labelNames: ['verb', 'resource', 'code'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], registers });
    this.apiErrors = new Counter({ name: `${PREFIX}api_request_errors_total`, help: 'Requests to the Kubernetes API server that failed (non-2xx answer or no answer).', labelNames: ['verb', 'resource', 'reason'], registers });
    this.watchRestarts = new Counter({ name: `${PREFIX}watch_restarts_total`, help: 'Watches restarted after an error or a stall.', labelNames: ['resource'], registers });
    this.reconcileDuration = new Histogram({ name: `${PREFIX}reconcile_duration_seconds`, help: 'Time spent reconciling one key.', labelNames: ['controller', 'result'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.restarts = new Counter({ name: `${PREFIX}unit_restarts_total`, help: 'Automatic restarts (NRestarts increments) by unit and the Result that caused them.', labelNames: ['namespace', 'unit', 'result'], registers });
    this.startLimitHits = new Counter({ name: `${PREFIX}unit_start_limit_hits_total`, help: 'Starts refused by StartLimitIntervalSec=/StartLimitBurst= ("Start request repeated too quickly").', labelNames: ['namespace', 'unit'], registers });
    this.exits = new Counter({ name: `${PREFIX}unit_main_exits_total`, help: 'Exits of a unit\'s main process, by code (exited, killed, dumped).', labelNames: ['namespace', 'unit', 'code'], registers });
    if (component === 'agent') this.perUnit(registers);
    const self = this;
    new Gauge({
      name: `${PREFIX}units`, help: 'Units hosted here, by ActiveState.', labelNames: ['active_state'], registers,
      collect() {
        const counts: Record<string, number> = { active: 0, reloading: 0, inactive: 0, failed: 0, activating: 0, deactivating: 0 };
        for (const s of self.unitStates()) counts[s] = (counts[s] ?? 0) + 1;
        this.reset();
        for (const [s, n] of Object.entries(counts)) this.set({ active_state: s }, n);
      },
    });
    new Gauge({
      name: `${PREFIX}workqueue_depth`, help: 'Keys waiting in a work queue.', labelNames: ['name'], registers,
      collect() { this.reset(); for (const [name, depth] of self.queues) this.set({ name }, depth()); },
    });
    new Gauge({
      name: `${PREFIX}cached_entries`, help: 'Per-unit entries kept beside the units themselves, by cache (a figure that only grows as units come and go is a leak).', labelNames: ['cache'], registers,
      collect() { this.reset(); for (const f of self.cacheSources) for (const [cache, n] of Object.entries(f())) this.set({ cache }, n); },
    });
    new Counter({
      name: `${PREFIX}status_writes_total`, help: 'Status writes to the API server (status entries coalesced per unit, conditions).', registers,
      collect() { this.reset(); this.inc(self.statusWriteSources.reduce((a, f) => a + f(), 0)); },
    });
  }

  /**
   * The cgroup accounting of each unit that has a cgroup (systemd-exporter's and cAdvisor's
   * figures under this project's prefix): tasks, memory now and at its peak, CPU time, and the
   * limits that are set. A unit without a cgroup (stopped and removed, or cgroups off) has no
   * series; a restarted unit's CPU counter starts again from 0 (a counter reset).
   */
  private perUnit(registers: Registry[]): void {
    const self = this;
    const series = (name: string, help: string, pick: (u: CgroupUsage) => number | undefined, counter = false): void => {
      const collect = function (this: Gauge<'namespace' | 'unit'> | Counter<'namespace' | 'unit'>): void {
        this.reset();
        for (const { labels, u } of self.usage) {
          const v = pick(u);
          if (v === undefined) continue;
          if (this instanceof Counter) this.inc(labels, v); else this.set(labels, v);
        }
      };
      if (counter) new Counter({ name: `${PREFIX}${name}`, help, labelNames: ['namespace', 'unit'], registers, collect });
      else new Gauge({ name: `${PREFIX}${name}`, help, labelNames: ['namespace', 'unit'], registers, collect });
    };
    series('unit_tasks_current', 'Tasks (processes and threads) in the unit\'s cgroup: pids.current, else its cgroup.procs entries (systemctl status "Tasks:").', (u) => u.tasks);
    series('unit_tasks_max', 'The unit\'s task limit (TasksMax=: pids.max); only units with a limit.', (u) => u.tasksMax);
    series('unit_memory_bytes', 'Memory charged to the unit\'s cgroup: memory.current (v2), memory.usage_in_bytes (v1, page cache included).', (u) => u.memoryBytes);
    series('unit_memory_peak_bytes', 'The highest memory charged to the unit\'s cgroup since it was made: memory.peak (v2), memory.max_usage_in_bytes (v1).', (u) => u.memoryPeak);
    series('unit_memory_max_bytes', 'The unit\'s memory limit (MemoryMax=: memory.max, v1 memory.limit_in_bytes); only units with a limit.', (u) => u.memoryMax);
    series('unit_cpu_seconds_total', 'CPU time used by the unit\'s cgroup (cpuacct.usage, else cpu.stat usage_usec), in seconds.', (u) => (u.cpuNs === undefined ? undefined : u.cpuNs / 1e9), true);
  }

  /** Where the per-unit cgroup metrics read from: the agent's hosted units. */
  trackUsage(units: UsageSource): void { this.usageSource = units; }

  /** Times and counts every request the client makes. */
  observeClient(client: KubeClient): void {
    const observer: RequestObserver = {
      request: (verb, path, code, seconds) => {
        const resource = resourceOf(path);
        this.apiDuration.observe({ verb, resource, code: code === 0 ? 'none' : String(code) }, seconds);
        if (code < 200 || code >= 300) this.apiErrors.inc({ verb, resource, reason: code === 0 ? 'connection' : String(code) });
      },
      watchRestart: (path) => this.watchRestarts.inc({ resource: resourceOf(path) }),
    };
    client.observer = observer;
  }

  /** Depth gauge and reconcile durations for a work queue. */
  queue(name: string, depth: () => number): QueueObserver {
    this.queues.set(name, depth);
    return { done: (seconds, ok) => this.reconcileDuration.observe({ controller: name, result: ok ? 'success' : 'error' }, seconds) };
  }

  /** Where the units-by-ActiveState gauge reads from. */
  trackUnits(states: () => Iterable<string>): void { this.unitStates = states; }

  trackStatusWrites(writes: () => number): void { this.statusWriteSources.push(writes); }

  /** Where the per-unit memory gauge reads from: entries by cache name (they fall back as units are deleted). */
  trackCaches(sizes: () => Record<string, number>): void { this.cacheSources.push(sizes); }

  /** One engine transition: count restarts (by the Result that caused them), start-limit hits and main-process exits. */
  transition(id: string, t: Transition): void {
    if (t.t === 'restart-queued') this.restarts.inc({ ...unitLabels(id), result: t.result });
    else if (t.t === 'start-limit-hit') this.startLimitHits.inc(unitLabels(id));
    else if (t.t === 'main-exited') this.exits.inc({ ...unitLabels(id), code: t.code });
  }

  async text(): Promise<string> {
    this.usage = [];
    for (const [id, h] of this.usageSource ?? []) {
      const u = h.runner.cgroupUsage();
      if (u) this.usage.push({ labels: unitLabels(id), u });
    }
    return this.registry.metrics();
  }
}
