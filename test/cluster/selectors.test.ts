// What a node's agent watches, on the real API server: only the units pinned to its node
// (fieldSelector spec.nodeName=NODE) and those placed by nodeSelector (spec.nodeName=), never
// the units pinned to other nodes; a unit re-pinned onto or away from the node enters or leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '../../src/kube/client.ts';
import { Informer } from '../../src/kube/informer.ts';
import { agentUnitSelectors, FIELD_NOT_SELECTABLE } from '../../src/api/contract.ts';
import { clusterState, ensureCrd, kubectl, kubectlOk, testNamespace } from '../support/cluster.ts';
import { until } from '../support/wait.ts';
import { manifestYaml } from '../support/builders.ts';

test('an agent\'s two watches hold exactly its own pinned units and the nodeSelector ones; re-pinning moves a unit in and out', async (t) => {
  ensureCrd();
  const ns = testNamespace(t, 'sel');
  const su = (name: string, place: Record<string, unknown>): string => manifestYaml(name, ns, { ...place, service: { execStart: ['/bin/sleep 1'] } });
  kubectlOk(['apply', '-f', '-'], [su('mine', { nodeName: 'node-a' }), su('theirs', { nodeName: 'node-b' }), su('web', { nodeSelector: { role: 'web' } }), su('anywhere', {})].join('---\n'));
  const client = KubeClient.load(clusterState().kubeconfig);
  const sel = agentUnitSelectors('node-a');
  const seen: string[] = [];
  const watch = (name: string, fieldSelector: string): Informer => new Informer(client, {
    path: `/apis/unit-operator.dev/v1alpha1/namespaces/${ns}/serviceunits`, query: { fieldSelector },
    onEvent: (type, o) => seen.push(`${name} ${type} ${o.metadata.name}`),
  });
  const pinned = watch('pinned', sel.pinned);
  const placed = watch('placed', sel.placed);
  pinned.start();
  placed.start();
  t.after(async () => { await Promise.all([pinned.stop(), placed.stop()]); });
  await until('both watches synced', () => pinned.synced && placed.synced);
  const names = (i: Informer): string[] => [...i.cache.values()].map((o) => o.metadata.name!).sort();
  assert.deepEqual(names(pinned), ['mine']);
  assert.deepEqual(names(placed), ['anywhere', 'web'], 'units without nodeName: nodeSelector ones, and the ones every node runs');

  kubectlOk(['patch', 'su', 'theirs', '-n', ns, '--type=merge', '-p', '{"spec":{"nodeName":"node-a"}}']);
  kubectlOk(['patch', 'su', 'mine', '-n', ns, '--type=merge', '-p', '{"spec":{"nodeName":"node-b"}}']);
  kubectlOk(['patch', 'su', 'web', '-n', ns, '--type=merge', '-p', '{"spec":{"nodeSelector":null,"nodeName":"node-a"}}']);
  await until('the watches followed the re-pinning', () => names(pinned).join() === 'theirs,web' && names(placed).join() === 'anywhere');
  for (const e of ['pinned ADDED theirs', 'pinned DELETED mine', 'placed DELETED web', 'pinned ADDED web']) assert.ok(seen.includes(e), `${e} in ${JSON.stringify(seen)}`);
  assert.ok(!seen.some((e) => / theirs$/.test(e) && e.startsWith('placed')), 'a unit pinned elsewhere never reached the agent before it was pinned here');
});

test('a field the CRD does not declare selectable is refused with the message the agent adds its hint to', () => {
  ensureCrd();
  const r = kubectl(['get', 'su', '-A', '--field-selector', 'spec.unitName=x']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, FIELD_NOT_SELECTABLE);
});
