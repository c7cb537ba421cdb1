// Unit file (+ drop-ins) → ServiceUnit. Every value is checked as systemd would read it
// (values.ts); every directive set that the node does not apply is a warning at its line
// (api/applied.ts); directives unknown to the table are carried in an annotation so that
// render() writes them back.

import { basename } from 'node:path';
import { lookupDirective, suggestDirective, SECTION_FIELD, type Section } from '../api/directives.ts';
import { commandLineProblem } from '../api/cmdline.ts';
import { unappliedDirectives, unappliedMessage } from '../api/applied.ts';
import { validateServiceUnit } from '../api/validate.ts';
import { API_VERSION, KIND } from '../api/schema.ts';
import { ANNOTATIONS, type ServiceUnit, type ServiceUnitSpec, type SectionValues } from '../api/types.ts';
import { parseUnitFile, type Assignment, type UnitFile } from './parse.ts';
import { type Diagnostic, UnitFileError } from './errors.ts';
import { Collector, applyDirective } from './values.ts';
import { parseUnitName, instantiate, expandNameSpecifiers, usesInstanceSpecifier } from './specifiers.ts';

export interface ConvertOptions {
  /** metadata.name; default derived from the unit name. */
  readonly name?: string;
  readonly namespace?: string;
  readonly nodeName?: string;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Instantiates a template unit (foo@.service). */
  readonly instance?: string;
  /** The unit name when it can't be taken from the file name. */
  readonly unitName?: string;
}

export interface ConvertInput {
  readonly main: UnitFile;
  readonly dropIns?: readonly UnitFile[];
}

export interface ConvertResult {
  readonly object: ServiceUnit;
  readonly warnings: readonly Diagnostic[];
}

const DBUS_SECTION = 'D-BUS Service';
const KNOWN_SECTIONS = new Set<string>(['Unit', 'Service', 'Install']);

/** Kubernetes object name from a unit name: getty@tty1.service → getty-tty1. */
export function objectNameFor(unitName: string): string {
  const stem = unitName.replace(/\.service$/, '').replace(/\\x[0-9a-fA-F]{2}/g, '-').toLowerCase();
  const cleaned = stem.replace(/[^a-z0-9.-]+/g, '-').replace(/-{2,}/g, '-').replace(/^[-.]+|[-.]+$/g, '').replace(/\.-|-\./g, '-');
  return (cleaned || 'unit').slice(0, 253).replace(/[-.]+$/, '');
}

interface Carried { section: string; key: string; value: string }

