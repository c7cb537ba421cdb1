// The CRD on a real API server: established, the examples apply, printer columns and field docs show.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { kubectl, kubectlOk, ensureCrd, testNamespace } from '../support/cluster.ts';
import { convertText } from '../../src/unitfile/index.ts';
import { REPO } from '../support/paths.ts';

before(() => ensureCrd());

test('kubectl apply -f crds/ establishes the ServiceUnit CRD, and applying it again changes nothing', () => {
  const out = kubectlOk(['apply', '-f', join(REPO, 'crds')]);
  assert.match(out, /serviceunits\.unit-operator\.dev (unchanged|configured)/);
  assert.match(kubectlOk(['get', 'crd', 'serviceunits.unit-operator.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']), /True/);
});

test('the committed examples/*.yaml are the conversions of examples/units/*.service', () => {
  for (const f of readdirSync(join(REPO, 'examples', 'units')).filter((x) => x.endsWith('.service'))) {
    const r = convertText(readFileSync(join(REPO, 'examples', 'units', f), 'utf8'), f);
    assert.equal(readFileSync(join(REPO, 'examples', f.replace(/\.service$/, '.yaml')), 'utf8'), dump(r.object, { lineWidth: -1, noRefs: true }), `examples/${f.replace(/\.service$/, '.yaml')} is stale: npx unitctl convert examples/units/${f} -o examples/${f.replace(/\.service$/, '.yaml')}`);
  }
});

test('kubectl apply -f examples/ creates the example units and kubectl get su shows the printer columns', (t) => {
  const ns = testNamespace(t, 'ex');
  const out = kubectlOk(['apply', '-n', ns, '-f', join(REPO, 'examples')]);
  const names = readdirSync(join(REPO, 'examples')).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));
  for (const n of names) assert.match(out, new RegExp(`serviceunit.unit-operator.dev/${n} created`));
  const table = kubectlOk(['get', 'su', '-n', ns]);
  assert.match(table.split('\n')[0]!, /^NAME\s+NODES\s+UP-TO-DATE\s+ACTIVE\s+SUB\s+RESULT\s+RESTARTS\s+AGE$/);
  assert.equal(table.trim().split('\n').length, names.length + 1);
  const wide = kubectlOk(['get', 'serviceunits', '-n', ns, '-o', 'wide']);
  assert.match(wide.split('\n')[0]!, /TYPE\s+RESTART\s+STATE\s+READY\s+DESCRIPTION/);
  assert.match(wide, /flaky-limit.*on-failure.*start limit/);
});

test('a status written through the status subresource fills the printer columns', (t) => {
  const ns = testNamespace(t, 'st');
  kubectlOk(['apply', '-n', ns, '-f', join(REPO, 'examples', 'healthy.yaml')]);
  const status = { status: { summary: { nodes: '1/1', upToDate: '1/1', activeState: 'active', subState: 'running', result: 'success', nRestarts: 2 }, nodes: [{ node: 'n1', activeState: 'active', subState: 'running', result: 'success', nRestarts: 2, mainPID: 42 }] } };
  const r = kubectl(['patch', 'su', 'healthy', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(kubectlOk(['get', 'su', 'healthy', '-n', ns]), /healthy\s+1\/1\s+1\/1\s+active\s+running\s+success\s+2\s+/);
  const spec = kubectl(['patch', 'su', 'healthy', '-n', ns, '--type=merge', '-p', JSON.stringify({ status: { summary: { nodes: '9/9' } } })]);
  assert.equal(spec.status, 0);
  assert.match(kubectlOk(['get', 'su', 'healthy', '-n', ns]), /1\/1/, 'a write to the main resource does not change status');
});

test('kubectl explain shows the field docs', () => {
  const out = kubectlOk(['explain', 'serviceunit.spec.service.restart']);
  assert.match(out, /When to restart the service automatically \(Restart=, default no\)/);
  assert.match(out, /on-failure/);
  assert.match(kubectlOk(['explain', 'su.spec.service.restartSec']), /time span/);
});
