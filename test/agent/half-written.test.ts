// A unit file written in pieces (an editor, a slow copy) is read once whole: the standalone
// agent reconciles once its folder has been quiet for 100 ms, so it never starts (or restarts)
// the unit from a half-written file — here one whose first piece would run a cut command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

test('a unit file written in two pieces 40 ms apart starts once, with the whole command', async (t) => {
  const a = agentFixture(t);
  await a.start();
  const fd = openSync(join(a.manifests, 'half.service'), 'w');
  writeSync(fd, '[Service]\nExecStart=/bin/sleep 10');
  await sleep(40);
  writeSync(fd, '01\n');
  closeSync(fd);
  const st = (): UnitStatus => a.json<UnitStatus>('status', 'half');
  await until('half running', () => { try { return st().SubState === 'running' ? true : undefined; } catch { return undefined; } }, 15_000);
  await sleep(500); // a restart for the second piece would come now
  const s = st();
  assert.equal(readFileSync(`/proc/${s.MainPID}/cmdline`, 'utf8').split('\0').join(' ').trim(), '/bin/sleep 1001');
  assert.doesNotMatch(a.stderr.join(''), /half\.service changed; restarting/, 'the unit was started from the first piece, then restarted');
});

// A hostile probe (issue 19's session 32): a running unit's file turned invalid for a moment (an
// editor's half-written save, a typo) stopped the unit — "its file is gone" — and it stayed
// stopped once the file was good again. systemd keeps such a unit running (daemon-reload:
// LoadState=bad-setting, still active); so does the agent now: only a removed file stops a unit.
test('a running unit whose file turns invalid keeps running as last loaded, and says so; the file made good again changes nothing', async (t) => {
  const a = agentFixture(t);
  const file = join(a.manifests, 'steady.service');
  writeFileSync(file, '[Service]\nExecStart=/bin/sleep 1002\n');
  await a.start();
  const st = (): UnitStatus => a.json<UnitStatus>('status', 'steady');
  await until('steady running', () => { try { return st().SubState === 'running' ? true : undefined; } catch { return undefined; } }, 15_000);
  const pid = st().MainPID;
  writeFileSync(file, `[Unit]\nDescription=${'x'.repeat(5000)}\n[Service]\nExecStart=/bin/sleep 1002\n`); // over the 4096-character limit
  await until('the problem said', () => (/steady\.service: its file .* could not be loaded now; the unit keeps running/.test(a.stderr.join('')) ? true : undefined), 10_000);
  assert.equal(st().SubState, 'running');
  assert.equal(st().MainPID, pid, 'the same process');
  // as systemd's bad-setting unit: shown so, and refused a restart (it keeps running)
  assert.equal(st().LoadState, 'bad-setting');
  const refused = a.unitctl('restart', 'steady');
  assert.equal(refused.status, 6, `restart of a unit whose file is bad: ${refused.stderr}`);
  assert.match(refused.stderr, /Failed to restart steady\.service: Unit steady\.service has a bad unit file setting/);
  writeFileSync(file, '[Service]\nExecStart=/bin/sleep 1002\n');
  await sleep(1500);
  assert.equal(st().SubState, 'running');
  assert.equal(st().MainPID, pid, 'the same process: nothing to restart for');
  assert.doesNotMatch(a.stderr.join(''), /its file is gone/);
  // a removed file still stops it
  rmSync(file);
  await until('steady stopped', () => { try { st(); return undefined; } catch { return true; } }, 15_000).catch(() => undefined);
  await until('its process gone', () => (existsSync(`/proc/${pid}`) ? undefined : true), 15_000);
});

test('an agent (re)started while a running unit\'s file is invalid adopts the unit and keeps it running', async (t) => {
  const a = agentFixture(t);
  const file = join(a.manifests, 'kept.service');
  writeFileSync(file, '[Service]\nExecStart=/bin/sleep 1003\n');
  await a.start();
  const st = (): UnitStatus => a.json<UnitStatus>('status', 'kept');
  await until('kept running', () => { try { return st().SubState === 'running' ? true : undefined; } catch { return undefined; } }, 15_000);
  const pid = st().MainPID;
  await a.kill9();
  writeFileSync(file, `[Unit]\nDescription=${'x'.repeat(5000)}\n[Service]\nExecStart=/bin/sleep 1003\n`);
  await a.start();
  await until('the problem said', () => (/kept\.service: its file .* could not be loaded now; the unit keeps running/.test(a.stderr.join('')) ? true : undefined), 10_000);
  await sleep(500);
  assert.equal(st().MainPID, pid, 'adopted and kept: the same process');
  assert.equal(existsSync(`/proc/${pid}`), true);
  assert.doesNotMatch(a.stderr.join(''), /its file is gone/);
});
