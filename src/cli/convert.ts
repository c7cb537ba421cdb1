// unitctl convert | render | validate: the offline unit-file tools.

import { parseArgs } from 'node:util';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { dump } from 'js-yaml';
import { loadKubectlYaml } from '../api/yaml.ts';
import { convertText, renderUnit, findDropIns, formatDiagnostic, UnitFileError, parseUnitName, instantiate, type ConvertResult } from '../unitfile/index.ts';
import { validateServiceUnit } from '../api/validate.ts';
import type { ServiceUnit } from '../api/types.ts';
import { EXIT, UsageError, writeFileAtomic, type Io } from './io.ts';

export const CONVERT_HELP = `Usage: unitctl convert FILE.service... [options]

Converts systemd unit files to ServiceUnit YAML (one document per file) on stdout.
Warnings go to stderr with file:line:column: every directive set that the node does not apply
(yet), with the reason. A protection (sandboxing, capabilities, resource limits, identity) that
is not applied keeps the unit from starting unless the agent runs with
--allow-unenforced=NAME[,NAME...]|all; the others are reported, not refused.

Options:
  --name NAME           metadata.name (one file only; default from the unit name)
  --namespace NS        metadata.namespace
  --node NODE           spec.nodeName: run on this node
  --selector k=v[,k=v]  spec.nodeSelector: run on every node with these labels
  --instance NAME       instantiate a template unit (foo@.service → foo@NAME.service)
  --drop-ins DIR        merge drop-ins from DIR/<unit>.d/*.conf (or DIR itself if it is a .d folder)
  -o, --output FILE     write to FILE instead of stdout (written only when every file converts)
  -q, --quiet           no warnings
`;

export const RENDER_HELP = `Usage: unitctl render FILE.yaml [-o FILE]

Writes each ServiceUnit in FILE (or - for stdin) back as a systemd unit file.
With several documents, each unit is preceded by a "# ---- NAME ----" line.
`;

export const VALIDATE_HELP = `Usage: unitctl validate FILE.yaml...

Validates ServiceUnit manifests offline with the same schema and rules as the API server.
YAML is read as kubectl reads it (YAML 1.1): a bare yes/no/on/off is a boolean, so a string
field needs it quoted (restart: "no").
Exit status 0 when all are valid, 2 otherwise; each problem is printed as FILE: FIELD: MESSAGE.
Warnings (FILE: warning: FIELD: MESSAGE) name every directive set that the node does not apply.
`;

function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--selector: "${part}" is not key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export function runConvert(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      name: { type: 'string' }, namespace: { type: 'string' }, node: { type: 'string' }, selector: { type: 'string' },
      instance: { type: 'string' }, 'drop-ins': { type: 'string' }, output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { io.stdout(CONVERT_HELP); return EXIT.ok; }
  if (positionals.length === 0) throw new UsageError('convert: no unit file given (unitctl convert foo.service)');
  if (values.name && positionals.length > 1) throw new UsageError('convert: --name applies to one file only');
  if (values.node && values.selector) throw new UsageError('convert: --node and --selector exclude each other');
  const results: ConvertResult[] = [];
  const errors: string[] = [];
  for (const file of positionals) {
    if (!existsSync(file)) { errors.push(`${file}: no such file`); continue; }
    if (statSync(file).isDirectory()) { errors.push(`${file}: is a directory (give the .service files)`); continue; }
    const fileName = basename(file);
    const unitName = values.instance !== undefined && parseUnitName(fileName).isTemplate ? instantiate(fileName, values.instance) : fileName;
    const dropIns = values['drop-ins'] ? findDropIns(values['drop-ins'], unitName).map((p) => ({ file: p, text: io.readFile(p) })) : [];
    try {
      results.push(convertText(io.readFile(file), file, dropIns, {
        ...(values.name ? { name: values.name } : {}),
        ...(values.namespace ? { namespace: values.namespace } : {}),
        ...(values.node ? { nodeName: values.node } : {}),
        ...(values.selector ? { nodeSelector: parseSelector(values.selector) } : {}),
        ...(values.instance !== undefined ? { instance: values.instance } : {}),
        unitName: fileName,
      }));
    } catch (e) {
      if (e instanceof UnitFileError) errors.push(...[...e.diagnostics].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column).map(formatDiagnostic));
      else throw e;
    }
  }
  if (errors.length > 0) {
    io.stderr(errors.join('\n') + '\n');
    io.stderr(`unitctl convert: ${errors.length} error(s); nothing written. Fix the unit file(s) and run again.\n`);
    return EXIT.usage;
  }
  if (!values.quiet) for (const r of results) for (const w of r.warnings) io.stderr(formatDiagnostic(w) + '\n');
  const yaml = results.map((r) => dump(r.object, { lineWidth: -1, noRefs: true })).join('---\n');
  if (values.output) writeFileAtomic(values.output, yaml);
  else io.stdout(yaml);
  return EXIT.ok;
}

