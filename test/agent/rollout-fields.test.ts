// The standalone agent is one node: the rollout fields of a ServiceUnit (issue 18) have nothing
// to roll out there, so changing them restarts nothing, while a changed command still does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

const yaml = (cmd: string, rollout: string): string => `apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: rolled\nspec:\n${rollout}  service:\n    execStart: ["${cmd}"]\n`;

test('standalone: minReadySeconds, updateStrategy and paused change nothing that runs; ExecStart= does', async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'rolled.yaml'), yaml('/bin/sleep 1201', '  minReadySeconds: 1\n  unit:\n    description: first\n'));
  await a.start();
  const pid = await until('running', () => { const s = a.json<UnitStatus>('status', 'rolled'); return s.SubState === 'running' && s.MainPID > 0 ? s.MainPID : undefined; });
  writeFileSync(join(a.manifests, 'rolled.yaml'), yaml('/bin/sleep 1201', '  minReadySeconds: 7\n  paused: true\n  updateStrategy:\n    rollingUpdate:\n      maxUnavailable: 50%\n  unit:\n    description: seen\n'));
  await until('the new manifest read', () => a.json<UnitStatus>('status', 'rolled').Description === 'seen');
  assert.equal(a.json<UnitStatus>('status', 'rolled').MainPID, pid, 'no restart for the rollout fields');
  writeFileSync(join(a.manifests, 'rolled.yaml'), yaml('/bin/sleep 1202', '  minReadySeconds: 7\n  unit:\n    description: seen\n'));
  await until('restarted with the new command', () => { const s = a.json<UnitStatus>('status', 'rolled'); return s.MainPID > 0 && s.MainPID !== pid && /sleep 1202/.test(s.ExecStart ?? '') ? s : undefined; });
});
