// What a ServiceUnit asks for that its node does not apply, read off the directive table.
// Pure: the converter and `unitctl validate` report it; the agent refuses to start a unit
// that asks for an unapplied protection (fail closed) unless --allow-unenforced names it.

import { DIRECTIVES, APPLYING, SECTION_FIELD, type Applier, type Directive, type Section } from './directives.ts';
import type { ServiceUnitSpec } from './types.ts';

export interface Unapplied {
  /** systemd's name, e.g. "ProtectSystem". */
  readonly name: string;
  readonly section: Section;
  /** Where it is in the object, e.g. "spec.service.protectSystem". */
  readonly path: string;
  readonly applier: Applier;
  /** Why it is not applied (for a partly applied one, why this value is not). */
  readonly reason: string;
  /** true: running without it leaves the host or the service unprotected, so the unit fails closed. */
  readonly protects: boolean;
}

/** A directive is set when it is present and not an empty list. */
const isSet = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);

/** Why the value `v` of `d` is not applied on a node, or undefined when it is. */
export function gapOf(d: Directive, v: unknown): string | undefined {
  if (d.gap) return d.gap(v);
  return APPLYING.has(d.applier) ? undefined : d.reason ?? 'not applied';
}

/** The directives `spec` sets that its node will not apply, in table order. */
export function unappliedDirectives(spec: ServiceUnitSpec | undefined): Unapplied[] {
  const out: Unapplied[] = [];
  if (!spec || typeof spec !== 'object') return out;
  for (const d of DIRECTIVES) {
    const key = SECTION_FIELD[d.section];
    const values = spec[key];
    if (!values || typeof values !== 'object') continue;
    const v = (values as Record<string, unknown>)[d.field];
    if (!isSet(v)) continue;
    const reason = gapOf(d, v);
    if (reason === undefined) continue;
    out.push({ name: d.name, section: d.section, path: `spec.${key}.${d.field}`, applier: d.applier, reason, protects: d.protects });
  }
  return out;
}

/** The --allow-unenforced flag: a comma-separated list of directive names (ProtectSystem, or ProtectSystem=), or "all". */
export type AllowUnenforced = 'all' | ReadonlySet<string>;

export function parseAllowUnenforced(text: string | undefined): AllowUnenforced {
  if (text === undefined || text.trim() === '') return new Set();
  const names = text.split(',').map((s) => s.trim().replace(/=$/, '')).filter(Boolean);
  return names.includes('all') ? 'all' : new Set(names);
}

/** Names in an --allow-unenforced list that are not directives of the table (likely typos). */
export function unknownAllowed(allow: AllowUnenforced): string[] {
  if (allow === 'all') return [];
  const known = new Set(DIRECTIVES.map((d) => d.name));
  return [...allow].filter((n) => !known.has(n));
}

/** The unapplied protections that keep the unit from starting under `allow` (empty: it may start). */
export function refusedDirectives(unapplied: readonly Unapplied[], allow: AllowUnenforced = new Set()): Unapplied[] {
  return unapplied.filter((u) => u.protects && allow !== 'all' && !allow.has(u.name));
}

/** What is not applied and what follows from it, without the name: "… not applied yet (sandbox, issue 14); a unit asking for it does not start unless …". */
export function unappliedMessage(u: Unapplied): string {
  const consequence = u.protects
    ? `a unit asking for it does not start unless the agent runs with --allow-unenforced=${u.name}`
    : 'reported, not refused';
  return `${u.applier === 'carried' ? 'carried, not acted on: ' : ''}${u.reason}; ${consequence}`;
}

/** Why a unit does not start: "ProtectSystem=, PrivateTmp= are not applied on this node (…); …". */
export function refusalMessage(refused: readonly Unapplied[]): string {
  const names = refused.map((u) => `${u.name}=`);
  const reasons = [...new Set(refused.map((u) => u.reason))].join('; ');
  return `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not applied on this node (${reasons}) and protect${names.length === 1 ? 's' : ''} the host or the service, so the unit does not start; `
    + `run the agent with --allow-unenforced=${refused.map((u) => u.name).join(',')} to start it without ${names.length === 1 ? 'it' : 'them'}`;
}

/** How a node treats a directive it does not apply: refused (fail closed), allowed by --allow-unenforced, or reported. */
export type Enforcement = 'refused' | 'allowed' | 'reported';

/** A not-applied directive as status shows it (unitctl status -o json NotApplied, status.nodes[].notApplied). */
export interface NotAppliedEntry {
  readonly directive: string;
  readonly applier: Applier;
  readonly reason: string;
  readonly enforcement: Enforcement;
}

export function notAppliedEntries(notApplied: readonly Unapplied[], refused: readonly Unapplied[]): NotAppliedEntry[] {
  return notApplied.map((u) => ({
    directive: `${u.name}=`, applier: u.applier, reason: u.reason,
    enforcement: refused.includes(u) ? 'refused' : u.protects ? 'allowed' : 'reported',
  }));
}

/** One status or log line for an entry: "ProtectSystem= — …; refused: the unit does not start". */
export function describeEntry(e: NotAppliedEntry): string {
  const what = e.enforcement === 'refused' ? `refused: the unit does not start (--allow-unenforced=${e.directive.slice(0, -1)} runs it without)`
    : e.enforcement === 'allowed' ? 'not enforced: allowed by --allow-unenforced' : 'reported, not refused';
  return `${e.directive} — ${e.reason}; ${what}`;
}

/** One line for logs, status and warnings: "ProtectSystem=: file-system sandboxing is not applied yet (sandbox, issue 14); …". */
export function describeUnapplied(u: Unapplied): string {
  return `${u.name}=: ${unappliedMessage(u)}`;
}

/** Directives that the engine, the runner or the shim apply today: a test walks them. */
export function appliedDirectives(appliers: ReadonlyArray<'engine' | 'runner' | 'shim'> = ['engine', 'runner', 'shim']): readonly Directive[] {
  return DIRECTIVES.filter((d) => (appliers as readonly string[]).includes(d.applier));
}

/** Directives whose applier is one of `appliers` (e.g. 'sandbox'), for docs and tests. */
export function directivesAppliedBy(...appliers: Applier[]): readonly Directive[] {
  return DIRECTIVES.filter((d) => appliers.includes(d.applier));
}

/** The section and name of each line of the unsupported-directives annotation (directives unknown to the table). */
export function annotationDirectives(text: string | undefined): Array<{ section: string; name: string }> {
  const out: Array<{ section: string; name: string }> = [];
  let section = '';
  for (const line of (text ?? '').split('\n')) {
    const m = /^\[(.+)\]$/.exec(line);
    if (m) { section = m[1]!; continue; }
    const eq = line.indexOf('=');
    if (eq > 0) out.push({ section, name: line.slice(0, eq).trim() });
  }
  return out;
}
