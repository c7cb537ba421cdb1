// The effective settings of a unit file, as systemd would end up with them: aliases mapped to
// their current names, empty assignments resetting, the last scalar winning, lists split into
// words, booleans and time spans in canonical form. Two unit files are equivalent when their
// effective settings are equal; the round-trip test and `unitctl convert --check` use this.

import { lookupDirective } from '../api/directives.ts';
import { parseTimespan } from '../api/timespan.ts';
import { splitWords } from '../api/words.ts';
import { parseBoolean, type UnitFile } from './parse.ts';
import { expandNameSpecifiers, parseUnitName } from './specifiers.ts';

export type Effective = Map<string, string[]>;

export function effectiveSettings(files: readonly UnitFile[], unitName: string): Effective {
  const out: Effective = new Map();
  const name = parseUnitName(unitName);
  for (const a of files.flatMap((f) => f.assignments)) {
    const value = expandNameSpecifiers(a.value, name);
    const d = lookupDirective(a.section, a.key);
    if (!d) {
      const k = `${a.section}.${a.key}`;
      out.set(k, [...(out.get(k) ?? []), value]);
      continue;
    }
    const k = `${d.section}.${d.name}`;
    if (value === '') {
      if (d.kind.t === 'condition') {
        const family = d.name.startsWith('Condition') ? 'Unit.Condition' : 'Unit.Assert';
        for (const key of [...out.keys()]) if (key.startsWith(family)) out.delete(key);
      } else out.delete(k);
      continue;
    }
    switch (d.kind.t) {
      case 'list': case 'exitStatus': case 'environment': {
        let ws: string[] = [];
        try { ws = splitWords(value).map((w) => w.text); } catch { ws = [value]; }
        if (d.kind.t === 'environment') ws = ws.filter((w) => /^[^=\s0-9][^=\s]*=/.test(w));
        out.set(k, [...(out.get(k) ?? []), ...ws]);
        break;
      }
      case 'commands': case 'lines': case 'condition':
        out.set(k, [...(out.get(k) ?? []), value]);
        break;
      case 'bool': out.set(k, [String(parseBoolean(value))]); break;
      case 'boolOr': { const b = parseBoolean(value); out.set(k, [b === undefined ? value : String(b)]); break; }
      case 'timespan': {
        let usec: string;
        try { usec = String(parseTimespan(value)); } catch { usec = value; }
        out.set(k, [usec]);
        break;
      }
      default: out.set(k, [value]);
    }
  }
  return out;
}

/** Lists the differences between two effective settings, empty when equivalent. */
export function diffEffective(a: Effective, b: Effective): string[] {
  const diffs: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = JSON.stringify(a.get(k) ?? null);
    const y = JSON.stringify(b.get(k) ?? null);
    if (x !== y) diffs.push(`${k}: ${x} vs ${y}`);
  }
  return diffs;
}
