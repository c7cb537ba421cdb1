// The state machine, driven by the simulator with an exact clock. Each test names the systemd
// behaviour it pins; the oracle comparisons (test/runner/oracle.test.ts) check the same against
// systemd 257 itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, run } from '../support/sim.ts';

test('StartLimitBurst=4 with a unit that keeps exiting 1: failed, Result=exit-code, NRestarts=4 (the first failure sticks)', () => {
  const sim = run({ execStart: ['sim-exit 1 0'], restart: 'on-failure', restartSec: '100ms' }, { startLimitBurst: 4, startLimitIntervalSec: '10s' });
  assert.deepEqual(sim.props, { ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', NRestarts: 4, MainPID: 0, ControlPID: 0, ExecMainCode: 1, ExecMainStatus: 1 });
  assert.deepEqual(sim.entered('auto-restart'), [0, 100, 200, 300]);
  assert.ok(sim.logs.includes('Start request repeated too quickly.'));
});

test('a manual start that hits the start limit fails with Result=start-limit-hit', () => {
  const sim = new Sim({ service: { execStart: ['sim-run'] }, unit: { startLimitBurst: 1, startLimitIntervalSec: '10s' } });
  sim.send({ t: 'start' }); sim.runFor(100);
  sim.send({ t: 'stop' }); sim.runFor(200);
  assert.equal(sim.props.SubState, 'dead');
  sim.send({ t: 'start' }); sim.runFor(300);
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['failed', 'start-limit-hit']);
  sim.send({ t: 'reset-failed' });
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['inactive', 'success']);
  sim.send({ t: 'start' }); sim.runFor(400);
  assert.equal(sim.props.SubState, 'running', 'reset-failed also resets the start limit');
});

test('RestartSteps=4 from RestartSec=1s to RestartMaxDelaySec=16s: restarts after 1, 2, 4, 8, 16, 16 s', () => {
  const sim = run({ execStart: ['sim-exit 1 0'], restart: 'always', restartSec: '1s', restartSteps: 4, restartMaxDelaySec: '16s' }, { startLimitIntervalSec: 0 }, 60_000);
  const starts = sim.spawned.map((s) => s.ms);
  const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
  assert.deepEqual(gaps, [1000, 2000, 4000, 8000, 16000, 16000]);
  assert.equal(sim.props.NRestarts, 6);
});

test('a clean exit under Restart=on-failure ends inactive (dead) with Result=success', () => {
  const sim = run({ execStart: ['sim-exit 0 50'], restart: 'on-failure' });
  assert.deepEqual([sim.props.ActiveState, sim.props.SubState, sim.props.Result], ['inactive', 'dead', 'success']);
});

test('SIGTERM is a clean exit for a daemon, SIGKILL is not (Restart=on-failure)', () => {
  assert.equal(run({ execStart: ['sim-signal 15 50'], restart: 'on-failure' }).props.SubState, 'dead');
  const killed = run({ execStart: ['sim-signal 9 50'], restart: 'on-failure', restartSec: 0 }, { startLimitBurst: 2 });
  assert.deepEqual([killed.props.ActiveState, killed.props.Result, killed.props.NRestarts], ['failed', 'signal', 2]);
});

test('Type=notify that never sends READY=1: TimeoutStartSec= ends it with SIGTERM and Result=timeout', () => {
  const sim = run({ type: 'notify', execStart: ['sim-run'], timeoutStartSec: '1s' });
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['failed', 'timeout']);
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.signal]), [[1000, 15]]);
});

test('Type=notify becomes active on READY=1', () => {
  const sim = run({ type: 'notify', execStart: ['sim-ready 300'] }, {}, 1000);
  assert.deepEqual(sim.entered('running'), [300]);
  assert.equal(sim.timeline.find((s) => s.SubState === 'start')?.ActiveState, 'activating');
});

test('a stop that outlasts TimeoutStopSec= escalates to SIGKILL and ends failed with Result=timeout', () => {
  const sim = new Sim({ service: { execStart: ['sim-stubborn'], timeoutStopSec: '2s' } });
  sim.send({ t: 'start' }); sim.runFor(1000);
  sim.send({ t: 'stop' }); sim.runFor(10_000);
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.signal]), [[1000, 15], [3000, 9]]);
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['failed', 'timeout']);
  assert.ok(sim.entered('stop-sigkill').length === 1);
});

