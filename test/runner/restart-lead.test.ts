// An automatic restart prepared ahead of its RestartSec= deadline (issue 19; unit.ts
// restartlead.ts, uo-shim's UO_SHIM_NOT_BEFORE): the timer fires early, the command waits in
// its holder for the deadline. With real processes: the restarts happen, and no command starts
// before the exit before it plus RestartSec= (the lower bound holds whatever the load; how close
// to the deadline it starts is the benchmark's figure, npm run bench, not asserted here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, alive, sleep } from '../support/units.ts';
import { MAX_LEAD_US, MIN_LEAD_US, RestartLead, configureRestartLead, restartLead } from '../../src/runner/restartlead.ts';
import type { Machine } from '../../src/engine/index.ts';

test('RestartSec=300ms with the restart prepared ahead: every command starts at least 300 ms after the one before ended', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'starts');
  // each run writes its start and its end (wall clock, ns; %% is a specifier's escape); the exit follows its end
  const cmd = `/bin/sh -c 'echo "$(date +%%s%%N) start" >> ${out}; echo "$(date +%%s%%N) end" >> ${out}; exit 1'`;
  const r = h.open('lead', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [cmd], restart: 'always', restartSec: '300ms' } });
  r.start();
  const lines = (): Array<[bigint, string]> => (existsSync(out) ? readFileSync(out, 'utf8') : '').split('\n').filter(Boolean).map((l) => { const [ns, what] = l.split(' '); return [BigInt(ns!), what!]; });
  await waitFor(r, '4 runs', () => lines().filter(([, w]) => w === 'start').length >= 4, 10_000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed'); // a stop meeting the command's own exit 1 ends failed
  const l = lines();
  t.diagnostic(`gaps (ms): ${l.map(([ns, w], i) => (w === 'start' && i > 0 ? (Number(ns - l[i - 1]![0]) / 1e6).toFixed(2) : '')).filter(Boolean).join(' ')}`);
  assert.ok(MAX_LEAD_US < 300_000, 'the lead is used at this delay');
  for (let i = 1; i < l.length; i++) {
    if (l[i]![1] !== 'start') continue;
    assert.equal(l[i - 1]![1], 'end', 'one run at a time');
    const gap = Number(l[i]![0] - l[i - 1]![0]) / 1e6;
    assert.ok(gap >= 300, `run ${i} started ${gap.toFixed(2)} ms after the one before ended: before RestartSec=300ms`);
  }
  assert.ok(r.props.NRestarts >= 3, `NRestarts=${r.props.NRestarts}`);
});

// A lead of 700 ms (the agent's is 30-100 ms: restartlead.ts) makes the prepared restart observable: the
// holder and its child exist while the command has not run yet.
test('a restart prepared ahead: the process waits for the deadline before its exec; stopped meanwhile, its command never runs and the unit ends inactive', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const mark = join(h.dir, 'ran');
  const cmd = `/bin/sh -c 'echo x >> ${mark}; exit 1'`;
  const r = h.open('lead-stop', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [cmd], restart: 'always', restartSec: '900ms' } }, undefined, undefined, { restartLeadUs: 700_000 });
  r.start();
  const runs = (): number => (existsSync(mark) ? readFileSync(mark, 'utf8') : '').split('\n').filter(Boolean).length;
  await waitFor(r, 'the first run ended', () => runs() === 1 && r.props.SubState === 'auto-restart', 5000);
  // the timer fires 200 ms into the 900: the restart's process exists, held before its exec
  await waitFor(r, 'the restart prepared', (x) => x.props.MainPID > 0 && x.props.SubState !== 'auto-restart', 3000);
  const held = r.props.MainPID;
  assert.equal(runs(), 1, 'the command has not run again: it waits for its deadline');
  assert.ok(alive(held));
  assert.notEqual(readFileSync(`/proc/${held}/cmdline`, 'utf8').split('\0')[0], '/bin/sh', 'not exec()ed yet');
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive', 5000);
  await sleep(1200); // past the deadline it waited for
  assert.equal(runs(), 1, 'the stopped restart never ran its command');
  assert.equal(alive(held), false);
});

test('a restart prepared ahead with KillMode=mixed: a stop in the window signals the held main process (its PID is known at once), its command never runs', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const mark = join(h.dir, 'ran');
  const r = h.open('lead-mixed', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo x >> ${mark}; exit 1'`], restart: 'always', restartSec: '900ms', killMode: 'mixed' } }, undefined, undefined, { restartLeadUs: 700_000 });
  r.start();
  const runs = (): number => (existsSync(mark) ? readFileSync(mark, 'utf8') : '').split('\n').filter(Boolean).length;
  await waitFor(r, 'the first run ended', () => runs() === 1 && r.props.SubState === 'auto-restart', 5000);
  await waitFor(r, 'the restart prepared, its main PID known', (x) => x.props.MainPID > 0 && x.props.SubState !== 'auto-restart', 3000);
  const held = r.props.MainPID;
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive', 5000);
  await sleep(1000);
  assert.equal(runs(), 1, 'the stopped restart never ran its command');
  assert.equal(alive(held), false);
});

test('a restart prepared ahead: ExecStartPost= spawned beside the main process waits for the deadline too', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'out');
  const r = h.open('lead-post', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo main >> ${out}; sleep 0.2; exit 1'`], execStartPost: [`/bin/sh -c 'echo post >> ${out}'`], restart: 'always', restartSec: '1500ms' } }, undefined, undefined, { restartLeadUs: 950_000 });
  r.start();
  const count = (w: string): number => (existsSync(out) ? readFileSync(out, 'utf8') : '').split('\n').filter((l) => l === w).length;
  await waitFor(r, 'the first run ended', () => count('main') === 1 && count('post') === 1 && r.props.SubState === 'auto-restart', 5000);
  // the timer fires ~550 ms into the 1500: both commands are spawned then and held
  await waitFor(r, 'the restart prepared', (x) => x.props.SubState !== 'auto-restart', 3000);
  await sleep(200);
  assert.deepEqual([count('main'), count('post')], [1, 1], 'neither command ran before the deadline');
  await waitFor(r, 'both ran at the deadline', () => count('main') === 2 && count('post') === 2, 5000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
});

