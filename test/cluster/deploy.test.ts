// The install base against the real API server: a server-side dry run of `kubectl apply -k`,
// the agent's and controller's permissions (auth can-i), and the node-restriction policy with
// real service-account tokens bound to Pods on two nodes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ensureCrd, kubectl, kubectlOk, clusterState } from '../support/cluster.ts';
import { SYSTEM_NS } from '../support/clusterprocs.ts';
import { KubeClient, ApiError } from '../../src/kube/client.ts';
import { REPO } from '../support/paths.ts';
import { manifestYaml } from '../support/builders.ts';
import { AGENT_FIELD_MANAGER, AGENT_LEASE, SU_PATH } from '../../src/api/contract.ts';
import { LEASES_PATH } from '../../src/kube/lease.ts';

const AGENT = `system:serviceaccount:${SYSTEM_NS}:unit-operator-agent`;
const CONTROLLER = `system:serviceaccount:${SYSTEM_NS}:unit-operator-controller`;
const TEAM = 'team-a';
const EDITOR = 'alice';
const VIEWER = 'bob';
const NODE_ADMIN = 'carol';

before(() => {
  ensureCrd();
  if (kubectl(['get', 'ns', SYSTEM_NS]).status !== 0) kubectlOk(['create', 'ns', SYSTEM_NS]);
  kubectlOk(['apply', '-f', join(REPO, 'manifests', 'rbac'), '-f', join(REPO, 'manifests', 'policy')]);
  // people: bound the way manifests/rbac/users.yaml says to bind them
  for (const ns of [TEAM, 'team-b']) if (kubectl(['get', 'ns', ns]).status !== 0) kubectlOk(['create', 'ns', ns]);
  const bind = (ns: string, name: string, ref: string[], user: string): void => { if (kubectl(['get', 'rolebinding', name, '-n', ns]).status !== 0) kubectlOk(['create', 'rolebinding', name, '-n', ns, ...ref, `--user=${user}`]); };
  bind(TEAM, 'units', ['--clusterrole=unit-operator-editor'], EDITOR);
  bind(TEAM, 'units-view', ['--clusterrole=unit-operator-viewer'], VIEWER);
  bind(SYSTEM_NS, 'unit-logs', ['--role=unit-operator-log-reader'], NODE_ADMIN);
});

test('kubectl apply --dry-run=server -k manifests/ is accepted, and applying the RBAC and policy twice changes nothing', () => {
  const r = kubectl(['apply', '--dry-run=server', '-k', join(REPO, 'manifests')]);
  assert.equal(r.status, 0, r.stderr);
  for (const k of ['customresourcedefinition.apiextensions.k8s.io/serviceunits.unit-operator.dev', 'deployment.apps/unit-operator-controller', 'daemonset.apps/unit-operator-agent', 'validatingadmissionpolicy.admissionregistration.k8s.io/unit-operator-agent-node-restriction', 'service/unit-operator-metrics']) {
    assert.match(r.stdout, new RegExp(`${k.replace(/\./g, '\\.')} (created|configured|unchanged) \\(server dry run\\)`));
  }
  // "changes nothing": no object's resourceVersion moves when the same manifests are applied again
  const files = ['-f', join(REPO, 'manifests', 'rbac'), '-f', join(REPO, 'manifests', 'policy')];
  const versions = (): string => kubectlOk(['get', ...files, '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}']);
  const v1 = versions();
  kubectlOk(['apply', ...files]);
  assert.equal(versions(), v1, 'a second kubectl apply changed an object');
  const rendered = kubectlOk(['kustomize', join(REPO, 'manifests')]);
  assert.equal((rendered.match(/image: ghcr\.io\/unit-operator\/unit-operator:v0\.1\.0/g) ?? []).length, 2, 'the image is set in one place for both workloads');
});

test('the GitOps example: kubectl apply --dry-run=server -k examples/gitops/clusters/production is accepted, units placed per node group', () => {
  // a server-side dry run creates nothing, so the namespace the kustomization also creates must exist
  if (kubectl(['get', 'ns', 'production']).status !== 0) kubectlOk(['create', 'ns', 'production']);
  const r = kubectl(['apply', '--dry-run=server', '-k', join(REPO, 'examples', 'gitops', 'clusters', 'production')]);
  assert.equal(r.status, 0, r.stderr);
  for (const name of ['web-frontend-web', 'log-shipper-web', 'db-backup-db', 'log-shipper-db']) assert.match(r.stdout, new RegExp(`serviceunit\\.unit-operator\\.dev/${name} created \\(server dry run\\)`));
  const rendered = kubectlOk(['kustomize', join(REPO, 'examples', 'gitops', 'clusters', 'production')]);
  assert.equal((rendered.match(/node-group\.example\.com\/web: "true"/g) ?? []).length, 2);
  assert.equal((rendered.match(/node-group\.example\.com\/db: "true"/g) ?? []).length, 2);
});

