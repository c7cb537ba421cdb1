// Issue 12, finding 4, the lock itself (src/agent/lock.ts, `uo-shim --lock`): a kill -9 of the
// agent releases it at once (a new agent starts and adopts the unit, which ran on), the shims
// never hold it, a lock file planted by another user is refused, and a cluster agent on a
// locked folder waits, saying for whom, instead of exiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SKIP, agentDirs, createUser, descendantsOf, isAlive, killPids, processesWith, running, scope, startAgent, tempRoot, token, unitProcesses, until } from './support.ts';
import { DAEMON_NODE_FLAGS } from '../../src/cli/runtime.ts';
import { REPO } from '../support/paths.ts';

/** Whether a process has an open descriptor on file. */
function holds(pid: number, file: string): boolean {
  try { return readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === file; } catch { return false; } }); } catch { return false; }
}

test('kill -9 of the agent releases the lock at once; no shim holds it; the next agent adopts the unit', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  writeFileSync(join(manifests, 'svc.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);
  const first = await startAgent(s, { manifests, state });
  const before = await running(first, 'svc');
  const lock = join(state, 'agent.lock');
  assert.equal(readFileSync(lock, 'utf8').trim(), String(first.pid), 'the lock file names the agent');
  const tree = descendantsOf([first.pid]);
  const holders = tree.filter((p) => holds(p, lock));
  assert.equal(holders.length, 1, `one helper holds the lock: ${holders.join(', ')}`);
  assert.ok(!holds(first.pid, lock), 'the agent itself has no fd on it (nothing to inherit)');
  const shims = processesWith(tok).map((p) => p.pid); // the unit's shim and its process
  assert.ok(shims.length > 0);
  for (const p of shims) assert.ok(!holds(p, lock), `unit process ${p} holds the lock`);

  await first.kill9();
  await until('the lock helper is gone', () => !isAlive(holders[0]!), { timeoutMs: 3000 });
  assert.ok(isAlive(before.MainPID), 'the unit outlives the agent');
  // the shim (a sibling of the helper) does not keep the folder locked: a new agent starts
  const second = await startAgent(s, { manifests, state });
  const after = await running(second, 'svc');
  assert.equal(after.MainPID, before.MainPID, 'adopted, not started again');
  assert.equal(readFileSync(lock, 'utf8').trim(), String(second.pid));
});

test('a lock file planted by another user is refused, named, and the agent exits 1 before touching units', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s);
  const root = tempRoot(s);
  const { manifests, state } = agentDirs(root);
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, 'agent.lock'), '1\n');
  chownSync(join(state, 'agent.lock'), user.uid, user.gid);
  writeFileSync(join(manifests, 'svc.service'), '[Service]\nExecStart=/bin/sleep 100000\n');
  const a = await startAgent(s, { manifests, state, wait: false });
  const code = await a.waitExit(15_000);
  assert.equal(code, 1, a.log());
  assert.match(a.log(), new RegExp(`${join(state, 'agent.lock').replaceAll('/', '\\/')} is not a regular file owned by uid 0`));
  assert.equal(existsSync(join(state, 'agent.sock')), false, 'no socket was bound');
  assert.equal(existsSync(join(state, 'units', 'svc.service')), false, 'no unit was started');
});

test('a cluster agent on a locked state folder waits for the lock, naming the holder, then takes it', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const { manifests, state } = agentDirs(root);
  const first = await startAgent(s, { manifests, state });
  // a kubeconfig to an address nothing listens on: the agent gets as far as the lock, and past it
  const kubeconfig = join(root, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    'clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]',
    'users: [{name: u, user: {token: x}}]',
    'contexts: [{name: c, context: {cluster: c, user: u}}]', '',
  ].join('\n'));
  const logFile = join(root, 'cluster-agent.log');
  const fd = openSync(logFile, 'a');
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(REPO, 'src', 'cli', 'main.ts'), 'agent', '--node', 'n1', '--kubeconfig', kubeconfig, '--state-dir', state], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  s.defer(() => killPids([proc.pid!]));
  const log = (): string => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
  await until('the cluster agent says it waits', () => /waiting for the lock/.test(log()), { timeoutMs: 15_000, detail: log });
  assert.match(log(), new RegExp(`state folder ${state.replaceAll('/', '\\/')}: agent PID ${first.pid} holds it`));
  assert.equal(proc.exitCode, null, 'it waits; it does not exit');
  assert.equal(readFileSync(join(state, 'agent.lock'), 'utf8').trim(), String(first.pid));
  await first.stop();
  await until('the cluster agent takes the lock', () => readFileSync(join(state, 'agent.lock'), 'utf8').trim() === String(proc.pid), { timeoutMs: 10_000, detail: log });
  assert.match(log(), /locked the state folder/);
  rmSync(kubeconfig);
});
