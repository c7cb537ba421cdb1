// Golden files: test/fixtures/golden/*.service → *.yaml (the ServiceUnit) and *.rendered
// (render of that ServiceUnit). UPDATE_GOLDEN=1 npm test -- golden rewrites them; review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { convertText, renderUnit, parseUnitFile, effectiveSettings, diffEffective, formatDiagnostic } from '../../src/unitfile/index.ts';
import { FIXTURES } from '../support/paths.ts';

const dir = join(FIXTURES, 'golden');
const update = process.env['UPDATE_GOLDEN'] === '1';

function golden(path: string, actual: string): void {
  if (update || !existsSync(path)) writeFileSync(path, actual);
  assert.equal(actual, readFileSync(path, 'utf8'), `${path} differs (UPDATE_GOLDEN=1 to accept)`);
}

for (const f of readdirSync(dir).filter((x) => x.endsWith('.service')).sort()) {
  const instance = f.endsWith('@.service') ? 'web-1' : undefined;
  test(`converts ${f}${instance ? ` (instance ${instance})` : ''} as the golden file says, and renders it back equivalently`, () => {
    const text = readFileSync(join(dir, f), 'utf8');
    const r = convertText(text, f, [], instance !== undefined ? { instance } : {});
    const base = join(dir, f.replace(/\.service$/, ''));
    golden(`${base}.yaml`, dump(r.object, { lineWidth: -1 }) + r.warnings.map((w) => `# ${formatDiagnostic(w)}\n`).join(''));
    const rendered = renderUnit(r.object);
    golden(`${base}.rendered`, rendered);
    const unitName = r.object.spec.unitName ?? `${r.object.metadata.name}.service`;
    const original = effectiveSettings([parseUnitFile(text, f)], unitName);
    const back = effectiveSettings([parseUnitFile(rendered, 'rendered')], unitName);
    assert.deepEqual(diffEffective(original, back), []);
  });
}

test('the seed unit keeps the values its Q&A discusses', () => {
  const r = convertText(readFileSync(join(dir, 'seed-qa-restart.service'), 'utf8'), 'vm.service');
  assert.deepEqual(r.object.spec.unit?.['startLimitBurst'], 4);
  assert.equal(r.object.spec.unit?.['startLimitIntervalSec'], '5min');
  assert.equal(r.object.spec.service?.['restart'], 'on-failure');
  assert.equal(r.object.spec.service?.['restartSec'], '2min');
  assert.equal(r.object.spec.service?.['watchdogSec'], 30);
  // every directive of the seed unit is applied now (Before= by the dependency engine, issue
  // 16): the conversion has nothing to warn about
  assert.deepEqual(r.warnings.map((w) => `${w.line} ${w.directive}`), []);
});
