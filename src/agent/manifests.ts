// Reads a manifests folder for the standalone agent: ServiceUnit YAML (one or more documents
// per file) and plain .service files (converted on the fly, drop-ins from NAME.service.d/).
// Every problem names the file (and field or line); valid units are returned regardless.

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadKubectlYaml } from '../api/yaml.ts';
import { validateServiceUnit } from '../api/validate.ts';
import type { ServiceUnit } from '../api/types.ts';
import { unitNameOf } from '../api/contract.ts';
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

/** Parsed files by path, reused while a file's mtime and size are unchanged. */
export type ManifestCache = Map<string, { readonly stamp: string; readonly units: LoadedUnit[]; readonly problems: ManifestProblem[] }>;

export function loadManifests(dir: string, cache: ManifestCache = new Map()): { units: LoadedUnit[]; problems: ManifestProblem[] } {
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
  const present = new Set<string>();
  const names = readdirSync(dir).sort();
  const listed = new Set(names);
  for (const f of names) {
    if (f.startsWith('.') || !(/\.ya?ml$/.test(f) || f.endsWith('.service'))) continue;
    const file = join(dir, f);
    let stamp = '';
    try {
      const st = statSync(file);
      if (!st.isFile()) continue;
      // drop-ins change a unit too: include its .d folder's mtime
      const dropDir = join(dir, `${f}.d`);
      stamp = `${st.mtimeMs}:${st.size}:${listed.has(`${f}.d`) ? statSync(dropDir, { throwIfNoEntry: false })?.mtimeMs ?? 0 : 0}`;
    } catch { continue; }
    present.add(file);
    const cached = cache.get(file);
    if (cached && cached.stamp === stamp) {
      for (const u of cached.units) add(u);
      problems.push(...cached.problems);
      continue;
    }
    const before = { units: units.length, problems: problems.length };
    loadOne(f, file);
    cache.set(file, { stamp, units: units.slice(before.units), problems: problems.slice(before.problems) });
  }
  for (const k of cache.keys()) if (!present.has(k)) cache.delete(k);
  return { units, problems };

  function loadOne(f: string, file: string): void {
    if (/\.ya?ml$/.test(f)) {
      let docs: unknown[];
      try { docs = loadKubectlYaml(readFileSync(file, 'utf8')); } catch (e) { // YAML 1.1, as kubectl reads it
        const mark = (e as { mark?: { line: number; column: number } }).mark;
        problems.push({ file: mark ? `${file}:${mark.line + 1}:${mark.column + 1}` : file, message: `invalid YAML: ${(e as { reason?: string }).reason ?? (e as Error).message}` });
        return;
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
}
