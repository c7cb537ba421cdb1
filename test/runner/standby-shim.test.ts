// uo-shim's side of the standby (src/runner/shim/standby.c), driven directly: the hand-over token
// a holder may take is its own spawn's only (a holder that ends late never starts a standby meant
// for a later run), and a standby whose agent dies takes itself back and runs nothing; one with no
// agent to watch does not wait at all (fail closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shimPath, sleep } from '../support/units.ts';
import { until } from '../support/wait.ts';

function folder(t: { after: (fn: () => void) => void }): { dir: string; next: string } {
  const dir = mkdtempSync(join(tmpdir(), 'uo-standby-'));
  const next = join(dir, 'next');
  mkdirSync(next, { mode: 0o700 });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, next };
}

test('a holder ending takes only the standby armed for its own spawn (armed.<its number>), and wakes nothing else', { timeout: 15_000 }, (t) => {
  const { dir, next } = folder(t);
  writeFileSync(join(next, 'armed.5'), '7');
  // the holder of spawn 4 ends: armed.5 is not its to take
  const a = spawnSync(shimPath, [join(dir, 'ev4'), '--', '/bin/true', 'true'], { env: { UO_SHIM_NEXT: next, UO_SHIM_NEXT_SEQ: '4' }, timeout: 10_000 });
  assert.equal(a.status, 0, String(a.stderr));
  assert.match(readFileSync(join(dir, 'ev4'), 'utf8'), /\nempty /);
  assert.equal(existsSync(join(next, 'armed.5')), true, 'a holder took a standby armed for another spawn');
  assert.equal(existsSync(join(next, 'go')), false);
  // the holder of spawn 5 ends: it takes it, the number goes with it
  const b = spawnSync(shimPath, [join(dir, 'ev5'), '--', '/bin/true', 'true'], { env: { UO_SHIM_NEXT: next, UO_SHIM_NEXT_SEQ: '5' }, timeout: 10_000 });
  assert.equal(b.status, 0, String(b.stderr));
  assert.equal(existsSync(join(next, 'armed.5')), false);
  assert.equal(readFileSync(join(next, 'go'), 'utf8'), '7');
});

test('a standby whose agent dies takes itself back and runs nothing; one whose agent is already gone does not wait', { timeout: 15_000 }, async (t) => {
  const { dir, next } = folder(t);
  const agent = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
  t.after(() => { try { agent.kill('SIGKILL'); } catch { /* gone */ } });
  const ran = join(dir, 'ran');
  writeFileSync(join(next, 'armed.3'), '9');
  const env = { UO_SHIM_STANDBY: next, UO_SHIM_STANDBY_AGENT: String(agent.pid), UO_SHIM_STANDBY_SEQ: '9', UO_SHIM_STANDBY_AFTER: '3' };
  const standby = spawn(shimPath, [join(dir, 'ev9'), '--', '/bin/sh', 'sh', '-c', `echo x > ${ran}`], { env, stdio: 'ignore' });
  const ended = new Promise<number | null>((res) => standby.on('exit', (code) => res(code)));
  await until('the standby waits', () => existsSync(join(dir, 'ev9')) && existsSync(join(next, 'wake')), { timeoutMs: 5000, everyMs: 10 });
  await sleep(100);
  assert.equal(standby.exitCode, null, 'the standby did not wait');
  const agentGone = new Promise<void>((res) => agent.on('exit', () => res()));
  agent.kill('SIGKILL');
  assert.equal(await ended, 0);
  await agentGone; // reaped: its PID names no process
  assert.equal(existsSync(join(next, 'armed.3')), false, 'it did not take itself back');
  assert.equal(existsSync(ran), false, 'it ran the command without an agent');
  // armed again, for an agent PID that is no process: no wait, nothing run, the token left for the agent's next look
  writeFileSync(join(next, 'armed.3'), '10');
  const r = spawnSync(shimPath, [join(dir, 'ev10'), '--', '/bin/sh', 'sh', '-c', `echo x > ${ran}`], { env: { ...env, UO_SHIM_STANDBY_SEQ: '10', UO_SHIM_STANDBY_AGENT: String(agent.pid) }, timeout: 10_000 });
  assert.notEqual(r.status, 0);
  assert.equal(existsSync(ran), false);
});

test('a standby taken by the holder of the run before runs at once, once', { timeout: 15_000 }, async (t) => {
  const { dir, next } = folder(t);
  const ran = join(dir, 'ran');
  writeFileSync(join(next, 'armed.3'), '9');
  const env = { UO_SHIM_STANDBY: next, UO_SHIM_STANDBY_AGENT: String(process.pid), UO_SHIM_STANDBY_SEQ: '9', UO_SHIM_STANDBY_AFTER: '3' };
  const standby = spawn(shimPath, [join(dir, 'ev9'), '--', '/bin/sh', 'sh', '-c', `echo x >> ${ran}`], { env, stdio: 'ignore' });
  const ended = new Promise<number | null>((res) => standby.on('exit', (code) => res(code)));
  await until('the standby waits', () => existsSync(join(next, 'wake')), { timeoutMs: 5000, everyMs: 10 });
  const h = spawnSync(shimPath, [join(dir, 'ev3'), '--', '/bin/true', 'true'], { env: { UO_SHIM_NEXT: next, UO_SHIM_NEXT_SEQ: '3' }, timeout: 10_000 });
  assert.equal(h.status, 0);
  assert.equal(await ended, 0);
  assert.equal(readFileSync(ran, 'utf8'), 'x\n');
  const ev = readFileSync(join(dir, 'ev9'), 'utf8');
  assert.match(ev, /^shim \d+\nstandby-go \d+\nspawn \d+\nexec \d+\nexit \d+ exited 0 \d+\nempty \d+\n$/);
  assert.equal(existsSync(join(next, 'go')), false, 'the standby took its go');
});
