// The engine's typed transitions (the 'transition' effects), driven by the simulator with an
// exact clock: what Events and metrics read instead of diffing snapshots or log messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRecorded } from '../support/transitions.ts';

test('a unit that keeps exiting 1 until the start limit: exited, restart scheduled and queued, start-limit hit, failed', () => {
  const sim = runRecorded({ execStart: ['sim-exit 1 0'], restart: 'on-failure', restartSec: '100ms' }, { startLimitBurst: 2, startLimitIntervalSec: '10s' });
  assert.deepEqual(sim.transitions, [
    { ms: 0, t: 'started', mainPid: 100 },
    { ms: 0, t: 'main-exited', code: 'exited', status: 1 },
    { ms: 0, t: 'restart-scheduled', delayUSec: 100_000, nRestarts: 1, result: 'exit-code' },
    { ms: 100, t: 'restart-queued', nRestarts: 1, result: 'exit-code' },
    { ms: 100, t: 'started', mainPid: 101 },
    { ms: 100, t: 'main-exited', code: 'exited', status: 1 },
    { ms: 100, t: 'restart-scheduled', delayUSec: 100_000, nRestarts: 2, result: 'exit-code' },
    // NRestarts counts the refused restart, as systemd does
    { ms: 200, t: 'restart-queued', nRestarts: 2, result: 'exit-code' },
    { ms: 200, t: 'start-limit-hit' },
    { ms: 200, t: 'failed', result: 'exit-code' },
  ]);
  assert.equal(sim.props.NRestarts, 2);
});

test('restart-scheduled carries the RestartSteps= delay of the restart it announces', () => {
  const sim = runRecorded({ execStart: ['sim-exit 1 0'], restart: 'always', restartSec: '1s', restartSteps: 2, restartMaxDelaySec: '4s' }, { startLimitIntervalSec: 0 }, 8_000);
  const scheduled = sim.transitions.filter((t) => t.t === 'restart-scheduled');
  assert.deepEqual(scheduled.map((t) => [t.ms, t.delayUSec / 1000, t.nRestarts]), [[0, 1000, 1], [1000, 2000, 2], [3000, 4000, 3], [7000, 4000, 4]]);
});

test('a main process killed by a signal: main-exited with code=killed and the signal number', () => {
  const sim = runRecorded({ execStart: ['sim-signal 9 50'] }, {}, 1000);
  assert.deepEqual(sim.transitions, [
    { ms: 0, t: 'started', mainPid: 100 },
    { ms: 50, t: 'main-exited', code: 'killed', status: 9 },
    { ms: 50, t: 'failed', result: 'signal' },
  ]);
});

test('a simple service is started once its PID is known; Type=notify once READY=1 comes', () => {
  assert.deepEqual(runRecorded({ execStart: ['sim-run'] }, {}, 100).transitions, [{ ms: 0, t: 'started', mainPid: 100 }]);
  assert.deepEqual(runRecorded({ type: 'notify', execStart: ['sim-ready 300'] }, {}, 1000).transitions, [{ ms: 300, t: 'started', mainPid: 100 }]);
});

test('a oneshot with RemainAfterExit=yes is started with no main process', () => {
  const sim = runRecorded({ type: 'oneshot', remainAfterExit: true, execStart: ['sim-exit 0 20'] }, {}, 100);
  assert.deepEqual(sim.transitions, [{ ms: 20, t: 'main-exited', code: 'exited', status: 0 }, { ms: 20, t: 'started', mainPid: 0 }]);
});

test('Type=forking: the ExecStart= process exiting is the main exit (ExecMainCode=), then the daemon runs', () => {
  const sim = runRecorded({ type: 'forking', execStart: ['sim-fork 30 4242'] }, {}, 100);
  assert.deepEqual(sim.transitions, [{ ms: 30, t: 'main-exited', code: 'exited', status: 0 }, { ms: 30, t: 'started', mainPid: 4242 }]);
});

test('stop, reload, restart and reset-failed: stopped, reloaded (not started again), stopped then started', () => {
  const sim = runRecorded({ execStart: ['sim-run'], execReload: ['sim-exit 0 10'] }, {}, 100);
  sim.send({ t: 'reload' }); sim.runFor(200);
  sim.send({ t: 'restart' }); sim.runFor(300);
  sim.send({ t: 'stop' }); sim.runFor(400);
  assert.deepEqual(sim.transitions, [
    { ms: 0, t: 'started', mainPid: 100 },
    { ms: 110, t: 'reloaded', result: 'success' },
    { ms: 201, t: 'main-exited', code: 'killed', status: 15 },
    { ms: 201, t: 'stopped' },
    { ms: 201, t: 'started', mainPid: 102 },
    { ms: 301, t: 'main-exited', code: 'killed', status: 15 },
    { ms: 301, t: 'stopped' },
  ]);
  const failed = runRecorded({ execStart: ['sim-exit 2 0'] }, {}, 100);
  failed.send({ t: 'reset-failed' });
  assert.deepEqual(failed.transitions.slice(-2).map((t) => t.t), ['failed', 'stopped']);
});

test('a manual start refused by the start limit: start-limit-hit, failed with Result=start-limit-hit', () => {
  const sim = runRecorded({ execStart: ['sim-run'] }, { startLimitBurst: 1, startLimitIntervalSec: '10s' }, 100);
  sim.send({ t: 'stop' }); sim.runFor(200);
  sim.transitions.length = 0;
  sim.send({ t: 'start' });
  assert.deepEqual(sim.transitions, [{ ms: 200, t: 'start-limit-hit' }, { ms: 200, t: 'failed', result: 'start-limit-hit' }]);
});

test('a watchdog timeout says so with its limit, then the unit fails with Result=watchdog', () => {
  const sim = runRecorded({ execStart: ['sim-run'], watchdogSec: '2s' }, {}, 3000);
  assert.deepEqual(sim.transitions.slice(1), [
    { ms: 2000, t: 'watchdog-timeout', limitUSec: 2_000_000 },
    { ms: 2001, t: 'main-exited', code: 'dumped', status: 6 },
    { ms: 2001, t: 'failed', result: 'watchdog' },
  ]);
});
