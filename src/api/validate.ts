// The offline validator: the CRD's schema run by ajv, the CEL rules through their JS twins,
// and the checks CEL can't express (command-line syntax, time-span ranges).
// Errors name the field by its path (spec.service.restartSec), as the API server does.

import { rlimitProblem } from './rlimit.ts';
import { Ajv, type ErrorObject } from 'ajv';
import { serviceUnitSchema, strictObjects, API_VERSION, KIND } from './schema.ts';
import { SPEC_RULES, type SpecView } from './rules.ts';
import { directivesOf, type Section } from './directives.ts';
import { unappliedDirectives, describeUnapplied, annotationDirectives } from './applied.ts';
import { ANNOTATIONS } from './types.ts';
import { commandLineProblem, parseCommandLine } from './cmdline.ts';
import { parseTimespan } from './timespan.ts';
import { signalNumber } from './signals.ts';

export interface FieldError {
  /** e.g. "spec.service.execStart[0]" */
  readonly field: string;
  readonly message: string;
}

export interface ValidationResult {
  readonly errors: FieldError[];
  readonly warnings: FieldError[];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function makeAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, allowUnionTypes: true });
  ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addKeyword({
    keyword: 'x-kubernetes-int-or-string',
    schemaType: 'boolean',
    validate: function intOrString(_schema: boolean, data: unknown) {
      return typeof data === 'string' || (typeof data === 'number' && Number.isInteger(data));
    },
    errors: false,
  });
  for (const k of ['x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations']) ajv.addKeyword(k);
  return ajv;
}

let compiled: ReturnType<Ajv['compile']> | undefined;
function schemaValidator(): ReturnType<Ajv['compile']> {
  compiled ??= makeAjv().compile(strictObjects(serviceUnitSchema()));
  return compiled;
}

function pathOf(instancePath: string): string {
  return instancePath.split('/').filter(Boolean).reduce((acc, part) => (/^[0-9]+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

/**
 * The advice for a boolean where a string belongs: kubectl reads YAML 1.1 (sigs.k8s.io/yaml,
 * go-yaml v2), where a bare yes/no/on/off/y/n is a boolean, and the API server then refuses it.
 */
export function quoteAdvice(value: boolean, allowed?: readonly unknown[]): string {
  const words = value ? ['yes', 'on', 'true'] : ['no', 'off', 'false'];
  const suggestion = allowed?.find((a) => typeof a === 'string' && words.includes(a)) as string | undefined;
  return `a bare ${value ? 'yes/on/y/true' : 'no/off/n/false'} is the boolean ${value} in YAML as kubectl reads it (YAML 1.1): quote the value${suggestion ? ` ("${suggestion}")` : ' (e.g. "no")'}`;
}

function describe(e: ErrorObject): FieldError {
  let field = pathOf(e.instancePath);
  let message: string;
  const boolean = typeof e.data === 'boolean';
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      field = field ? `${field}.${extra}` : extra;
      message = 'unknown field';
      break;
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `Unsupported value: ${JSON.stringify(e.data)}: supported values: ${allowed.map((v) => JSON.stringify(v)).join(', ')}${boolean ? `; ${quoteAdvice(e.data as boolean, allowed)}` : ''}`;
      break;
    }
    case 'type':
      message = boolean ? `Invalid value: "boolean": must be of type ${String((e.params as { type: string }).type)}; ${quoteAdvice(e.data as boolean, (e.parentSchema as { enum?: unknown[] } | undefined)?.enum)}` : e.message ?? 'wrong type';
      break;
    case 'pattern': message = `Invalid value: should match '${(e.params as { pattern: string }).pattern}'`; break;
    case 'x-kubernetes-int-or-string': message = `Invalid value: must be an integer or a string${boolean ? `; ${quoteAdvice(e.data as boolean)}` : ''}`; break;
    default: message = e.message ?? e.keyword;
  }
  return { field: field || '(root)', message };
}

/** Validates a parsed ServiceUnit object. Never throws on bad input. */
export function validateServiceUnit(obj: unknown): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    return { errors: [{ field: '(root)', message: 'expected a ServiceUnit object (a YAML mapping)' }], warnings };
  }
  const o = obj as Record<string, unknown>;
  if (o['apiVersion'] !== API_VERSION) errors.push({ field: 'apiVersion', message: `must be ${API_VERSION}` });
  if (o['kind'] !== KIND) errors.push({ field: 'kind', message: `must be ${KIND}` });
  const meta = o['metadata'] as Record<string, unknown> | undefined;
  const name = meta?.['name'];
  if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    errors.push({ field: 'metadata.name', message: 'a lowercase RFC 1123 subdomain is required (lowercase letters, digits, "-" and ".")' });
  }
  const schemaErrors: FieldError[] = [];
  const validate = schemaValidator();
  if (!validate(obj)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const fe = describe(e);
      const key = `${fe.field}: ${fe.message}`;
      if (!seen.has(key)) { seen.add(key); schemaErrors.push(fe); }
    }
  }
  // A boolean in a string field (a bare no): one error per field, the one that says to quote it
  // (for an enum, the server's own "Unsupported value: false").
  const quoting = schemaErrors.filter((e) => e.message.includes('YAML 1.1'));
  const best = new Map<string, FieldError>();
  for (const e of quoting) if (!best.has(e.field) || e.message.startsWith('Unsupported value')) best.set(e.field, e);
  const shown = schemaErrors.filter((e) => !best.has(e.field) || best.get(e.field) === e);
  const semantic: FieldError[] = [];
  const spec = o['spec'];
  if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    const view = spec as SpecView;
    for (const r of SPEC_RULES) {
      if (!r.check(view)) semantic.push({ field: `spec${r.fieldPath}`, message: r.message });
    }
    semanticChecks(view, semantic, warnings);
    for (const u of unappliedDirectives(spec as Parameters<typeof unappliedDirectives>[0])) warnings.push({ field: u.path, message: describeUnapplied(u) });
  }
  const carried = annotationDirectives((meta?.['annotations'] as Record<string, unknown> | undefined)?.[ANNOTATIONS.unsupported] as string | undefined);
  for (const c of carried) {
    warnings.push({ field: `metadata.annotations[${ANNOTATIONS.unsupported}]`, message: `${c.name}= ([${c.section}]): unknown to unit-operator, kept for render only and not acted on; reported, not refused` });
  }
  // A field with a specific message (e.g. the time-span parser's) drops the generic pattern error.
  const specific = new Set(semantic.map((e) => e.field));
  errors.push(...shown.filter((e) => !(specific.has(e.field) && e.message.startsWith('Invalid value: should match'))), ...semantic);
  return { errors, warnings };
}

