// The dependency engine's decide() driven by hand: requests in, engine commands and job results
// out; the units' state changes are fed back as a service engine would report them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActiveState } from '../../src/engine/states.ts';
import { buildGraph, decide, deps, depsEventsFromEngine, initialState, type DepsEffect, type DepsEvent, type DepsState, type Graph, type UnitDeps } from '../../src/deps/index.ts';

class Mini {
  ds: DepsState;
  readonly graph: Graph;
  now = 0;
  constructor(units: Record<string, Partial<UnitDeps>>, active: Record<string, ActiveState> = {}) {
    this.graph = buildGraph(Object.fromEntries(Object.entries(units).map(([n, d]) => [n, deps({ defaultDependencies: false, ...d })])));
    this.ds = initialState(this.graph, active);
  }
  send(ev: DepsEvent): DepsEffect[] { const d = decide(this.ds, ev, this.graph, this.now); this.ds = d.state; return [...d.effects]; }
  req(unit: string, type: 'start' | 'stop' | 'restart' | 'reload' | 'verify-active' = 'start', mode: 'replace' | 'fail' = 'replace'): DepsEffect[] { return this.send({ t: 'request', unit, type, mode }); }
  to(unit: string, to: ActiveState, extra: { willAutoRestart?: boolean } = {}): DepsEffect[] { return this.send({ t: 'state', unit, from: this.ds.units.get(unit) ?? 'inactive', to, ...extra }); }
  /** The unit's service goes through activating to active. */
  up(unit: string): DepsEffect[] { return [...this.to(unit, 'activating'), ...this.to(unit, 'active')]; }
  down(unit: string, end: ActiveState = 'inactive'): DepsEffect[] { return [...this.to(unit, 'deactivating'), ...this.to(unit, end)]; }
}
const cmds = (es: DepsEffect[]): string[] => es.flatMap((e) => (e.t === 'start' || e.t === 'stop' || e.t === 'reload' ? [`${e.t} ${e.unit}`] : []));
const done = (es: DepsEffect[]): string[] => es.flatMap((e) => (e.t === 'job-done' ? [`${e.unit}/${e.type}=${e.result}`] : []));
const logs = (es: DepsEffect[]): string[] => es.flatMap((e) => (e.t === 'log' && e.level !== 'debug' ? [e.message] : []));

test('a start job waits for the jobs of the units it is After=; without ordering both run at once', () => {
  const n = new Mini({ 'web.service': { requires: ['db.service'], after: ['db.service'] }, 'db.service': {} });
  assert.deepEqual(cmds(n.req('web.service')), ['start db.service']);
  assert.deepEqual(cmds(n.to('db.service', 'activating')), []);
  const e = n.to('db.service', 'active');
  assert.deepEqual(done(e), ['db.service/start=done']);
  assert.deepEqual(cmds(e), ['start web.service']);
  const u = new Mini({ 'web.service': { requires: ['db.service'] }, 'db.service': {} });
  assert.deepEqual(cmds(u.req('web.service')).sort(), ['start db.service', 'start web.service']);
});

test('Before= orders the same way from the other side', () => {
  const n = new Mini({ 'web.service': { wants: ['db.service'] }, 'db.service': { before: ['web.service'] } });
  assert.deepEqual(cmds(n.req('web.service')), ['start db.service']);
  assert.deepEqual(cmds(n.up('db.service')), ['start web.service']);
});

test('a failed Requires=+After= dependency finishes the dependent\'s start job with "dependency"; its OnFailure= runs', () => {
  const n = new Mini({ 'app.service': { requires: ['db.service'], after: ['db.service'], onFailure: ['alert.service'] }, 'db.service': {}, 'alert.service': {} });
  n.req('app.service');
  n.to('db.service', 'activating');
  const e = n.to('db.service', 'failed');
  assert.deepEqual(done(e), ['db.service/start=failed', 'app.service/start=dependency']);
  assert.deepEqual(logs(e), ['Failed to start db.service.', 'Dependency failed for app.service.',
    "app.service: Job app.service/start failed with result 'dependency'.", 'app.service: Triggering OnFailure= dependencies.', 'Starting alert.service...']);
  assert.deepEqual(cmds(e), ['start alert.service']);
  assert.equal(n.ds.units.get('app.service'), 'inactive');
});

