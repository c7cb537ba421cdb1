// A unit file written in pieces (an editor, a slow copy) is read once whole: the standalone
// agent reconciles once its folder has been quiet for 100 ms, so it never starts (or restarts)
// the unit from a half-written file — here one whose first piece would run a cut command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';
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