test('the workloads probe /healthz and /readyz on the metrics port, and the metrics Service selects both', () => {
  const objs = kubectlOk(['kustomize', join(REPO, 'manifests')]).split(/^---$/m).map((d) => d.trim()).filter(Boolean);
  for (const kind of ['Deployment', 'DaemonSet']) {
    const doc = objs.find((d) => new RegExp(`^kind: ${kind}$`, 'm').test(d))!;
    assert.match(doc, /livenessProbe:\s+failureThreshold: 3\s+httpGet:\s+path: \/healthz\s+port: metrics/, kind);
    assert.match(doc, /readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: metrics/, kind);
    assert.match(doc, /- --metrics-bind-address\s+- :8080/, kind);
    assert.match(doc, /app\.kubernetes\.io\/part-of: unit-operator/, kind);
  }
});

const table: Array<[string, string, string[], boolean]> = [
  [AGENT, 'get', ['serviceunits.unit-operator.dev', '-A'], true],
  [AGENT, 'watch', ['serviceunits.unit-operator.dev', '-A'], true],
  [AGENT, 'patch', ['serviceunits.unit-operator.dev', '--subresource=status', '-n', 'default'], true],
  [AGENT, 'patch', ['serviceunits.unit-operator.dev', '-n', 'default'], false],
  [AGENT, 'update', ['serviceunits.unit-operator.dev', '-n', 'default'], false],
  [AGENT, 'delete', ['serviceunits.unit-operator.dev', '-n', 'default'], false],
  [AGENT, 'create', ['serviceunits.unit-operator.dev', '-n', 'default'], false],
  [AGENT, 'list', ['nodes'], true],
  [AGENT, 'patch', ['nodes'], false],
  [AGENT, 'create', ['events', '-n', 'default'], true],
  [AGENT, 'update', ['leases.coordination.k8s.io', '-n', SYSTEM_NS], true],
  [AGENT, 'update', ['leases.coordination.k8s.io', '-n', 'kube-system'], false],
  [AGENT, 'get', ['secrets', '-n', SYSTEM_NS], false],
  [AGENT, 'create', ['pods', '-n', 'default'], false],
  [AGENT, 'get', ['controllerrevisions.apps', '-n', 'default'], true],
  [AGENT, 'create', ['controllerrevisions.apps', '-n', 'default'], false],
  [CONTROLLER, 'create', ['controllerrevisions.apps', '-n', 'default'], true],
  [CONTROLLER, 'delete', ['controllerrevisions.apps', '-n', 'default'], true],
  [CONTROLLER, 'update', ['controllerrevisions.apps', '-n', 'default'], false],
  [CONTROLLER, 'patch', ['serviceunits.unit-operator.dev', '-n', 'default'], true],
  [CONTROLLER, 'patch', ['serviceunits.unit-operator.dev', '--subresource=status', '-n', 'default'], true],
  [CONTROLLER, 'delete', ['serviceunits.unit-operator.dev', '-n', 'default'], false],
  [CONTROLLER, 'list', ['leases.coordination.k8s.io', '-n', SYSTEM_NS], true],
  [CONTROLLER, 'update', ['leases.coordination.k8s.io', '-n', 'default'], false],
  [CONTROLLER, 'get', ['secrets', '-n', SYSTEM_NS], false],
  [CONTROLLER, 'patch', ['nodes'], false],
  [EDITOR, 'create', ['serviceunits.unit-operator.dev', '-n', TEAM], true],
  [EDITOR, 'patch', ['serviceunits.unit-operator.dev', '-n', TEAM], true],
  [EDITOR, 'delete', ['serviceunits.unit-operator.dev', '-n', TEAM], true],
  [EDITOR, 'patch', ['serviceunits.unit-operator.dev', '--subresource=status', '-n', TEAM], false],
  [EDITOR, 'create', ['serviceunits.unit-operator.dev', '-n', 'team-b'], false],
  [EDITOR, 'create', ['pods', '--subresource=exec', '-n', SYSTEM_NS], false],
  [VIEWER, 'list', ['serviceunits.unit-operator.dev', '-n', TEAM], true],
  [VIEWER, 'create', ['serviceunits.unit-operator.dev', '-n', TEAM], false],
  [VIEWER, 'patch', ['serviceunits.unit-operator.dev', '-n', TEAM], false],
  [NODE_ADMIN, 'create', ['pods', '--subresource=exec', '-n', SYSTEM_NS], true],
  [NODE_ADMIN, 'list', ['pods', '-n', SYSTEM_NS], true],
  [NODE_ADMIN, 'create', ['pods', '--subresource=exec', '-n', 'default'], false],
  [NODE_ADMIN, 'create', ['serviceunits.unit-operator.dev', '-n', TEAM], false],
];
test('reading ServiceUnits joins the built-in view role by aggregation; editing them (root on nodes) is never aggregated', () => {
  const labels = (role: string): Record<string, string> => (JSON.parse(kubectlOk(['get', 'clusterrole', role, '-o', 'json'])) as { metadata: { labels?: Record<string, string> } }).metadata.labels ?? {};
  assert.equal(labels('unit-operator-viewer')['rbac.authorization.k8s.io/aggregate-to-view'], 'true');
  assert.deepEqual(Object.keys(labels('unit-operator-editor')).filter((k) => k.includes('aggregate')), []);
});

