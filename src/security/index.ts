// `unitctl security`: the exposure of a ServiceUnit as systemd 257's `systemd-analyze security`
// computes it (checks.ts, info.ts, assess.ts, render.ts), and what it is on a unit-operator node,
// which does not apply every directive (the directive table, api/applied.ts): the rows a
// not-applied directive would change, and the exposure without those directives — what runs if
// the agent is told to start the unit anyway (--allow-unenforced). Pure.

import { gapOf, unappliedDirectives, type Unapplied } from '../api/applied.ts';
import { directiveByField } from '../api/directives.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { assess, type Assessment, type Row } from './assess.ts';
import { securityInfo } from './info.ts';

export { assess, levelOf, type Assessment, type Row } from './assess.ts';
export { securityInfo, type SecurityInfo } from './info.ts';
export { renderAnalyze, sortedRows, layoutTable, overallLine } from './render.ts';

/** A directive the node does not apply that changes rows of the table. */
export interface Gap {
  /** systemd's name, "ProtectSystem". */
  readonly directive: string;
  readonly reason: string;
  /** true: the agent refuses to start the unit unless --allow-unenforced names it. */
  readonly refused: boolean;
  /** The rows (NAME) whose badness it changes. */
  readonly rows: readonly string[];
}

export interface UnitSecurity {
  /** systemd's figure: the unit as written, as systemd 257 would run it. */
  readonly systemd: Assessment;
  /** The same checks without the directives this node does not apply (equal to `systemd` when it applies all). */
  readonly applied: Assessment;
  readonly gaps: readonly Gap[];
}

/** The spec without one section field (or with KeyringMode= at what the agent gives: the agent's own keyring). */
function without(spec: ServiceUnitSpec, removals: ReadonlyArray<{ section: 'unit' | 'service' | 'install'; field: string; value?: unknown }>): ServiceUnitSpec {
  const out: ServiceUnitSpec = { ...spec, unit: { ...spec.unit }, service: { ...spec.service }, install: { ...spec.install } };
  for (const r of removals) {
    const target = out[r.section]!;
    if (r.value === undefined) delete target[r.field]; else target[r.field] = r.value;
  }
  return out;
}

const SECTION = { Unit: 'unit', Service: 'service', Install: 'install' } as const;

/**
 * KeyringMode= is private unless set: systemd gives a system service a session keyring of its
 * own; a node that does not apply KeyringMode= leaves the process in the agent's keyring.
 */
function keyringGap(spec: ServiceUnitSpec): Unapplied | undefined {
  if (spec.service?.['keyringMode'] !== undefined) return undefined;
  const d = directiveByField('Service', 'keyringMode');
  const reason = d ? gapOf(d, 'private') : undefined;
  return d && reason ? { name: d.name, section: d.section, path: 'spec.service.keyringMode', applier: d.applier, reason, protects: false } : undefined;
}

const badnessOf = (rows: readonly Row[]): Map<string, number | undefined> => new Map(rows.map((r) => [r.id, r.badness]));

/** The security assessment of the unit `unitName` (e.g. "web.service") whose spec is `spec`. */
export function unitSecurity(spec: ServiceUnitSpec, unitName: string): UnitSecurity {
  const systemd = assess(securityInfo(spec, unitName));
  const removal = (u: Unapplied): { section: 'unit' | 'service' | 'install'; field: string; value?: unknown } =>
    ({ section: SECTION[u.section], field: u.path.split('.').pop()!, ...(u.path === 'spec.service.keyringMode' ? { value: 'inherit' } : {}) });
  const keyring = keyringGap(spec);
  const unapplied = [...unappliedDirectives(spec), ...(keyring ? [keyring] : [])];
  const before = badnessOf(systemd.rows);
  const gaps: Gap[] = [];
  for (const u of unapplied) {
    const one = assess(securityInfo(without(spec, [removal(u)]), unitName));
    const rows = one.rows.filter((r) => r.badness !== before.get(r.id)).map((r) => r.id);
    if (rows.length > 0) gaps.push({ directive: u.name, reason: u.reason, refused: u.protects, rows });
  }
  const applied = gaps.length === 0 ? systemd : assess(securityInfo(without(spec, unapplied.map(removal)), unitName));
  return { systemd, applied, gaps };
}

/** The rows whose badness differs between systemd's figure and the applied one, as they are applied. */
export function changedRows(s: UnitSecurity): Row[] {
  const before = badnessOf(s.systemd.rows);
  return s.applied.rows.filter((r) => r.badness !== before.get(r.id));
}

/** "9.6 UNSAFE": the figure and level for status and printer columns. */
export const figure = (a: Assessment): string => `${a.exposureText} ${a.level}`;
