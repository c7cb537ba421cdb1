// Jobs and dependencies through a REAL standalone agent, real processes and unitctl (issue 16):
// After= ordering at the agent's start, Requires= failure propagation with systemctl's message
// and exit status, Wants= not propagating it, a Requires= on a unit that is not there, stop
// propagation along Requires=, Conflicts=, list-jobs, list-dependencies, --no-block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

// %% : a unit file's specifier escape (date +%s%N)
const stamp = (file: string): string => `date +%%s%%N > ${file}`;

test('dependencies through the standalone agent: After= order, Requires= failure, Wants=, missing unit, stop propagation, Conflicts=', async (t) => {
  const a = agentFixture(t);
  const dir = a.manifests; // the stamps live beside the units (removed with the fixture)
  const w = (name: string, text: string): void => writeFileSync(join(a.manifests, name), text);
  // db takes 0.6 s to come up (the seconds in db.delay, when there); web needs it and is ordered after it
  w('db.service', `[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'sleep $$(cat ${join(dir, 'db.delay')} 2>/dev/null || echo 0.6); ${stamp(join(dir, 'db.stamp'))}'\n`);
  w('web.service', `[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sh -c '${stamp(join(dir, 'web.stamp'))}; exec sleep 1000'\n`);
  // bad fails; app Requires= it (inactive, job result dependency), soft only Wants= it (runs)
  w('bad.service', '[Service]\nType=oneshot\nExecStart=/bin/false\n');
  w('app.service', `[Unit]\nRequires=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/sh -c '${stamp(join(dir, 'app.stamp'))}; exec sleep 1000'\n`);
  w('soft.service', '[Unit]\nWants=bad.service\nAfter=bad.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  // orphan Requires= a unit nobody hosts: systemd's "Unit nothere.service not found."
  w('orphan.service', `[Unit]\nRequires=nothere.service\n[Service]\nExecStart=/bin/sh -c '${stamp(join(dir, 'orphan.stamp'))}; exec sleep 1000'\n`);
  w('old.service', '[Service]\nExecStart=/bin/sleep 1000\n');
  w('new.yaml', 'apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: new\nspec:\n  state: stopped\n  unit:\n    conflicts: [old.service]\n  service:\n    execStart: ["/bin/sleep 1000"]\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);

  // After=/Requires=: web started only once db was active (db's stamp is written at its end)
  await until('web running', () => (st('web').SubState === 'running' && existsSync(join(dir, 'web.stamp')) ? true : undefined), 15_000);
  const dbAt = BigInt(readFileSync(join(dir, 'db.stamp'), 'utf8').trim()), webAt = BigInt(readFileSync(join(dir, 'web.stamp'), 'utf8').trim());
  assert.ok(webAt >= dbAt, `web started ${Number(dbAt - webAt) / 1e6} ms before db was up`);
  assert.equal(st('db').ActiveState, 'active');

  // Requires= + After= on a failing unit: app never ran; Wants= does not propagate the failure
  await until('bad failed', () => (st('bad').ActiveState === 'failed' ? true : undefined), 15_000);
  await until('soft running', () => (st('soft').SubState === 'running' ? true : undefined), 15_000);
  const app = st('app');
  assert.deepEqual([app.ActiveState, app.SubState, app.MainPID], ['inactive', 'dead', 0]);
  assert.equal(existsSync(join(dir, 'app.stamp')), false);
  const again = a.unitctl('start', 'app.service');
  assert.deepEqual([again.status, again.stderr.trim()], [1, "A dependency job for app.service failed. See 'journalctl -xe' for details."]);
  assert.equal(st('app').ActiveState, 'inactive');

  // a failing unit's own job: systemctl's "Job for X failed because …" with its Result=
  const own = a.unitctl('start', 'bad.service');
  assert.equal(own.status, 1);
  assert.equal(own.stderr.split('\n')[0], 'Job for bad.service failed because the control process exited with error code.');

  // Requires= on a unit that is not hosted: the transaction fails, nothing runs
  assert.equal(st('orphan').ActiveState, 'inactive');
  assert.equal(existsSync(join(dir, 'orphan.stamp')), false);
  const orphan = a.unitctl('start', 'orphan');
  assert.deepEqual([orphan.status, orphan.stderr.trim()], [5, 'Failed to start orphan.service: Unit nothere.service not found.']);

  // list-dependencies: one level, with systemctl's markers
  const tree = a.unitctl('list-dependencies', 'web.service');
  assert.equal(tree.status, 0, tree.stderr);
  assert.match(tree.stdout, /^web\.service\n● ├─db\.service\n● └─sysinit\.target\n$/);
  const rev = a.unitctl('list-dependencies', 'bad.service', '--reverse');
  assert.match(rev.stdout, /^bad\.service\n○ ├─app\.service\n● └─soft\.service\n$/);
  assert.equal(a.unitctl('list-jobs').stdout, 'No jobs running.\n');

  // unitctl stop db: its Requires= dependent web stops with it, and the job waited for both
  const stop = a.unitctl('stop', 'db');
  assert.equal(stop.status, 0, stop.stderr);
  assert.deepEqual([st('db').ActiveState, st('web').ActiveState], ['inactive', 'inactive']);
  // unitctl start web pulls db in again, in order
  rmSync(join(dir, 'db.stamp')); rmSync(join(dir, 'web.stamp'));
  const start = a.unitctl('start', 'web');
  assert.equal(start.status, 0, start.stderr);
  assert.equal(st('db').ActiveState, 'active');
  await until('web stamp', () => (existsSync(join(dir, 'web.stamp')) ? true : undefined), 10_000);
  assert.ok(BigInt(readFileSync(join(dir, 'web.stamp'), 'utf8').trim()) >= BigInt(readFileSync(join(dir, 'db.stamp'), 'utf8').trim()));

  // Conflicts=: starting new (state: stopped, so not at boot) stops old
  assert.equal(st('new').ActiveState, 'inactive');
  assert.equal(st('old').SubState, 'running');
  const conflict = a.unitctl('start', 'new');
  assert.equal(conflict.status, 0, conflict.stderr);
  assert.deepEqual([st('new').SubState, st('old').ActiveState], ['running', 'inactive']);

  // --no-block answers once queued: db's start (4 s now, so that a slow unitctl on a busy
  // machine still finds it) is still a running job
  assert.equal(a.unitctl('stop', 'db').status, 0);
  writeFileSync(join(dir, 'db.delay'), '4\n');
  const nb = a.unitctl('start', 'db', '--no-block');
  assert.equal(nb.status, 0, nb.stderr);
  const jobs = a.unitctl('list-jobs');
  assert.match(jobs.stdout, /^JOB +UNIT +TYPE +STATE\n\d+ +db\.service +start +running\n\n1 job listed\.\n$/, jobs.stdout);
  await until('db active', () => (st('db').ActiveState === 'active' ? true : undefined), 15_000);
});

test('removing a unit file rebuilds the graph: its dependents then fail to start with "not found"', async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'db.service'), '[Service]\nExecStart=/bin/sleep 1000\n');
  writeFileSync(join(a.manifests, 'web.service'), '[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  await a.start();
  const st = (u: string): string => a.json<UnitStatus>('status', u).ActiveState;
  await until('both running', () => (st('db') === 'active' && st('web') === 'active' ? true : undefined), 15_000);
  rmSync(join(a.manifests, 'db.service'));
  // the removal is a stop job of db: it stops web, which Requires= it
  await until('web stopped', () => (st('web') === 'inactive' ? true : undefined), 15_000);
  await until('db forgotten', () => (a.unitctl('status', 'db').status === 4 ? true : undefined), 15_000);
  const r = a.unitctl('start', 'web');
  assert.deepEqual([r.status, r.stderr.trim()], [5, 'Failed to start web.service: Unit db.service not found.']);
});
