// A stop that arrives between the spawn the engine asks for and the PID the runner reports
// ('spawned'). systemd learns the PID at fork(), so it never has this window; here the runner
// skips a kill of PID -1, and the engine must deliver the signal once the PID is known —
// otherwise the process runs on until TimeoutStopSec= ends (found by a CI run of
// test/runner/lifecycle.test.ts, KillMode=process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, INITIAL_MACHINE, configFromSpec, type Effect, type Event, type Machine } from '../../src/engine/index.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

function step(m: Machine, ev: Event, service: NonNullable<ServiceUnitSpec['service']>): { m: Machine; effects: readonly Effect[] } {
  const d = decide(m, ev, configFromSpec({ service }, 'p.service'), 1_000_000);
  return { m: d.machine, effects: d.effects };
}

const kills = (effects: readonly Effect[]) => effects.filter((e) => e.t === 'kill').map((e) => e.t === 'kill' ? `${e.targets.join('+')}:${e.signal}` : '');

for (const killMode of ['process', 'control-group', 'mixed'] as const) {
  test(`KillMode=${killMode}: a stop before the main PID is known signals it (SIGTERM) as soon as it is`, () => {
    const service = { execStart: ['/bin/sleep 1000'], killMode };
    let r = step(INITIAL_MACHINE, { t: 'start' }, service);
    assert.equal(r.m.mainPid, -1, 'the spawn is asked for, its PID not known yet');
    r = step(r.m, { t: 'stop' }, service);
    assert.equal(r.m.state, 'stop-sigterm');
    r = step(r.m, { t: 'spawned', role: 'main', pid: 4242 }, service);
    assert.equal(r.m.mainPid, 4242);
    assert.deepEqual(kills(r.effects), ['main:15']);
    r = step(r.m, { t: 'exited', pid: 4242, code: 'killed', status: 15 }, service);
    r = step(r.m, { t: 'group-empty' }, service);
    assert.deepEqual([r.m.state, r.m.result], ['dead', 'success']);
  });
}

test('KillMode=none: nothing is signalled when the PID arrives during the stop', () => {
  const service = { execStart: ['/bin/sleep 1000'], killMode: 'none' as const };
  let r = step(INITIAL_MACHINE, { t: 'start' }, service);
  r = step(r.m, { t: 'stop' }, service);
  r = step(r.m, { t: 'spawned', role: 'main', pid: 4242 }, service);
  assert.deepEqual(kills(r.effects), []);
});

test('a PID that arrives while the unit runs is not signalled', () => {
  const service = { execStart: ['/bin/sleep 1000'] };
  let r = step(INITIAL_MACHINE, { t: 'start' }, service);
  r = step(r.m, { t: 'spawned', role: 'main', pid: 4242 }, service);
  assert.equal(r.m.state, 'running');
  assert.deepEqual(kills(r.effects), []);
});
