// YAML as kubectl reads it (YAML 1.1 via sigs.k8s.io/yaml → go-yaml v2): the offline verdict
// agrees with the API server's on a bare no.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKubectlYaml } from '../../src/api/yaml.ts';
import { validateServiceUnit } from '../../src/api/validate.ts';

const manifest = (line: string) => `apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: demo\nspec:\n  service:\n    execStart: ["/bin/true"]\n    ${line}\n`;

test('a bare yes/no/on/off/y/n is a boolean, as go-yaml v2 reads it; quoted it stays a string', () => {
  const [doc] = loadKubectlYaml('a: no\nb: "no"\nc: On\nd: y\ne: NO\nf: nope\n') as [Record<string, unknown>];
  assert.deepEqual(doc, { a: false, b: 'no', c: true, d: true, e: false, f: 'nope' });
});

test('integers as Go parses them: a leading 0 is octal, "_" separates digits', () => {
  assert.deepEqual(loadKubectlYaml('a: 0022\nb: 1_000\nc: 0x1F\nd: "0022"\n'), [{ a: 18, b: 1000, c: 31, d: '0022' }]);
});

test('restart: no is refused as the API server refuses it, with the advice to quote it', () => {
  const r = validateServiceUnit(loadKubectlYaml(manifest('restart: no'))[0]);
  assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
  assert.equal(r.errors[0]!.field, 'spec.service.restart');
  assert.match(r.errors[0]!.message, /Unsupported value: false/);
  assert.match(r.errors[0]!.message, /quote the value \("no"\)/);
  assert.deepEqual(validateServiceUnit(loadKubectlYaml(manifest('restart: "no"'))[0]).errors, []);
});

test('a bare word in a free string field gets the same advice', () => {
  const r = validateServiceUnit(loadKubectlYaml(manifest('user: yes'))[0]);
  assert.equal(r.errors[0]!.field, 'spec.service.user');
  assert.match(r.errors[0]!.message, /must be of type string.*YAML 1\.1.*quote/);
  const p = validateServiceUnit(loadKubectlYaml(manifest('protectSystem: yes'))[0]);
  assert.match(p.errors[0]!.message, /quote the value/);
  assert.deepEqual(validateServiceUnit(loadKubectlYaml(manifest('protectSystem: "true"'))[0]).errors, []);
});