// RestartSec= counts from the exit as the holder reaped it ("exit PID CODE STATUS AT"), as systemd
// counts it from the SIGCHLD it handles, not from when the agent got to the line: an agent that
// reads the line 0.4 s late (its event loop blocked here) still dates the exit and the restart's
// deadline by the exit.
test('an exit read late is dated by the holder\'s AT: ExecMainExitTimestamp and the RestartSec= deadline count from the exit, not from the read', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'end');
  let last: Machine | undefined;
  const r = h.open('dated', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'sleep 0.3; date +%%s%%N > ${out}; exit 3'`], restart: 'on-failure', restartSec: '5s' } },
    undefined, undefined, { onDecision: (_p, m) => { last = m; } });
  r.start();
  await waitFor(r, 'running', (x) => x.props.SubState === 'running' && x.props.MainPID > 0, 5000);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 700); // the agent reads nothing for 0.7 s; the command ends meanwhile
  const blockedUntil = Date.now() * 1000;
  await waitFor(r, 'auto-restart', (x) => x.props.SubState === 'auto-restart', 5000);
  const endUs = Number(BigInt(readFileSync(out, 'utf8').trim()) / 1000n); // wall clock, as the agent's clock (performance.timeOrigin-based)
  const exitUs = last?.mainExec?.exitUs ?? NaN;
  const deadline = last?.timer?.deadline ?? NaN;
  t.diagnostic(`command end → exit dated ${((exitUs - endUs) / 1000).toFixed(2)} ms; read ≥ ${((blockedUntil - endUs) / 1000).toFixed(0)} ms after the end; deadline − exit ${((deadline - exitUs) / 1000).toFixed(2)} ms`);
  assert.ok(blockedUntil - endUs > 200_000, 'the line was read late (the test\'s premise)');
  assert.ok(exitUs - endUs >= -5_000 && exitUs - endUs < 100_000, `the exit is dated ${((exitUs - endUs) / 1000).toFixed(1)} ms after the command's last line: by the holder's reap, not by the read ≥ ${((blockedUntil - endUs) / 1000).toFixed(0)} ms later`);
  assert.ok(deadline - exitUs >= 5_000_000 && deadline - exitUs < 5_100_000, `the restart is due ${((deadline - exitUs) / 1000).toFixed(1)} ms after the exit (RestartSec=5s)`);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
});

// The node's lead grown to its cap under load (100 ms) must not switch off the preparation of
// systemd's default RestartSec=100ms: the lead is at most half the delay, so those restarts are
// still prepared, and still measured (each held command's "exec PID SLACK" is an observation).
test('with the node\'s lead at its 100 ms cap, RestartSec=100ms restarts are still prepared (at half the delay) and measured', { timeout: 20_000 }, async (t) => {
  restartLead.observe(MIN_LEAD_US, -500_000); // a set-up 530 ms late: the lead goes to its cap
  assert.equal(restartLead.current(), MAX_LEAD_US);
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const r = h.open('lead-cap', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo x >> ${out}; exit 1'`], restart: 'always', restartSec: '100ms' } });
  const before = restartLead.measured;
  r.start();
  await waitFor(r, '4 restarts', (x) => x.props.NRestarts >= 4, 10_000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed');
  assert.ok(restartLead.measured - before >= 3, `${restartLead.measured - before} of ${r.props.NRestarts} restarts prepared and measured`);
});

test('UNIT_OPERATOR_RESTART_LEAD_MS fixes the lead (said in the log); a bad value is refused there and the estimate stays', () => {
  const said: string[] = [];
  const log = (level: string, m: string): void => { said.push(`${level}: ${m}`); };
  const fixed = new RestartLead();
  configureRestartLead({ UNIT_OPERATOR_RESTART_LEAD_MS: '150' }, log, fixed);
  assert.equal(fixed.current(), 150_000);
  fixed.observe(MIN_LEAD_US, -500_000); // what the node shows no longer moves it
  assert.equal(fixed.current(), 150_000);
  assert.equal(fixed.measured, 0);
  assert.match(said.at(-1)!, /^info: restart lead: fixed at 150 ms/);
  const off = new RestartLead();
  configureRestartLead({ UNIT_OPERATOR_RESTART_LEAD_MS: '0' }, log, off);
  assert.equal(off.current(), 0);
  assert.match(said.at(-1)!, /^info: restart lead: off/);
  for (const bad of ['-5', '1.5', '150ms', '1001', ' 150', '99999']) {
    const l = new RestartLead();
    const n = said.length;
    configureRestartLead({ UNIT_OPERATOR_RESTART_LEAD_MS: bad }, log, l);
    assert.equal(l.current(), MIN_LEAD_US, bad);
    assert.equal(said.length, n + 1, bad);
    assert.match(said.at(-1)!, new RegExp(`^warning: UNIT_OPERATOR_RESTART_LEAD_MS=${JSON.stringify(bad).replace(/[.]/g, '\\.')} ignored`));
  }
  const unset = new RestartLead();
  const n = said.length;
  configureRestartLead({}, log, unset);
  assert.equal(said.length, n, 'unset: nothing said');
  assert.equal(unset.current(), MIN_LEAD_US);
});
