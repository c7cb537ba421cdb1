// RequiresMountsFor=/WantsMountsFor= (issue 16): the .mount units of every prefix of each path, as
// systemd 257 adds them, against the host's mounts (src/deps/mounts.ts). The oracle's answer for
// test/fixtures/deps-mounts/dep-mnt.service (re-record: test/fixtures/deps-mounts/record.sh) is
// in oracle.txt with what it needs of the oracle's root (its mount points, the mount units that
// have a unit file): fed the same facts, our graph must give the same Requires=/Wants=/After= and
// list-dependencies the same first level. The edges systemd adds for every service and that are
// not modelled (system.slice, systemd-journald.socket) are left out of the comparison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGraph, buildTransaction, deps, depsFromSpec, initialState, invalidDependencies, mountUnitName, pathPrefixes, type HostMounts, type JobType } from '../../src/deps/index.ts';
import type { ActiveState } from '../../src/engine/states.ts';
import { convertText } from '../../src/unitfile/index.ts';
import { dependencyTree, DepsDriver, type DepsMember } from '../../src/agent/deps.ts';
import { renderTree } from '../../src/cli/systemctl.ts';
import { hostMounts } from '../../src/agent/mounts.ts';

const DIR = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/deps-mounts');
const oracle = new Map<string, string[]>();
const tree: string[] = [];
for (const l of readFileSync(join(DIR, 'oracle.txt'), 'utf8').split('\n').filter(Boolean)) {
  const i = l.indexOf('=');
  if (l.startsWith('tree=')) tree.push(l.slice(5));
  else oracle.set(l.slice(0, i), l.slice(i + 1).split(' ').filter(Boolean));
}
const NOT_MODELLED = new Set(['system.slice', 'systemd-journald.socket']);
const oracleMounts: HostMounts = { mounted: (p) => oracle.get('mountinfo')!.includes(p), unitFile: (n) => oracle.get('fragments')!.includes(n) };

test('mount unit names as systemd-escape -p --suffix=mount gives them', () => {
  assert.deepEqual(['/', '/run/lock', '/var/lib/my-app', '/srv/my-app/.cache', '/.hidden', '/a b'].map(mountUnitName), oracle.get('escape'));
  assert.equal(mountUnitName('//run//lock/./'), 'run-lock.mount');
  assert.deepEqual(pathPrefixes('/srv/a/b'), ['/srv/a/b', '/srv/a', '/srv', '/']);
});

test('RequiresMountsFor=/WantsMountsFor=: the Requires=, Wants=, After= systemd 257 adds (oracle: systemctl show)', () => {
  const spec = convertText(readFileSync(join(DIR, 'dep-mnt.service'), 'utf8'), 'dep-mnt.service').object.spec;
  const g = buildGraph({ 'dep-mnt.service': depsFromSpec(spec) }, oracleMounts);
  const rels = g.rels.get('dep-mnt.service')!;
  for (const rel of ['requires', 'wants', 'after'] as const) {
    const want = oracle.get(rel[0]!.toUpperCase() + rel.slice(1))!.filter((u) => !NOT_MODELLED.has(u)).sort();
    assert.deepEqual([...(rels.get(rel) ?? [])].sort(), want, rel);
  }
  // mounted prefixes are active mount units; sys-kernel-config.mount (a unit file, not mounted) inactive
  const st = initialState(g).units.toRecord();
  assert.deepEqual([st['tmp.mount'], st['-.mount'], st['run-lock.mount'], st['sys-kernel-config.mount']], ['active', 'active', 'active', 'inactive']);
  // list-dependencies' first level as systemctl's (system.slice aside)
  const out = renderTree(dependencyTree(g, 'dep-mnt.service', (u) => st[u] ?? 'inactive')).split('\n').filter((l) => /^. [├└]─/.test(l));
  const want = tree.filter((l) => !l.includes('system.slice'));
  assert.deepEqual(out.map((l) => l.slice(6)), want.map((l) => l.slice(6)));
  assert.deepEqual(out.map((l) => l[0]), want.map((l) => l[0]));
});

