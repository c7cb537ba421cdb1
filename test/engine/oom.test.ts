// OOMPolicy= and Result=oom-kill in the engine (issue 13), driven by the simulator: the runner
// sends { t: 'oom-kill' } when the unit's memory cgroup counts an OOM kill, before the SIGCHLD of
// the killed process (systemd's manager_dispatch_sigchld() checks unit_check_oom() first). What
// follows is service.c's service_notify_cgroup_oom_event() in systemd 257.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, type Sim } from '../support/sim.ts';
import { configFromSpec, decide, INITIAL_MACHINE } from '../../src/engine/index.ts';

const SIGKILL = 9, SIGTERM = 15;
const sigs = (sim: Sim): Array<[number, number]> => sim.signals.map((s) => [s.ms, s.signal]);
const OOM_LOG = 'A process of this unit has been killed by the OOM killer.';

/** At `ms`, the kernel OOM-kills the main process: the OOM event, then its SIGCHLD (killed by SIGKILL). */
function oomKillMain(sim: Sim, ms: number): void {
  sim.runFor(ms);
  const pid = sim.m.mainPid;
  sim.send({ t: 'oom-kill' });
  sim.send({ t: 'exited', pid, code: 'killed', status: SIGKILL });
}

test('OOMPolicy= defaults to stop: an OOM kill of the main process stops the unit with Result=oom-kill (not signal)', () => {
  const sim = run({ execStart: ['sim-run'] }, {}, 0);
  assert.equal(sim.cfg.oomPolicy, 'stop');
  oomKillMain(sim, 500);
  sim.runFor(5000);
  assert.equal(sim.props.ActiveState, 'failed');
  assert.equal(sim.props.Result, 'oom-kill');
  assert.ok(sim.logs.includes(OOM_LOG), sim.logs.join('\n'));
  assert.ok(sim.logs.includes("Failed with result 'oom-kill'."), sim.logs.join('\n'));
});

test('OOMPolicy=stop: an OOM kill of another process stops the still running main process with SIGTERM (service_enter_stop(), ExecStop= first)', () => {
  const sim = run({ execStart: ['sim-run'], execStop: ['sim-exit 0 100'], oomPolicy: 'stop' }, {}, 500);
  sim.send({ t: 'oom-kill' });
  assert.equal(sim.props.SubState, 'stop', 'ExecStop= runs');
  sim.runFor(5000);
  assert.deepEqual(sigs(sim), [[600, SIGTERM]]);
  assert.equal(sim.props.Result, 'oom-kill');
  assert.equal(sim.props.ActiveState, 'failed');
  assert.equal(sim.spawned.filter((s) => s.kind === 'stop').length, 1);
});

test('OOMPolicy=kill: every process gets SIGKILL at once (stop-sigkill), Result=oom-kill; ExecStop= does not run', () => {
  const sim = run({ execStart: ['sim-stubborn'], execStop: ['sim-exit 0 100'], oomPolicy: 'kill' }, {}, 500);
  sim.send({ t: 'oom-kill' });
  assert.equal(sim.props.SubState, 'stop-sigkill');
  sim.runFor(5000);
  assert.deepEqual(sigs(sim), [[500, SIGKILL]]);
  assert.equal(sim.props.Result, 'oom-kill');
  assert.equal(sim.spawned.filter((s) => s.kind === 'stop').length, 0);
});

test('OOMPolicy=continue: the OOM kill is logged and the unit keeps running; a killed main process is Result=signal, as systemd\'s own test asserts', () => {
  const other = run({ execStart: ['sim-run'], oomPolicy: 'continue' }, {}, 500);
  other.send({ t: 'oom-kill' });
  other.runFor(5000);
  assert.equal(other.props.SubState, 'running');
  assert.equal(other.props.Result, 'success');
  assert.ok(other.logs.includes(OOM_LOG));
  assert.deepEqual(sigs(other), []);

  const main = run({ execStart: ['sim-run'], oomPolicy: 'continue' }, {}, 0);
  oomKillMain(main, 500);
  main.runFor(5000);
  assert.equal(main.props.ActiveState, 'failed');
  assert.equal(main.props.Result, 'signal');
});

