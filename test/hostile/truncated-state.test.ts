// Issue 12, finding 3: a truncated state.json neither loses the running process nor doubles it.
// A unit runs (its process appends its pid to a start counter); the agent exits leaving it
// running (no --stop-on-exit); its state.json is cut in half (a crash mid-write on a file system
// without rename atomicity, a full disk); the agent comes back and `unitctl start` is asked for.
// The process that ran must still run, alone (no second copy); the agent must say which file is
// damaged (its path) and what it did.
//
// On the current tree: the agent logs "cannot adopt counted.service: its state file is
// unreadable or of an unknown version" (no path, no advice), then loads the unit from its file as
// if new: "Adopted counted.service: inactive (dead), MainPID 0" while the first process runs
// unseen; `unitctl start counted` starts a second copy (the counter holds two pids, both alive).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SKIP, agentDirs, createUser, isAlive, lines, running, scope, sleep, startAgent, tempRoot, token, unitDir, unitProcesses } from './support.ts';

test('finding 3: a truncated state.json loses no process and starts no second copy', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  createUser(s); // run as the hostile tests run: an unprivileged user exists on the node
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  const starts = join(root, 'starts');
  const script = join(root, 'svc.sh');
  writeFileSync(script, `echo $$ >> ${starts}\nsleep 100000\n`);
  writeFileSync(join(manifests, 'counted.service'), `[Service]\nExecStart=/bin/sh ${script} ${tok}\n`);

  const first = await startAgent(s, { manifests, state });
  const before = await running(first, 'counted');
  assert.deepEqual(lines(starts), [String(before.MainPID)]);
  await first.stop(); // the service keeps running for the next agent
  assert.ok(isAlive(before.MainPID));

  // both slots cut (a torn newest slot alone falls back to the other: test/runner/state-slots.test.ts)
  const file = join(unitDir(state, 'counted.service'), 'state.{0,1}');
  for (const slot of ['state.0', 'state.1'].map((n) => join(unitDir(state, 'counted.service'), n)).filter((p) => existsSync(p))) {
    const whole = readFileSync(slot);
    writeFileSync(slot, whole.subarray(0, Math.floor(whole.length / 2)));
  }

  const second = await startAgent(s, { manifests, state });
  const start = second.unitctl('start', 'counted');
  await sleep(2000);
  const st = second.status('counted');
  const said = `${second.log()}\nunitctl start: exit ${start.status}\n${start.stdout}${start.stderr}`;

  assert.ok(isAlive(before.MainPID), `the process that ran before is gone: ${said}`);
  assert.deepEqual(lines(starts), [String(before.MainPID)], `unitctl start started a second copy (the counter): ${said}`);
  assert.deepEqual(unitProcesses(tok).map((p) => p.pid), [before.MainPID], 'one copy runs');
  assert.ok(unitProcesses(tok).every((p) => p.uid === 0));
  assert.ok(said.includes(file), `the damaged files are named by their path: ${said}`);
  // and the unit is not shown as dead while its process runs: either recovered (running, the
  // old main PID) or reported as unknown/failed with the reason
  assert.ok(st && !(st.ActiveState === 'inactive' && st.SubState === 'dead'), `status shows the unit inactive (dead) while its process runs: ${JSON.stringify(st)}`);
});
