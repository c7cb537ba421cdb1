// kubectl unit rollout status (its reading of a ServiceUnit, pure) and the rollout lines of
// kubectl unit status (issue 18).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolloutState } from '../../src/cli/plugin-rollout.ts';
import { clusterStatusView } from '../../src/cli/clusterstatus.ts';
import { revisionHash } from '../../src/api/revision.ts';
import type { Condition, ServiceUnit } from '../../src/api/types.ts';

const spec = { nodeSelector: { a: 'b' }, service: { execStart: ['/bin/sleep 1'] } };
const T = revisionHash(spec);
const su = (status: ServiceUnit['status'], extra: Partial<ServiceUnit['spec']> = {}): ServiceUnit => ({ apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'web', namespace: 'ns', generation: 4 }, spec: { ...spec, ...extra }, status });
const grants = [{ node: 'n1', revision: T, time: '2026-01-01T00:00:00Z' }, { node: 'n2', revision: 'aaaaaaaaaa', time: '2026-01-01T00:00:00Z' }];

test('rollout status waits for the controller to observe the generation and the revision', () => {
  assert.match(rolloutState(su({ observedGeneration: 3, rollout: { updatedRevision: T, nodes: grants } })).line, /Waiting for the controller to observe generation 4/);
  assert.match(rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: 'aaaaaaaaaa', nodes: grants } })).line, /Waiting for the controller/);
});

test('rollout status: in progress, paused, halted, done', () => {
  const going = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, updatedNodes: 1, message: 'waiting for n2' }, conditions: [{ type: 'Ready', status: 'False' }] }));
  assert.deepEqual([going.done, going.halted], [false, false]);
  assert.match(going.line, /rollout to finish: 1 of 2 node\(s\) updated \(waiting for n2\)/);
  const paused = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, updatedNodes: 1 } }, { paused: true }));
  assert.equal(paused.paused, true);
  const halted = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, halted: { node: 'n1', revision: T, result: 'exit-code', message: "n1: revision x failed with result 'exit-code'" } } }));
  assert.equal(halted.halted, true);
  assert.match(halted.line, /halted: n1: .*exit-code/);
  const done = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, updatedNodes: 2 }, conditions: [{ type: 'Ready', status: 'True', observedGeneration: 4 }] }));
  assert.equal(done.done, true);
  assert.match(done.line, /successfully rolled out \(revision \w+ on 2 node\(s\)\)/);
});

test('rollout status ends on a RevisionConflict, which blocks the rollout before the revision is observed', () => {
  const blocked = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: 'aaaaaaaaaa', nodes: grants }, conditions: [{ type: 'Stalled', status: 'True', reason: 'RevisionConflict', message: 'ControllerRevision ns/web-x holds other data: delete it (or change the spec)' }] }));
  assert.deepEqual([blocked.done, blocked.halted], [false, true]);
  assert.match(blocked.line, /blocked: ControllerRevision ns\/web-x holds other data/);
  // an older generation's conflict is not this one's
  assert.match(rolloutState(su({ observedGeneration: 3, rollout: { updatedRevision: T, nodes: grants }, conditions: [{ type: 'Stalled', status: 'True', reason: 'RevisionConflict' }] })).line, /Waiting for the controller to observe generation 4/);
});

test('rollout status: a node still failed on the old revision right after a fix is waited for; failed on the new one is an error', () => {
  const stalled: Condition[] = [{ type: 'Stalled', status: 'True', reason: 'exit-code', message: "n1: failed with result 'exit-code' after 0 restart(s)" }, { type: 'Ready', status: 'False' }];
  const fixing = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, updatedNodes: 0 }, conditions: stalled, nodes: [{ node: 'n1', activeState: 'failed', subState: 'failed', revision: 'bbbbbbbbbb' }] }));
  assert.deepEqual([fixing.done, fixing.halted], [false, false]);
  assert.match(fixing.line, /Waiting for serviceunit "web" rollout to finish/);
  const failed = rolloutState(su({ observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, updatedNodes: 0 }, conditions: stalled, nodes: [{ node: 'n1', activeState: 'failed', subState: 'failed', revision: T }] }));
  assert.equal(failed.halted, true);
  assert.match(failed.line, /is stalled: n1: failed/);
});

test('kubectl unit status shows the rollout and each node not yet on the current revision', () => {
  const view = clusterStatusView(su({
    observedGeneration: 4, rollout: { updatedRevision: T, nodes: grants, message: `rolling out revision ${T}: 1/2 node(s) updated` }, summary: { nodes: '2/2', upToDate: '1/2', nRestarts: 0 },
    nodes: [{ node: 'n1', activeState: 'active', subState: 'running', revision: T }, { node: 'n2', activeState: 'active', subState: 'running', revision: 'aaaaaaaaaa' }],
  }), { color: false }, Date.parse('2026-01-01T00:00:00Z'));
  assert.match(view, new RegExp(`      Rollout: rolling out revision ${T}: 1/2 node\\(s\\) updated\n      Summary: 2/2 nodes active, 1/2 up to date, 0 restarts`));
  assert.match(view, new RegExp(`node n2\n(.*\n)*     Revision: aaaaaaaaaa, not yet ${T} \\(not granted yet\\)`));
  assert.doesNotMatch(view.split('node n2')[0]!, /Revision:/);
});