test('Wants= on a failing unit: the dependent starts anyway, after it', () => {
  const n = new Mini({ 'app.service': { wants: ['db.service'], after: ['db.service'] }, 'db.service': {} });
  n.req('app.service');
  n.to('db.service', 'activating');
  const e = n.to('db.service', 'failed');
  assert.deepEqual(done(e), ['db.service/start=failed']);
  assert.deepEqual(cmds(e), ['start app.service']);
});

test('stop jobs run in reverse order: the dependents first', () => {
  const all = { 'a.service': 'active', 'b.service': 'active', 'c.service': 'active' } as const;
  const n = new Mini({ 'a.service': { requires: ['b.service'], after: ['b.service'] }, 'b.service': { requires: ['c.service'], after: ['c.service'] }, 'c.service': {} }, all);
  assert.deepEqual(cmds(n.req('c.service', 'stop')), ['stop a.service']);
  assert.deepEqual(cmds(n.down('a.service')), ['stop b.service']);
  assert.deepEqual(cmds(n.down('b.service')), ['stop c.service']);
  assert.deepEqual(done(n.down('c.service')), ['c.service/stop=done']);
});

test('Conflicts=: the other side is stopped, first', () => {
  const n = new Mini({ 'new.service': { conflicts: ['old.service'], after: ['old.service'] }, 'old.service': {} }, { 'old.service': 'active' });
  assert.deepEqual(cmds(n.req('new.service')), ['stop old.service']);
  assert.deepEqual(cmds(n.down('old.service')), ['start new.service']);
});

test('Requisite= on an inactive unit: verify-active is skipped ("… is inactive."), the dependent fails with "dependency"', () => {
  const n = new Mini({ 'app.service': { requisite: ['db.service'], after: ['db.service'] }, 'db.service': {} });
  const e = n.req('app.service');
  assert.deepEqual(done(e), ['db.service/verify-active=skipped', 'app.service/start=dependency']);
  assert.deepEqual(cmds(e), []);
  assert.deepEqual(logs(e).slice(0, 2), ['db.service is inactive.', 'Dependency failed for app.service.']);
  const ok = new Mini({ 'app.service': { requisite: ['db.service'], after: ['db.service'] }, 'db.service': {} }, { 'db.service': 'active' });
  assert.deepEqual(cmds(ok.req('app.service')), ['start app.service']);
});

test('BindsTo=: the dependent is stopped when its dependency goes inactive on its own', () => {
  const n = new Mini({ 'app.service': { bindsTo: ['db.service'], after: ['db.service'] }, 'db.service': {} }, { 'app.service': 'active', 'db.service': 'active' });
  const e = n.to('db.service', 'inactive');
  assert.deepEqual(cmds(e), ['stop app.service']);
  // a unit bound to an inactive unit that becomes active is stopped again
  const m = new Mini({ 'app.service': { bindsTo: ['db.service'] }, 'db.service': {} });
  assert.deepEqual(cmds(m.to('app.service', 'active')), ['start db.service']);
  const b = new Mini({ 'app.service': { bindsTo: ['db.service'], after: ['db.service'] }, 'db.service': {} });
  assert.deepEqual(cmds(b.to('app.service', 'active')), ['stop app.service']);
});

