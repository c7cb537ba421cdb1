// Engine directives the other engine tests do not name, driven by the simulator with an exact
// clock (test/support/sim.ts): the pure engine's decisions (signals, timers, states) show them applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, run } from '../support/sim.ts';
import { decide, type Event } from '../../src/engine/index.ts';

/** The simulator, also recording every state the engine enters (including ones left within the same decision). */
class StateSim extends Sim {
  readonly states: string[] = [];
  override send(ev: Event): void {
    for (const e of decide(this.m, ev, this.cfg, this.now).effects) if (e.t === 'state-changed') this.states.push(e.to);
    super.send(ev);
  }
}

test('TimeoutAbortSec= bounds the wait after the watchdog\'s SIGABRT (default TimeoutStopSec=), then SIGKILL', () => {
  const abort = run({ execStart: ['sim-stubborn'], watchdogSec: '1s', timeoutAbortSec: '3s', timeoutStopSec: '10s' }, {}, 20_000);
  assert.deepEqual(abort.signals.map((s) => [s.ms, s.signal]), [[1000, 6], [4000, 9]]);
  assert.deepEqual([abort.props.ActiveState, abort.props.Result], ['failed', 'watchdog']);
  const byStop = run({ execStart: ['sim-stubborn'], watchdogSec: '1s', timeoutStopSec: '5s' }, {}, 20_000);
  assert.deepEqual(byStop.signals.map((s) => [s.ms, s.signal]), [[1000, 6], [6000, 9]], 'without TimeoutAbortSec=, TimeoutStopSec= applies');
});

test('TimeoutSec= sets both the start and the stop timeout; TimeoutStartSec= overrides it for the start', () => {
  const start = run({ type: 'notify', execStart: ['sim-run'], timeoutSec: '2s' });
  assert.deepEqual(start.signals.map((s) => [s.ms, s.signal]), [[2000, 15]], 'never READY=1: SIGTERM after 2 s');
  assert.deepEqual([start.props.ActiveState, start.props.Result], ['failed', 'timeout']);
  const stop = new Sim({ service: { execStart: ['sim-stubborn'], timeoutSec: '3s' } });
  stop.send({ t: 'start' }); stop.runFor(1000);
  stop.send({ t: 'stop' }); stop.runFor(10_000);
  assert.deepEqual(stop.signals.map((s) => [s.ms, s.signal]), [[1000, 15], [4000, 9]]);
  const both = new Sim({ service: { type: 'notify', execStart: ['sim-stubborn'], timeoutSec: '3s', timeoutStartSec: '1s' } });
  both.send({ t: 'start' }); both.runFor(10_000);
  assert.deepEqual(both.signals.map((s) => [s.ms, s.signal]), [[1000, 15], [4000, 9]], 'TimeoutStartSec= for the start, TimeoutSec= still for the stop');
});

test('RestartMode=direct restarts without entering a failed state; RestartMode=normal passes through failed (failed-before-auto-restart)', () => {
  const states = (restartMode: 'normal' | 'direct'): string[] => {
    const sim = new StateSim({ service: { execStart: ['sim-exit 1 100'], restart: 'on-failure', restartSec: '100ms', restartMode }, unit: { startLimitIntervalSec: 0 } });
    sim.send({ t: 'start' });
    sim.runFor(450);
    return sim.states;
  };
  const normal = states('normal');
  const direct = states('direct');
  assert.equal(normal.filter((s) => s === 'failed-before-auto-restart').length, 2, normal.join(' '));
  assert.equal(normal.filter((s) => s === 'auto-restart').length, 2);
  assert.deepEqual(direct.filter((s) => s.includes('failed')), [], direct.join(' '));
  assert.equal(direct.filter((s) => s === 'auto-restart').length, 2, 'it still restarts');
});

test('SuccessExitStatus= makes an exit status or a signal a clean exit: Result=success, no restart under Restart=on-failure', () => {
  const plain = run({ execStart: ['sim-exit 42 50'], restart: 'on-failure', restartSec: 0 }, { startLimitBurst: 2 });
  assert.deepEqual([plain.props.ActiveState, plain.props.Result], ['failed', 'exit-code'], 'without it, 42 is a failure');
  const ok = run({ execStart: ['sim-exit 42 50'], restart: 'on-failure', successExitStatus: [42, 'SIGUSR1'] });
  assert.deepEqual([ok.props.ActiveState, ok.props.SubState, ok.props.Result, ok.props.NRestarts], ['inactive', 'dead', 'success', 0]);
  const sig = run({ execStart: ['sim-signal 10 50'], restart: 'on-failure', successExitStatus: [42, 'SIGUSR1'] });
  assert.deepEqual([sig.props.ActiveState, sig.props.Result], ['inactive', 'success'], 'SIGUSR1 (10) listed: clean');
});

test('KillSignal= is the signal a stop sends first; FinalKillSignal= replaces SIGKILL after TimeoutStopSec=', () => {
  const sim = new Sim({ service: { execStart: ['sim-stubborn'], killSignal: 'SIGINT', finalKillSignal: 'SIGQUIT', timeoutStopSec: '1s' } });
  sim.send({ t: 'start' }); sim.runFor(100);
  sim.send({ t: 'stop' }); sim.runFor(5000);
  // a process that outlives even FinalKillSignal= goes through the final-sigterm/final-sigkill round too
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.signal]), [[100, 2], [1100, 3], [2100, 2], [3100, 3]]);
  assert.ok(sim.signals.every((s) => s.signal !== 15 && s.signal !== 9), 'neither SIGTERM nor SIGKILL');
});
