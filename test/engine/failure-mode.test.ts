// TimeoutStartFailureMode=/TimeoutStopFailureMode= (terminate|abort|kill), ReloadSignal= and
// RuntimeRandomizedExtraSec= in the engine, driven by the simulator with an exact clock. What
// systemd 257 does was checked with the oracle (test/fixtures/oracle/22–25, replayed with real
// processes by test/runner/oracle.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, Sim } from '../support/sim.ts';
import { decide, configFromSpec, drawFrom } from '../../src/engine/index.ts';

const SIGHUP = 1, SIGABRT = 6, SIGKILL = 9, SIGUSR1 = 10, SIGTERM = 15;
/** The SubStates passed, without the simulator's clean-up of the (already empty) process group. */
const subs = (sim: Sim): string[] => sim.timeline.map((s) => s.SubState).filter((s) => s !== 'final-sigterm');
const sigs = (sim: Sim): Array<[number, number]> => sim.signals.map((s) => [s.ms, s.signal]);

test('TimeoutStartFailureMode=abort: the start timeout sends WatchdogSignal= (SIGABRT) in stop-watchdog, Result=timeout', () => {
  const sim = run({ type: 'notify', execStart: ['sim-run'], timeoutStartSec: '1s', timeoutStartFailureMode: 'abort' }, {}, 5000);
  assert.deepEqual(sigs(sim), [[1000, SIGABRT]]);
  assert.deepEqual(subs(sim), ['dead', 'start', 'stop-watchdog', 'failed']);
  assert.equal(sim.props.Result, 'timeout');
  assert.ok(sim.logs.includes('start operation timed out. Aborting.'), sim.logs.join('\n'));
  // the default, terminate: KillSignal= in stop-sigterm
  const term = run({ type: 'notify', execStart: ['sim-run'], timeoutStartSec: '1s' }, {}, 5000);
  assert.deepEqual(sigs(term), [[1000, SIGTERM]]);
  assert.deepEqual(subs(term), ['dead', 'start', 'stop-sigterm', 'failed']);
  assert.equal(term.props.Result, 'timeout');
});

test('TimeoutStartFailureMode=abort: a process that survives SIGABRT gets FinalKillSignal= after TimeoutAbortSec=', () => {
  const sim = run({ type: 'notify', execStart: ['sim-stubborn'], timeoutStartSec: '1s', timeoutAbortSec: '2s', timeoutStopSec: '30s', timeoutStartFailureMode: 'abort', watchdogSignal: 'SIGUSR1' }, {}, 10_000);
  assert.deepEqual(sigs(sim), [[1000, SIGUSR1], [3000, SIGKILL]], 'WatchdogSignal= is what abort sends');
  assert.deepEqual(subs(sim), ['dead', 'start', 'stop-watchdog', 'stop-sigkill', 'failed']);
  assert.equal(sim.props.Result, 'timeout');
});

test('TimeoutStartFailureMode=kill: SIGKILL at once (stop-sigkill); with SendSIGKILL=no on to stop-post without it', () => {
  const sim = run({ type: 'notify', execStart: ['sim-run'], timeoutStartSec: '1s', timeoutStartFailureMode: 'kill' }, {}, 5000);
  assert.deepEqual(sigs(sim), [[1000, SIGKILL]]);
  assert.deepEqual(subs(sim), ['dead', 'start', 'stop-sigkill', 'failed']);
  assert.equal(sim.props.Result, 'timeout');
  assert.ok(sim.logs.includes('start operation timed out. Killing.'));

  const soft = run({ type: 'notify', execStart: ['sim-run'], execStopPost: ['sim-exit 0 10'], timeoutStartSec: '1s', timeoutStartFailureMode: 'kill', sendSIGKILL: false }, {}, 5000);
  assert.ok(soft.logs.includes('start operation timed out. Skipping SIGKILL.'));
  assert.deepEqual(subs(soft).slice(0, 3), ['dead', 'start', 'stop-post'], 'no signal before ExecStopPost=');
  assert.equal(soft.signals.filter((s) => s.ms === 1000).length, 0);
  assert.equal(soft.props.Result, 'timeout');
});

