import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { renderCrdYaml, buildCrd } from '../../src/api/crd.ts';
import { REPO } from '../support/paths.ts';

test('the committed CRD is exactly what the generator writes (run npm run gen:crd after changing src/api)', () => {
  for (const f of ['crds/serviceunit.yaml', 'manifests/crd/serviceunit.yaml']) {
    const committed = readFileSync(join(REPO, f), 'utf8');
    assert.equal(committed, renderCrdYaml(), `${f} is stale: run \`npm run gen:crd\` and commit it`);
  }
});

test('the CRD names the API as DESIGN.md fixes it, with the status subresource and printer columns', () => {
  const crd = load(readFileSync(join(REPO, 'crds', 'serviceunit.yaml'), 'utf8')) as ReturnType<typeof buildCrd> & { spec: any };
  assert.equal(crd.spec.group, 'unit-operator.dev');
  assert.deepEqual(crd.spec.names.shortNames, ['su']);
  assert.equal(crd.spec.names.plural, 'serviceunits');
  assert.equal(crd.spec.scope, 'Namespaced');
  const v = crd.spec.versions[0];
  assert.equal(v.name, 'v1alpha1');
  assert.deepEqual(v.subresources, { status: {} });
  const cols = v.additionalPrinterColumns.filter((c: { priority?: number }) => !c.priority).map((c: { name: string }) => c.name.toUpperCase());
  assert.deepEqual(cols, ['NODES', 'UP-TO-DATE', 'ACTIVE', 'SUB', 'RESULT', 'RESTARTS', 'AGE']);
});

test('every field of the structural schema has a type (or is int-or-string)', () => {
  const walk = (s: Record<string, any>, path: string): string[] => {
    const missing: string[] = [];
    if (!s['type'] && !s['x-kubernetes-int-or-string']) missing.push(path);
    for (const [k, sub] of Object.entries<Record<string, any>>(s['properties'] ?? {})) missing.push(...walk(sub, `${path}.${k}`));
    if (s['items']) missing.push(...walk(s['items'], `${path}[]`));
    if (s['additionalProperties'] && typeof s['additionalProperties'] === 'object') missing.push(...walk(s['additionalProperties'], `${path}{}`));
    return missing;
  };
  const schema = (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema;
  assert.deepEqual(walk(schema, ''), []);
});

test('the CRD stays far below the API server\'s limits: size, and no CEL beyond the cross-field rules', () => {
  const crd = buildCrd() as any;
  const bytes = Buffer.byteLength(JSON.stringify(crd));
  // etcd refuses objects above 1.5 MiB and the API server requests above 3 MiB; client-side
  // kubectl apply copies the object into an annotation, and annotations are limited to 256 KiB.
  assert.ok(bytes < 200_000, `the CRD is ${bytes} bytes: client-side kubectl apply would refuse it above 256 KiB`);
  const rules: string[] = [];
  const walk = (s: Record<string, any>): void => {
    for (const v of s['x-kubernetes-validations'] ?? []) rules.push(v.rule);
    for (const sub of Object.values<Record<string, any>>(s['properties'] ?? {})) walk(sub);
    if (s['items']) walk(s['items']);
  };
  walk(crd.spec.versions[0].schema.openAPIV3Schema);
  assert.ok(rules.length <= 8, `${rules.length} CEL rules`);
  // every string and list the CEL rules can reach is bounded, which keeps their estimated cost finite
  const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec;
  for (const [section, s] of Object.entries<any>({ unit: spec.properties.unit, service: spec.properties.service })) {
    for (const [field, f] of Object.entries<any>(s.properties)) {
      if (f.type === 'array') assert.ok(f.maxItems !== undefined, `${section}.${field} has no maxItems`);
      if (f.type === 'string' && !f.enum) assert.ok(f.maxLength !== undefined, `${section}.${field} has no maxLength`);
    }
  }
});