/** What CEL can't say: command-line syntax, time-span and signal ranges, Type=dbus caveats. */
function semanticChecks(spec: SpecView, errors: FieldError[], warnings: FieldError[]): void {
  const sections: Array<[Section, Record<string, unknown> | undefined]> = [['Unit', spec.unit], ['Service', spec.service]];
  for (const [section, values] of sections) {
    if (!values || typeof values !== 'object') continue;
    const base = `spec.${section === 'Unit' ? 'unit' : 'service'}`;
    for (const x of directivesOf(section)) {
      const v = values[x.field];
      if (v === undefined) continue;
      if (x.kind.t === 'limit') {
        const problem = rlimitProblem(x.name.replace(/^Limit/, ''), v);
        if (problem) errors.push({ field: `${base}.${x.field}`, message: `Invalid value: ${JSON.stringify(v)}: ${problem} (systemd ignores such a value; write it as systemd reads it: sizes 64K, times 1min, counts without units)` });
        continue;
      }
      if (x.kind.t === 'commands' && Array.isArray(v)) {
        v.forEach((cmd, i) => {
          if (typeof cmd !== 'string') return;
          const p = commandLineProblem(cmd);
          if (p) errors.push({ field: `${base}.${x.field}[${i}]`, message: `${p.message} (at column ${p.column + 1} of ${JSON.stringify(cmd)})` });
        });
      }
      if (x.kind.t === 'timespan' && (typeof v === 'string' || typeof v === 'number')) {
        try { parseTimespan(v); } catch (e) { errors.push({ field: `${base}.${x.field}`, message: (e as Error).message }); }
      }
      if (x.kind.t === 'intOrString' && typeof v === 'string' && /^[0-9]+$/.test(v)) {
        const n = Number(v);
        if ((x.kind.min !== undefined && n < x.kind.min) || (x.kind.max !== undefined && n > x.kind.max)) {
          errors.push({ field: `${base}.${x.field}`, message: `Invalid value: ${n} is out of range ${x.kind.min ?? '-∞'}–${x.kind.max ?? '∞'}` });
        }
      }
      if (x.kind.t === 'signal' && (typeof v === 'string' || typeof v === 'number') && signalNumber(String(v)) === undefined) {
        errors.push({ field: `${base}.${x.field}`, message: `unknown signal ${JSON.stringify(v)} (use a name such as SIGTERM or a number 1–64)` });
      }
    }
  }
  const svc = spec.service;
  if (svc && svc['type'] !== 'oneshot') {
    const start = svc['execStart'];
    if (Array.isArray(start) && start.length === 1 && typeof start[0] === 'string' && commandLineProblem(start[0]) === undefined) {
      try {
        if (parseCommandLine(start[0]).length > 1) {
          errors.push({ field: 'spec.service.execStart[0]', message: 'Service has more than one ExecStart= setting (";"-separated commands), which is only allowed for Type=oneshot services' });
        }
      } catch { /* reported above */ }
    }
  }
  // Type=dbus is reported by the table's gap (run like Type=simple: no D-Bus on nodes)
  // unit_verify() (v257): an isolate needs one handler; systemd refuses the unit (bad-setting)
  const u = spec.unit;
  if (spec.masked !== true && u && u['onFailureJobMode'] === 'isolate') {
    const handlers = new Set((Array.isArray(u['onFailure']) ? u['onFailure'] : []).flatMap((x) => String(x).split(/\s+/)).filter(Boolean));
    if (handlers.size > 1) errors.push({ field: 'spec.unit.onFailureJobMode', message: 'More than one OnFailure= dependencies specified but OnFailureJobMode=isolate set. Refusing.' });
  }
}
