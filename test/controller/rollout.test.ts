// The rollout planner (src/controller/rollout.ts) as a pure function, and the revision helpers
// (src/api/revision.ts): a simulated three-node rollout, one planner call per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRollout, resolveMaxUnavailable, revisionsToPrune, type RolloutInput, type RolloutNode } from '../../src/controller/rollout.ts';
import { chooseRevision, revisionHash, specAtRevision, revisionData } from '../../src/api/revision.ts';
import type { NodeStatus, RolloutStatus } from '../../src/api/types.ts';

const T0 = 'aaaaaaaaaa';
const T1 = 'bbbbbbbbbb';
const T2 = 'cccccccccc';
const NOW = Date.parse('2026-01-01T00:10:00Z');
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();
const active = (revision: string, sinceS = 60): NodeStatus => ({ node: '', activeState: 'active', subState: 'running', result: 'success', revision, activeEnterTimestamp: ago(sinceS) });
const failed = (revision: string): NodeStatus => ({ node: '', activeState: 'failed', subState: 'failed', result: 'exit-code', execMainStatus: 3, revision });
const node = (name: string, entry?: NodeStatus, alive = true, lostSinceMs?: number): RolloutNode => ({ node: name, alive, entry: entry ? { ...entry, node: name } : undefined, ...(lostSinceMs !== undefined ? { lostSinceMs } : {}) });
const grants = (...revs: string[]): RolloutStatus => ({ updatedRevision: revs[0], stableRevision: T0, nodes: revs.map((r, i) => ({ node: `n${i + 1}`, revision: r, time: ago(30) })) });
const input = (over: Partial<RolloutInput>): RolloutInput => ({ target: T1, nodes: [], previous: undefined, strategy: { minReadySeconds: 5 }, wantRunning: true, oneshot: false, nowMs: NOW, ...over });
const revs = (s: RolloutStatus): string[] => (s.nodes ?? []).map((g) => g.revision);

test('a new unit: every node is granted the current revision at once, and it is the stable revision', () => {
  const p = planRollout(input({ nodes: [node('n1'), node('n2'), node('n3')] }));
  assert.deepEqual(revs(p.status), [T1, T1, T1]);
  assert.equal(p.status.stableRevision, T1);
  assert.equal(p.halted, undefined);
});

test('a changed revision goes to one node at a time (maxUnavailable 1), in name order', () => {
  const nodes = [node('n1', active(T0)), node('n2', active(T0)), node('n3', active(T0))];
  const p = planRollout(input({ nodes, previous: grants(T0, T0, T0) }));
  assert.deepEqual(revs(p.status), [T1, T0, T0]);
  assert.deepEqual(p.granted, ['n1']);
  // n1 restarted 2 s ago with T1: not available until minReadySeconds 5 → nothing more, recheck in 3 s
  const p2 = planRollout(input({ nodes: [node('n1', active(T1, 2)), node('n2', active(T0)), node('n3', active(T0))], previous: p.status }));
  assert.deepEqual(revs(p2.status), [T1, T0, T0]);
  assert.equal(p2.recheckAfterMs, 3000);
  assert.match(p2.status.message!, /waiting for n1 \(active for less than minReadySeconds 5\)/);
  assert.equal(p2.upToDate, 1);
  // available: the next node
  const p3 = planRollout(input({ nodes: [node('n1', active(T1, 6)), node('n2', active(T0)), node('n3', active(T0))], previous: p2.status }));
  assert.deepEqual(revs(p3.status), [T1, T1, T0]);
  assert.equal(p3.status.stableRevision, T0, 'not yet granted to all');
  const p4 = planRollout(input({ nodes: [node('n1', active(T1, 20)), node('n2', active(T1, 6)), node('n3', active(T0))], previous: p3.status }));
  assert.deepEqual(revs(p4.status), [T1, T1, T1]);
  assert.equal(p4.status.stableRevision, T1);
  const p5 = planRollout(input({ nodes: [node('n1', active(T1, 20)), node('n2', active(T1, 20)), node('n3', active(T1, 6))], previous: p4.status }));
  assert.equal(p5.complete, true);
  assert.equal(p5.status.updatedNodes, 3);
  assert.equal(p5.recheckAfterMs, undefined);
});

