// Publishes one node's status entry per unit by server-side apply under the agent's own field
// manager: no read-modify-write, no conflicts with other nodes. Bursts coalesce (at most one
// write per unit per interval, the final state always written); failures (API server down)
// keep the latest state pending and retry with backoff, so nothing is lost from NRestarts.
// Time comes from a Clock (tests drive a fake one).

import { ApiError, type KubeClient } from '../kube/client.ts';
import { realClock, type Clock, type TimerHandle } from '../kube/clock.ts';
import type { NodeStatus } from '../api/types.ts';
import { AGENT_FIELD_MANAGER, SU_PATH } from '../api/contract.ts';

/** The shortest wait before a write (ms). */
const BATCH_MS = 25;

export class StatusPublisher {
  private readonly pending = new Map<string, () => NodeStatus | null>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly lastWrite = new Map<string, number>();
  private readonly backoff = new Map<string, number>();
  private readonly lastBody = new Map<string, string>();
  writes = 0;
  private readonly client: KubeClient;
  private readonly manager: string;
  private readonly intervalMs: number;
  private readonly log: (m: string) => void;
  private readonly clock: Clock;

  constructor(client: KubeClient, node: string, opts: { intervalMs?: number; log?: (m: string) => void; clock?: Clock } = {}) {
    this.client = client;
    this.manager = AGENT_FIELD_MANAGER(node);
    this.intervalMs = opts.intervalMs ?? 200;
    this.log = opts.log ?? (() => {});
    this.clock = opts.clock ?? realClock;
  }

  /** Schedules a write of the entry `snapshot()` returns at write time (null removes our entry). */
  publish(key: string, snapshot: () => NodeStatus | null): void {
    this.pending.set(key, snapshot);
    if (this.timers.has(key)) return;
    const since = this.clock.now() - (this.lastWrite.get(key) ?? 0);
    // a short batch window even for the first write: a start's decisions (fork, then the PID a
    // few ms later) land in one write instead of two 200 ms apart
    const wait = Math.max(this.backoff.get(key) ?? 0, this.intervalMs - since, BATCH_MS);
    const t = this.clock.setTimeout(() => { this.timers.delete(key); void this.flush(key); }, wait);
    this.timers.set(key, t);
  }

  forget(key: string): void {
    this.clock.clear(this.timers.get(key));
    for (const m of [this.pending, this.timers, this.lastWrite, this.backoff, this.lastBody]) m.delete(key);
  }

  get backlog(): number { return this.pending.size; }

  private async flush(key: string): Promise<void> {
    const snap = this.pending.get(key);
    if (!snap) return;
    this.pending.delete(key);
    const entry = snap();
    const [ns, name] = key.split('/') as [string, string];
    const body = { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name, namespace: ns }, status: { nodes: entry ? [entry] : [] } };
    const text = JSON.stringify({ ...body, status: { nodes: entry ? [{ ...entry, lastHeartbeatTime: undefined }] : [] } });
    if (this.lastBody.get(key) === text) return;
    try {
      this.lastWrite.set(key, this.clock.now());
      await this.client.apply(`${SU_PATH(ns, name)}/status`, body, this.manager);
      this.writes++;
      this.lastBody.set(key, text);
      this.backoff.delete(key);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) { this.forget(key); return; }
      const b = Math.min((this.backoff.get(key) ?? 250) * 2, 10_000);
      this.backoff.set(key, b);
      this.log(`status write for ${key} failed (${(e as Error).message}); retrying in ${b} ms`);
      if (!this.pending.has(key)) this.pending.set(key, snap);
      this.publish(key, this.pending.get(key)!);
    }
  }

  stop(): void { for (const t of this.timers.values()) this.clock.clear(t); this.timers.clear(); }
}
