// One directive's value as systemd would read it (config_parse_* of load-fragment.c), checked
// and stored in the spec's typed form; problems are collected with file:line:column.

import type { Directive } from '../api/directives.ts';
import { LIMIT_PATTERN, SIZE_PATTERN } from '../api/directives.ts';
import { rlimitProblem } from '../api/rlimit.ts';
import { parseTimespan } from '../api/timespan.ts';
import { parseCommandLine } from '../api/cmdline.ts';
import { signalNumber, EXIT_STATUS_PATTERN } from '../api/signals.ts';
import { splitWords, WordSyntaxError, type WordWarning } from '../api/words.ts';
import type { SectionValues } from '../api/types.ts';
import { parseBoolean, type Assignment } from './parse.ts';
import type { Diagnostic } from './errors.ts';

export class Collector {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  error(a: Pick<Assignment, 'file' | 'line'> & { column?: number }, message: string, hint?: string, directive?: string): void {
    this.errors.push({ severity: 'error', file: a.file, line: a.line, column: a.column ?? 1, message, ...(hint ? { hint } : {}), ...(directive ? { directive } : {}) });
  }
  warn(a: Pick<Assignment, 'file' | 'line'> & { column?: number }, message: string, directive?: string, hint?: string): void {
    this.warnings.push({ severity: 'warning', file: a.file, line: a.line, column: a.column ?? 1, message, ...(directive ? { directive } : {}), ...(hint ? { hint } : {}) });
  }
}


const LIMIT_RE = new RegExp(LIMIT_PATTERN);
const SIZE_RE = new RegExp(SIZE_PATTERN);
const EXIT_RE = new RegExp(EXIT_STATUS_PATTERN);
const RESETTABLE = new Set(['list', 'commands', 'environment', 'lines', 'exitStatus', 'condition']);