test('an automatic restart of a dependency restarts (not stops) the units that require it', () => {
  const n = new Mini({ 'app.service': { requires: ['db.service'], after: ['db.service'] }, 'db.service': {} }, { 'app.service': 'active', 'db.service': 'active' });
  // running → failed (a restart follows) → auto-restart: nothing is stopped, no OnFailure=
  assert.deepEqual(cmds(n.to('db.service', 'failed', { willAutoRestart: true })), []);
  assert.deepEqual(cmds(n.to('db.service', 'activating')), []);
  assert.deepEqual(n.ds.units.get('app.service'), 'active');
  // job_compare(): a restart job is a stop job until its stop is done, and stops go first: app
  // stops, then db's start job runs, then app's (now start) job (oracle set 12's journal order)
  const e = n.send({ t: 'auto-restart', unit: 'db.service' });
  // the engine hears that its restart job is queued before the job's first effects
  assert.deepEqual(e.filter((x) => x.t === 'restart-job' || x.t === 'stop' || x.t === 'start').map((x) => x.t), ['restart-job', 'stop']);
  assert.deepEqual(e.find((x) => x.t === 'restart-job'), { t: 'restart-job', unit: 'db.service', outcome: 'queued', shortcut: false });
  assert.deepEqual(cmds(e), ['stop app.service']);
  assert.deepEqual(cmds(n.to('app.service', 'deactivating')), [], 'db\'s start waits while app is stopping');
  assert.deepEqual(cmds(n.to('app.service', 'inactive')), ['start db.service']);
  assert.deepEqual(cmds(n.to('db.service', 'active')), ['start app.service']);
});

test('the restart job of an automatic restart: skipped while a stop job is pending, refused for a masked unit (answered, nothing queued)', () => {
  const n = new Mini({ 'app.service': { requires: ['db.service'], after: ['db.service'] }, 'db.service': {} }, { 'app.service': 'active', 'db.service': 'activating' });
  // stop db: its stop job waits for app's stop (reverse order); meanwhile db's restart timer fires
  assert.deepEqual(cmds(n.req('db.service', 'stop')), ['stop app.service']);
  const e = n.send({ t: 'auto-restart', unit: 'db.service' });
  assert.deepEqual(e.filter((x) => x.t === 'restart-job'), [{ t: 'restart-job', unit: 'db.service', outcome: 'skipped', shortcut: false }]);
  assert.deepEqual(cmds(e), []);
  assert.equal(n.ds.jobs['db.service']?.type, 'stop');
  const m = new Mini({ 'app.service': { requires: ['db.service'], after: ['db.service'] }, 'db.service': { masked: true } }, { 'app.service': 'active', 'db.service': 'activating' });
  const f = m.send({ t: 'auto-restart', unit: 'db.service' });
  assert.deepEqual(f.filter((x) => x.t === 'restart-job'), [{ t: 'restart-job', unit: 'db.service', outcome: 'failed', shortcut: false, error: 'Unit db.service is masked.' }]);
  assert.deepEqual(cmds(f), []);
  assert.deepEqual(m.ds.jobs, {});
});

test('a start during the restart delay: the restart job merges into the running start job and makes it run again (TRANSACTION_REENQUEUE_ANCHOR)', () => {
  const n = new Mini({ 'db.service': {} }, { 'db.service': 'activating' });
  // the start job reaches the unit in auto-restart; its engine asks for the restart job instead of starting
  assert.deepEqual(cmds(n.req('db.service')), ['start db.service']);
  assert.equal(n.ds.jobs['db.service']?.state, 'running');
  const e = n.send({ t: 'auto-restart', unit: 'db.service', shortcut: true });
  assert.deepEqual(e.filter((x) => x.t === 'restart-job').map((x) => x.t === 'restart-job' && x.outcome), ['queued']);
  assert.deepEqual(cmds(e), ['start db.service'], 'the job runs again: its start reaches the unit, now in auto-restart-queued');
  assert.deepEqual(done(n.to('db.service', 'active')), ['db.service/start=done']);
});

test('unitctl restart db with web Requires=+After= db: web stops first, db restarts, then web starts (job_compare: restart is a stop)', () => {
  const n = new Mini({ 'web.service': { requires: ['db.service'], after: ['db.service'] }, 'db.service': {} }, { 'web.service': 'active', 'db.service': 'active' });
  assert.deepEqual(cmds(n.req('db.service', 'restart')), ['stop web.service']);
  assert.deepEqual(cmds(n.down('web.service')), ['stop db.service']);
  assert.deepEqual(cmds(n.down('db.service')), ['start db.service']);
  assert.deepEqual(cmds(n.up('db.service')), ['start web.service']);
});