test('SendSIGKILL=no: a stubborn process is left after TimeoutStopSec= and the unit still ends', () => {
  const sim = new Sim({ service: { execStart: ['sim-stubborn'], timeoutStopSec: '1s', sendSIGKILL: false } });
  sim.send({ t: 'start' }); sim.runFor(10);
  sim.send({ t: 'stop' }); sim.runFor(10_000);
  assert.ok(sim.signals.every((s) => s.signal !== 9));
  assert.equal(sim.props.ActiveState, 'failed');
});

test('WatchdogSec=1s without pings: WatchdogSignal=SIGABRT, Result=watchdog, and Restart=on-watchdog restarts', () => {
  const sim = run({ type: 'notify', execStart: ['sim-ready 0'], watchdogSec: '1s', restart: 'on-watchdog', restartSec: '500ms' }, {}, 1800);
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.signal]), [[1000, 6]]);
  assert.ok(sim.timeline.some((s) => s.Result === 'watchdog' && s.SubState === 'auto-restart'), JSON.stringify(sim.timeline));
  assert.deepEqual(sim.spawned.map((s) => s.ms), [0, 1501]);
});

test('WATCHDOG=1 pings keep the service alive', () => {
  const sim = new Sim({ service: { type: 'notify', execStart: ['sim-ready 0'], watchdogSec: '1s' } });
  sim.send({ t: 'start' });
  for (let t = 500; t <= 5000; t += 500) { sim.runFor(t); sim.send({ t: 'notify', pid: sim.m.mainPid, fields: { WATCHDOG: '1' } }); }
  assert.equal(sim.props.SubState, 'running');
  assert.deepEqual(sim.signals, []);
});

test('Type=oneshot runs every ExecStart= in turn and RemainAfterExit=yes stays active (exited)', () => {
  const sim = run({ type: 'oneshot', remainAfterExit: true, execStart: ['sim-exit 0 10', 'sim-exit 0 10'] });
  assert.deepEqual([sim.props.ActiveState, sim.props.SubState], ['active', 'exited']);
  assert.equal(sim.timeline.find((s) => s.SubState === 'start')?.ActiveState, 'activating');
  assert.deepEqual(sim.spawned.map((s) => s.ms), [0, 10]);
});

test('a failing oneshot: ExecStopPost= sees SERVICE_RESULT=exit-code EXIT_CODE=exited EXIT_STATUS=3', () => {
  const sim = run({ type: 'oneshot', execStart: ['sim-exit 0 0', 'sim-exit 3 0'], execStopPost: ['sim-exit 0 0'] });
  const post = sim.spawned.find((s) => s.kind === 'stopPost');
  assert.deepEqual(post?.env, { SERVICE_RESULT: 'exit-code', EXIT_CODE: 'exited', EXIT_STATUS: '3' });
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['failed', 'exit-code']);
});

test('ExecCondition= exiting 1 skips the start: inactive (dead), Result=success, no restart even with Restart=always', () => {
  const sim = run({ execCondition: ['sim-exit 1 0'], execStart: ['sim-run'], restart: 'always', restartSec: '100ms' });
  assert.deepEqual([sim.props.ActiveState, sim.props.SubState, sim.props.Result, sim.props.NRestarts], ['inactive', 'dead', 'success', 0]);
  assert.equal(sim.spawned.filter((s) => s.kind === 'start').length, 0);
  const failed = run({ execCondition: ['sim-exit 255 0'], execStart: ['sim-run'] });
  assert.deepEqual([failed.props.ActiveState, failed.props.Result], ['failed', 'exit-code']);
});

test('a "-" prefixed ExecStartPre= may fail; an unprefixed one fails the start', () => {
  assert.equal(run({ execStartPre: ['-sim-exit 1 0'], execStart: ['sim-run'] }, {}, 100).props.SubState, 'running');
  const failing = run({ execStartPre: ['sim-exit 1 0'], execStart: ['sim-run'] }, {}, 100);
  assert.deepEqual([failing.props.ActiveState, failing.props.Result], ['failed', 'exit-code']);
});

test('Type=forking: running once the parent exits, with the daemon as main PID', () => {
  const sim = run({ type: 'forking', execStart: ['sim-fork 50 4242'] }, {}, 200);
  assert.deepEqual([sim.props.SubState, sim.props.MainPID], ['running', 4242]);
});

