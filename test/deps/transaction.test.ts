// Transaction building (transaction.c) and the job algebra (job.c), without any engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActiveState } from '../../src/engine/states.ts';
import {
  buildGraph, buildTransaction, collapse, deps, merge, mergeAndCollapse, isRedundant, mustWait, doneMessage, depsFromSpec,
  type JobType, type UnitDeps, type Built,
} from '../../src/deps/index.ts';

function world(units: Record<string, Partial<UnitDeps>>, states: Record<string, ActiveState> = {}, installed: Record<string, JobType> = {}) {
  const graph = buildGraph(Object.fromEntries(Object.entries(units).map(([n, d]) => [n, deps(d)])));
  return {
    graph,
    state: (u: string): ActiveState => states[u] ?? (graph.units.get(u)?.target && u !== 'shutdown.target' ? 'active' : 'inactive'),
    installed: (u: string): JobType | undefined => installed[u],
  };
}
const jobs = (b: Built): Record<string, JobType> => {
  assert.ok(b.ok, b.ok ? '' : b.error);
  return Object.fromEntries(b.jobs.map((j) => [j.unit, j.type]));
};

test('a start pulls in Requires=/BindsTo=/Wants=/Upholds= as starts, Requisite= as verify-active, Conflicts= as stop; active targets drop out', () => {
  const w = world({
    'a.service': { requires: ['b.service'], bindsTo: ['c.service'], wants: ['d.service'], upholds: ['e.service'], requisite: ['f.service'], conflicts: ['g.service'], after: ['network-online.target'] },
    'b.service': {}, 'c.service': {}, 'd.service': {}, 'e.service': {}, 'f.service': {}, 'g.service': {},
  }, { 'g.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'replace')), {
    'a.service': 'start', 'b.service': 'start', 'c.service': 'start', 'd.service': 'start', 'e.service': 'start',
    'f.service': 'verify-active', 'g.service': 'stop',
  });
});

test('pulled-in jobs recurse, and units already in the wanted state are dropped as redundant', () => {
  const w = world({ 'a.service': { requires: ['b.service'] }, 'b.service': { wants: ['c.service'] }, 'c.service': {} }, { 'b.service': 'active' });
  // b is active: its start is redundant; c, pulled by b's start job, goes with it (garbage collected)
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'replace')), { 'a.service': 'start' });
});

test('Requires= on a missing unit fails the transaction: "Unit … not found."; Wants= on it is ignored', () => {
  const w = world({ 'a.service': { requires: ['nothere.service'] }, 'b.service': { wants: ['nothere.service'] } });
  const r = buildTransaction(w, 'start', 'a.service', 'replace');
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error, 'Unit nothere.service not found.');
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'b.service', 'replace')), { 'b.service': 'start' });
  // a start of something that Wants= the failing subtree survives; the subtree is left out
  const w2 = world({ 't.service': { wants: ['a.service', 'b.service'] }, 'a.service': { requires: ['nothere.service'] }, 'b.service': {} });
  assert.deepEqual(jobs(buildTransaction(w2, 'start', 't.service', 'replace')), { 't.service': 'start', 'b.service': 'start' });
  // stopping is fine on a unit that does not exist
  assert.ok(buildTransaction(w, 'stop', 'nothere.service', 'replace').ok);
});

test('stop propagates to the units that Requires=/BindsTo=/PartOf=/Requisite= the stopped one, not along Wants=', () => {
  const w = world({
    'db.service': {}, 'req.service': { requires: ['db.service'] }, 'bound.service': { bindsTo: ['db.service'] },
    'part.service': { partOf: ['db.service'] }, 'reqs.service': { requisite: ['db.service'] }, 'want.service': { wants: ['db.service'] },
  }, { 'db.service': 'active', 'req.service': 'active', 'bound.service': 'active', 'part.service': 'active', 'reqs.service': 'active', 'want.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(w, 'stop', 'db.service', 'replace')), {
    'db.service': 'stop', 'req.service': 'stop', 'bound.service': 'stop', 'part.service': 'stop', 'reqs.service': 'stop',
  });
});

