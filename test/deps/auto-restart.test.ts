// An automatic restart is a job of the dependency engine (service_enter_restart()), through a REAL
// standalone agent: a unit waiting for its restart job when the agent is killed is not left
// waiting forever by the next agent (the job went with the old one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

test('a unit waiting in auto-restart-queued for its restart job when the agent is killed gets a start job from the next agent', async (t) => {
  const a = agentFixture(t);
  const dir = a.manifests;
  // db fails once; its restart job waits for app (Requires=+After= db) to stop, which takes 3 s
  writeFileSync(join(dir, 'ar-db.service'), `[Service]\nRestart=on-failure\nRestartSec=0.2\nExecStart=/bin/sh -c 'if [ -e ${dir}/db.once ]; then exec sleep 1000; fi; touch ${dir}/db.once; sleep 0.3; exit 1'\n`);
  writeFileSync(join(dir, 'ar-app.service'), '[Unit]\nRequires=ar-db.service\nAfter=ar-db.service\n[Service]\nExecStart=/bin/sleep 1000\nExecStop=/bin/sleep 3\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);
  await until('db waiting for its restart job', () => st('ar-db').SubState === 'auto-restart-queued' || undefined, 10_000);
  assert.equal(st('ar-app').SubState, 'stop', 'app is stopping first');
  assert.equal(st('ar-db').NRestarts, 1);
  await a.kill9();
  await a.start();
  await until('db started by the next agent', () => (st('ar-db').SubState === 'running' ? true : undefined), { timeoutMs: 10_000, detail: () => JSON.stringify(st('ar-db')) });
  assert.equal(st('ar-db').NRestarts, 1, 'the automatic restart is counted once');
  await until('the agent saying why it starts db', () => /ar-db\.service was waiting for its restart job; queuing its start again/.test(a.stderr.join('')) || undefined, { timeoutMs: 5_000, detail: () => a.stderr.join('') });
});
