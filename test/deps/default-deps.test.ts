// DefaultDependencies= (issue 16): the implicit dependencies of a service, as systemd 257's
// service_add_default_dependencies() adds them for the system manager, and what
// unitctl list-dependencies shows of them. The oracle (systemd 257, `systemctl show -p
// Requires,After,Conflicts,Before` of a plain service) lists Requires=sysinit.target,
// After=basic.target sysinit.target, Conflicts=shutdown.target, Before=shutdown.target; with
// DefaultDependencies=no none of them (the slice and journald socket edges it adds in both
// cases are not DefaultDependencies= and not modelled).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGraph, buildTransaction, deps, depsFromSpec, type Graph, type Rel, type UnitDeps, type Built, type JobType } from '../../src/deps/index.ts';
import type { ActiveState } from '../../src/engine/states.ts';
import { renderTree } from '../../src/cli/systemctl.ts';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

const graphOf = (units: Record<string, Partial<UnitDeps>>): Graph => buildGraph(Object.fromEntries(Object.entries(units).map(([n, d]) => [n, deps(d)])));
const edges = (g: Graph, unit: string): Record<string, string[]> =>
  Object.fromEntries([...(g.rels.get(unit) ?? new Map<Rel, Set<string>>())].map(([r, s]) => [r, [...s].sort()]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
const world = (graph: Graph) => ({
  graph,
  state: (u: string): ActiveState => (graph.units.get(u)?.target && u !== 'shutdown.target' ? 'active' : 'inactive'),
  installed: (): JobType | undefined => undefined,
});
const jobs = (b: Built): Record<string, JobType> => {
  assert.ok(b.ok, b.ok ? '' : b.error);
  return Object.fromEntries(b.jobs.map((j) => [j.unit, j.type]));
};

test('DefaultDependencies=yes (the default): Requires=/After= sysinit.target, After= basic.target, Conflicts=/Before= shutdown.target, and their inverses', () => {
  const g = graphOf({ 'a.service': { requires: ['zz.service'] }, 'zz.service': {} });
  assert.deepEqual(edges(g, 'a.service'), {
    after: ['basic.target', 'sysinit.target'], before: ['shutdown.target'], conflicts: ['shutdown.target'], requires: ['sysinit.target', 'zz.service'],
  });
  assert.ok(g.rels.get('sysinit.target')?.get('requiredBy')?.has('a.service'));
  assert.ok(g.rels.get('sysinit.target')?.get('before')?.has('a.service'));
  assert.ok(g.rels.get('basic.target')?.get('before')?.has('a.service'));
  assert.ok(g.rels.get('shutdown.target')?.get('conflictedBy')?.has('a.service'));
  assert.ok(g.rels.get('shutdown.target')?.get('after')?.has('a.service'));
  // the well-known targets get none (they are the node's, with DefaultDependencies=no)
  assert.equal(g.rels.get('sysinit.target')?.get('requires'), undefined);
});

test('DefaultDependencies=no: only the unit\'s own dependencies', () => {
  const spec = depsFromSpec({ unit: { defaultDependencies: false, requires: ['zz.service'] }, service: { execStart: ['/bin/true'] } });
  assert.equal(spec.defaultDependencies, false);
  const g = buildGraph({ 'a.service': spec, 'zz.service': deps() });
  assert.deepEqual(edges(g, 'a.service'), { requires: ['zz.service'] });
  assert.equal(g.rels.get('shutdown.target')?.get('conflictedBy')?.has('a.service') ?? false, false);
  assert.equal(g.rels.get('sysinit.target')?.get('requiredBy')?.has('a.service') ?? false, false);
  assert.equal(depsFromSpec({ service: { execStart: ['/bin/true'] } }).defaultDependencies, true);
});

test('the implicit edges start and stop nothing on a running node: sysinit.target is active, shutdown.target inactive', () => {
  const w = world(graphOf({ 'a.service': {} }));
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'replace')), { 'a.service': 'start' });
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'fail')), { 'a.service': 'start' });
  assert.deepEqual(jobs(buildTransaction(w, 'stop', 'a.service', 'replace')), { 'a.service': 'stop' });
  assert.deepEqual(jobs(buildTransaction(w, 'restart', 'a.service', 'replace')), { 'a.service': 'restart' });
});

test('list-dependencies orders siblings as systemctl does: targets last, then by name', () => {
  const leaf = (unit: string, active = 'active') => ({ unit, active, children: [] });
  const tree = { unit: 'a.service', active: 'active', children: [leaf('sysinit.target'), leaf('zz.service', 'inactive'), leaf('b.service'), leaf('local-fs.target')] };
  assert.equal(renderTree(tree), 'a.service\n● ├─b.service\n○ ├─zz.service\n● ├─local-fs.target\n● └─sysinit.target\n');
});

test('DefaultDependencies= through the standalone agent: list-dependencies shows sysinit.target for a plain service, nothing implicit with =no', async (t) => {
  const a = agentFixture(t);
  const w = (name: string, text: string): void => writeFileSync(join(a.manifests, name), text);
  w('zz.service', '[Service]\nExecStart=/bin/sleep 1000\n');
  w('plain.service', '[Unit]\nRequires=zz.service\nAfter=zz.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('early.service', '[Unit]\nDefaultDependencies=no\nRequires=zz.service\nAfter=zz.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);
  for (const u of ['plain', 'early', 'zz']) await until(`${u} running`, () => (st(u).SubState === 'running' ? true : undefined), 15_000);
  // systemctl list-dependencies (v257) of the same units: zz.service, then sysinit.target (expanded
  // by systemctl into the host's boot units; the node's targets are leaves here)
  const plain = a.unitctl('list-dependencies', 'plain.service');
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout, 'plain.service\n● ├─zz.service\n● └─sysinit.target\n');
  const early = a.unitctl('list-dependencies', 'early.service');
  assert.equal(early.status, 0, early.stderr);
  assert.equal(early.stdout, 'early.service\n● └─zz.service\n');
  const rev = a.unitctl('list-dependencies', 'sysinit.target', '--reverse');
  assert.equal(rev.status, 0, rev.stderr);
  assert.match(rev.stdout, /● ├─plain\.service\n/);
  assert.doesNotMatch(rev.stdout, /early\.service/);
  // stopping one stops neither the other nor any target
  assert.equal(a.unitctl('stop', 'plain').status, 0);
  assert.deepEqual([st('plain').ActiveState, st('early').ActiveState, st('zz').ActiveState], ['inactive', 'active', 'active']);
});