/** Converts parsed unit files. Throws UnitFileError listing every problem. */
export function convertUnit(input: ConvertInput, opts: ConvertOptions = {}): ConvertResult {
  const c = new Collector();
  const fileUnitName = opts.unitName ?? basename(input.main.file);
  if (!fileUnitName.endsWith('.service')) {
    throw new UnitFileError([{ severity: 'error', file: input.main.file, line: 1, column: 1, message: `"${fileUnitName}" is not a service unit`, hint: 'unit-operator runs .service units; name the file foo.service or pass the unit name' }]);
  }
  let unitName = fileUnitName;
  const parsedName = parseUnitName(fileUnitName);
  if (opts.instance !== undefined) {
    if (!parsedName.isTemplate) {
      throw new UnitFileError([{ severity: 'error', file: input.main.file, line: 1, column: 1, message: `--instance given but ${fileUnitName} is not a template (foo@.service)`, hint: 'drop --instance, or convert the template file foo@.service' }]);
    }
    if (!/^[A-Za-z0-9:_.\\-]+$/.test(opts.instance)) {
      throw new UnitFileError([{ severity: 'error', file: input.main.file, line: 1, column: 1, message: `"${opts.instance}" is not a valid instance name`, hint: 'an instance name has letters, digits and ":_.-\\"; escape other characters as systemd-escape does (e.g. "/" becomes "-")' }]);
    }
    unitName = instantiate(fileUnitName, opts.instance);
  }
  const name = parseUnitName(unitName);
  const files = [input.main, ...(input.dropIns ?? [])];
  const sections: ServiceUnitSpec = {};
  const values: Record<'unit' | 'service' | 'install', SectionValues> = { unit: {}, service: {}, install: {} };
  const carried: Carried[] = [];
  const lastLine = new Map<string, Assignment>();
  let isDbus = false;

  for (const f of files) {
    for (const s of f.sections) {
      if (s === DBUS_SECTION && f === input.main) { isDbus = true; continue; }
      if (!KNOWN_SECTIONS.has(s) && !s.startsWith('X-')) {
        c.error({ file: f.file, line: f.sectionLines[s] ?? 1, column: 2 }, `unknown section [${s}]`, 'a service unit has [Unit], [Service] and [Install] sections (and X- extension sections)');
      }
    }
  }

  for (const a of files.flatMap((f) => f.assignments)) {
    const value = expandNameSpecifiers(a.value, name);
    if (name.isTemplate && usesInstanceSpecifier(a.value)) {
      c.warn({ file: a.file, line: a.line, column: a.valueColumn }, 'template unit converted without --instance: instance specifiers stay unexpanded', a.key, 'pass --instance NAME to instantiate it');
    }
    if (a.section === DBUS_SECTION) { convertDbusAssignment(a, value, values.service, carried, c); continue; }
    if (!KNOWN_SECTIONS.has(a.section)) {
      if (a.section.startsWith('X-')) {
        carried.push({ section: a.section, key: a.key, value });
        c.warn({ file: a.file, line: a.line }, `extension section [${a.section}] kept in annotation ${ANNOTATIONS.unsupported}, not acted on`, a.key);
      }
      continue;
    }
    const d = lookupDirective(a.section, a.key);
    if (!d) {
      const suggestion = suggestDirective(a.section, a.key);
      carried.push({ section: a.section, key: a.key, value });
      c.warn({ file: a.file, line: a.line }, `unknown to unit-operator: kept in annotation ${ANNOTATIONS.unsupported} and rendered back, not acted on; reported, not refused`, `${a.key}=`, suggestion ? `did you mean ${suggestion}=?` : undefined);
      continue;
    }
    lastLine.set(`${d.section}.${d.field}`, a);
    applyDirective(d, a, value, values[SECTION_FIELD[d.section]], c);
  }
  if (c.errors.length > 0) throw new UnitFileError(c.errors);

  const spec: ServiceUnitSpec = {};
  if (unitName !== `${opts.name ?? objectNameFor(unitName)}.service`) spec.unitName = unitName;
  if (opts.nodeName) spec.nodeName = opts.nodeName;
  if (opts.nodeSelector) spec.nodeSelector = { ...opts.nodeSelector };
  const empty = files.every((f) => f.empty);
  if (empty) {
    spec.masked = true;
    c.warn({ file: input.main.file, line: 1 }, 'empty unit file: systemd treats it as masked (never started); converted with masked: true');
  }
  for (const key of ['unit', 'service', 'install'] as const) {
    if (Object.keys(values[key]).length > 0) sections[key] = values[key];
  }
  Object.assign(spec, sections);
  if (isDbus) {
    if (spec.service && spec.service['busName'] !== undefined) spec.service['type'] ??= 'dbus';
    c.warn({ file: input.main.file, line: input.main.sectionLines[DBUS_SECTION] ?? 1 }, 'D-Bus activation file, not a systemd unit: Exec= became execStart, Name= busName, User= user; it runs like Type=simple (no D-Bus on nodes)');
  }

  const annotations: Record<string, string> = {};
  if (carried.length > 0) annotations[ANNOTATIONS.unsupported] = carriedText(carried);
  if (isDbus) annotations[ANNOTATIONS.sourceFormat] = 'dbus-service';
  const object: ServiceUnit = {
    apiVersion: API_VERSION as ServiceUnit['apiVersion'],
    kind: KIND as ServiceUnit['kind'],
    metadata: {
      name: opts.name ?? objectNameFor(unitName),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec,
  };

  const v = validateServiceUnit(object);
  if (v.errors.length > 0) {
    throw new UnitFileError(v.errors.map((e) => {
      const m = /^spec\.(unit|service|install)\.([A-Za-z]+)/.exec(e.field);
      const sec = m ? (({ unit: 'Unit', service: 'Service', install: 'Install' } as const)[m[1] as 'unit' | 'service' | 'install']) : undefined;
      const at = m && sec ? lastLine.get(`${sec}.${m[2]}`) : undefined;
      const line = at?.line ?? input.main.sectionLines[isDbus ? DBUS_SECTION : 'Service'] ?? 1;
      return { severity: 'error' as const, file: at?.file ?? input.main.file, line, column: at?.valueColumn ?? 1, message: e.message, ...(at ? { directive: at.key } : {}), hint: hintFor(e.message) };
    }));
  }
  // Every directive set that the node will not apply, at the line that set it (validate reports the same by field).
  const reported = new Set<string>();
  for (const u of unappliedDirectives(spec)) {
    reported.add(u.path);
    const at = lastLine.get(`${u.section}.${u.path.slice(u.path.lastIndexOf('.') + 1)}`);
    c.warn({ file: at?.file ?? input.main.file, line: at?.line ?? 1, column: 1 }, unappliedMessage(u), at?.key ? `${at.key}=` : `${u.name}=`);
  }
  for (const w of v.warnings) if (!reported.has(w.field) && !w.field.startsWith('metadata.annotations')) c.warn({ file: input.main.file, line: 1 }, w.message);
  const fileOrder = new Map(files.map((f, i) => [f.file, i]));
  c.warnings.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.line - b.line || a.column - b.column);
  return { object, warnings: c.warnings };
}