/** Reads ServiceUnit documents from a YAML text as kubectl does (YAML 1.1: a bare no is false); reports YAML syntax errors with line numbers. */
export function loadManifests(text: string, file: string): unknown[] {
  try {
    return loadKubectlYaml(text);
  } catch (e) {
    const mark = (e as { mark?: { line: number; column: number } }).mark;
    const where = mark ? `${file}:${mark.line + 1}:${mark.column + 1}` : file;
    throw new UsageError(`${where}: invalid YAML: ${(e as { reason?: string }).reason ?? (e as Error).message}`);
  }
}

export function runRender(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout(RENDER_HELP); return EXIT.ok; }
  if (positionals.length !== 1) throw new UsageError('render: give one YAML file (or - for stdin)');
  const file = positionals[0]!;
  const docs = loadManifests(file === '-' ? io.stdin() : io.readFile(file), file);
  const problems: string[] = [];
  docs.forEach((d, i) => { for (const e of validateServiceUnit(d).errors) problems.push(`${file}[${i}]: ${e.field}: ${e.message}`); });
  if (problems.length > 0) { io.stderr(problems.join('\n') + '\nunitctl render: invalid ServiceUnit; nothing written.\n'); return EXIT.usage; }
  const out = docs.map((d) => {
    const su = d as ServiceUnit;
    const text = renderUnit(su);
    return docs.length > 1 ? `# ---- ${su.spec.unitName ?? `${su.metadata.name}.service`} ----\n${text}` : text;
  }).join('\n');
  if (values.output) writeFileAtomic(values.output, out);
  else io.stdout(out);
  return EXIT.ok;
}

export function runValidate(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout(VALIDATE_HELP); return EXIT.ok; }
  if (positionals.length === 0) throw new UsageError('validate: no file given (unitctl validate su.yaml)');
  const files = positionals.flatMap((p) => (existsSync(p) && statSync(p).isDirectory() ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(p, f)) : [p]));
  let bad = 0, good = 0;
  for (const file of files) {
    if (!existsSync(file)) { io.stderr(`${file}: no such file\n`); bad++; continue; }
    let docs: unknown[];
    try { docs = loadManifests(io.readFile(file), file); } catch (e) { io.stderr(`${(e as Error).message}\n`); bad++; continue; }
    docs.forEach((d, i) => {
      const where = docs.length > 1 ? `${file}[${i}]` : file;
      const name = (d as { metadata?: { name?: string } })?.metadata?.name;
      const r = validateServiceUnit(d);
      for (const w of r.warnings) io.stderr(`${where}: warning: ${w.field}: ${w.message}\n`);
      if (r.errors.length > 0) { bad++; for (const e of r.errors) io.stderr(`${where}: ${e.field}: ${e.message}\n`); }
      else { good++; io.stdout(`${where}: ServiceUnit ${name ?? '?'} is valid\n`); }
    });
  }
  if (bad > 0) io.stderr(`unitctl validate: ${bad} invalid, ${good} valid\n`);
  return bad > 0 ? EXIT.usage : EXIT.ok;
}
