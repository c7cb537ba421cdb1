// npm start: the embedded default. Converts and validates the example units in examples/units
// and shows what unit-operator would run. (The standalone agent that runs them is the next
// milestone; see README "Status".)
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertText, formatDiagnostic, UnitFileError } from '../src/unitfile/index.ts';
import { validateServiceUnit } from '../src/api/validate.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = process.argv[2] ?? join(root, 'examples', 'units');
const rows: string[][] = [['UNIT', 'TYPE', 'RESTART', 'RESTART-SEC', 'START-LIMIT', 'VALID', 'WARNINGS']];
let bad = 0;
for (const f of readdirSync(dir).filter((x) => x.endsWith('.service')).sort()) {
  try {
    const r = convertText(readFileSync(join(dir, f), 'utf8'), join(dir, f));
    const s = r.object.spec;
    const v = validateServiceUnit(r.object);
    rows.push([f, String(s.service?.['type'] ?? 'simple'), String(s.service?.['restart'] ?? 'no'), String(s.service?.['restartSec'] ?? '100ms'),
      `${s.unit?.['startLimitBurst'] ?? 5}/${s.unit?.['startLimitIntervalSec'] ?? '10s'}`, v.errors.length === 0 ? 'yes' : 'NO', String(r.warnings.length)]);
    if (v.errors.length > 0) bad++;
  } catch (e) {
    bad++;
    rows.push([f, '-', '-', '-', '-', 'NO', '-']);
    process.stderr.write(e instanceof UnitFileError ? e.diagnostics.map(formatDiagnostic).join('\n') + '\n' : `${(e as Error).message}\n`);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
process.stdout.write(`\n${rows.length - 1} unit(s) in ${dir}; convert one with: npx unitctl convert ${join('examples', 'units', 'vm-manager.service')}\n`);
process.exitCode = bad > 0 ? 1 : 0;
