// The admission table against the real API server: every invalid manifest is rejected at
// `kubectl apply` with a message naming the field, and the offline validator agrees.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { dump } from 'js-yaml';
import { INVALID_MANIFESTS } from '../fixtures/invalid-manifests.ts';
import { validateServiceUnit } from '../../src/api/validate.ts';
import { kubectl, ensureCrd, testNamespace } from '../support/cluster.ts';
import { serviceUnit } from '../support/builders.ts';

before(() => ensureCrd());

test(`the table has at least 25 invalid manifests (${INVALID_MANIFESTS.length})`, () => {
  assert.ok(INVALID_MANIFESTS.length >= 25);
});

test('a valid ServiceUnit is accepted by the API server and offline', (t) => {
  const ns = testNamespace(t, 'adm');
  const su = serviceUnit({ service: { execStart: ['/bin/sleep 100'], restart: 'on-failure', restartSec: '5min 20s', killSignal: 'SIGINT', successExitStatus: [1, 'SIGKILL'] } }, 'valid');
  const r = kubectl(['apply', '-n', ns, '-f', '-'], dump(su));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(validateServiceUnit(su).errors, []);
});

for (const c of INVALID_MANIFESTS) {
  test(`kubectl apply rejects ${c.name} naming ${c.field}; unitctl validate agrees`, (t) => {
    const ns = testNamespace(t, 'adm');
    const r = kubectl(['apply', '-n', ns, '-f', '-'], dump(c.object));
    assert.notEqual(r.status, 0, `the API server accepted it: ${r.stdout}`);
    assert.ok(r.stderr.includes(c.field) || r.stderr.includes(c.field.replace(/^spec\./, '')), `message names ${c.field}: ${r.stderr}`);
    assert.ok(r.stderr.includes(c.server), `expected "${c.server}" in: ${r.stderr}`);
    const offline = validateServiceUnit(c.object);
    assert.ok(offline.errors.some((e) => e.field.startsWith(c.field)), `offline names ${c.field}: ${JSON.stringify(offline.errors)}`);
  });
}
