// A restarted agent (a new UnitRunner on the same folder) re-adopts: same processes, no second
// copy, exits that happened meanwhile with their real status, timers that keep their deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, waitFor, subState, alive, sleep } from '../support/units.ts';

test('re-adopts a running service: same MainPID, still running, nothing spawned again', async (t) => {
  const h = harness(t);
  const r = h.open('keep.service', { service: { execStart: ['/bin/sleep 1000'] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const pid = r.props.MainPID;
  const seq = r.spawns.map((s) => s.seq);
  const again = h.reopen(r);
  assert.deepEqual([again.props.SubState, again.props.MainPID], ['running', pid]);
  await sleep(300);
  assert.deepEqual(again.spawns.map((s) => s.seq), seq, 'no new process');
  assert.ok(alive(pid));
  again.stop();
  await waitFor(again, 'dead', subState('dead'));
  assert.equal(alive(pid), false, 'the adopted process is still under control');
});

test('an exit that happened while no agent watched is reported with its real exit status', async (t) => {
  const h = harness(t);
  const r = h.open('gone.service', { service: { execStart: ["/bin/sh -c 'sleep 0.3; exit 7'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  r.close();
  await sleep(700);
  const again = h.reopen(r);
  await waitFor(again, 'failed', subState('failed'), 2000);
  assert.deepEqual([again.props.Result, again.machine.mainExec?.code, again.machine.mainExec?.status], ['exit-code', 'exited', 7]);
});

test('an automatic restart scheduled before the agent died still happens, once, on time', async (t) => {
  const h = harness(t);
  const r = h.open('later.service', { service: { execStart: ["/bin/sh -c 'sleep 0.1; exit 1'"], restart: 'on-failure', restartSec: '1s' } });
  r.start();
  await waitFor(r, 'auto-restart', subState('auto-restart'));
  const deadline = r.machine.timer!.deadline;
  r.close();
  await sleep(200);
  const again = h.reopen(r);
  assert.equal(again.props.SubState, 'auto-restart');
  await waitFor(again, 'restarted', (x) => x.props.NRestarts === 1 && x.props.SubState === 'running', 3000);
  const started = again.machine.mainStartUs;
  assert.ok(started >= deadline && started - deadline < 100_000, `restarted ${(started - deadline) / 1000} ms after the deadline`);
});