test('restart propagates as try-restart: a restart for active dependents, nothing for inactive ones', () => {
  const w = world({ 'db.service': {}, 'up.service': { requires: ['db.service'] }, 'down.service': { partOf: ['db.service'] } },
    { 'db.service': 'active', 'up.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(w, 'restart', 'db.service', 'replace')), { 'db.service': 'restart', 'up.service': 'restart' });
  // an automatic restart (start with JOB_RESTART_DEPENDENCIES) does the same to its dependents
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'db.service', 'replace', { propagateStartAsRestart: true })), { 'db.service': 'start', 'up.service': 'restart' });
});

test('try-restart and reload-or-start collapse against the unit state; a restart of an inactive unit is a start', () => {
  const w = world({ 'a.service': { canReload: true } });
  const r = buildTransaction(w, 'try-restart', 'a.service', 'replace');
  assert.deepEqual(jobs(r), { 'a.service': 'nop' });
  assert.deepEqual(jobs(buildTransaction(w, 'reload-or-start', 'a.service', 'replace')), { 'a.service': 'start' });
  const wa = world({ 'a.service': { canReload: true } }, { 'a.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(wa, 'reload-or-start', 'a.service', 'replace')), { 'a.service': 'reload' });
  assert.deepEqual(jobs(buildTransaction(wa, 'try-restart', 'a.service', 'replace')), { 'a.service': 'restart' });
});

test('reload: not applicable without ExecReload=; PropagatesReloadTo= / ReloadPropagatedFrom= add try-reloads of active units', () => {
  const w = world({
    'main.service': { canReload: true, propagatesReloadTo: ['side.service', 'off.service'] },
    'side.service': { canReload: true }, 'off.service': { canReload: true }, 'pull.service': { canReload: true, reloadPropagatedFrom: ['main.service'] },
    'plain.service': {},
  }, { 'main.service': 'active', 'side.service': 'active', 'pull.service': 'active', 'plain.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(w, 'reload', 'main.service', 'replace')), { 'main.service': 'reload', 'side.service': 'reload', 'pull.service': 'reload' });
  const r = buildTransaction(w, 'reload', 'plain.service', 'replace');
  assert.equal(!r.ok && r.error, 'Job type reload is not applicable for unit plain.service.');
});

test('jobs of one unit merge; two that both matter and conflict fail the transaction', () => {
  // a Requires=b and Requisite=b: start + verify-active merge into start
  const w = world({ 'a.service': { requires: ['b.service'], requisite: ['b.service'] }, 'b.service': {} });
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'replace')), { 'a.service': 'start', 'b.service': 'start' });
  const bad = world({ 'a.service': { requires: ['b.service'], conflicts: ['b.service'] }, 'b.service': {} });
  const r = buildTransaction(bad, 'start', 'a.service', 'replace');
  // b's stop also propagates to a (RequiredBy=), so either unit may be the one reported
  assert.match(!r.ok ? r.error : '', /^Transaction contains conflicting jobs '(start|stop)' and '(start|stop)' for [ab]\.service\. Probably contradicting requirement dependencies configured\.$/);
  // when one side does not matter (Wants=), it is the one dropped
  const soft = world({ 'a.service': { wants: ['b.service'], conflicts: ['b.service'] }, 'b.service': {} }, { 'b.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(soft, 'start', 'a.service', 'replace')), { 'a.service': 'start', 'b.service': 'stop' });
});

test('mode fail: a transaction that contradicts an installed job is refused; jobs that don\'t matter and stop running units are dropped', () => {
  const w = world({ 'a.service': {} }, {}, { 'a.service': 'stop' });
  const r = buildTransaction(w, 'start', 'a.service', 'fail');
  assert.equal(!r.ok && r.error, "Transaction for a.service/start is destructive (a.service has 'stop' job queued, but 'start' is included in transaction).");
  assert.ok(buildTransaction(w, 'start', 'a.service', 'replace').ok);
  // old.service Conflicts=new.service: starting new pulls a stop of old that does not matter (ConflictedBy=)
  const c = world({ 'old.service': { conflicts: ['new.service'] }, 'new.service': {} }, { 'old.service': 'active' });
  assert.deepEqual(jobs(buildTransaction(c, 'start', 'new.service', 'replace')), { 'new.service': 'start', 'old.service': 'stop' });
  assert.deepEqual(jobs(buildTransaction(c, 'start', 'new.service', 'fail')), { 'new.service': 'start' });
});

test('ignore-dependencies and ignore-requirements pull in nothing', () => {
  const w = world({ 'a.service': { requires: ['b.service'] }, 'b.service': {} });
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'ignore-requirements')), { 'a.service': 'start' });
  const r = buildTransaction(w, 'start', 'a.service', 'ignore-dependencies');
  assert.ok(r.ok && r.jobs.every((j) => j.ignoreOrder));
});