test('systemctl restart does not count as NRestarts and uses RestartKillSignal=', () => {
  const sim = new Sim({ service: { execStart: ['sim-run'], restartKillSignal: 'SIGINT' } });
  sim.send({ t: 'start' }); sim.runFor(100);
  sim.send({ t: 'restart' }); sim.runFor(300);
  assert.deepEqual(sim.signals.map((s) => s.signal), [2]);
  assert.deepEqual([sim.props.SubState, sim.props.NRestarts], ['running', 0]);
  assert.equal(sim.spawned.length, 2);
});

test('stopping during auto-restart ends the restarts: dead, and the counter flushes on the next start', () => {
  const sim = new Sim({ service: { execStart: ['sim-exit 1 0'], restart: 'always', restartSec: '1s' }, unit: { startLimitIntervalSec: 0 } });
  sim.send({ t: 'start' }); sim.runFor(2500);
  assert.equal(sim.props.SubState, 'auto-restart');
  assert.equal(sim.props.NRestarts, 2);
  sim.send({ t: 'stop' }); sim.runFor(6000);
  assert.deepEqual([sim.props.ActiveState, sim.props.SubState], ['inactive', 'dead']);
  assert.equal(sim.spawned.length, 3);
  sim.send({ t: 'start' });
  assert.equal(sim.props.NRestarts, 0);
});

test('RuntimeMaxSec= stops a running service with Result=timeout', () => {
  const sim = run({ execStart: ['sim-run'], runtimeMaxSec: '2s' }, {}, 3000);
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.signal]), [[2000, 15]]);
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['failed', 'timeout']);
});

test('ExecStop= runs with $MAINPID before the KillMode= procedure', () => {
  const sim = new Sim({ service: { execStart: ['sim-run'], execStop: ['sim-exit 0 10'] } });
  sim.send({ t: 'start' }); sim.runFor(50);
  const main = sim.m.mainPid;
  sim.send({ t: 'stop' }); sim.runFor(500);
  const stop = sim.spawned.find((s) => s.kind === 'stop');
  assert.equal(stop?.env['MAINPID'], String(main));
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.pid, s.signal]), [[60, main, 15]]);
  assert.deepEqual([sim.props.ActiveState, sim.props.Result], ['inactive', 'success']);
});

test('KillMode=process signals only the main process, not the rest of the unit', () => {
  const sim = new Sim({ service: { type: 'forking', execStart: ['sim-fork 10 4242'], killMode: 'process' } });
  sim.send({ t: 'start' }); sim.runFor(50);
  sim.send({ t: 'stop' }); sim.runFor(500);
  assert.deepEqual(sim.signals.map((s) => [s.pid, s.signal]), [[4242, 15]]);
});

// service_stop() (systemd 257) sets forbid_restart before anything else, also in the states it
// is "already on" (stop, stop-sigterm, stop-post, final-*): a manual stop that meets a unit
// stopping by itself ends it without the restart (oracle fixture 35-stop-while-stopping).
test('a manual stop while the unit stops by itself (its ExecStopPost= running) forbids the restart', () => {
  const sim = new Sim({ service: { execStart: ['sim-exit 1 1000'], execStopPost: ['sim-exit 0 2000'], restart: 'always', restartSec: '100ms' } });
  sim.send({ t: 'start' }); sim.runFor(1500);
  assert.equal(sim.props.SubState, 'stop-post');
  sim.send({ t: 'stop' }); sim.runFor(5000);
  assert.deepEqual([sim.props.ActiveState, sim.props.SubState, sim.props.Result, sim.props.NRestarts], ['failed', 'failed', 'exit-code', 0]);
  assert.equal(sim.spawned.filter((s) => s.kind === 'start').length, 1, 'no second start');
});

test('a manual stop during a watchdog\'s stop (stop-watchdog) goes on with SIGTERM at once and forbids the restart', () => {
  const sim = new Sim({ service: { execStart: ['sim-stubborn'], watchdogSec: '1s', timeoutStopSec: '10s', restart: 'always', restartSec: '100ms' } });
  sim.send({ t: 'start' }); sim.runFor(1500);
  assert.equal(sim.props.SubState, 'stop-watchdog');
  sim.send({ t: 'stop' });
  assert.equal(sim.props.SubState, 'stop-sigterm');
  sim.runFor(30_000);
  assert.deepEqual(sim.signals.map((s) => [s.ms, s.signal]), [[1000, 6], [1500, 15], [11_500, 9]]);
  assert.deepEqual([sim.props.ActiveState, sim.props.Result, sim.props.NRestarts], ['failed', 'watchdog', 0]);
  assert.equal(sim.spawned.filter((s) => s.kind === 'start').length, 1, 'no second start');
});