test('OnSuccess= runs when a unit ends cleanly; OnFailure= not when a restart follows', () => {
  const n = new Mini({ 'job.service': { onSuccess: ['report.service'], onFailure: ['alert.service'] }, 'report.service': {}, 'alert.service': {} }, { 'job.service': 'active' });
  assert.deepEqual(cmds(n.to('job.service', 'failed', { willAutoRestart: true })), []);
  n.to('job.service', 'activating'); n.to('job.service', 'active');
  assert.deepEqual(cmds(n.to('job.service', 'inactive')), ['start report.service']);
});

test('OnFailureJobMode=fail: the handler is not started over a conflicting job', () => {
  const n = new Mini({ 'app.service': { onFailure: ['alert.service'], onFailureJobMode: 'fail' }, 'alert.service': {} }, { 'app.service': 'active', 'alert.service': 'active' });
  n.req('alert.service', 'stop');
  const e = n.to('app.service', 'failed');
  assert.deepEqual(cmds(e), []);
  assert.ok(logs(e).some((l) => /^app\.service: Failed to enqueue OnFailure=alert\.service job, ignoring: Transaction for alert\.service\/start is destructive/.test(l)), JSON.stringify(logs(e)));
});

test('StopWhenUnneeded=: stopped once nothing that needs it is up', () => {
  const n = new Mini({ 'app.service': { wants: ['helper.service'] }, 'helper.service': { stopWhenUnneeded: true } }, { 'app.service': 'active', 'helper.service': 'active' });
  n.req('app.service', 'stop');
  assert.deepEqual(cmds(n.down('app.service')), ['stop helper.service']);
});

test('Upholds=: an upheld unit that stops is started again while the upholder is active', () => {
  const n = new Mini({ 'keeper.service': { upholds: ['flaky.service'] }, 'flaky.service': {} }, { 'keeper.service': 'active', 'flaky.service': 'active' });
  assert.deepEqual(cmds(n.to('flaky.service', 'inactive')), ['start flaky.service']);
  n.up('flaky.service');
  n.req('keeper.service', 'stop'); n.down('keeper.service');
  assert.deepEqual(cmds(n.to('flaky.service', 'inactive')), []);
});

test('replace cancels a conflicting installed job; fail refuses; a missing unit is "not found"', () => {
  const n = new Mini({ 'a.service': {} }, { 'a.service': 'active' });
  n.req('a.service', 'stop');
  const e = n.req('a.service', 'start');
  assert.ok(done(e).includes('a.service/stop=canceled'));
  const f = new Mini({ 'a.service': {} }, { 'a.service': 'active' });
  f.req('a.service', 'stop');
  assert.deepEqual(f.req('a.service', 'start', 'fail').filter((x) => x.t === 'request-failed').length, 1);
  const m = new Mini({ 'a.service': { requires: ['nothere.service'] } });
  assert.deepEqual(m.req('a.service').find((x) => x.t === 'request-failed'), { t: 'request-failed', unit: 'a.service', type: 'start', error: 'Unit nothere.service not found.', code: 'ENOENT' });
});

test('a new start merges into a waiting start job; a reload propagates along PropagatesReloadTo=', () => {
  const n = new Mini({ 'web.service': { after: ['db.service'], wants: ['db.service'] }, 'db.service': {} });
  const first = n.req('web.service');
  const again = n.req('web.service');
  const q1 = first.find((x) => x.t === 'request-queued'), q2 = again.find((x) => x.t === 'request-queued');
  assert.ok(q1 && q2 && q1.t === 'request-queued' && q2.t === 'request-queued' && q1.id === q2.id);
  const r = new Mini({ 'main.service': { canReload: true, propagatesReloadTo: ['side.service'] }, 'side.service': { canReload: true } }, { 'main.service': 'active', 'side.service': 'active' });
  assert.deepEqual(cmds(r.req('main.service', 'reload')).sort(), ['reload main.service', 'reload side.service']);
  assert.deepEqual(done([...r.to('main.service', 'reloading'), ...r.to('main.service', 'active')]), ['main.service/reload=done']);
});

