// Reads a manifests folder for the standalone agent: ServiceUnit YAML (one or more documents
// per file) and plain .service files (converted on the fly, drop-ins from NAME.service.d/).
// Every problem names the file (and field or line); valid units are returned regardless.
//
// The folder is read as hostile (issue 12): a file is stat()-ed before it is opened, and only
// a regular file no larger than the limit (--max-file-size, default 1 MiB) is read — FIFOs,
// sockets, devices (a link to /dev/zero), symlink loops and dangling links are reported and
// skipped, never opened blocking. Between files the loader yields to the event loop, so the
// agent keeps answering the CLI and supervising while a large folder loads. File names are
// shown with showName() (quoted and escaped when they hold spaces or control characters).

import { lstatSync, readdirSync, statSync, existsSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { loadKubectlYaml } from '../api/yaml.ts';
import { validateServiceUnit } from '../api/validate.ts';
import type { ServiceUnit } from '../api/types.ts';
import { unitNameOf } from '../api/contract.ts';
import { convertText, findDropIns, formatDiagnostic, UnitFileError } from '../unitfile/index.ts';
import { fileKind, formatBytes, HostileFileError, MiB, readRegularFile, showName, statProblem } from '../unitfile/read.ts';

export { showName };

/** The default size limit of a manifest, unit or drop-in file (agent flag --max-file-size). */
export const DEFAULT_MAX_FILE_SIZE = MiB;

export interface LoadedUnit {
  readonly unitName: string;
  readonly object: ServiceUnit;
  /** Where it came from, as shown in status and logs (showName; [n]: the document of a YAML file). */
  readonly file: string;
}

export interface ManifestProblem {
  /** The file as shown (showName), with :line:column or [document] when known. */
  readonly file: string;
  readonly message: string;
}

export interface LoadOptions {
  /** Files larger than this are reported and not read (bytes; default 1 MiB). */
  readonly maxFileSize?: number;
  /** Yield to the event loop after this much work (ms; default 20): the CLI keeps being answered. */
  readonly sliceMs?: number;
}

/** Parsed files by path, reused while a file's mtime and size are unchanged. */
export type ManifestCache = Map<string, { readonly stamp: string; readonly units: LoadedUnit[]; readonly problems: ManifestProblem[]; readonly failed: string[] }>;

/**
 * Whether a unit loaded from `source` (a LoadedUnit's file) comes from a file, or a YAML document,
 * that is there but could not be loaded now. A unit adopted at the agent's start (source unknown
 * yet) counts when DIR/UNIT is such a file, or when any YAML file failed (it may be in one): kept
 * running rather than stopped on a guess; the next load that succeeds decides.
 */
export function sourceFailed(failed: ReadonlySet<string>, source: string, adopted?: { dir: string; unitName: string }): boolean {
  if (failed.has(source) || failed.has(source.replace(/\[[0-9]+\]$/, ''))) return true;
  if (!adopted) return false;
  return failed.has(showName(join(adopted.dir, adopted.unitName))) || [...failed].some((x) => /\.ya?ml"?(\[[0-9]+\])?$/.test(x));
}

/** systemd's unit_name_is_valid() for a service: ASCII letters, digits, ":-_.\" and one "@". */
const VALID_UNIT_NAME = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.service$/;

/** A file that is not read, and why (null: a regular file, readable). */
function refusal(file: string, max: number): { st: Stats } | { problem: string } {
  let st: Stats;
  try { st = statSync(file); } catch (e) {
    const p = statProblem(e);
    if (p.code === 'ENOENT') {
      // stat failed but the entry is listed: a dangling symbolic link (or it went away meanwhile)
      const l = lstatSync(file, { throwIfNoEntry: false });
      return { problem: l?.isSymbolicLink() ? 'a dangling symbolic link (its target does not exist); skipped' : 'gone while the folder was read; skipped' };
    }
    return { problem: `${p.message}; skipped` };
  }
  if (!st.isFile()) return { problem: `${fileKind(st)}, not a regular file; skipped without opening it` };
  if (st.size > max) return { problem: tooLarge(st.size, max) };
  return { st };
}

function tooLarge(size: number, max: number): string {
  return `too large: ${size} bytes exceeds the limit of ${formatBytes(max)} (${max} bytes; agent flag --max-file-size); skipped without reading it`;
}

/**
 * The folder's units and problems; `failed`: the files (shown names; a YAML document as FILE[n])
 * that are there but could not be loaded (refused, unreadable, invalid) — a running unit of one
 * keeps running as last loaded, as systemd keeps a unit whose file turned bad (bad-setting).
 */
export async function loadManifests(dir: string, cache: ManifestCache = new Map(), opts: LoadOptions = {}): Promise<{ units: LoadedUnit[]; problems: ManifestProblem[]; failed: Set<string> }> {
  const max = opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const sliceMs = opts.sliceMs ?? 20;
  const units: LoadedUnit[] = [];
  const problems: ManifestProblem[] = [];
  const failed = new Set<string>();
  if (!existsSync(dir)) return { units, problems: [{ file: showName(dir), message: 'no such folder' }], failed };
  const seen = new Map<string, string>();
  const add = (u: LoadedUnit): void => {
    if (/@\.service$/.test(u.unitName)) { // a ServiceUnit whose unitName is a template
      problems.push({ file: u.file, message: `${u.unitName} is a template: systemd never starts a template, only its instances; name an instance (unitName: ${u.unitName.replace(/@\.service$/, '@1.service')}); skipped` });
      return;
    }
    const prev = seen.get(u.unitName);
    if (prev) { problems.push({ file: u.file, message: `${u.unitName} is already defined in ${prev}; this one is skipped` }); return; }
    seen.set(u.unitName, u.file);
    units.push(u);
  };
  const present = new Set<string>();
  const names = readdirSync(dir).sort();
  const listed = new Set(names);
  let sliceStart = performance.now();
  for (const f of names) {
    if (f.startsWith('.') || !(/\.ya?ml$/.test(f) || f.endsWith('.service'))) continue;
    const file = join(dir, f);
    const shown = showName(file);
    if (f.endsWith('.service') && !VALID_UNIT_NAME.test(f)) {
      problems.push({ file: shown, message: `${showName(f)} is not a valid unit name (systemd allows ASCII letters, digits, ":", "-", "_", ".", "\\" and one "@" before .service); skipped` });
      continue;
    }
    const r = refusal(file, max);
    if ('problem' in r) { problems.push({ file: shown, message: r.problem }); failed.add(shown); continue; }
    if (/@\.service$/.test(f)) {
      // systemd never starts a template: only its instances (worker@1.service) run
      const stem = f.slice(0, -'.service'.length);
      if (!names.some((n) => n.startsWith(stem) && n !== f && n.endsWith('.service'))) {
        problems.push({ file: shown, message: `${f} is a template: systemd never starts a template, only its instances; add an instance, e.g. ${stem}1.service (a symbolic link to ${f}, or a file); skipped` });
      }
      continue;
    }
    // drop-ins change a unit too: include its .d folder's mtime
    let stamp = `${r.st.mtimeMs}:${r.st.size}:${r.st.ino}`;
    try { stamp += `:${listed.has(`${f}.d`) ? statSync(join(dir, `${f}.d`), { throwIfNoEntry: false })?.mtimeMs ?? 0 : 0}`; } catch { /* a loop: findDropIns reports */ }
    present.add(file);
    const cached = cache.get(file);
    if (cached && cached.stamp === stamp) {
      for (const u of cached.units) add(u);
      problems.push(...cached.problems);
      for (const x of cached.failed) failed.add(x);
      continue;
    }
    const before = { units: units.length, problems: problems.length, failed: failed.size };
    loadOne(f, file, shown);
    cache.set(file, { stamp, units: units.slice(before.units), problems: problems.slice(before.problems), failed: [...failed].slice(before.failed) });
    if (performance.now() - sliceStart >= sliceMs) { await nextTurn(); sliceStart = performance.now(); }
  }
  for (const k of cache.keys()) if (!present.has(k)) cache.delete(k);
  return { units, problems, failed };

  function read(file: string): string | undefined {
    try { return readRegularFile(file, max, 'manifest'); } catch (e) {
      if (!(e instanceof HostileFileError)) throw e;
      problems.push({ file: showName(file), message: e.code === 'E2BIG' ? tooLarge(statSync(file).size, max) : `${e.message}; skipped` });
      return undefined;
    }
  }

  function loadOne(f: string, file: string, shown: string): void {
    const text = read(file);
    if (text === undefined) { failed.add(shown); return; }
    if (/\.ya?ml$/.test(f)) {
      let docs: unknown[];
      try { docs = loadKubectlYaml(text); } catch (e) { // YAML 1.1, as kubectl reads it
        const mark = (e as { mark?: { line: number; column: number } }).mark;
        problems.push({ file: mark ? `${shown}:${mark.line + 1}:${mark.column + 1}` : shown, message: `invalid YAML: ${(e as { reason?: string }).reason ?? (e as Error).message}` });
        failed.add(shown);
        return;
      }
      docs.forEach((d, i) => {
        const where = docs.length > 1 ? `${shown}[${i}]` : shown;
        const v = validateServiceUnit(d);
        if (v.errors.length > 0) { for (const e of v.errors) problems.push({ file: where, message: `${e.field}: ${e.message}` }); failed.add(where); return; }
        const su = d as ServiceUnit;
        add({ unitName: unitNameOf(su), object: su, file: where });
      });
    } else if (f.endsWith('.service')) {
      try {
        const dropIns: Array<{ file: string; text: string }> = [];
        for (const p of findDropIns(dir, f)) {
          const r = refusal(p, max);
          // a regular file it cannot take (too large, unreadable) fails the unit: loaded without
          // it, the unit could run without what the drop-in adds (a sandboxing line, a limit) —
          // and a running one would be restarted so; what is no regular file (a FIFO, a dangling
          // link) is skipped, as systemd skips what is not a unit file
          const regular = lstatSync(p, { throwIfNoEntry: false })?.isFile() === true;
          if ('problem' in r) {
            problems.push({ file: showName(p), message: `drop-in of ${f}: ${r.problem}${regular ? `; ${f} is not loaded without it` : ''}` });
            if (regular) { failed.add(shown); return; }
            continue;
          }
          const t = read(p);
          if (t === undefined) { problems.push({ file: showName(p), message: `drop-in of ${f} could not be read; ${f} is not loaded without it` }); failed.add(shown); return; }
          dropIns.push({ file: p, text: t });
        }
        const r = convertText(text, file, dropIns, { unitName: f });
        add({ unitName: f, object: r.object, file: shown });
      } catch (e) {
        if (e instanceof UnitFileError) for (const d of e.diagnostics) problems.push({ file: `${showName(d.file)}:${d.line}:${d.column}`, message: formatDiagnostic(d).slice(`${d.file}:${d.line}:${d.column}: `.length) });
        else problems.push({ file: shown, message: (e as Error).message });
        failed.add(shown);
      }
    }
  }
}
