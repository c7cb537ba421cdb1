// The CEL rules (API server) and their JS twins (offline validator) give the same verdict on
// random specs built around the rules' boundaries (fast-check, server-side dry run).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dump } from 'js-yaml';
import { validateServiceUnit } from '../../src/api/validate.ts';
import { kubectl, ensureCrd, testNamespace } from '../support/cluster.ts';
import type { ServiceUnit } from '../../src/api/types.ts';

before(() => ensureCrd());

const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const specArb = fc.record({
  type: opt(fc.constantFrom('simple', 'oneshot', 'forking', 'notify', 'dbus')),
  execStart: opt(fc.array(fc.constantFrom('/bin/true', '/bin/sleep 1'), { maxLength: 3 })),
  execStop: opt(fc.array(fc.constant('/bin/true'), { maxLength: 1 })),
  remainAfterExit: opt(fc.boolean()),
  restart: opt(fc.constantFrom('no', 'always', 'on-success', 'on-failure')),
  busName: opt(fc.constant('org.example.X')),
  successAction: opt(fc.constantFrom('none', 'exit')),
  nodeName: opt(fc.constant('n1')),
  nodeSelector: opt(fc.constant({ role: 'x' })),
  masked: opt(fc.boolean()),
});

test('the API server and the offline validator agree on 60 random boundary specs', (t) => {
  const ns = testNamespace(t, 'agree');
  const samples = fc.sample(specArb, { numRuns: 60, seed: 20261122 });
  const objects: ServiceUnit[] = samples.map((s, i) => {
    const service: Record<string, unknown> = {};
    for (const k of ['type', 'execStart', 'execStop', 'remainAfterExit', 'restart', 'busName'] as const) if (s[k] !== undefined) service[k] = s[k];
    return {
      apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: `s${i}` },
      spec: {
        ...(s.nodeName ? { nodeName: s.nodeName } : {}), ...(s.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
        ...(s.masked !== undefined ? { masked: s.masked } : {}),
        ...(s.successAction ? { unit: { successAction: s.successAction } } : {}),
        ...(Object.keys(service).length > 0 ? { service } : {}),
      },
    };
  });
  const r = kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], objects.map((o) => dump(o)).join('---\n'));
  let accepted = 0;
  const disagreements: string[] = [];
  objects.forEach((o) => {
    const server = new RegExp(`serviceunit.unit-operator.dev/${o.metadata.name} created \\(server dry run\\)`).test(r.stdout);
    const rejected = new RegExp(`"${o.metadata.name}" is invalid`).test(r.stderr);
    assert.ok(server !== rejected, `the API server gave one verdict for ${o.metadata.name}`);
    const offline = validateServiceUnit(o).errors.length === 0;
    if (server) accepted++;
    if (server !== offline) disagreements.push(`${JSON.stringify(o.spec)}: server ${server ? 'accepts' : 'rejects'}, offline ${offline ? 'accepts' : 'rejects'}`);
  });
  assert.deepEqual(disagreements, []);
  assert.ok(accepted > 5 && accepted < 55, `the sample exercises both verdicts (${accepted} accepted)`);
});