test('maxUnavailable 100% (or 3) grants every node at once; percentages round up', () => {
  const nodes = [node('n1', active(T0)), node('n2', active(T0)), node('n3', active(T0))];
  assert.deepEqual(revs(planRollout(input({ nodes, previous: grants(T0, T0, T0), strategy: { maxUnavailable: '100%' } })).status), [T1, T1, T1]);
  assert.deepEqual(revs(planRollout(input({ nodes, previous: grants(T0, T0, T0), strategy: { maxUnavailable: '34%' } })).status), [T1, T1, T0]);
  assert.equal(resolveMaxUnavailable('10%', 3), 1);
  assert.equal(resolveMaxUnavailable(0, 3), 1);
  assert.equal(resolveMaxUnavailable(undefined, 200), 1);
});

test('a node that fails the new revision halts the rollout, naming the node and the Result; the others keep theirs', () => {
  const p = planRollout(input({ nodes: [node('n1', failed(T1)), node('n2', active(T0)), node('n3', active(T0))], previous: grants(T1, T0, T0) }));
  assert.deepEqual(revs(p.status), [T1, T0, T0]);
  assert.equal(p.halted?.node, 'n1');
  assert.equal(p.halted?.result, 'exit-code');
  assert.match(p.halted!.message, /n1: revision bbbbbbbbbb failed with result 'exit-code' \(ExecMainStatus 3\)/);
  assert.equal(p.status.halted?.node, 'n1');
  // even with room for every node, nothing more is granted
  assert.deepEqual(revs(planRollout(input({ nodes: [node('n1', failed(T1)), node('n2', active(T0)), node('n3', active(T0))], previous: grants(T1, T0, T0), strategy: { maxUnavailable: '100%' } })).status), [T1, T0, T0]);
});

test('a new unit that fails, or a failure once every node has the revision, is no halted rollout (nothing left to hold back)', () => {
  const fresh = planRollout(input({ nodes: [node('n1', failed(T1))] }));
  assert.equal(fresh.halted, undefined);
  const again = planRollout(input({ nodes: [node('n1', failed(T1)), node('n2', active(T1))], previous: { ...grants(T1, T1), stableRevision: T1 } }));
  assert.equal(again.halted, undefined);
});

test('a node not available within the progress deadline halts the rollout', () => {
  const prev: RolloutStatus = { ...grants(T1, T0, T0), nodes: [{ node: 'n1', revision: T1, time: ago(601) }, { node: 'n2', revision: T0, time: ago(700) }, { node: 'n3', revision: T0, time: ago(700) }] };
  const p = planRollout(input({ nodes: [node('n1', { node: 'n1', activeState: 'activating', subState: 'auto-restart', revision: T1 }), node('n2', active(T0)), node('n3', active(T0))], previous: prev }));
  assert.equal(p.halted?.node, 'n1');
  assert.match(p.halted!.message, /not available within progressDeadlineSeconds 600 \(activating \(auto-restart\)\)/);
});

test('the halt is recomputed each pass: it lifts once the failed node has the revision active minReadySeconds again, not before', () => {
  const halted = planRollout(input({ nodes: [node('n1', failed(T1)), node('n2', active(T0)), node('n3', active(T0))], previous: grants(T1, T0, T0) }));
  assert.equal(halted.halted?.node, 'n1');
  // someone fixed the host and started the unit: active, not yet minReadySeconds: no halt, but nothing more granted
  const starting = planRollout(input({ nodes: [node('n1', active(T1, 2)), node('n2', active(T0)), node('n3', active(T0))], previous: halted.status }));
  assert.equal(starting.halted, undefined);
  assert.deepEqual(revs(starting.status), [T1, T0, T0], 'nothing more granted while n1 is not available');
  const back = planRollout(input({ nodes: [node('n1', active(T1, 6)), node('n2', active(T0)), node('n3', active(T0))], previous: starting.status }));
  assert.equal(back.halted, undefined);
  assert.equal(back.status.halted, undefined);
  assert.deepEqual(revs(back.status), [T1, T1, T0], 'the next node is granted');
  // a halt for the deadline lifts the same way: the slow node made it
  const late: RolloutStatus = { ...grants(T1, T0, T0), nodes: [{ node: 'n1', revision: T1, time: ago(700) }, { node: 'n2', revision: T0, time: ago(700) }, { node: 'n3', revision: T0, time: ago(700) }] };
  assert.equal(planRollout(input({ nodes: [node('n1', { node: 'n1', activeState: 'activating', revision: T1 }), node('n2', active(T0)), node('n3', active(T0))], previous: late })).halted?.node, 'n1');
  assert.deepEqual(revs(planRollout(input({ nodes: [node('n1', active(T1, 6)), node('n2', active(T0)), node('n3', active(T0))], previous: late })).status), [T1, T1, T0]);
});