test('DefaultDependencies=: services require sysinit.target and order after basic.target, which the node has active', () => {
  const w = world({ 'a.service': {}, 'b.service': { defaultDependencies: false } });
  assert.ok(w.graph.rels.get('a.service')?.get('requires')?.has('sysinit.target'));
  assert.ok(w.graph.rels.get('a.service')?.get('after')?.has('basic.target'));
  assert.equal(w.graph.rels.get('b.service'), undefined);
  assert.deepEqual(jobs(buildTransaction(w, 'start', 'a.service', 'replace')), { 'a.service': 'start' });
});

test('job algebra: merge table, collapse, redundancy, ordering, messages', () => {
  assert.equal(merge('start', 'verify-active'), 'start');
  assert.equal(merge('start', 'reload'), 'reload-or-start');
  assert.equal(merge('reload', 'restart'), 'restart');
  assert.equal(merge('verify-active', 'reload'), 'reload');
  assert.equal(merge('stop', 'start'), undefined);
  assert.equal(merge('nop', 'stop'), 'stop');
  assert.equal(mergeAndCollapse('start', 'reload', 'active'), 'reload');
  assert.equal(mergeAndCollapse('start', 'reload', 'inactive'), 'start');
  assert.equal(collapse('try-restart', 'deactivating'), 'nop');
  assert.equal(isRedundant('start', 'active'), true);
  assert.equal(isRedundant('start', 'activating'), false);
  assert.equal(isRedundant('stop', 'failed'), true);
  assert.equal(isRedundant('restart', 'activating'), true);
  // a start job waits for the jobs of the units it is After=; a stop job never waits for them,
  // and the unit before waits for the stop of the unit after it: stops run in reverse order
  assert.equal(mustWait('start', 'start', 'after'), true);
  assert.equal(mustWait('stop', 'stop', 'after'), false);
  assert.equal(mustWait('stop', 'stop', 'before'), true);
  assert.equal(mustWait('start', 'stop', 'before'), true);
  assert.equal(mustWait('start', 'start', 'before'), false);
  assert.equal(doneMessage('start', 'dependency', 'a.service'), 'Dependency failed for a.service.');
  assert.equal(doneMessage('verify-active', 'skipped', 'b.service'), 'b.service is inactive.');
  assert.equal(doneMessage('restart', 'done', 'b.service'), 'Stopped b.service.');
});

test('depsFromSpec reads the [Unit] dependency fields of a spec', () => {
  const d = depsFromSpec({ unit: { requires: ['db.service net'], after: ['db.service'], onFailureJobMode: 'fail', stopWhenUnneeded: true, defaultDependencies: false, jobTimeoutSec: '5s' }, service: { execStart: ['/bin/true'], execReload: ['/bin/true'] } });
  assert.deepEqual(d.requires, ['db.service', 'net.service']);
  assert.deepEqual(d.after, ['db.service']);
  assert.equal(d.onFailureJobMode, 'fail');
  assert.equal(d.stopWhenUnneeded, true);
  assert.equal(d.defaultDependencies, false);
  assert.equal(d.canReload, true);
  assert.equal(d.jobTimeoutUSec, 5_000_000);
  assert.equal(d.oneshot, false);
});