function hintFor(message: string): string {
  if (message.includes('no ExecStart=')) return 'add ExecStart=/path/to/program, or Type=oneshot with RemainAfterExit=yes and ExecStop=';
  if (message.includes('more than one ExecStart=')) return 'keep one ExecStart= or set Type=oneshot';
  if (message.includes('Restart=')) return 'use Restart=on-failure or no for a oneshot service';
  return 'see systemd.service(5)';
}

function carriedText(items: readonly Carried[]): string {
  const bySection = new Map<string, Carried[]>();
  for (const it of items) bySection.set(it.section, [...(bySection.get(it.section) ?? []), it]);
  return [...bySection.entries()].map(([s, list]) => `[${s}]\n${list.map((x) => `${x.key}=${x.value}`).join('\n')}\n`).join('');
}

function convertDbusAssignment(a: Assignment, value: string, service: SectionValues, carried: Carried[], c: Collector): void {
  if (a.key === 'Exec') {
    const p = commandLineProblem(value);
    if (p) { c.error({ file: a.file, line: a.line, column: a.valueColumn + p.column }, p.message, 'check the quoting of Exec=', 'Exec'); return; }
    service['execStart'] = [value];
  } else if (a.key === 'User') service['user'] = value;
  else if (a.key === 'Name') service['busName'] = value;
  else carried.push({ section: DBUS_SECTION, key: a.key, value });
}

/** Reads and converts unit-file text (main file and drop-ins). */
export function convertText(mainText: string, mainFile: string, dropIns: ReadonlyArray<{ text: string; file: string }> = [], opts: ConvertOptions = {}): ConvertResult {
  const errors: Diagnostic[] = [];
  const parse = (text: string, file: string): UnitFile | undefined => {
    try { return parseUnitFile(text, file); } catch (e) {
      if (e instanceof UnitFileError) { errors.push(...e.diagnostics); return undefined; }
      throw e;
    }
  };
  const main = parse(mainText, mainFile);
  const drops = dropIns.map((d) => parse(d.text, d.file));
  if (errors.length > 0 || !main) throw new UnitFileError(errors);
  return convertUnit({ main, dropIns: drops.filter((x): x is UnitFile => x !== undefined) }, opts);
}

export type { Section };