test('a revision whose ControllerRevision conflicts is granted to no node, whatever the budget, and says why', () => {
  const nodes = [node('n1', active(T0)), node('n2', active(T0)), node('n3', failed(T0))];
  const p = planRollout(input({ nodes, previous: grants(T0, T0, T0), strategy: { maxUnavailable: '100%' }, blocked: 'ControllerRevision ns/web-bbbbbbbbbb holds data of revision cccccccccc, not bbbbbbbbbb' }));
  assert.deepEqual(revs(p.status), [T0, T0, T0]);
  assert.deepEqual(p.granted, []);
  assert.match(p.status.message!, /^blocked: ControllerRevision ns\/web-bbbbbbbbbb holds data/);
  assert.equal(p.blocked, 'ControllerRevision ns/web-bbbbbbbbbb holds data of revision cccccccccc, not bbbbbbbbbb');
  assert.deepEqual(revs(planRollout(input({ nodes, previous: grants(T0, T0, T0), strategy: { maxUnavailable: '100%' } })).status), [T1, T1, T1], 'without the conflict, all at once');
});

test('a fixed spec resumes from the failed node; a revert restores it and touches no other node', () => {
  const nodes = [node('n1', failed(T1)), node('n2', active(T0)), node('n3', active(T0))];
  const fixed = planRollout(input({ target: T2, nodes, previous: grants(T1, T0, T0) }));
  assert.deepEqual(revs(fixed.status), [T2, T0, T0], 'the failed node first, at no cost; the budget is then spent');
  assert.equal(fixed.halted, undefined);
  const reverted = planRollout(input({ target: T0, nodes, previous: grants(T1, T0, T0) }));
  assert.deepEqual(revs(reverted.status), [T0, T0, T0]);
  assert.deepEqual(reverted.granted, ['n1']);
  assert.equal(reverted.status.stableRevision, T0);
});

