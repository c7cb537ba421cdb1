// Issue 12, finding 4: one agent per state folder.
// A first agent runs a Restart=always unit (each start appends its pid to a counter); a second
// `unitctl agent` is started on the same --state-dir. It must exit 1 at once naming the
// holder's PID, and leave the first agent's socket and pid file alone. Then the unit's process is
// killed: it must be restarted once (two lines in the counter, one copy alive), not once per agent.
//
// Fixed by the state folder's lock (src/agent/lock.ts, `uo-shim --lock`). Before it: the second agent starts silently ("agent N: running 1 unit(s)"), adopts
// the unit and replaces agent.sock and agent.pid; after a SIGKILL of the unit's process both
// agents restart it: the counter holds three pids and two copies run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SKIP, agentDirs, createUser, isAlive, lines, running, scope, sleep, startAgent, tempRoot, token, unitProcesses, until } from './support.ts';

test('finding 4: a second agent on the same state folder exits 1 naming the holder, and the unit runs once', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  createUser(s);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  const starts = join(root, 'starts');
  const script = join(root, 'svc.sh');
  writeFileSync(script, `echo $$ >> ${starts}\nsleep 100000\n`);
  writeFileSync(join(manifests, 'always.service'), `[Service]\nExecStart=/bin/sh ${script} ${tok}\nRestart=always\nRestartSec=200ms\n`);

  const first = await startAgent(s, { manifests, state });
  const before = await running(first, 'always');

  const second = await startAgent(s, { manifests, state, wait: false });
  const code = await second.waitExit(10_000);
  const said = second.log();
  // whatever the second one did, the first still answers on its socket and owns its pid file
  const stillFirst = first.unitctl('status', 'always', '-o', 'json');

  // the unit's process dies: one restart, not one per agent
  process.kill(before.MainPID, 'SIGKILL');
  await until('restarted', () => lines(starts).length >= 2, { timeoutMs: 10_000, detail: () => `${lines(starts)}\n${first.log()}` });
  await sleep(2000);
  const copies = unitProcesses(tok);

  assert.equal(lines(starts).length, 2, `the unit ran ${lines(starts).length} times for 1 start + 1 restart (pids ${lines(starts).join(', ')}; alive: ${copies.map((p) => p.pid).join(', ')}); second agent (${code === undefined ? 'still running' : `exit ${code}`}):\n${said}`);
  assert.equal(copies.length, 1, `copies alive: ${JSON.stringify(copies)}`);
  assert.equal(code, 1, `the second agent ${code === undefined ? 'kept running' : `exited ${code}`}:\n${said}`);
  assert.match(said, new RegExp(`\\b${first.pid}\\b`), 'the second agent names the holder\'s PID');
  assert.match(said, new RegExp(state.replaceAll('/', '\\/')), 'and the state folder');
  assert.equal(stillFirst.status, 0, `the first agent still answers: ${stillFirst.stderr}`);
  assert.equal(readFileSync(join(state, 'agent.pid'), 'utf8').trim(), String(first.pid), 'agent.pid still names the first agent');
  assert.ok(!first.exited() && isAlive(first.pid));
});
