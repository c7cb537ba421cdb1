// The simulator, also recording the engine's transitions of each decision, with their time.
// decide() is pure: deciding an event twice decides the same, so the simulator's own run is untouched.
import { Sim } from './sim.ts';
import { decide, type Event, type Transition } from '../../src/engine/index.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

export type Seen = { readonly ms: number } & Transition;

export class TransitionSim extends Sim {
  readonly transitions: Seen[] = [];
  override send(ev: Event): void {
    for (const e of decide(this.m, ev, this.cfg, this.now).effects) if (e.t === 'transition') this.transitions.push({ ms: (this.now - this.t0) / 1000, ...e.transition });
    super.send(ev);
  }
}

/** Starts a unit in the recording simulator and runs it for `ms` milliseconds. */
export function runRecorded(service: NonNullable<ServiceUnitSpec['service']>, unit: ServiceUnitSpec['unit'] = {}, ms = 10_000): TransitionSim {
  const sim = new TransitionSim({ service, unit });
  sim.send({ t: 'start' });
  return sim.runFor(ms);
}
