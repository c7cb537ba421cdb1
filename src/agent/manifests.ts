// Reads a manifests folder for the standalone agent: ServiceUnit YAML (one or more documents
// per file) and plain .service files (converted on the fly, drop-ins from NAME.service.d/).
// Every problem names the file (and field or line); valid units are returned regardless.

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { validateServiceUnit } from '../api/validate.ts';
import type { ServiceUnit } from '../api/types.ts';
import { convertText, findDropIns, formatDiagnostic, UnitFileError } from '../unitfile/index.ts';

export interface LoadedUnit {
  readonly unitName: string;
  readonly object: ServiceUnit;
  readonly file: string;
}

export interface ManifestProblem {
  readonly file: string;
  readonly message: string;
}

export function unitNameOf(su: ServiceUnit): string {
  return su.spec.unitName ?? `${su.metadata.name}.service`;
}

export function loadManifests(dir: string): { units: LoadedUnit[]; problems: ManifestProblem[] } {
  const units: LoadedUnit[] = [];
  const problems: ManifestProblem[] = [];
  if (!existsSync(dir)) return { units, problems: [{ file: dir, message: 'no such folder' }] };
  const seen = new Map<string, string>();
  const add = (u: LoadedUnit): void => {
    const prev = seen.get(u.unitName);
    if (prev) { problems.push({ file: u.file, message: `${u.unitName} is already defined in ${prev}; this one is skipped` }); return; }
    seen.set(u.unitName, u.file);
    units.push(u);
  };
  for (const f of readdirSync(dir).sort()) {
    const file = join(dir, f);
    let isFile = false;
    try { isFile = statSync(file).isFile(); } catch { continue; }
    if (!isFile || f.startsWith('.')) continue;
    if (/\.ya?ml$/.test(f)) {
      let docs: unknown[];
      try { docs = loadAll(readFileSync(file, 'utf8')).filter((d) => d !== null && d !== undefined); } catch (e) {
        const mark = (e as { mark?: { line: number; column: number } }).mark;
        problems.push({ file: mark ? `${file}:${mark.line + 1}:${mark.column + 1}` : file, message: `invalid YAML: ${(e as { reason?: string }).reason ?? (e as Error).message}` });
        continue;
      }
      docs.forEach((d, i) => {
        const where = docs.length > 1 ? `${file}[${i}]` : file;
        const v = validateServiceUnit(d);
        if (v.errors.length > 0) { for (const e of v.errors) problems.push({ file: where, message: `${e.field}: ${e.message}` }); return; }
        const su = d as ServiceUnit;
        add({ unitName: unitNameOf(su), object: su, file: where });
      });
    } else if (f.endsWith('.service')) {
      try {
        const dropIns = findDropIns(dir, f).map((p) => ({ file: p, text: readFileSync(p, 'utf8') }));
        const r = convertText(readFileSync(file, 'utf8'), file, dropIns, { unitName: f });
        add({ unitName: f, object: r.object, file });
      } catch (e) {
        if (e instanceof UnitFileError) for (const d of e.diagnostics) problems.push({ file: `${d.file}:${d.line}:${d.column}`, message: formatDiagnostic(d).replace(/^[^ ]+ /, '') });
        else problems.push({ file, message: (e as Error).message });
      }
    }
  }
  return { units, problems };
}
