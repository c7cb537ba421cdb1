// An automatic restart is a job of the dependency engine (service_enter_restart()), through a REAL
// standalone agent: a unit waiting for its restart job when the agent is killed is not left
// waiting forever by the next agent (the job went with the old one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
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

test('the jobs an agent had queued are redone by the next one: a dependent stopping for a restart job starts again (jobs.json)', async (t) => {
  const a = agentFixture(t);
  const dir = a.manifests;
  // db fails once; its restart job propagates to app (Requires=+After= db) as a restart whose ExecStop= takes 2 s
  writeFileSync(join(dir, 'jr-db.service'), `[Service]\nRestart=on-failure\nRestartSec=0.2\nExecStart=/bin/sh -c 'if [ -e ${dir}/db.once ]; then exec sleep 1000; fi; touch ${dir}/db.once; sleep 0.3; exit 1'\n`);
  writeFileSync(join(dir, 'jr-app.service'), '[Unit]\nRequires=jr-db.service\nAfter=jr-db.service\n[Service]\nExecStart=/bin/sleep 1000\nExecStop=/bin/sleep 2\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);
  await until('app stopping for the restart job', () => (st('jr-app').SubState === 'stop' ? true : undefined), 10_000);
  assert.match(a.unitctl('list-jobs').stdout, /jr-app\.service +restart/);
  await a.kill9();
  await a.start();
  await until('app and db running again', () => (st('jr-app').SubState === 'running' && st('jr-db').SubState === 'running' ? true : undefined),
    { timeoutMs: 15_000, detail: () => `${JSON.stringify(st('jr-app'))}\n${a.stderr.join('')}` });
  await until('the agent saying why', () => /jr-app\.service had a restart job when the previous agent went away; queuing it again/.test(a.stderr.join('')) || undefined, { timeoutMs: 5_000, detail: () => a.stderr.join('') });
  // nothing left to redo once the jobs are done: no jobs.json
  await until('jobs.json gone', () => (!existsSync(join(a.state, 'jobs.json')) ? true : undefined), 5_000);
});

test('a start job still waiting when the agent exits (SIGTERM, units kept) is redone by the next agent; --stop-on-exit leaves none', async (t) => {
  const a = agentFixture(t);
  // late waits After= slow, whose ExecStartPre= takes 4 s
  writeFileSync(join(a.manifests, 'so-slow.service'), '[Service]\nExecStartPre=/bin/sleep 4\nExecStart=/bin/sleep 1000\n');
  writeFileSync(join(a.manifests, 'so-late.service'), '[Unit]\nWants=so-slow.service\nAfter=so-slow.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);
  await until('late waiting for slow', () => (/so-late\.service +start +waiting/.test(a.unitctl('list-jobs').stdout) ? true : undefined), 10_000);
  a.proc!.kill('SIGTERM');
  await new Promise((r) => a.proc!.once('exit', r));
  assert.equal(existsSync(join(a.state, 'jobs.json')), true, 'the jobs are kept for the next agent');
  await a.start(['--stop-on-exit']);
  await until('late running', () => (st('so-late').SubState === 'running' ? true : undefined), { timeoutMs: 15_000, detail: () => `${JSON.stringify(st('so-late'))}\n${a.stderr.join('')}` });
  assert.match(a.stderr.join(''), /so-late\.service had a start job when the previous agent went away; queuing it again/);
  // --stop-on-exit: every unit stops, nothing is left for a next agent (its stop jobs are not saved)
  a.proc!.kill('SIGTERM');
  await new Promise((r) => a.proc!.once('exit', r));
  assert.equal(existsSync(join(a.state, 'jobs.json')), false);
});
