// Job modes (issue 16): systemctl --job-mode= as manager_add_job() and transaction_apply() treat
// them — isolate and flush included — through the pure engine, and `unitctl start|stop --job-mode=`
// and `unitctl isolate` against a live standalone agent with systemctl's words and exit statuses
// (checked in the oracle: "Operation refused, unit may not be isolated." exit 4, "Isolate is only
// valid for start." exit 1, "Job mode bogus invalid" exit 1). Oracle sets 34–36 run isolate
// against systemd with real processes (test/deps/agent-sets.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActiveState } from '../../src/engine/states.ts';
import { buildGraph, decide, deps, initialState, type DepsEffect, type DepsEvent, type DepsState, type Graph, type JobMode, type UnitDeps } from '../../src/deps/index.ts';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

class Mini {
  ds: DepsState;
  readonly graph: Graph;
  constructor(units: Record<string, Partial<UnitDeps>>, active: Record<string, ActiveState> = {}) {
    this.graph = buildGraph(Object.fromEntries(Object.entries(units).map(([n, d]) => [n, deps({ defaultDependencies: false, ...d })])));
    this.ds = initialState(this.graph, active);
  }
  send(ev: DepsEvent): DepsEffect[] { const d = decide(this.ds, ev, this.graph, 0); this.ds = d.state; return [...d.effects]; }
  req(unit: string, type: 'start' | 'stop', mode: JobMode): DepsEffect[] { return this.send({ t: 'request', unit, type, mode }); }
}
const cmds = (es: DepsEffect[]): string[] => es.flatMap((e) => (e.t === 'start' || e.t === 'stop' ? [`${e.t} ${e.unit}`] : [])).sort();
const done = (es: DepsEffect[]): string[] => es.flatMap((e) => (e.t === 'job-done' ? [`${e.unit}/${e.type}=${e.result}`] : [])).sort();
const failed = (es: DepsEffect[]): string[] => es.flatMap((e) => (e.t === 'request-failed' ? [`${e.code}: ${e.error}`] : []));

test('isolate: starts the anchor and what it pulls in, stops every other active unit or unit with a job but IgnoreOnIsolate= ones; the node\'s targets stay', () => {
  const n = new Mini({
    'iso.service': { allowIsolate: true, wants: ['keep.service'] }, 'keep.service': {}, 'other.service': {}, 'ign.service': { ignoreOnIsolate: true },
    'idle.service': {}, 'child.service': { requires: ['other.service'] },
  }, { 'keep.service': 'active', 'other.service': 'active', 'ign.service': 'active', 'child.service': 'active' });
  const e = n.req('iso.service', 'start', 'isolate');
  assert.deepEqual(failed(e), []);
  assert.deepEqual(cmds(e), ['start iso.service', 'stop child.service', 'stop other.service']);
  assert.equal(n.ds.units.get('multi-user.target'), 'active');
  assert.equal(n.ds.jobs['sysinit.target'], undefined);
});

test('isolate is refused without AllowIsolate= and for anything but a start; nothing is queued', () => {
  const n = new Mini({ 'a.service': {}, 'b.service': { allowIsolate: true } }, { 'b.service': 'active' });
  assert.deepEqual(failed(n.req('a.service', 'start', 'isolate')), ['ENOISOLATION: Operation refused, unit may not be isolated.']);
  assert.deepEqual(failed(n.req('b.service', 'stop', 'isolate')), ['EINVAL: Isolate is only valid for start.']);
  assert.deepEqual(n.ds.jobs, {});
});

