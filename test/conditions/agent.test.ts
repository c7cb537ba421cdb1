// Conditions through a real standalone agent and unitctl: a unit whose ConditionPathExists=
// does not hold is skipped at the agent's start (no process, inactive, Result=success), and
// `unitctl status` shows systemctl's Condition: lines; `unitctl show`'s JSON carries
// ConditionResult/AssertResult; once the path exists, `unitctl start` runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

test('ConditionPathExists=, AssertPathExists= through the agent: skipped at start, shown by unitctl status, started once the path exists', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'uo-cond-agent-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const flag = join(d, 'ready');
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'gated.service'), `[Unit]\nDescription=gated\nConditionPathExists=${flag}\n[Service]\nExecStart=/bin/sleep 1000\n`);
  writeFileSync(join(a.manifests, 'asserted.service'), `[Unit]\nAssertPathExists=!${d}\n[Service]\nExecStart=/bin/sleep 1000\n`);
  await a.start();
  const gated = await until('gated checked', () => { const s = a.json<UnitStatus>('status', 'gated'); return s.ConditionTimestamp ? s : undefined; });
  assert.deepEqual([gated.ActiveState, gated.SubState, gated.Result, gated.MainPID, gated.ConditionResult], ['inactive', 'dead', 'success', 0, false]);
  assert.deepEqual(gated.Conditions, [{ type: 'ConditionPathExists', trigger: false, negate: false, parameter: flag, state: -1 }]);
  const status = a.unitctl('status', 'gated.service');
  assert.match(status.stdout, /^ {2}Condition: start condition unmet at .* ago$/m, status.stdout);
  assert.match(status.stdout, new RegExp(`^ {13}└─ ConditionPathExists=${flag.replace(/[.]/g, '\\.')} was not met$`, 'm'));
  const asserted = await until('asserted checked', () => { const s = a.json<UnitStatus>('status', 'asserted'); return s.AssertTimestamp ? s : undefined; });
  assert.deepEqual([asserted.ActiveState, asserted.AssertResult, asserted.MainPID], ['inactive', false, 0]);
  assert.match(a.unitctl('status', 'asserted.service').stdout, new RegExp(`^ {5}Assert: start assertion failed at .*\\n {13}AssertPathExists=!${d.replace(/[.]/g, '\\.')} was not met$`, 'm'));

  // systemctl: a failed assert fails the start job (exit 1, "Assertion failed on job for X."),
  // an unmet condition completes it (exit 0) and leaves the unit as it is
  const failedJob = a.unitctl('start', 'asserted.service');
  assert.deepEqual([failedJob.status, failedJob.stderr.trim()], [1, 'Assertion failed on job for asserted.service.']);
  const skippedJob = a.unitctl('start', 'gated.service');
  assert.equal(skippedJob.status, 0, skippedJob.stderr);
  assert.equal(a.json<UnitStatus>('status', 'gated').ActiveState, 'inactive');

  writeFileSync(flag, '');
  assert.equal(a.unitctl('start', 'gated.service').status, 0);
  const started = await until('gated running', () => { const s = a.json<UnitStatus>('status', 'gated'); return s.SubState === 'running' && s.MainPID > 0 ? s : undefined; });
  assert.equal(started.ConditionResult, true);
  assert.doesNotMatch(a.unitctl('status', 'gated.service').stdout, /Condition:/);
});