test('OOMPolicy= defaults to continue with Delegate= (service_add_extras()), to stop with Delegate=no', () => {
  assert.equal(configFromSpec({ service: { execStart: ['x'], delegate: 'true' } }, 'a.service').oomPolicy, 'continue');
  assert.equal(configFromSpec({ service: { execStart: ['x'], delegate: 'cpu memory' } }, 'a.service').oomPolicy, 'continue');
  assert.equal(configFromSpec({ service: { execStart: ['x'], delegate: 'false' } }, 'a.service').oomPolicy, 'stop');
  for (const no of ['no', 'off', '0', 'NO']) assert.equal(configFromSpec({ service: { execStart: ['x'], delegate: no } }, 'a.service').oomPolicy, 'stop', `Delegate=${no}`);
  assert.equal(configFromSpec({ service: { execStart: ['x'], delegate: 'yes' } }, 'a.service').oomPolicy, 'continue');
  assert.equal(configFromSpec({ service: { execStart: ['x'], delegate: 'true', oomPolicy: 'kill' } }, 'a.service').oomPolicy, 'kill');
});

test('OOMPolicy=stop while starting (Type=notify, not ready yet): SIGTERM (stop-sigterm), Result=oom-kill', () => {
  const sim = run({ type: 'notify', execStart: ['sim-run'], oomPolicy: 'stop' }, {}, 300);
  assert.equal(sim.props.SubState, 'start');
  sim.send({ t: 'oom-kill' });
  assert.equal(sim.props.SubState, 'stop-sigterm');
  sim.runFor(5000);
  assert.deepEqual(sigs(sim), [[300, SIGTERM]]);
  assert.equal(sim.props.Result, 'oom-kill');
});

test('OOMPolicy=stop while already stopping: stop-sigterm goes on to SIGKILL; in stop-sigkill only the result is noted', () => {
  const term = run({ execStart: ['sim-stubborn'], oomPolicy: 'stop' }, {}, 200);
  term.send({ t: 'stop' });
  assert.equal(term.props.SubState, 'stop-sigterm');
  term.runFor(300);
  term.send({ t: 'oom-kill' });
  assert.equal(term.props.SubState, 'stop-sigkill');
  term.runFor(5000);
  assert.deepEqual(sigs(term), [[200, SIGTERM], [300, SIGKILL]]);
  assert.equal(term.props.Result, 'oom-kill');

  // already in stop-sigkill (or final-sigkill) with no failure yet: nothing more to send
  const cfg = configFromSpec({ service: { execStart: ['x'], oomPolicy: 'kill' } }, 'a.service');
  for (const state of ['stop-sigkill', 'final-sigkill'] as const) {
    const d = decide({ ...INITIAL_MACHINE, state, mainPid: 100, mainPidKnown: true, groupEmpty: false }, { t: 'oom-kill' }, cfg, 1_000_000);
    assert.equal(d.machine.state, state);
    assert.equal(d.machine.result, 'oom-kill');
    assert.deepEqual(d.effects.filter((e) => e.t === 'kill'), []);
  }
});

test('OOMPolicy=stop with Restart=on-failure: Result=oom-kill is a failure, so the unit is restarted', () => {
  const sim = run({ execStart: ['sim-run'], restart: 'on-failure', restartSec: '1s' }, {}, 0);
  oomKillMain(sim, 500);
  sim.runFor(3000);
  assert.equal(sim.props.NRestarts, 1);
  assert.equal(sim.props.SubState, 'running');
  assert.ok(sim.timeline.some((s) => s.SubState === 'auto-restart' && s.Result === 'oom-kill'), JSON.stringify(sim.timeline));
});

test('OOMPolicy=kill while stopped or restarting changes nothing (service.c ignores other states)', () => {
  const sim = run({ execStart: ['sim-exit 0 100'], oomPolicy: 'kill' }, {}, 1000);
  assert.equal(sim.props.ActiveState, 'inactive');
  sim.send({ t: 'oom-kill' });
  assert.equal(sim.props.ActiveState, 'inactive');
  assert.equal(sim.props.Result, 'success');
});