test('flush and isolate cancel the queued jobs that are not in the new transaction (IgnoreOnIsolate= ones stay); replace does not', () => {
  const units = { 'slow.service': {}, 'w.service': { wants: ['slow.service'], after: ['slow.service'] }, 'ign.service': { ignoreOnIsolate: true, after: ['slow.service'] }, 'x.service': { allowIsolate: true } };
  for (const [mode, canceled] of [['flush', ['slow.service/start=canceled', 'w.service/start=canceled']], ['isolate', ['slow.service/start=canceled', 'w.service/start=canceled']], ['replace', []]] as const) {
    const n = new Mini(units);
    n.req('w.service', 'start', 'replace');
    n.req('ign.service', 'start', 'replace');
    n.send({ t: 'state', unit: 'slow.service', from: 'inactive', to: 'activating' });
    assert.deepEqual(Object.keys(n.ds.jobs).sort(), ['ign.service', 'slow.service', 'w.service']);
    const e = n.req('x.service', 'start', mode);
    assert.deepEqual(done(e).filter((d) => d.endsWith('canceled')), canceled, mode);
    assert.ok(n.ds.jobs['ign.service'], `${mode}: the IgnoreOnIsolate= unit's job stays`);
    // slow's start job gone, the job of ign (After= slow) runs; isolate stops slow (still activating: ign waits for that stop), flush leaves it starting
    assert.deepEqual(cmds(e), { flush: ['start ign.service', 'start x.service'], isolate: ['start x.service', 'stop slow.service'], replace: ['start x.service'] }[mode], mode);
  }
});

test('unitctl --job-mode= and unitctl isolate against a live agent: systemctl\'s words and exit statuses', async (t) => {
  const a = agentFixture(t);
  const w = (name: string, text: string): void => writeFileSync(join(a.manifests, name), text);
  const svc = (unit: string): string => `${unit}[Service]\nExecStart=/bin/sleep 1000\n`;
  w('iso.service', svc('[Unit]\nAllowIsolate=yes\nWants=keep.service\n'));
  w('keep.service', svc(''));
  w('other.service', svc(''));
  w('ign.service', svc('[Unit]\nIgnoreOnIsolate=yes\n'));
  w('noiso.service', svc(''));
  w('need.service', svc('[Unit]\nRequires=dep.service\nAfter=dep.service\n'));
  w('dep.service', '[Unit]\n[Service]\nExecStart=/bin/sleep 1000\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);
  for (const u of ['iso', 'keep', 'other', 'ign', 'noiso', 'need', 'dep']) await until(`${u} running`, () => (st(u).SubState === 'running' ? true : undefined), 15_000);
  assert.equal(a.unitctl('stop', 'iso', 'noiso', 'need', 'dep').status, 0);

  const refused = a.unitctl('isolate', 'noiso');
  assert.equal(refused.status, 4, refused.stderr);
  assert.equal(refused.stderr, 'Failed to start noiso.service: Operation refused, unit may not be isolated.\n');
  const stopIso = a.unitctl('stop', '--job-mode=isolate', 'other');
  assert.equal(stopIso.status, 1);
  assert.equal(stopIso.stderr, 'Failed to stop other.service: Isolate is only valid for start.\n');
  const bogus = a.unitctl('start', '--job-mode=bogus', 'noiso');
  assert.equal(bogus.status, 1);
  assert.equal(bogus.stderr, 'Failed to start noiso.service: Job mode bogus invalid\n');
  assert.equal(st('other').ActiveState, 'active');

  // ignore-dependencies: the Requires= is not pulled in
  const nodeps = a.unitctl('start', '--job-mode=ignore-dependencies', 'need');
  assert.equal(nodeps.status, 0, nodeps.stderr);
  assert.deepEqual([st('need').ActiveState, st('dep').ActiveState], ['active', 'inactive']);

  const iso = a.unitctl('isolate', 'iso');
  assert.equal(iso.status, 0, iso.stderr);
  await until('other and need stopped', () => (st('other').ActiveState === 'inactive' && st('need').ActiveState === 'inactive' ? true : undefined), 15_000);
  assert.deepEqual(['iso', 'keep', 'ign', 'other', 'noiso', 'need', 'dep'].map((u) => st(u).ActiveState), ['active', 'active', 'active', 'inactive', 'inactive', 'inactive', 'inactive']);
});