test('TimeoutStartFailureMode= covers ExecCondition=, ExecStartPre= and ExecStartPost= too; terminate on start-post signals (ExecStop= does not run, as systemd 257)', () => {
  const pre = run({ execStartPre: ['sim-run'], execStart: ['sim-run'], timeoutStartSec: '1s', timeoutStartFailureMode: 'abort' }, {}, 5000);
  assert.deepEqual(subs(pre), ['dead', 'start-pre', 'stop-watchdog', 'failed']);
  assert.ok(pre.logs.includes('start-pre operation timed out. Aborting.'));
  const cond = run({ execCondition: ['sim-run'], execStart: ['sim-run'], timeoutStartSec: '1s', timeoutStartFailureMode: 'kill' }, {}, 5000);
  assert.deepEqual(subs(cond), ['dead', 'condition', 'stop-sigkill', 'failed']);

  const post = run({ execStart: ['sim-run'], execStartPost: ['sim-run'], execStop: ['sim-exit 0 10'], timeoutStartSec: '1s' }, {}, 5000);
  assert.deepEqual(subs(post), ['dead', 'start-post', 'stop-sigterm', 'failed']);
  assert.equal(post.spawned.filter((s) => s.kind === 'stop').length, 0, 'no ExecStop=');
  assert.deepEqual(sigs(post), [[1000, SIGTERM], [1000, SIGTERM]], 'main and control');
  assert.ok(post.logs.includes('start-post operation timed out. Terminating.'));
  const postAbort = run({ execStart: ['sim-run'], execStartPost: ['sim-run'], timeoutStartSec: '1s', timeoutStartFailureMode: 'abort' }, {}, 5000);
  assert.deepEqual(subs(postAbort), ['dead', 'start-post', 'stop-watchdog', 'failed']);
  assert.equal(postAbort.props.Result, 'timeout');
});

test('TimeoutStopFailureMode=kill: an ExecStop= that times out goes straight to SIGKILL (stop-sigkill), Result=timeout', () => {
  const sim = run({ execStart: ['sim-run'], execStop: ['sim-run'], timeoutStopSec: '500ms', timeoutStopFailureMode: 'kill' }, {}, 100);
  sim.send({ t: 'stop' });
  sim.runFor(5000);
  assert.deepEqual(sigs(sim), [[600, SIGKILL], [600, SIGKILL]]);
  assert.deepEqual(subs(sim), ['dead', 'running', 'stop', 'stop-sigkill', 'failed']);
  assert.equal(sim.props.Result, 'timeout');
  assert.ok(sim.logs.includes('Stopping timed out. Killing.'));
});

test('TimeoutStopFailureMode=abort: stop-sigterm times out into stop-watchdog (SIGABRT), then SIGKILL after TimeoutAbortSec=', () => {
  const sim = run({ execStart: ['sim-stubborn'], timeoutStopSec: '1s', timeoutAbortSec: '500ms', timeoutStopFailureMode: 'abort' }, {}, 100);
  sim.send({ t: 'stop' });
  sim.runFor(10_000);
  assert.deepEqual(sigs(sim), [[100, SIGTERM], [1100, SIGABRT], [1600, SIGKILL]]);
  assert.deepEqual(subs(sim), ['dead', 'running', 'stop-sigterm', 'stop-watchdog', 'stop-sigkill', 'failed']);
  assert.ok(sim.logs.includes('State \'stop-sigterm\' timed out. Aborting.'));
  assert.equal(sim.props.Result, 'timeout');
});

