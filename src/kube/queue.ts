// A keyed work queue (controller-runtime style): a key waits at most once, is never processed
// twice at the same time, failures back off per key exponentially, handlers may ask to be
// called again after a delay, and a token bucket caps the overall rate. Time comes from a
// Clock (tests drive a fake one).
//
// Keys start on a turn of the event loop of their own (setImmediate), at most `concurrency` a
// turn: never in the caller of add() nor in a finished handler's promise chain. A handler that
// never waits (the agent's reconcile starts a unit synchronously) would otherwise run a whole
// backlog in one chain of microtasks, and a watch's read callbacks (up to 32 chunks a turn,
// each adding keys) start a batch each: no timer or I/O callback ran until all was done. In a
// burst of 200 new units the agent's status writes (publisher timers), the shims' spawn reports
// and the watch itself waited for the starts: the event loop took no timer for 5.1 s, then
// (keys still started in add()) for 0.65-1 s at a time (bench:cluster, issue 19).

import { realClock, type Clock, type TimerHandle } from './clock.ts';

export interface Outcome { readonly requeueAfterMs?: number }

/** Told how long each reconcile took and whether it succeeded (metrics). */
export interface QueueObserver { done(seconds: number, ok: boolean): void }

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirtyWhileActive = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, TimerHandle>();
  private tokens: number;
  private lastRefill: number;
  private running = 0;
  private stopped = false;
  /** A pump() is due on the next turn of the event loop. */
  private pumpDue = false;
  private readonly handler: (key: string) => Promise<Outcome | void>;
  private readonly concurrency: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  observer: QueueObserver | undefined;

  constructor(handler: (key: string) => Promise<Outcome | void>, opts: { concurrency?: number; qps?: number; burst?: number; clock?: Clock } = {}) {
    this.handler = handler;
    this.concurrency = opts.concurrency ?? 4;
    this.qps = opts.qps ?? 50;
    this.burst = opts.burst ?? 100;
    this.tokens = this.burst;
    this.clock = opts.clock ?? realClock;
    this.lastRefill = this.clock.now();
  }

  get depth(): number { return this.order.length; }

  add(key: string): void {
    if (this.enqueue(key)) this.pumpSoon();
  }

  /** Queues a key; true when it was not waiting or running already. */
  private enqueue(key: string): boolean {
    if (this.stopped) return false;
    if (this.active.has(key)) { this.dirtyWhileActive.add(key); return false; }
    if (this.queued.has(key)) return false;
    this.queued.add(key);
    this.order.push(key);
    return true;
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const prev = this.timers.get(key);
    this.clock.clear(prev);
    this.timers.set(key, this.clock.setTimeout(() => { this.timers.delete(key); this.add(key); }, ms, { unref: true }));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) this.clock.clear(t);
    this.timers.clear();
  }

  private take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.qps);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** pump() on the next turn of the event loop, after the timers and I/O that are due (see the header). */
  private pumpSoon(): void {
    if (this.pumpDue) return;
    this.pumpDue = true;
    setImmediate(() => { this.pumpDue = false; this.pump(); });
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.order.length > 0) {
      if (!this.take()) { this.clock.setTimeout(() => this.pump(), Math.ceil(1000 / this.qps), { unref: true }); return; }
      const key = this.order.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      const started = this.clock.monotonic();
      void this.handler(key).then((out) => {
        this.observer?.done((this.clock.monotonic() - started) / 1000, true);
        this.failures.delete(key);
        if (out?.requeueAfterMs !== undefined) this.addAfter(key, out.requeueAfterMs);
      }, () => {
        this.observer?.done((this.clock.monotonic() - started) / 1000, false);
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        this.addAfter(key, Math.min(5 * 2 ** n, 60_000));
      }).finally(() => {
        this.active.delete(key);
        this.running--;
        if (this.dirtyWhileActive.delete(key)) this.enqueue(key);
        this.pumpSoon();
      });
    }
  }
}
