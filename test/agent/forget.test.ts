// A unit removed for good leaves nothing behind in a long-running agent: its folder, and what the
// agent's modules remember about it (the state slots' writer, the version-2 migration, the
// dependency engine's lines). An agent that applies and removes units for months must not grow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { UnitHost } from '../../src/agent/host.ts';
import { removeNotifyFolder } from '../../src/runner/notifysock.ts';
import { rememberedUnitFolders } from '../../src/runner/store.ts';
import { shimPath } from '../support/units.ts';
import { until } from '../support/wait.ts';

test('units applied, run and removed: once forgotten, their folders are gone and the agent remembers nothing of them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-forget-'));
  const host = new UnitHost({ unitsDir: dir, shimPath, dependencies: true, log: () => {} });
  t.after(async () => { await host.stopAll(10_000); host.closeAll(); removeNotifyFolder(dir); rmSync(dir, { recursive: true, force: true }); });
  const before = rememberedUnitFolders();
  const ids = Array.from({ length: 5 }, (_, i) => `ns/u${i}`);
  // u1 joins u0's namespaces (JoinsNamespaceOf=): declarations in the group's runtimes
  for (const id of ids) host.apply(id, `${id.slice(3)}.service`, { service: { execStart: ['/bin/sleep 1000'] }, ...(id === 'ns/u1' ? { unit: { joinsNamespaceOf: ['u0.service'] } } : {}) }, 'test');
  host.commit();
  const kept = host.cached();
  assert.deepEqual([kept['dependency-graphs'], kept['runtime-groups']], [1, 1], JSON.stringify(kept));
  assert.ok(kept['runtime-declarations']! >= ids.length, JSON.stringify(kept));
  await until('all running', () => ids.every((id) => host.units.get(id)?.runner.activeState === 'active'), 15_000);
  assert.ok(rememberedUnitFolders() >= before + ids.length, `the state writer knows the ${ids.length} folders: ${rememberedUnitFolders()} (before: ${before})`);
  const folders = ids.map((id) => host.units.get(id)!.runner.dir);
  for (const id of ids) host.remove(id, 'test');
  const gone = new Set<string>();
  await until('all forgotten', () => { for (const id of host.forgetStopped()) gone.add(id); return gone.size === ids.length; }, 15_000);
  assert.deepEqual([...gone].sort(), ids);
  for (const f of folders) assert.equal(existsSync(f), false, `${f} removed`);
  assert.equal(rememberedUnitFolders(), before, 'nothing remembered of the removed folders');
  await new Promise((r) => setImmediate(r)); // the graphs are rebuilt at the next commit (a microtask)
  assert.deepEqual(host.cached(), { 'dependency-graphs': 0, 'runtime-groups': 0, 'runtime-declarations': 0 }, 'the emptied namespace\'s dependency engine and runtimes went');
  // a unit added there again gets a new engine and starts as before
  host.apply('ns/again', 'again.service', { service: { execStart: ['/bin/sleep 1000'] } }, 'test');
  host.commit();
  await until('the new unit runs', () => host.units.get('ns/again')?.runner.activeState === 'active', 15_000);
  assert.deepEqual([host.cached()['dependency-graphs'], host.cached()['runtime-groups']], [1, 1]);
});