test('job results from the unit: assert and timeouts fail the dependents; a condition skip does not', () => {
  const mk = (): Mini => new Mini({ 'app.service': { requires: ['db.service'], after: ['db.service'] }, 'db.service': { jobTimeoutUSec: 1_000_000 } });
  const a = mk();
  a.req('app.service');
  assert.deepEqual(done(a.send({ t: 'start-refused', unit: 'db.service', result: 'assert' })), ['db.service/start=assert', 'app.service/start=dependency']);
  const c = mk();
  c.req('app.service');
  const e = c.send({ t: 'start-refused', unit: 'db.service', result: 'done', message: 'db.service was skipped because of an unmet condition check (ConditionPathExists=/x).' });
  assert.deepEqual(done(e), ['db.service/start=done']);
  assert.deepEqual(cmds(e), ['start app.service']);
  const t = mk();
  const armed = t.req('app.service').find((x) => x.t === 'arm-job-timer');
  assert.ok(armed && armed.t === 'arm-job-timer' && armed.deadline === 1_000_000);
  assert.deepEqual(done(t.send({ t: 'job-timer', id: armed.id })), ['db.service/start=timeout', 'app.service/start=dependency']);
});

test('decide() is pure: the same events give the same effects and leave the input state alone', () => {
  const units = { 'a.service': { requires: ['b.service'], after: ['b.service'] }, 'b.service': {} };
  const x = new Mini(units), y = new Mini(units);
  const before = JSON.stringify(x.ds);
  const s0 = x.ds;
  const ex = [...x.req('a.service'), ...x.up('b.service')];
  const ey = [...y.req('a.service'), ...y.up('b.service')];
  assert.deepEqual(ex, ey);
  assert.equal(JSON.stringify(s0), before);
});

test('ordering cycles (transaction_verify_order): a job that does not matter is deleted to break it; otherwise "Transaction order is cyclic"', () => {
  // a After= b, b After= a, a Wants= b: b's start job does not matter to a's, it goes
  const w = new Mini({ 'a.service': { wants: ['b.service'], after: ['b.service'] }, 'b.service': { after: ['a.service'] } });
  const e = w.req('a.service');
  assert.deepEqual(logs(e), [
    'a.service: Found ordering cycle on b.service/start',
    'a.service: Found dependency on a.service/start',
    'a.service: Job b.service/start deleted to break ordering cycle starting with a.service/start',
    'Starting a.service...',
  ]);
  assert.deepEqual(cmds(e), ['start a.service']);
  assert.deepEqual(Object.keys(w.ds.jobs), ['a.service']);
  // ca and cb Requires=+After= each other: both matter, the transaction fails and nothing is queued
  const r = new Mini({ 'ca.service': { requires: ['cb.service'], after: ['cb.service'] }, 'cb.service': { requires: ['ca.service'], after: ['ca.service'] } });
  const f = r.req('ca.service');
  assert.deepEqual(f.find((x) => x.t === 'request-failed'), { t: 'request-failed', unit: 'ca.service', type: 'start', code: 'ECYCLIC', error: 'Transaction order is cyclic. See system logs for details.' });
  assert.ok(logs(f).includes('ca.service: Unable to break cycle starting with ca.service/start'), logs(f).join('\n'));
  assert.deepEqual(cmds(f), []);
  assert.deepEqual(r.ds.jobs, {});
});

test('an ordering cycle through an installed job is found too; installed jobs that wait on each other after a graph change are broken up', () => {
  // b's start job is installed (waiting for x); then a start of a (After= b, b After= a) would close a cycle
  const n = new Mini({ 'a.service': { after: ['b.service'] }, 'b.service': { after: ['a.service', 'x.service'] }, 'x.service': {} });
  n.req('x.service');
  n.send({ t: 'request', unit: 'b.service', type: 'start' });
  assert.equal(n.ds.jobs['b.service']?.state, 'waiting');
  const f = n.req('a.service');
  assert.equal(f.find((x) => x.t === 'request-failed')?.t, 'request-failed');
  // two waiting jobs that wait on each other (the graph changed under them): the newest is canceled, the other runs
  const g1 = buildGraph({ 'p.service': deps({ defaultDependencies: false }), 'q.service': deps({ defaultDependencies: false }), 'x.service': deps({ defaultDependencies: false }) });
  let ds = initialState(g1);
  ds = decide(ds, { t: 'request', unit: 'x.service', type: 'start' }, g1, 0).state;
  const g2 = buildGraph({ 'p.service': deps({ defaultDependencies: false, after: ['q.service', 'x.service'] }), 'q.service': deps({ defaultDependencies: false, after: ['p.service'] }), 'x.service': deps({ defaultDependencies: false }) });
  ds = { ...ds, jobs: { ...ds.jobs, 'p.service': { id: 10, unit: 'p.service', type: 'start', state: 'waiting', ignoreOrder: false, irreversible: false }, 'q.service': { id: 11, unit: 'q.service', type: 'start', state: 'waiting', ignoreOrder: false, irreversible: false } }, nextJobId: 12 };
  const d = decide(ds, { t: 'graph-changed' }, g2, 0);
  assert.deepEqual(done([...d.effects]), ['q.service/start=canceled']);
  assert.ok(logs([...d.effects]).some((l) => /Job q\.service\/start canceled to break ordering cycle/.test(l)), logs([...d.effects]).join('\n'));
  assert.deepEqual(cmds([...d.effects]), []); // p still waits for x
});

