import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateServiceUnit } from '../../src/api/validate.ts';
import { serviceUnit, withService } from '../support/builders.ts';
import { INVALID_MANIFESTS } from '../fixtures/invalid-manifests.ts';

test('accepts a valid unit', () => {
  assert.deepEqual(validateServiceUnit(serviceUnit()).errors, []);
  assert.deepEqual(validateServiceUnit(withService({ type: 'oneshot', remainAfterExit: true, execStop: ['/bin/true'] })).errors, []);
  assert.deepEqual(validateServiceUnit(withService({ execStart: ['/bin/x'], restartSec: 30, killSignal: 'TERM', successExitStatus: [1, 'SIGKILL', 'TEMPFAIL'] })).errors, []);
});

for (const c of INVALID_MANIFESTS) {
  test(`rejects ${c.name}, naming ${c.field}`, () => {
    const r = validateServiceUnit(c.object);
    assert.ok(r.errors.length > 0, 'expected an error');
    assert.ok(r.errors.some((e) => e.field.startsWith(c.field)), `expected an error on ${c.field}, got ${JSON.stringify(r.errors)}`);
    assert.ok(r.errors.some((e) => new RegExp(c.offline).test(e.message)), `expected a message matching ${c.offline}, got ${JSON.stringify(r.errors)}`);
  });
}

test('never throws on garbage', () => {
  for (const g of [null, 42, 'x', [], { spec: 'x' }, { spec: { service: { execStart: [null] } } }, { spec: { service: null } }]) {
    assert.ok(validateServiceUnit(g).errors.length > 0);
  }
});

test('warns, by field path, about every directive set that the node does not apply', () => {
  // ProtectSystem= is applied (the mount namespace, issue 14), PartOf= too (issue 16): no warning; RootImage= is not yet
  const r = validateServiceUnit(withService({ execStart: ['/bin/x'], protectSystem: 'strict', rootImage: '/srv/root.raw', disableControllers: ['cpu'], restartSec: 5 }, { unit: { partOf: ['network.target'], surviveFinalKillSignal: true } }));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings.map((w) => w.field), ['spec.unit.surviveFinalKillSignal', 'spec.service.rootImage', 'spec.service.disableControllers']);
  assert.match(r.warnings[1]!.message, /RootImage=: .*not mounted yet.*does not start unless the agent runs with --allow-unenforced=RootImage/);
  assert.match(r.warnings[2]!.message, /reported, not refused/);
});

test('typed resource and sandbox fields: sizes, percentages, weights and bool-or-word values', () => {
  assert.deepEqual(validateServiceUnit(withService({ execStart: ['/bin/x'], memoryMax: '512M', memoryHigh: 1073741824, tasksMax: '80%', cpuQuota: '150%', cpuWeight: 'idle', protectHome: 'read-only', privateUsers: 'true' })).errors, []);
  const bad = validateServiceUnit(withService({ execStart: ['/bin/x'], memoryMax: 'lots', cpuWeight: '20000', protectSystem: 'sometimes', nice: 40 }));
  assert.deepEqual([...new Set(bad.errors.map((e) => e.field))].sort(), ['spec.service.cpuWeight', 'spec.service.memoryMax', 'spec.service.nice', 'spec.service.protectSystem']);
});

test('Limit*= values are judged as systemd reads them: LimitNICE=+5, LimitCPU=1h 30s and LimitCORE=1K 512 are valid; LimitNOFILE=64K is an error naming the field', () => {
  assert.deepEqual(validateServiceUnit(withService({ execStart: ['/bin/x'], limitNICE: '+5', limitCPU: '1h 30s', limitCORE: '1K 512', limitRTTIME: '500ms' })).errors, []);
  const r = validateServiceUnit(withService({ execStart: ['/bin/x'], limitNOFILE: '64K' }));
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.field, 'spec.service.limitNOFILE');
  assert.match(r.errors[0]!.message, /Invalid value: "64K": .*not a number/);
});

test('OnFailureJobMode=isolate with more than one OnFailure= unit is refused in systemd 257\'s words (unit_verify(): the unit is a bad setting)', () => {
  const two = validateServiceUnit(withService({ execStart: ['/bin/x'] }, { unit: { onFailure: ['a.service b.service'], onFailureJobMode: 'isolate' } }));
  assert.deepEqual(two.errors, [{ field: 'spec.unit.onFailureJobMode', message: 'More than one OnFailure= dependencies specified but OnFailureJobMode=isolate set. Refusing.' }]);
  assert.deepEqual(validateServiceUnit(withService({ execStart: ['/bin/x'] }, { unit: { onFailure: ['a.service'], onFailureJobMode: 'isolate' } })).errors, []);
  assert.deepEqual(validateServiceUnit(withService({ execStart: ['/bin/x'] }, { unit: { onFailure: ['a.service', 'b.service'], onFailureJobMode: 'replace' } })).errors, []);
});
