// Every unit's ActiveState as the dependency engine knows it (DepsState.units): an immutable
// table whose with() shares what did not change. decide() is pure, so each decision used to copy
// the whole record of units — ~0.2-0.35 ms for 1,000 units under V8's --optimize-for-size, ~10 %
// of the agent's CPU in issue 19's 1,000-unit crash storm (a change of state is a decision). Here a
// change copies a small overlay (at most OVERLAY_MAX entries) over a shared base, and the overlay
// is folded into a new base once it is full: a few µs a change.

import type { ActiveState } from '../engine/states.ts';

/** Changes kept apart from the base before they are folded into a new one. */
const OVERLAY_MAX = 64;

export class ActiveStates {
  private readonly base: ReadonlyMap<string, ActiveState>;
  private readonly top: ReadonlyMap<string, ActiveState>;

  private constructor(base: ReadonlyMap<string, ActiveState>, top: ReadonlyMap<string, ActiveState>) {
    this.base = base;
    this.top = top;
  }

  static from(record: Readonly<Record<string, ActiveState>>): ActiveStates {
    return new ActiveStates(new Map(Object.entries(record)), new Map());
  }

  /** The unit's ActiveState, or undefined for a unit the table does not hold. */
  get(unit: string): ActiveState | undefined { return this.top.get(unit) ?? this.base.get(unit); }

  /** A table with the unit's ActiveState set; this one is left as it is. */
  with(unit: string, state: ActiveState): ActiveStates {
    if (this.get(unit) === state && (this.top.has(unit) || this.base.has(unit))) return this;
    if (this.top.size < OVERLAY_MAX) return new ActiveStates(this.base, new Map(this.top).set(unit, state));
    const base = new Map(this.base);
    for (const [u, s] of this.top) base.set(u, s);
    return new ActiveStates(base.set(unit, state), new Map());
  }

  /** Every unit's ActiveState, as a plain record (for a test or a dump). */
  toRecord(): Record<string, ActiveState> {
    const out: Record<string, ActiveState> = {};
    for (const [u, s] of this.base) out[u] = s;
    for (const [u, s] of this.top) out[u] = s;
    return out;
  }
}