test('a masked unit: Requires= on it fails the transaction ("Unit X is masked."), Wants= drops it; a queued start of it fails', () => {
  const n = new Mini({ 'web.service': { requires: ['db.service'] }, 'db.service': { masked: true }, 'soft.service': { wants: ['db.service'] } });
  const f = n.req('web.service');
  assert.deepEqual(f.find((x) => x.t === 'request-failed'), { t: 'request-failed', unit: 'web.service', type: 'start', code: 'EMASKED', error: 'Unit db.service is masked.' });
  assert.deepEqual(cmds(n.req('soft.service')), ['start soft.service']);
  assert.deepEqual(cmds(n.req('db.service', 'stop')), []);
  // a start job installed before the unit was masked fails when it runs, and fails what Requires= it
  const g = buildGraph({ 'web.service': deps({ defaultDependencies: false, requires: ['db.service'], after: ['db.service'] }), 'db.service': deps({ defaultDependencies: false, masked: true }) });
  const ds = { ...initialState(g), jobs: { 'db.service': { id: 1, unit: 'db.service', type: 'start' as const, state: 'waiting' as const, ignoreOrder: false, irreversible: false }, 'web.service': { id: 2, unit: 'web.service', type: 'start' as const, state: 'waiting' as const, ignoreOrder: false, irreversible: false } }, nextJobId: 3 };
  const d = decide(ds, { t: 'graph-changed' }, g, 0);
  assert.deepEqual(cmds([...d.effects]), []);
  assert.deepEqual(done([...d.effects]), ['db.service/start=failed', 'web.service/start=dependency']);
});

test('cancel: a job canceled through the engine fails the jobs that Requires= it and lets the ones only ordered after it run', () => {
  const n = new Mini({ 'web.service': { requires: ['db.service'], after: ['db.service'] }, 'soft.service': { wants: ['db.service'], after: ['db.service'] }, 'db.service': { after: ['x.service'] }, 'x.service': {} });
  n.req('x.service');
  n.req('web.service'); n.req('soft.service');
  const id = n.ds.jobs['db.service']!.id;
  const e = n.send({ t: 'cancel', id });
  assert.deepEqual(done(e), ['db.service/start=canceled', 'web.service/start=dependency']);
  assert.deepEqual(cmds(e), ['start soft.service']);
});

test('the start limit refusing a start of a failed unit (failed → failed, no state change) fails its start job', () => {
  const n = new Mini({ 'bad.service': {}, 'app.service': { requires: ['bad.service'], after: ['bad.service'] } }, { 'bad.service': 'failed' });
  assert.deepEqual(cmds(n.req('app.service')), ['start bad.service']);
  const ev = depsEventsFromEngine('bad.service', [
    { t: 'transition', transition: { t: 'start-limit-hit' } },
    { t: 'state-changed', from: 'failed', to: 'failed' } as never,
  ]);
  assert.deepEqual(ev, [{ t: 'start-refused', unit: 'bad.service', result: 'failed' }]);
  const e = n.send(ev[0]!);
  assert.deepEqual(done(e), ['bad.service/start=failed', 'app.service/start=dependency']);
  assert.deepEqual(n.ds.jobs, {});
});
