// Prometheus metrics of the agent and the controller (prom-client, one Registry per process
// object, no global default registry). The kube client, the work queues and the unit host
// report through small observer interfaces, so those modules do not depend on prom-client.

import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { KubeClient, RequestObserver } from '../kube/client.ts';
import type { QueueObserver } from '../kube/queue.ts';
import type { Transition } from '../engine/types.ts';
import { unitLabels } from './labels.ts';

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
    new Counter({
      name: `${PREFIX}status_writes_total`, help: 'Status writes to the API server (status entries coalesced per unit, conditions).', registers,
      collect() { this.reset(); this.inc(self.statusWriteSources.reduce((a, f) => a + f(), 0)); },
    });
  }

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

  /** One engine transition: count restarts (by the Result that caused them), start-limit hits and main-process exits. */
  transition(id: string, t: Transition): void {
    if (t.t === 'restart-queued') this.restarts.inc({ ...unitLabels(id), result: t.result });
    else if (t.t === 'start-limit-hit') this.startLimitHits.inc(unitLabels(id));
    else if (t.t === 'main-exited') this.exits.inc({ ...unitLabels(id), code: t.code });
  }

  text(): Promise<string> { return this.registry.metrics(); }
}