test('TimeoutStopFailureMode= on ExecStopPost=: abort → final-watchdog, kill → final-sigkill, kill with SendSIGKILL=no → failed at once', () => {
  const stopPost = (mode: string, extra: Record<string, unknown> = {}): Sim => {
    const sim = run({ execStart: ['sim-exit 0 10'], execStopPost: ['sim-stubborn'], timeoutStopSec: '1s', timeoutStopFailureMode: mode, ...extra }, {}, 5000);
    return sim;
  };
  const abort = stopPost('abort');
  assert.deepEqual(subs(abort), ['dead', 'running', 'stop-sigterm', 'stop-post', 'final-watchdog', 'final-sigkill', 'failed']);
  assert.deepEqual(sigs(abort), [[1010, SIGABRT], [2010, SIGKILL]]);
  const kill = stopPost('kill');
  assert.deepEqual(subs(kill), ['dead', 'running', 'stop-sigterm', 'stop-post', 'final-sigkill', 'failed']);
  assert.deepEqual(sigs(kill), [[1010, SIGKILL]]);
  const soft = stopPost('kill', { sendSIGKILL: false });
  assert.deepEqual(subs(soft), ['dead', 'running', 'stop-sigterm', 'stop-post', 'failed']);
  assert.ok(soft.logs.includes('State \'stop-post\' timed out. Skipping SIGKILL. Entering failed mode.'));
  for (const s of [abort, kill, soft]) assert.equal(s.props.Result, 'timeout');
});

test('ReloadSignal= is the signal a Type=notify-reload reload sends to the main process (default SIGHUP)', () => {
  const reload = (extra: Record<string, unknown>): Sim => {
    const sim = run({ type: 'notify-reload', execStart: ['sim-ready 10'], ...extra }, {}, 100);
    sim.send({ t: 'reload' });
    assert.equal(sim.props.SubState, 'reload-signal');
    return sim;
  };
  const usr1 = reload({ reloadSignal: 'SIGUSR1' });
  assert.equal(usr1.cfg.reloadSignal, SIGUSR1);
  assert.deepEqual(sigs(usr1), [[100, SIGUSR1]]);
  assert.deepEqual(sigs(reload({})), [[100, SIGHUP]]);
  assert.deepEqual(sigs(reload({ reloadSignal: 'USR1' })), [[100, SIGUSR1]], 'without the SIG prefix');
});

test('RuntimeRandomizedExtraSec= adds a draw of up to that much to RuntimeMaxSec= (the draw injected like the clock)', () => {
  const spec = { service: { execStart: ['sim-run'], runtimeMaxSec: '10s', runtimeRandomizedExtraSec: '4s' } };
  const cfg = configFromSpec(spec, 'x.service');
  assert.equal(cfg.runtimeRandomizedExtraUSec, 4_000_000);
  let m = decide(new Sim(spec).m, { t: 'start' }, cfg, 1_000_000, 0.5).machine;
  assert.equal(m.state, 'running');
  assert.equal(m.timer!.deadline, 1_000_000 + 10_000_000 + 2_000_000, 'half of the extra for a draw of 0.5');
  m = decide(new Sim(spec).m, { t: 'start' }, cfg, 1_000_000, 0).machine;
  assert.equal(m.timer!.deadline, 11_000_000);
  // without an injected draw the engine draws from the clock: deterministic, and within the range
  const sim = run(spec.service, {}, 20_000);
  const extraMs = sim.entered('stop-sigterm')[0]! - 10_000;
  assert.equal(Math.round(extraMs * 1000), Math.floor(drawFrom(sim.t0) * 4_000_000));
  assert.ok(extraMs >= 0 && extraMs < 4000, `extra ${extraMs} ms`);
  assert.equal(sim.props.Result, 'timeout');
  // no extra asked: exactly RuntimeMaxSec=
  assert.deepEqual(run({ execStart: ['sim-run'], runtimeMaxSec: '10s' }, {}, 20_000).entered('stop-sigterm'), [10_000]);
});

test('RuntimeMaxSec= counts from when the unit became active: a reload does not push it back', () => {
  const sim = run({ execStart: ['sim-run'], execReload: ['sim-exit 0 3000'], runtimeMaxSec: '5s' }, {}, 1000);
  sim.send({ t: 'reload' });
  sim.runFor(20_000);
  assert.deepEqual(sim.entered('stop-sigterm'), [5000]);
});
