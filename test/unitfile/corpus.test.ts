// Every real unit file in shared/corpus converts, validates and renders back equivalently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertText, renderUnit, parseUnitFile, effectiveSettings, diffEffective, findDropIns, UnitFileError, parseUnitName } from '../../src/unitfile/index.ts';
import { validateServiceUnit } from '../../src/api/validate.ts';
import { unappliedDirectives, refusedDirectives } from '../../src/api/applied.ts';
import { CORPUS, hasCorpus } from '../support/paths.ts';

function roundTrip(text: string, file: string, dropIns: Array<{ text: string; file: string }>, instance?: string): string[] {
  const r = convertText(text, file, dropIns, instance !== undefined ? { instance } : {});
  const v = validateServiceUnit(r.object);
  if (v.errors.length > 0) return v.errors.map((e) => `${e.field}: ${e.message}`);
  const unitName = r.object.spec.unitName ?? `${r.object.metadata.name}.service`;
  const rendered = renderUnit(r.object);
  const original = effectiveSettings([parseUnitFile(text, file), ...dropIns.map((d) => parseUnitFile(d.text, d.file))], unitName);
  return diffEffective(original, effectiveSettings([parseUnitFile(rendered, 'rendered')], unitName));
}

test('every unit in shared/corpus/units converts, validates and round-trips', { skip: hasCorpus ? false : `no corpus at ${CORPUS}` }, () => {
  const dir = join(CORPUS, 'units');
  const files = readdirSync(dir).filter((f) => f.endsWith('.service')).sort();
  const failures: string[] = [];
  let warnings = 0;
  const tally = { applied: 0, carriedOnly: 0, reportOnly: 0, refused: 0, unknown: 0 };
  for (const f of files) {
    try {
      const problems = roundTrip(readFileSync(join(dir, f), 'utf8'), f, []);
      if (problems.length > 0) failures.push(`${f}: ${problems.join('; ')}`);
      const r = convertText(readFileSync(join(dir, f), 'utf8'), f);
      warnings += r.warnings.length;
      for (const w of r.warnings) if (/unknown to unit-operator/.test(w.message)) failures.push(`${f}:${w.line}: ${w.directive} is not in the directive table`);
      const unapplied = unappliedDirectives(r.object.spec);
      const carriedUnknown = r.object.metadata.annotations?.['unit-operator.dev/unsupported-directives'] !== undefined;
      if (carriedUnknown) tally.unknown++;
      if (unapplied.length === 0 && !carriedUnknown) tally.applied++;
      else if (unapplied.every((u) => u.applier === 'carried') && !carriedUnknown) tally.carriedOnly++;
      else if (refusedDirectives(unapplied).length > 0) tally.refused++;
      else tally.reportOnly++;
    } catch (e) {
      failures.push(`${f}: ${e instanceof UnitFileError ? e.message : (e as Error).stack}`);
    }
  }
  process.stdout.write(`# corpus: ${files.length - failures.length}/${files.length} unit files converted, validated and round-tripped (${warnings} warnings, most for directives not applied)\n`);
  process.stdout.write(`# corpus: ${tally.applied}/${files.length} units have every directive applied, ${tally.applied + tally.carriedOnly} when the ones carried for render only (Documentation=, [Install]) do not count; ${tally.reportOnly} more run with report-only gaps (dependencies, conditions, weights…); ${tally.refused} ask for a protection not applied yet and fail closed without --allow-unenforced; ${tally.unknown} carry lines unknown to the table (D-Bus activation files)\n`);
  assert.ok(files.length >= 200, `expected the 207-file corpus, found ${files.length}`);
  assert.deepEqual(failures, []);
});

test('the drop-ins in shared/corpus/dropins merge onto their units', { skip: hasCorpus ? false : `no corpus at ${CORPUS}` }, () => {
  const dropRoot = join(CORPUS, 'dropins');
  const units = new Set(readdirSync(join(CORPUS, 'units')));
  let merged = 0;
  const failures: string[] = [];
  for (const d of readdirSync(dropRoot).filter((x) => x.endsWith('.d'))) {
    const unitName = d.slice(0, -2);
    const n = parseUnitName(unitName);
    const templateFile = n.isInstance ? unitName.replace(/@.*\.service$/, '@.service') : unitName;
    if (!units.has(templateFile)) continue;
    const drops = findDropIns(dropRoot, unitName).map((p) => ({ file: p, text: readFileSync(p, 'utf8') }));
    assert.ok(drops.length > 0, `found drop-ins for ${unitName}`);
    try {
      const problems = roundTrip(readFileSync(join(CORPUS, 'units', templateFile), 'utf8'), templateFile, drops, n.isInstance ? n.instance : undefined);
      if (problems.length > 0) failures.push(`${unitName}: ${problems.join('; ')}`);
      merged++;
    } catch (e) {
      failures.push(`${unitName}: ${(e as Error).message}`);
    }
  }
  process.stdout.write(`# corpus drop-ins: ${merged - failures.length}/${merged} units merged with their drop-ins\n`);
  assert.ok(merged >= 3, `expected several drop-in folders with matching units, found ${merged}`);
  assert.deepEqual(failures, []);
});

test('a drop-in adds to the unit as systemd applies it (rc-local: Debian\'s debian.conf)', { skip: hasCorpus ? false : 'no corpus' }, () => {
  const drops = findDropIns(join(CORPUS, 'dropins'), 'rc-local.service').map((p) => ({ file: p, text: readFileSync(p, 'utf8') }));
  const r = convertText(readFileSync(join(CORPUS, 'units', 'rc-local.service'), 'utf8'), 'rc-local.service', drops);
  assert.equal(r.object.spec.service?.['standardOutput'], 'journal+console');
  assert.ok((r.object.spec.unit?.['after'] as string[]).includes('network-online.target'));
});
