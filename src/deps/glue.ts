// The thin seam between the per-unit service engine and the dependency engine: what an engine
// decision means for the dependency engine, and what a dependency effect asks of an engine. Pure.

import { ACTIVE_STATE, type ServiceState } from '../engine/states.ts';
import type { Effect, Event } from '../engine/types.ts';
import type { DepsEffect, DepsEvent } from './types.ts';

/**
 * The dependency events in one engine decision's effects, in order: a `state` event for every
 * change of ActiveState (unit_notify()), an `auto-restart` event for the restart job the engine
 * asks for (service_enter_restart(), the engine's restartByJob: without it, nothing), a
 * `start-refused` event for a start the start limit refused.
 */
export function depsEventsFromEngine(unit: string, effects: readonly Effect[]): DepsEvent[] {
  const out: DepsEvent[] = [];
  let reloadFailed = false;
  for (const e of effects) {
    if (e.t === 'transition' && e.transition.t === 'reloaded' && e.transition.result !== 'success') reloadFailed = true;
    // service_enter_restart() asks for the restart job (the engine's restartByJob)
    if (e.t === 'add-restart-job') out.push({ t: 'auto-restart', unit, direct: e.direct, shortcut: e.shortcut });
    // unit_start() refused by the start limit (-ECANCELED): the start job fails (JOB_FAILED), even
    // when the unit stays failed and its ActiveState does not change
    if (e.t === 'transition' && e.transition.t === 'start-limit-hit') out.push({ t: 'start-refused', unit, result: 'failed' });
    if (e.t !== 'state-changed') continue;
    const from = ACTIVE_STATE[e.from as ServiceState], to = ACTIVE_STATE[e.to as ServiceState];
    const willAutoRestart = e.to === 'dead-before-auto-restart' || e.to === 'failed-before-auto-restart';
    if (from === to && !willAutoRestart) continue;
    out.push({ t: 'state', unit, from, to, willAutoRestart, reloadFailed });
  }
  return out;
}

/** The engine event a dependency effect asks for, or undefined for effects that are not an engine's. */
export function engineEventFor(e: DepsEffect): { unit: string; event: Event } | undefined {
  if (e.t === 'start' || e.t === 'stop' || e.t === 'reload') return { unit: e.unit, event: { t: e.t } };
  if (e.t === 'restart-job') return { unit: e.unit, event: { t: 'restart-job', outcome: e.outcome, shortcut: e.shortcut, ...(e.error !== undefined ? { error: e.error } : {}) } };
  return undefined;
}