for (const [who, verb, args, allowed] of table) {
  test(`${who.split(':').pop()} ${allowed ? 'may' : 'may not'} ${verb} ${args.join(' ')}`, () => {
    const r = kubectl(['auth', 'can-i', verb, ...args, `--as=${who}`]);
    assert.equal(r.stdout.trim(), allowed ? 'yes' : 'no', r.stderr);
  });
}

test('the node-restriction policy: a token bound to a Pod on node A writes A\'s entry and is refused on B\'s, saying why', async () => {
  for (const n of ['vap-node-a', 'vap-node-b']) kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } }));
  const token = (pod: string, node: string): string => {
    kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace: SYSTEM_NS }, spec: { nodeName: node, serviceAccountName: 'unit-operator-agent', automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'unit-operator' }] } }));
    return kubectlOk(['create', 'token', 'unit-operator-agent', '-n', SYSTEM_NS, '--bound-object-kind', 'Pod', '--bound-object-name', pod, '--duration', '10m']).trim();
  };
  const asToken = (t: string): KubeClient => {
    const s = clusterState();
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: s.server, caFile: s.caCert }], users: [{ name: 'agent', token: t }], contexts: [{ name: 'c', cluster: 'c', user: 'agent' }], currentContext: 'c' });
    return new KubeClient(kc);
  };
  kubectlOk(['apply', '-f', '-'], manifestYaml('vap', 'default', { nodeSelector: { any: 'x' }, service: { execStart: ['/bin/true'] } }));
  const a = asToken(token('agent-a', 'vap-node-a'));
  const b = asToken(token('agent-b', 'vap-node-b'));
  const path = `${SU_PATH('default', 'vap')}/status`;
  const body = (node: string, state: string): unknown => ({ apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'vap', namespace: 'default' }, status: { nodes: [{ node, activeState: state }] } });
  await a.apply(path, body('vap-node-a', 'active'), AGENT_FIELD_MANAGER('vap-node-a'));
  await b.apply(path, body('vap-node-b', 'active'), AGENT_FIELD_MANAGER('vap-node-b'));
  const err = await a.apply(path, body('vap-node-b', 'failed'), AGENT_FIELD_MANAGER('vap-node-a')).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ApiError, 'node A\'s agent was refused on node B\'s entry');
  assert.equal(err.status, 403);
  assert.match(err.message, /the unit-operator agent on node vap-node-a may only write its own status\.nodes entry/);
  const su = JSON.parse(kubectlOk(['get', 'su', 'vap', '-n', 'default', '-o', 'json'])) as { status: { nodes: Array<{ node: string; activeState: string }> } };
  assert.deepEqual(su.status.nodes.map((n) => [n.node, n.activeState]).sort(), [['vap-node-a', 'active'], ['vap-node-b', 'active']]);
  // issue 18: the grants live in status.rollout, which only the controller writes
  const grant = { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'vap', namespace: 'default' }, status: { rollout: { nodes: [{ node: 'vap-node-a', revision: 'ffffffffff', time: new Date().toISOString() }] } } };
  const err3 = await a.apply(path, grant, AGENT_FIELD_MANAGER('vap-node-a')).then(() => undefined, (e: unknown) => e);
  assert.ok(err3 instanceof ApiError && err3.status === 403, `node A's agent granted itself a revision: ${String(err3)}`);
  assert.match(err3.message, /may not change status\.rollout/);
  kubectlOk(['patch', 'su', 'vap', '-n', 'default', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { rollout: { updatedRevision: 'eeeeeeeeee', nodes: [{ node: 'vap-node-a', revision: 'eeeeeeeeee', time: new Date().toISOString() }] } } })]);
  const err4 = await a.apply(path, { ...grant, status: { rollout: { nodes: [{ node: 'vap-node-a', revision: 'ffffffffff', time: new Date().toISOString() }] } } }, AGENT_FIELD_MANAGER('vap-node-a')).then(() => undefined, (e: unknown) => e);
  assert.ok(err4 instanceof ApiError && err4.status === 403, `node A's agent changed its grant: ${String(err4)}`);
  await a.apply(path, body('vap-node-a', 'active'), AGENT_FIELD_MANAGER('vap-node-a')); // its own entry still may change, the grants untouched
  const unbound = asToken(kubectlOk(['create', 'token', 'unit-operator-agent', '-n', SYSTEM_NS]).trim());
  const err2 = await unbound.apply(path, body('vap-node-a', 'failed'), 'x').then(() => undefined, (e: unknown) => e);
  assert.ok(err2 instanceof ApiError && /carry no node name/.test(err2.message), String(err2));
  const lease = await a.request(LEASES_PATH(SYSTEM_NS), { method: 'POST', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: AGENT_LEASE('vap-node-b') }, spec: { holderIdentity: 'a' } } }).then(() => undefined, (e: unknown) => e);
  assert.ok(lease instanceof ApiError && /may only hold the Lease unit-operator-agent-vap-node-a/.test(lease.message), String(lease));
});
