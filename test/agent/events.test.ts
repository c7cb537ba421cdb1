// Events and metrics read the engine's transitions: a crash loop up to the start limit, run in
// the simulator, becomes the Events users see and the counters Prometheus scrapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Transition } from '../../src/engine/index.ts';
import { unitEvent } from '../../src/agent/events.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { runRecorded } from '../support/transitions.ts';

/** A unit exiting 1 after 50 ms, restarted after 1.5 s, until StartLimitBurst=2 stops it. */
const crashLoop = (): Transition[] => runRecorded({ execStart: ['sim-exit 1 50'], restart: 'on-failure', restartSec: '1500ms' }, { startLimitBurst: 2, startLimitIntervalSec: '1min' })
  .transitions.map(({ ms: _ms, ...t }) => t as Transition);

test('a crash loop up to the start limit: Started, Exited, Restarting, StartLimitHit, Failed', () => {
  const events = crashLoop().map(unitEvent).filter((e) => e !== undefined);
  assert.deepEqual(events, [
    { type: 'Normal', reason: 'Started', message: 'Started, main PID 100' },
    { type: 'Warning', reason: 'Exited', message: 'Main process exited, code=exited, status=1' },
    { type: 'Normal', reason: 'Restarting', message: 'Scheduled restart in 1.5 s (restart 1)' },
    { type: 'Normal', reason: 'Started', message: 'Started, main PID 101' },
    { type: 'Warning', reason: 'Exited', message: 'Main process exited, code=exited, status=1' },
    { type: 'Normal', reason: 'Restarting', message: 'Scheduled restart in 1.5 s (restart 2)' },
    { type: 'Warning', reason: 'StartLimitHit', message: 'Start request repeated too quickly (StartLimitBurst= reached)' },
    { type: 'Warning', reason: 'Failed', message: "Failed with result 'exit-code'" },
  ]);
});

test('Events for the other transitions: clean and signal exits, stops, reloads and watchdogs', () => {
  assert.deepEqual(unitEvent({ t: 'main-exited', code: 'exited', status: 0 }), { type: 'Normal', reason: 'Exited', message: 'Main process exited, code=exited, status=0/SUCCESS' });
  assert.deepEqual(unitEvent({ t: 'main-exited', code: 'killed', status: 9 }), { type: 'Warning', reason: 'Exited', message: 'Main process exited, code=killed, signal=KILL' });
  assert.deepEqual(unitEvent({ t: 'stopped' }), { type: 'Normal', reason: 'Stopped', message: 'Stopped' });
  assert.deepEqual(unitEvent({ t: 'started', mainPid: 0 }), { type: 'Normal', reason: 'Started', message: 'Started' });
  assert.equal(unitEvent({ t: 'reloaded', result: 'success' }), undefined);
  assert.equal(unitEvent({ t: 'restart-queued', nRestarts: 1, result: 'exit-code' }), undefined);
});

test('metrics count restarts by their cause, start-limit hits and main exits by code from the same transitions', async () => {
  const m = new Metrics('agent');
  for (const t of crashLoop()) m.transition('prod/crashy', t);
  m.transition('web.service', { t: 'main-exited', code: 'killed', status: 15 });
  const text = await m.text();
  const sample = (name: string, labels: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`unit_operator_${name}{`) && l.includes(labels));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  // NRestarts counts the restart the start limit refused, as systemd does
  assert.equal(sample('unit_restarts_total', 'namespace="prod",unit="crashy",result="exit-code"'), 2);
  assert.equal(sample('unit_start_limit_hits_total', 'namespace="prod",unit="crashy"'), 1);
  assert.equal(sample('unit_main_exits_total', 'namespace="prod",unit="crashy",code="exited"'), 2);
  assert.equal(sample('unit_main_exits_total', 'namespace="",unit="web.service",code="killed"'), 1);
});
