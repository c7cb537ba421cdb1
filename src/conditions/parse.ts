// A unit's Condition*=/Assert*= from its spec (spec.unit.conditionPathExists: ["|!/x", …]) as
// systemd's load-fragment.c reads them: a leading "|" (then blanks) makes a check triggering,
// a "!" (then blanks) negates it; a path check whose path is not absolute is ignored. systemd
// prepends each check to its unit's list, so the last one written is evaluated first.

import { fieldName } from '../api/table/kinds.ts';
import { CHECK_TYPES, PATH_TYPES, type Check, type CheckType, type Family } from './types.ts';

export interface ParsedChecks {
  /** In systemd's evaluation order (the reverse of the order written). */
  readonly conditions: readonly Check[];
  readonly asserts: readonly Check[];
  /** Checks systemd ignores at load, with its words ("ConditionPathExists= path is not absolute, ignoring: x"). */
  readonly ignored: readonly string[];
}

const FIELDS: ReadonlyMap<string, { family: Family; type: CheckType }> = new Map(
  (['Condition', 'Assert'] as const).flatMap((family) => CHECK_TYPES.map((type) => [fieldName(`${family}${type}`), { family, type }] as const)));

/** path_simplify(): "//a/./b/" → "/a/b" (".." is kept, as systemd keeps it). */
export function simplifyPath(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  return (p.startsWith('/') ? '/' : '') + parts.join('/') || (p.startsWith('/') ? '/' : '.');
}

/** One written value → a check, or why systemd ignores it. */
export function parseCheck(family: Family, type: CheckType, raw: string): Check | string {
  let v = raw;
  const trigger = v.startsWith('|');
  if (trigger) v = v.slice(1).replace(/^[ \t\n\r]+/, '');
  const negate = v.startsWith('!');
  if (negate) v = v.slice(1).replace(/^[ \t\n\r]+/, '');
  if (PATH_TYPES.has(type)) {
    if (!v.startsWith('/')) return `${family}${type}= path is not absolute, ignoring: ${v}`;
    v = simplifyPath(v);
  }
  return { family, type, trigger, negate, parameter: v };
}

/** The checks of a spec's [Unit] section, in evaluation order. */
export function checksFromSpec(unit: Readonly<Record<string, unknown>> | undefined): ParsedChecks {
  const written: Record<Family, Check[]> = { Condition: [], Assert: [] };
  const ignored: string[] = [];
  for (const [k, values] of Object.entries(unit ?? {})) {
    const f = FIELDS.get(k);
    if (!f || !Array.isArray(values)) continue;
    for (const raw of values) {
      if (typeof raw !== 'string' || raw === '') continue;
      const c = parseCheck(f.family, f.type, raw);
      if (typeof c === 'string') ignored.push(c); else written[f.family].push(c);
    }
  }
  return { conditions: written.Condition.reverse(), asserts: written.Assert.reverse(), ignored };
}