test('a node whose agent is gone counts as unavailable, then stops blocking after the progress deadline', () => {
  const lostRecently = [node('n1', active(T0)), node('n2', active(T0)), node('n3', active(T0), false, NOW - 10_000)];
  const p = planRollout(input({ nodes: lostRecently, previous: grants(T0, T0, T0) }));
  assert.deepEqual(revs(p.status), [T0, T0, T1], 'the lost node is granted (it takes it when back) but fills the budget');
  assert.match(p.status.message!, /n3 \(its agent's lease expired\)/);
  assert.equal(p.recheckAfterMs, 590_000);
  const lostLong = [node('n1', active(T0)), node('n2', active(T0)), node('n3', active(T0), false, NOW - 601_000)];
  const q = planRollout(input({ nodes: lostLong, previous: grants(T0, T0, T0) }));
  assert.deepEqual(revs(q.status), [T1, T0, T1]);
  assert.match(q.status.message!, /not waited for/);
  const r = planRollout(input({ nodes: [node('n1', active(T1)), node('n2', active(T1)), node('n3', active(T0), false, NOW - 601_000)], previous: grants(T1, T1, T1) }));
  assert.equal(r.complete, true);
  assert.match(r.status.message!, /on 2\/3 node\(s\); not waited for: n3 \(its agent's lease expired\)/);
});

test('a node added mid-rollout is granted the revision last granted to all, then updated in turn', () => {
  const prev = grants(T1, T0, T0);
  const p = planRollout(input({ nodes: [node('n1', active(T1, 2)), node('n2', active(T0)), node('n3', active(T0)), node('n4')], previous: prev }));
  assert.deepEqual(revs(p.status), [T1, T0, T0, T0]);
  assert.equal(chooseRevision(T1, p.status, 'n4', undefined).t, 'revision');
});

test('a oneshot that ended with success is available: it is granted in turn, not at once', () => {
  const done = (r: string): NodeStatus => ({ node: '', activeState: 'inactive', subState: 'dead', result: 'success', revision: r });
  const p = planRollout(input({ nodes: [node('n1', done(T0)), node('n2', done(T0))], previous: grants(T0, T0), oneshot: true }));
  assert.deepEqual(revs(p.status), [T1, T0]);
});

test('paused: nothing is granted; a stopped unit takes the new revision everywhere at once', () => {
  const nodes = [node('n1', active(T0)), node('n2', active(T0))];
  const p = planRollout(input({ nodes, previous: grants(T0, T0), strategy: { paused: true } }));
  assert.deepEqual(revs(p.status), [T0, T0]);
  assert.match(p.status.message!, /paused/);
  const s = planRollout(input({ nodes: [node('n1', { node: 'n1', activeState: 'inactive', revision: T0 }), node('n2', { node: 'n2', activeState: 'inactive', revision: T0 })], previous: grants(T0, T0), wantRunning: false }));
  assert.deepEqual(revs(s.status), [T1, T1]);
});

test('a description or documentation change is not a new revision; ExecStart=, a limit or unitName are', () => {
  const base = { nodeSelector: { a: 'b' }, unit: { description: 'v1', after: ['x.service'] }, service: { execStart: ['/bin/sleep 1'] } };
  const h = revisionHash(base);
  assert.equal(revisionHash({ ...base, unit: { ...base.unit, description: 'v2', documentation: ['man:x'] } }), h);
  assert.equal(revisionHash({ ...base, state: 'stopped', nodeSelector: { c: 'd' }, minReadySeconds: 3, paused: true }), h);
  assert.equal(revisionHash({ service: base.service, unit: { after: ['x.service'], description: 'z' }, nodeName: 'n' }), h, 'key order and placement do not count');
  assert.notEqual(revisionHash({ ...base, service: { execStart: ['/bin/sleep 2'] } }), h);
  assert.notEqual(revisionHash({ ...base, service: { ...base.service, memoryMax: '1G' } }), h);
  assert.notEqual(revisionHash({ ...base, unitName: 'other.service' }), h);
});

test('an agent runs its grant; without one it keeps what it runs; a node that never ran the unit takes the stable revision', () => {
  const st: RolloutStatus = { updatedRevision: T1, stableRevision: T0, nodes: [{ node: 'n1', revision: T1, time: ago(1) }, { node: 'n2', revision: T0, time: ago(1) }] };
  assert.deepEqual(chooseRevision(T1, undefined, 'n1', T0), { t: 'current' }, 'no rollout status (no controller yet): as before');
  assert.deepEqual(chooseRevision(T1, st, 'n1', T0), { t: 'current' });
  assert.deepEqual(chooseRevision(T1, st, 'n2', T0), { t: 'keep' });
  assert.deepEqual(chooseRevision(T1, st, 'n2', undefined), { t: 'revision', hash: T0 });
  assert.deepEqual(chooseRevision(T1, st, 'n3', T2), { t: 'keep' });
  assert.deepEqual(chooseRevision(T1, st, 'n3', undefined), { t: 'revision', hash: T0 });
  const cur = { nodeName: 'n', state: 'stopped' as const, minReadySeconds: 4, unit: { description: 'new words', after: ['b.service'] }, service: { execStart: ['/bin/new'] } };
  const old = revisionData({ unit: { description: 'old', after: ['a.service'] }, service: { execStart: ['/bin/old'] } });
  assert.deepEqual(specAtRevision(cur, old), { nodeName: 'n', state: 'stopped', unit: { after: ['a.service'], description: 'new words' }, service: { execStart: ['/bin/old'] } });
});

test('revision history: the oldest revisions beyond the limit go, never one a node is granted or the current one', () => {
  const list = Array.from({ length: 12 }, (_, i) => ({ name: `web-h${i}`, hash: `h${i}`, revision: i + 1 }));
  assert.deepEqual(revisionsToPrune(list, new Set(['h11'])), ['web-h0', 'web-h1']);
  assert.deepEqual(revisionsToPrune(list, new Set(['h11', 'h0'])), ['web-h1', 'web-h2'], 'a granted old revision stays');
  assert.deepEqual(revisionsToPrune(list.slice(0, 10), new Set()), []);
});