export function applyDirective(d: Directive, a: Assignment, value: string, target: SectionValues, c: Collector): void {
  const at = { file: a.file, line: a.line, column: a.valueColumn };
  const key = `${d.name}=`;
  // in place: a unit of n repeated directives converts in O(n), not O(n²) (issue 12)
  const append = (items: unknown[]): void => {
    const list = target[d.field];
    if (Array.isArray(list)) { for (const it of items) list.push(it); } else target[d.field] = [...items];
  };
  if (value === '') {
    if (d.kind.t === 'condition') {
      const family = d.name.startsWith('Condition') ? 'condition' : 'assert';
      for (const k of Object.keys(target)) if (k.startsWith(family)) delete target[k];
    } else if (d.name === 'CapabilityBoundingSet') target[d.field] = []; // the empty set (config_parse_capability_set()), not a reset to all
    else delete target[d.field];
    if (!RESETTABLE.has(d.kind.t)) return;
    return;
  }
  const words = (): string[] | undefined => {
    const warnings: WordWarning[] = [];
    try {
      const ws = splitWords(value, warnings).map((w) => w.text);
      for (const w of warnings) c.warn({ ...at, column: a.valueColumn + w.column }, w.message, key);
      return ws;
    } catch (e) {
      if (e instanceof WordSyntaxError) { c.error({ ...at, column: a.valueColumn + e.column }, e.message, 'close the quote or escape it with a backslash', key); return undefined; }
      throw e;
    }
  };
  switch (d.kind.t) {
    case 'string':
      if (d.kind.pattern && !new RegExp(d.kind.pattern).test(value)) { c.error(at, `invalid value "${value}"`, `expected ${d.kind.pattern}`, key); return; }
      target[d.field] = value;
      return;
    case 'list': { const ws = words(); if (ws) append(ws); return; }
    case 'bool': {
      const b = parseBoolean(value);
      if (b === undefined) { c.error(at, `"${value}" is not a boolean`, 'use yes/no, true/false, on/off or 1/0', key); return; }
      target[d.field] = b;
      return;
    }
    case 'boolOr': {
      const b = parseBoolean(value);
      if (b !== undefined) { target[d.field] = String(b); return; }
      if (d.kind.values && !d.kind.values.includes(value)) { c.error(at, `unknown value "${value}"`, `a boolean (yes/no) or one of: ${d.kind.values.join(', ')}`, key); return; }
      target[d.field] = value;
      return;
    }
    case 'size':
      if (!SIZE_RE.test(value)) { c.error(at, `invalid size "${value}"`, 'bytes with an optional K, M, G, T, P or E suffix (base 1024), a percentage like 50%, or infinity', key); return; }
      target[d.field] = /^[0-9]+$/.test(value) && Number(value) <= Number.MAX_SAFE_INTEGER ? Number(value) : value;
      return;
    case 'intOrString': {
      const n = /^[0-9]+$/.test(value) ? Number(value) : undefined;
      if (!new RegExp(d.kind.pattern).test(value) || (n !== undefined && ((d.kind.min !== undefined && n < d.kind.min) || (d.kind.max !== undefined && n > d.kind.max)))) {
        c.error(at, `invalid value "${value}"`, `expected ${d.kind.pattern}${d.kind.min !== undefined || d.kind.max !== undefined ? `, numbers ${d.kind.min ?? '-∞'}…${d.kind.max ?? '∞'}` : ''}`, key);
        return;
      }
      target[d.field] = n !== undefined && n <= Number.MAX_SAFE_INTEGER ? n : value;
      return;
    }
    case 'timespan':
      try { parseTimespan(value); } catch (e) {
        c.error({ ...at, column: a.valueColumn + ((e as { column?: number }).column ?? 0) }, (e as Error).message, 'a time span is like "5min 20s", "100ms", "2h", "infinity" or a number of seconds', key);
        return;
      }
      target[d.field] = /^[0-9]+$/.test(value) && Number(value) <= Number.MAX_SAFE_INTEGER ? Number(value) : value;
      return;
    case 'int': {
      if (!/^-?[0-9]+$/.test(value)) { c.error(at, `"${value}" is not an integer`, undefined, key); return; }
      const n = Number(value);
      if ((d.kind.min !== undefined && n < d.kind.min) || (d.kind.max !== undefined && n > d.kind.max)) {
        c.error(at, `${n} is out of range`, `allowed: ${d.kind.min ?? '-∞'}…${d.kind.max ?? '∞'}`, key);
        return;
      }
      target[d.field] = n;
      return;
    }
    case 'enum':
      if (!d.kind.values.includes(value)) { c.error(at, `unknown value "${value}"`, `one of: ${d.kind.values.join(', ')}`, key); return; }
      target[d.field] = value;
      return;
    case 'commands': {
      const warnings: WordWarning[] = [];
      try {
        const cmds = parseCommandLine(value, warnings);
        if (cmds.length === 0) { c.error(at, 'empty command line', 'write the program to run, or an empty assignment to reset the list', key); return; }
      } catch (e) {
        if (e instanceof WordSyntaxError) { c.error({ ...at, column: a.valueColumn + e.column }, e.message, 'commands follow systemd.service(5) "Command lines": close quotes, use \\; for a literal semicolon', key); return; }
        throw e;
      }
      for (const w of warnings) c.warn({ ...at, column: a.valueColumn + w.column }, w.message, key);
      append([value]);
      return;
    }
    case 'environment': {
      const ws = words();
      if (!ws) return;
      const valid = ws.filter((w) => {
        const ok = /^[^=\s0-9][^=\s]*=/.test(w);
        if (!ok) c.warn(at, `invalid environment assignment "${w}", ignored (as systemd does)`, key, 'write NAME=value');
        return ok;
      });
      append(valid);
      return;
    }
    case 'lines': append([value]); return;
    case 'exitStatus': {
      const ws = words();
      if (!ws) return;
      for (const w of ws) {
        if (!EXIT_RE.test(w) || (/^[0-9]+$/.test(w) && Number(w) > 255)) { c.error(at, `"${w}" is not an exit status (0–255, a name like TEMPFAIL) or a signal name`, undefined, key); return; }
      }
      append(ws.map((w) => (/^[0-9]+$/.test(w) ? Number(w) : w)));
      return;
    }
    case 'signal':
      if (signalNumber(value) === undefined) { c.error(at, `unknown signal "${value}"`, 'use a name such as SIGTERM, SIGINT, SIGKILL, or a number', key); return; }
      target[d.field] = /^[0-9]+$/.test(value) ? Number(value) : value;
      return;
    case 'limit':
      if (!LIMIT_RE.test(value)) { c.error(at, `invalid resource limit "${value}"`, 'use a number, "infinity", or soft:hard', key); return; }
      { const problem = rlimitProblem(d.name.replace(/^Limit/, ''), value); if (problem) { c.error(at, `invalid resource limit "${value}": ${problem}`, 'systemd ignores such a value and keeps the default; write it as systemd reads it (sizes 64K, times 1min, counts without units)', key); return; } }
      target[d.field] = /^[0-9]+$/.test(value) && Number(value) <= Number.MAX_SAFE_INTEGER ? Number(value) : value;
      return;
    case 'condition': append([value]); return;
  }
}
