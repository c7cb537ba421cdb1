// A fake Clock (src/kube/clock.ts) for simulator-style tests of the timer-driven parts (work
// queue, lease elector, status publisher): time moves only when the test says, timers fire in
// time order to the millisecond, and the promise chains each one starts settle before the next
// one fires. No sleeps, no real timers.
import type { Clock, TimerHandle } from '../../src/kube/clock.ts';

interface Timer { readonly id: number; at: number; readonly fn: () => void; readonly every?: number }

export class FakeClock implements Clock {
  private t: number;
  private readonly t0: number;
  private seq = 0;
  private readonly timers = new Map<number, Timer>();

  /** `start`: the wall-clock time it begins at (ms since the epoch). */
  constructor(start = Date.UTC(2025, 0, 1)) { this.t = start; this.t0 = start; }

  now(): number { return this.t; }
  monotonic(): number { return this.t - this.t0; }
  /** Milliseconds since the clock was made: what tests assert on. */
  get elapsed(): number { return this.t - this.t0; }

  setTimeout(fn: () => void, ms: number): TimerHandle { return this.arm(fn, ms); }
  setInterval(fn: () => void, ms: number): TimerHandle { return this.arm(fn, ms, Math.max(1, ms)); }
  clear(h: TimerHandle | undefined): void { if (h) this.timers.delete((h as unknown as { id: number }).id); }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number { return this.timers.size; }

  /** Moves time forward by `ms`, firing every timer due on the way (as Node does: a delay under
   *  1 ms is 1 ms; timers due at the same time fire in the order they were armed). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      const next = [...this.timers.values()].filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.t = next.at;
      if (next.every !== undefined) next.at += next.every; else this.timers.delete(next.id);
      next.fn();
      await settle();
    }
    this.t = end;
  }

  private arm(fn: () => void, ms: number, every?: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { id, at: this.t + Math.max(1, ms), fn, ...(every !== undefined ? { every } : {}) });
    return { id } as unknown as TimerHandle;
  }
}

/** Lets every promise chain already started run to its end (they only wait on the fake clock). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
