// Every service type with real processes through uo-shim.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { harness, waitFor, subState, alive, sleep, readLog } from '../support/units.ts';

test('Type=simple: active (running) with the real main PID; stop kills it and ends inactive', async (t) => {
  const h = harness(t);
  const r = h.open('simple.service', { service: { execStart: ['/bin/sleep 1000'] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const pid = r.props.MainPID;
  assert.ok(pid > 0 && alive(pid));
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^\/bin\/sleep\x001000/);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  assert.equal(alive(pid), false);
  assert.deepEqual([r.props.ActiveState, r.props.Result], ['inactive', 'success']);
});

test('Type=exec with a missing binary fails the start: failed, exit-code, ExecMainStatus=203 (as systemd 257)', async (t) => {
  const h = harness(t);
  const r = h.open('missing.service', { service: { type: 'exec', execStart: ['/nonexistent/bin'] } });
  r.start();
  await waitFor(r, 'failed', subState('failed'));
  assert.deepEqual([r.props.Result, r.machine.mainExec?.code, r.machine.mainExec?.status], ['exit-code', 'exited', 203]);
  assert.equal(r.machine.timestamps.activeEnter, undefined, 'never active');
  assert.ok(h.logs.some((l) => /Failed to execute \/nonexistent\/bin: No such file or directory/.test(l)));
});

test('Type=simple with a missing binary is active first, then failed with 203 (as systemd 257)', async (t) => {
  const h = harness(t);
  const r = h.open('missing-simple.service', { service: { execStart: ['/nonexistent/bin'] } });
  r.start();
  await waitFor(r, 'failed', subState('failed'));
  assert.notEqual(r.machine.timestamps.activeEnter, undefined, 'was active');
  assert.equal(r.machine.mainExec?.status, 203);
});

test('Type=exec is active once the exec succeeded', async (t) => {
  const h = harness(t);
  const r = h.open('exec.service', { service: { type: 'exec', execStart: ['sleep 1000'] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  assert.match(readFileSync(`/proc/${r.props.MainPID}/cmdline`, 'utf8'), /^sleep\x00/, 'a bare name is looked up in systemd\'s fixed search path');
});

test('Type=forking with PIDFile=: running with the daemon as main PID', async (t) => {
  const h = harness(t);
  const pidFile = join(h.dir, 'daemon.pid');
  const r = h.open('forking.service', { service: { type: 'forking', pidFile, execStart: [`/bin/sh -c 'sleep 1000 & echo $! > ${pidFile}'`] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  assert.equal(r.props.MainPID, Number(readFileSync(pidFile, 'utf8')));
  assert.match(readFileSync(`/proc/${r.props.MainPID}/cmdline`, 'utf8'), /^sleep/);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
});

test('Type=forking without PIDFile= guesses the main PID (GuessMainPID=yes)', async (t) => {
  const h = harness(t);
  const r = h.open('guess.service', { service: { type: 'forking', execStart: ["/bin/sh -c 'setsid sleep 1000 &'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  // the guessed process is setsid, which exec()s sleep in the same PID: looked at until it has (bounded)
  await waitFor(r, 'the main PID runs sleep', (x) => /^sleep\0/.test(readFileSync(`/proc/${x.props.MainPID}/cmdline`, 'utf8')), 2000);
});

test('Type=oneshot runs each ExecStart= in order; RemainAfterExit=yes stays active (exited)', async (t) => {
  const h = harness(t);
  const out = join(h.dir, 'oneshot.txt');
  const r = h.open('oneshot.service', { service: { type: 'oneshot', remainAfterExit: true, execStart: [`/bin/sh -c 'echo one >> ${out}'`, `/bin/sh -c 'echo two >> ${out}'`] } });
  r.start();
  await waitFor(r, 'exited', subState('exited'));
  assert.equal(r.props.ActiveState, 'active');
  assert.equal(readFileSync(out, 'utf8'), 'one\ntwo\n');
});

test('Type=notify with a stock systemd-notify --ready: activating until READY=1, then running with STATUS=', async (t) => {
  const h = harness(t);
  const r = h.open('notify.service', { service: { type: 'notify', execStart: ["/bin/sh -c 'sleep 0.3; systemd-notify --ready --status=\"Serving requests\"; exec sleep 1000'"] } });
  r.start();
  await waitFor(r, 'start', subState('start'));
  assert.equal(r.props.ActiveState, 'activating');
  await waitFor(r, 'running', subState('running'));
  assert.equal(r.machine.statusText, 'Serving requests');
});

test('Type=notify-reload: reload sends SIGHUP and waits for RELOADING=1 / READY=1', async (t) => {
  const h = harness(t);
  const script = "trap 'systemd-notify --reloading; systemd-notify --ready' HUP; systemd-notify --ready; while :; do sleep 0.05; done";
  const r = h.open('nreload.service', { service: { type: 'notify-reload', notifyAccess: 'all', execStart: [`/bin/sh -c "${script}"`] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  r.reload();
  assert.equal(r.props.ActiveState, 'reloading');
  await waitFor(r, 'running again', subState('running'));
});

test('NotifyAccess=main ignores READY=1 from another process', async (t) => {
  const h = harness(t);
  const r = h.open('access.service', { service: { type: 'notify', timeoutStartSec: '1s', execStart: ["/bin/sh -c '(systemd-notify --ready --pid=$$$$ >/dev/null; true) & sleep 1000'"] } });
  // "$$$$" reaches the shell as "$$" ("$$" is a literal "$" in systemd command lines): systemd-notify --pid=<main PID> is accepted
  r.start();
  await waitFor(r, 'running', subState('running'));
  const r2 = h.open('access2.service', { service: { type: 'notify', timeoutStartSec: '1s', execStart: ["/bin/sh -c 'sh -c \"systemd-notify --ready --pid=self\"; sleep 1000'"] } });
  r2.start();
  await waitFor(r2, 'failed after the start timeout', subState('failed'));
  assert.equal(r2.props.Result, 'timeout');
  assert.ok(h.logs.some((l) => /only permitted for main PID/.test(l)));
});

test('Type=idle behaves like simple', async (t) => {
  const h = harness(t);
  const r = h.open('idle.service', { service: { type: 'idle', execStart: ['/bin/sleep 1000'] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
});

test('stdout and stderr go to the unit\'s journal with timestamps', async (t) => {
  const h = harness(t);
  const r = h.open('logs.service', { service: { type: 'oneshot', execStart: ["/bin/sh -c 'echo hello out; echo hello err >&2'"] } });
  r.start();
  await waitFor(r, 'dead', subState('dead'));
  await sleep(50);
  const log = readLog(r);
  assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z stdout hello out$/m);
  assert.match(log, /stderr hello err$/m);
});