const world = (g: ReturnType<typeof buildGraph>) => {
  const st = initialState(g).units.toRecord();
  return { graph: g, state: (u: string): ActiveState => st[u] ?? 'inactive', installed: (): JobType | undefined => undefined };
};

test('a mounted prefix satisfies the unit, a prefix without a mount unit adds nothing; Requires= on an unmounted mount unit is a start job that fails', () => {
  const host: HostMounts = { mounted: (p) => p === '/' || p === '/data', unitFile: (n) => n === 'data.mount' || n === 'backup.mount' };
  const g = buildGraph({
    'a.service': deps({ requiresMountsFor: ['/data/x', '/var/lib/a'] }),
    'b.service': deps({ requiresMountsFor: ['/backup/x'], after: [] }),
    'c.service': deps({ wantsMountsFor: ['/backup/x'] }),
  }, host);
  assert.deepEqual([...g.rels.get('a.service')!.get('after')!].filter((u) => u.endsWith('.mount')).sort(), ['-.mount', 'data.mount']);
  assert.equal(g.units.has('var.mount') || g.units.has('var-lib.mount'), false);
  const b = buildTransaction(world(g), 'start', 'a.service', 'replace');
  assert.ok(b.ok);
  assert.deepEqual(b.jobs.map((j) => `${j.unit}/${j.type}`), ['a.service/start']);
  // backup.mount: a unit file, not mounted: its start job is in the transaction (and will fail)
  const t = buildTransaction(world(g), 'start', 'b.service', 'replace');
  assert.ok(t.ok);
  assert.deepEqual(t.jobs.map((j) => `${j.unit}/${j.type}`), ['b.service/start', 'backup.mount/start']);
});

test('through the driver: the job on an unmounted mount unit fails, Requires= fails the start with dependency, Wants= starts it', async () => {
  const started: string[] = [];
  const member = (spec: object): DepsMember => ({ spec: spec as DepsMember['spec'], activeState: 'inactive', startJob: () => { started.push('x'); return undefined; }, stop: () => {}, reload: () => {}, send: () => {} });
  const logs: string[] = [];
  const d = new DepsDriver({ log: (_l, m) => logs.push(m), mounts: () => ({ mounted: (p) => p === '/', unitFile: (n) => n === 'backup.mount' }) });
  d.setUnits(new Map([
    ['b.service', member({ unit: { requiresMountsFor: ['/backup/x'] }, service: { execStart: ['/bin/sleep 10'] } })],
    ['c.service', member({ unit: { wantsMountsFor: ['/backup/x'] }, service: { execStart: ['/bin/sleep 10'] } })],
  ]));
  const b = await d.request('b.service', 'start').done;
  assert.deepEqual(b.ok && b.result, 'dependency');
  assert.ok(logs.includes('Dependency failed for b.service.'), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes('backup.mount: not mounted')), logs.join('\n'));
  assert.equal(started.length, 0);
  void d.request('c.service', 'start');
  assert.equal(started.length, 1);
  d.close();
});

test('the host\'s mount table: / is always there, the agent\'s own mounts are read', () => {
  const own = hostMounts();
  assert.equal(own.mounted('/'), true);
  assert.equal(own.mounted('/proc'), true);
  assert.equal(own.mounted('/no/such/mount/point'), false);
  assert.equal(own.unitFile('no-such-unit-uo-test.mount'), false);
});

test('a relative *MountsFor= path adds nothing and is named at load in systemd 257\'s words', () => {
  const spec = { unit: { requiresMountsFor: ['relative/x', '/ok'], wantsMountsFor: ['also/rel'] }, service: { execStart: ['/bin/true'] } };
  assert.deepEqual(invalidDependencies(spec).map((d) => d.message), [
    'RequiresMountsFor= path is not absolute, ignoring: relative/x', 'WantsMountsFor= path is not absolute, ignoring: also/rel',
  ]);
  const g = buildGraph({ 'a.service': depsFromSpec(spec) }, { mounted: (p) => p === '/' || p === 'relative' || p === '/relative', unitFile: () => false });
  assert.deepEqual([...g.hostMounts.keys()], ['-.mount']);
});
