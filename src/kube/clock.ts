// The time a component reads and the timers it arms, behind one small interface, so tests can
// drive the work queue, the lease elector and the status publisher with a fake clock
// (test/support/clock.ts) to the millisecond and without sleeping. Production uses realClock.

/** A timer a Clock armed; only that clock can cancel it. */
export type TimerHandle = { readonly __timer: unique symbol };

export interface Clock {
  /** Wall-clock time, ms since the epoch (Date.now()): lease times, rate limits, intervals. */
  now(): number;
  /** A monotonic reading in ms (performance.now()), for measuring durations. */
  monotonic(): number;
  /** Runs `fn` once after `ms`; `unref`: the timer alone does not keep the process alive. */
  setTimeout(fn: () => void, ms: number, opts?: { unref?: boolean }): TimerHandle;
  /** Runs `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timeout or an interval (a handle already fired or cleared is ignored). */
  clear(t: TimerHandle | undefined): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms, opts) => {
    const t = setTimeout(fn, ms);
    if (opts?.unref) t.unref();
    return t as unknown as TimerHandle;
  },
  setInterval: (fn, ms) => setInterval(fn, ms) as unknown as TimerHandle,
  clear: (t) => { if (t) clearTimeout(t as unknown as NodeJS.Timeout); },
};
