// unitctl status shows the unit's job and the dependency engine's words about it, as systemctl
// status does (issue 16): "Job: N" below Active: while a job is queued or running, and the
// manager's lines ("Dependency failed for X.", "X: Job X/start failed with result 'dependency'.")
// among the unit's journal lines. systemd 257's own output for the same units:
// test/fixtures/deps-status/systemctl-status.txt. Through a REAL standalone agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

const ORACLE = readFileSync(join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/deps-status/systemctl-status.txt'), 'utf8');
const stopped = (name: string, unit: Record<string, unknown>, service: Record<string, unknown>): string =>
  `apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: ${name}\nspec:\n  state: stopped\n  unit: ${JSON.stringify(unit)}\n  service: ${JSON.stringify(service)}\n`;

test('unitctl status shows a queued job (Job: N) and the job result words (Dependency failed for …) as systemctl status', async (t) => {
  const a = agentFixture(t);
  const w = (name: string, text: string): void => writeFileSync(join(a.manifests, name), text);
  w('slow.service', '[Service]\nExecStartPre=/bin/sleep 30\nExecStart=/bin/sleep 1000\n');
  w('app.yaml', stopped('app', { wants: ['slow.service'], after: ['slow.service'] }, { execStart: ['/bin/sleep 1000'] }));
  w('bad.yaml', stopped('bad', {}, { type: 'oneshot', execStart: ['/bin/false'] }));
  w('dep.yaml', stopped('dep', { requires: ['bad.service'], after: ['bad.service'] }, { execStart: ['/bin/sleep 1000'] }));
  await a.start();
  await until('slow starting', () => (/slow\.service +start +running/.test(a.unitctl('list-jobs').stdout) ? true : undefined), 15_000);

  // app's start job waits for slow's: both units show their job, as systemd's do
  const nb = a.unitctl('start', 'app', '--no-block');
  assert.equal(nb.status, 0, nb.stderr);
  const jobs = a.unitctl('list-jobs').stdout;
  const id = (u: string): string => new RegExp(`^(\\d+) +${u}\\.service +start`, 'm').exec(jobs)?.[1] ?? `no job of ${u} in ${jobs}`;
  const app = a.unitctl('status', 'app');
  assert.equal(app.status, 3, app.stderr);
  const lines = app.stdout.split('\n');
  assert.match(ORACLE, /^     Active: inactive \(dead\)\n        Job: \d+\n/m);
  assert.equal(lines[2], '     Active: inactive (dead)');
  assert.equal(lines[3], `        Job: ${id('app')}`);
  const slow = a.unitctl('status', 'slow').stdout.split('\n');
  assert.match(slow[2]!, /^     Active: activating \(start-pre\)/);
  assert.equal(slow[3], `        Job: ${id('slow')}`);
  const json = a.json<UnitStatus>('status', 'app');
  assert.deepEqual(json.Job, { id: Number(id('app')), type: 'start', state: 'waiting' });

  // a failed requirement: unitctl start fails (exit 1), status shows systemd's two lines about the job
  const dep = a.unitctl('start', 'dep');
  assert.equal(dep.status, 1);
  const st = a.unitctl('status', 'dep');
  assert.equal(st.status, 3);
  assert.doesNotMatch(st.stdout, /Job:/, 'no job is left once it ended');
  const words = (text: string, unit: string): string[] => text.split('\n').filter((l) => l.includes(`Dependency failed for ${unit}`) || l.includes(`Job ${unit}/start failed`)).map((l) => l.replace(/^.*?(Dependency failed|\S+\.service: Job)/, '$1'));
  assert.deepEqual(words(st.stdout, 'dep.service'), words(ORACLE, 'uo16-dep.service').map((l) => l.replaceAll('uo16-dep.service', 'dep.service')));
  assert.equal(words(st.stdout, 'dep.service').length, 2, st.stdout);
  // each led by its time, as the unit's journal lines
  for (const l of st.stdout.split('\n').filter((x) => x.includes('Dependency failed'))) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z unit-operator: Dependency failed for dep\.service\.$/);
});
