// A root agent out of file descriptors (a hostile probe, issue 19's session 32: a local user
// filled them through the read-only socket) cannot read /proc: every read of a holder's files
// failed, the helpers read that as "gone", the agent said "uo-shim N vanished; treating its
// processes as killed" while the holder and its command ran on, and the next start ran a second
// copy. Now a holder is taken for gone only when /proc can be read and it still reads so
// (unit.ts surelyGone()). Here the agent's descriptor limit is cut to 3 (prlimit: every open()
// fails with EMFILE, its open descriptors stay) while a Type=notify unit keeps writing lines the
// agent must read; then the limit is put back. (This reaches the event log's refused reads, not
// the probe's exact path — a stop whose holder check failed — which needs descriptors to come and
// go under the agent: not reproduced here.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SKIP, agentDirs, running, scope, sleep, startAgent, tempRoot, token, unitProcesses } from './support.ts';

const NO_PRLIMIT = spawnSync('prlimit', ['--version']).status === 0 ? false : 'needs prlimit (util-linux)';

test('out of descriptors, the agent does not take a live holder for gone: its unit keeps its one process', { skip: SKIP || NO_PRLIMIT, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  // a line in its event log every 100 ms (STATUS=), each one a read of the event log the agent cannot open
  writeFileSync(join(manifests, 'talker.service'), `[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c 'systemd-notify --ready; while :; do systemd-notify STATUS=${tok}; sleep 0.1; done'\n`);
  const a = await startAgent(s, { manifests, state });
  const before = await running(a, 'talker');
  const limit = spawnSync('prlimit', ['--pid', String(a.pid), '--nofile', '--output', 'SOFT,HARD', '--noheadings'], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
  assert.equal(limit.length, 2, `the agent's RLIMIT_NOFILE: ${limit.join(' ')}`);
  const cut = spawnSync('prlimit', ['--pid', String(a.pid), `--nofile=3:${limit[1]}`]);
  assert.equal(cut.status, 0, String(cut.stderr));
  try {
    await sleep(3000); // ~30 lines meanwhile
  } finally {
    spawnSync('prlimit', ['--pid', String(a.pid), `--nofile=${limit[0]}:${limit[1]}`]);
  }
  await sleep(1500);
  const log = a.log();
  assert.match(log, /EMFILE/, 'the agent did run out of descriptors');
  assert.doesNotMatch(log, /vanished/, `the agent took its live holder for gone:\n${log.slice(-3000)}`);
  const after = a.status('talker.service');
  assert.equal(after?.ActiveState, 'active', JSON.stringify(after));
  assert.equal(after?.MainPID, before.MainPID, 'the same main process');
  assert.equal(a.unitctl('restart', 'talker').status, 0);
  const again = await running(a, 'talker');
  await sleep(500);
  assert.ok(!unitProcesses(tok).some((p) => p.pid === before.MainPID), 'the old main process went with the restart');
  assert.ok(unitProcesses(tok).some((p) => p.pid === again.MainPID), 'the new one runs');
});

test('out of descriptors when its unit exits: the exit is read as it was within a second of the agent having descriptors again, said once', { skip: SKIP || NO_PRLIMIT, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  writeFileSync(join(manifests, 'leaver.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 1.5; : ${tok}; exit 3'\n`);
  const a = await startAgent(s, { manifests, state });
  await running(a, 'leaver');
  const limit = spawnSync('prlimit', ['--pid', String(a.pid), '--nofile', '--output', 'SOFT,HARD', '--noheadings'], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
  assert.equal(limit.length, 2, `the agent's RLIMIT_NOFILE: ${limit.join(' ')}`);
  assert.equal(spawnSync('prlimit', ['--pid', String(a.pid), `--nofile=3:${limit[1]}`]).status, 0);
  try {
    await sleep(3500); // the command exits meanwhile, its holder too: its exit is in the event log the agent cannot open
  } finally {
    spawnSync('prlimit', ['--pid', String(a.pid), `--nofile=${limit[0]}:${limit[1]}`]);
  }
  const restored = Date.now();
  let st = a.status('leaver.service');
  for (let i = 0; i < 100 && st?.ActiveState !== 'failed'; i++) { await sleep(100); st = a.status('leaver.service'); }
  const log = a.log();
  assert.deepEqual([st?.ActiveState, st?.Result, st?.ExecMainCode, st?.ExecMainStatus], ['failed', 'exit-code', 1, 3], `the exit as it was: ${JSON.stringify(st)}`);
  assert.ok(Date.now() - restored < 3000, `read ${Date.now() - restored} ms after the descriptors came back (the safety-net poll would take up to 30 s)`);
  assert.doesNotMatch(log, /vanished/, `a holder it could not read was taken for gone:\n${log.slice(-2000)}`);
  assert.ok((log.match(/cannot read .*read again every 0\.5 s/g) ?? []).length <= 2, `said once a streak, not at every try:\n${log.slice(-2000)}`);
});
