// The host's dependency wiring with real processes, without an agent process: one graph per
// group (a cluster namespace), so a unit's Requires= resolves only in its own namespace; and the
// units applied in one batch (any order) are started as one set of jobs once the batch is in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { UnitHost, depsGroupOf } from '../../src/agent/host.ts';
import { removeNotifyFolder } from '../../src/runner/notifysock.ts';
import { shimPath } from '../support/units.ts';
import { until } from '../support/wait.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

test('depsGroupOf: a cluster id\'s namespace, none for a standalone unit', () => {
  assert.equal(depsGroupOf('team-a/web'), 'team-a');
  assert.equal(depsGroupOf('web.service'), '');
});

test('UnitHost with dependencies: Requires= resolves within the namespace; the dependent is applied before what it needs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-deps-host-'));
  const logs: string[] = [];
  const host = new UnitHost({ unitsDir: dir, shimPath, dependencies: true, log: (_l, m) => { logs.push(m); } });
  t.after(async () => { await host.stopAll(10_000); host.closeAll(); removeNotifyFolder(dir); rmSync(dir, { recursive: true, force: true }); });
  const web: ServiceUnitSpec = { unit: { requires: ['db.service'], after: ['db.service'] }, service: { execStart: ['/bin/sleep 1000'] } };
  const failing: ServiceUnitSpec = { service: { type: 'oneshot', execStart: ['/bin/false'] } };
  const good: ServiceUnitSpec = { service: { execStart: ['/bin/sleep 1000'] } };
  // team-a's db fails; team-b's runs: team-a's web must not take team-b's db for its own
  host.apply('team-a/web', 'web.service', web, 'test');
  host.apply('team-a/db', 'db.service', failing, 'test');
  host.apply('team-b/web', 'web.service', web, 'test');
  host.apply('team-b/db', 'db.service', good, 'test');
  const st = (id: string): string => host.units.get(id)!.runner.activeState;
  await until('team-b running', () => (st('team-b/web') === 'active' && st('team-b/db') === 'active' ? true : undefined), 15_000);
  await until('team-a db failed', () => (st('team-a/db') === 'failed' ? true : undefined), 15_000);
  assert.equal(st('team-a/web'), 'inactive');
  assert.equal(host.units.get('team-a/web')!.runner.props.MainPID, 0);
  assert.ok(logs.includes('Dependency failed for web.service.'), logs.join('\n'));
  // a unit named nowhere in its namespace: the transaction fails ("not found"), the other namespace's is not used
  host.apply('team-c/web', 'web.service', web, 'test');
  host.commit();
  const q = host.request('team-c/web', 'start')!;
  assert.deepEqual(await q.done, { ok: false, error: 'Unit db.service not found.', code: 'ENOENT' });
  assert.equal(st('team-c/web'), 'inactive');
  assert.ok(logs.includes('Failed to start web.service: Unit db.service not found.'), logs.join('\n'));
});
