// Publishes one node's status entry per unit by server-side apply under the agent's own field
// manager: no read-modify-write, no conflicts with other nodes. Bursts coalesce (at most one
// write per unit per interval, the final state always written); failures (API server down)
// keep the latest state pending and retry with backoff, so nothing is lost from NRestarts.
// One write per unit at a time: the next waits for the answer to the one before, so the API
// server applies a unit's writes in the order they were made (two in flight on two connections
// may land in either order, and the older state would stay). A unit in the middle of a fork
// (settling(): its PID is a few ms away) is not written until the PID is known, at most one
// interval: systemd forks synchronously and never shows "running" without a main PID.
// Time comes from a Clock (tests drive a fake one).

import { ApiError, type KubeClient } from '../kube/client.ts';
import { realClock, type Clock, type TimerHandle } from '../kube/clock.ts';
import type { NodeStatus } from '../api/types.ts';
import { AGENT_FIELD_MANAGER, SU_PATH } from '../api/contract.ts';

/**
 * The fields sampled as an entry is written (the heartbeat, the unit's accounting): a change in
 * them alone is no reason to write. Else every write would be one more: its own watch event makes
 * the agent publish again, and a unit that uses CPU has a new cpuUsageNSec by then (5 writes a
 * second for each busy unit, for ever).
 */
const UNSAMPLED = { lastHeartbeatTime: undefined, tasksCurrent: undefined, memoryCurrent: undefined, memoryPeak: undefined, cpuUsageNSec: undefined };

export interface PublisherOptions {
  /** At most one write per unit this often (ms), the final state always written. */
  readonly intervalMs?: number;
  readonly log?: (m: string) => void;
  readonly clock?: Clock;
  /**
   * True while the unit's state is about to change by itself (a process being forked): its
   * write waits for the change (publish() again), at most `intervalMs`.
   */
  readonly settling?: (key: string) => boolean;
}

export class StatusPublisher {
  private readonly pending = new Map<string, () => NodeStatus | null>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly lastWrite = new Map<string, number>();
  private readonly backoff = new Map<string, number>();
  private readonly lastBody = new Map<string, string>();
  /** The write of each unit waiting for its answer (one at a time). */
  private readonly inFlight = new Map<string, object>();
  /** Since when a unit's due write has waited for its state to settle. */
  private readonly heldSince = new Map<string, number>();
  writes = 0;
  private stopped = false;
  private readonly client: KubeClient;
  private readonly manager: string;
  private readonly intervalMs: number;
  private readonly log: (m: string) => void;
  private readonly clock: Clock;
  private readonly settling: (key: string) => boolean;

  constructor(client: KubeClient, node: string, opts: PublisherOptions = {}) {
    this.client = client;
    this.manager = AGENT_FIELD_MANAGER(node);
    this.intervalMs = opts.intervalMs ?? 200;
    this.log = opts.log ?? (() => {});
    this.clock = opts.clock ?? realClock;
    this.settling = opts.settling ?? (() => false);
  }

  /**
   * Schedules a write of the entry `snapshot()` returns at write time (null removes our entry).
   * The first write of a unit leaves at the next turn of the event loop (what this turn decides,
   * a start's fork among it, is in it); the next ones at most one per interval.
   */
  publish(key: string, snapshot: () => NodeStatus | null): void {
    this.pending.set(key, snapshot);
    if (this.inFlight.has(key)) return; // scheduled when its answer comes
    if (this.timers.has(key)) {
      if (!this.heldSince.has(key)) return;
      // a write held for a fork: the state it waited for may be here
      this.clock.clear(this.timers.get(key));
      this.timers.delete(key);
    }
    this.schedule(key);
  }

  private schedule(key: string): void {
    if (this.stopped) return;
    const last = this.lastWrite.get(key);
    const wait = Math.max(this.backoff.get(key) ?? 0, last === undefined ? 0 : this.intervalMs - (this.clock.now() - last), 0);
    this.arm(key, wait);
  }

  private arm(key: string, ms: number): void {
    this.timers.set(key, this.clock.setTimeout(() => { this.timers.delete(key); void this.flush(key); }, ms));
  }

  forget(key: string): void {
    this.clock.clear(this.timers.get(key));
    for (const m of [this.pending, this.timers, this.lastWrite, this.backoff, this.lastBody, this.inFlight, this.heldSince]) m.delete(key);
  }

  get backlog(): number { return this.pending.size; }

  private async flush(key: string): Promise<void> {
    const snap = this.pending.get(key);
    if (!snap) return;
    if (this.settling(key)) {
      const since = this.heldSince.get(key) ?? this.clock.now();
      this.heldSince.set(key, since);
      const left = this.intervalMs - (this.clock.now() - since);
      if (left > 0) { this.arm(key, left); return; }
    }
    this.heldSince.delete(key);
    this.pending.delete(key);
    const entry = snap();
    const [ns, name] = key.split('/') as [string, string];
    const body = { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name, namespace: ns }, status: { nodes: entry ? [entry] : [] } };
    const text = JSON.stringify({ ...body, status: { nodes: entry ? [{ ...entry, ...UNSAMPLED }] : [] } });
    if (this.lastBody.get(key) === text) return;
    const flight = {};
    this.inFlight.set(key, flight);
    try {
      this.lastWrite.set(key, this.clock.now());
      await this.client.apply(`${SU_PATH(ns, name)}/status`, body, this.manager);
      if (this.inFlight.get(key) !== flight) return; // forgotten meanwhile
      this.writes++;
      this.lastBody.set(key, text);
      this.backoff.delete(key);
    } catch (e) {
      if (this.inFlight.get(key) !== flight) return;
      if (e instanceof ApiError && e.status === 404) { this.forget(key); return; }
      const b = Math.min((this.backoff.get(key) ?? 250) * 2, 10_000);
      this.backoff.set(key, b);
      this.log(`status write for ${key} failed (${(e as Error).message}); retrying in ${b} ms`);
      if (!this.pending.has(key)) this.pending.set(key, snap);
    } finally {
      if (this.inFlight.get(key) === flight) {
        this.inFlight.delete(key);
        if (this.pending.has(key) && !this.timers.has(key)) this.schedule(key);
      }
    }
  }

  stop(): void { this.stopped = true; for (const t of this.timers.values()) this.clock.clear(t); this.timers.clear(); }
}
