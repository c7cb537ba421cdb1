// Waiting in tests that run real things (processes, agents, a control plane): one bounded poll,
// `until`, for all of them. Tests of timers use the fake clock instead (test/support/clock.ts).

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface UntilOptions {
  /** How long to wait before failing (ms); default 20 s. */
  readonly timeoutMs?: number;
  /** How often to ask (ms); default 100. */
  readonly everyMs?: number;
  /** What the failure message shows of the state waited on; default the predicate's last answer. */
  readonly detail?: () => string;
}

/**
 * Polls `f` until it returns something other than undefined or false, and returns that; fails
 * after the timeout naming `what` and the last state. A number for `opts` is the timeout in ms.
 */
export async function until<T>(what: string, f: () => T | undefined | false, opts: number | UntilOptions = {}): Promise<T> {
  const o: UntilOptions = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const ms = o.timeoutMs ?? 20_000;
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    last = v;
    await sleep(o.everyMs ?? 100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${o.detail ? `; ${o.detail()}` : ` (${JSON.stringify(last)})`}`);
}
