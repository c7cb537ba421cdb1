// ServiceUnit → unit file (unitctl render, unitctl cat): the inverse of convert().

import { directivesOf, type Directive, type Section } from '../api/directives.ts';
import { quoteWord } from '../api/cescape.ts';
import { ANNOTATIONS, type ServiceUnit } from '../api/types.ts';

const SECTIONS: readonly Section[] = ['Unit', 'Service', 'Install'];

function renderValue(d: Directive, v: unknown): string[] {
  switch (d.kind.t) {
    case 'bool': return [`${d.name}=${v ? 'yes' : 'no'}`];
    case 'boolOr': return [`${d.name}=${v === 'true' ? 'yes' : v === 'false' ? 'no' : String(v)}`];
    case 'list':
    case 'exitStatus':
      return Array.isArray(v) && v.length > 0 ? [`${d.name}=${v.map((x) => quoteWord(String(x))).join(' ')}`] : [];
    case 'environment':
      return Array.isArray(v) ? v.map((x) => `${d.name}=${quoteWord(String(x))}`) : [];
    case 'commands':
    case 'lines':
    case 'condition':
      // an empty CapabilityBoundingSet is the empty set, written as systemd reads it
      if (Array.isArray(v) && v.length === 0 && d.name === 'CapabilityBoundingSet') return [`${d.name}=`];
      return Array.isArray(v) ? v.map((x) => `${d.name}=${String(x)}`) : [];
    default:
      return [`${d.name}=${String(v)}`];
  }
}

/** Parses the carried-directives annotation back into per-section lines. */
function carriedLines(text: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!text) return out;
  let section = '';
  for (const line of text.split('\n')) {
    const m = /^\[(.+)\]$/.exec(line);
    if (m) { section = m[1]!; continue; }
    if (line.trim() === '') continue;
    out.set(section, [...(out.get(section) ?? []), line]);
  }
  return out;
}

/** Renders a ServiceUnit as systemd unit-file text. */
export function renderUnit(su: ServiceUnit, opts: { header?: boolean } = {}): string {
  const spec = su.spec ?? {};
  if (spec.masked) return '';
  const carried = carriedLines(su.metadata.annotations?.[ANNOTATIONS.unsupported]);
  const blocks: string[] = [];
  if (opts.header !== false) {
    const ns = su.metadata.namespace ? `${su.metadata.namespace}/` : '';
    blocks.push(`# ${spec.unitName ?? `${su.metadata.name}.service`}, rendered from ServiceUnit ${ns}${su.metadata.name}\n`);
  }
  if (su.metadata.annotations?.[ANNOTATIONS.sourceFormat] === 'dbus-service') {
    const lines = ['[D-BUS Service]'];
    const svc = spec.service ?? {};
    if (svc['busName'] !== undefined) lines.push(`Name=${String(svc['busName'])}`);
    if (Array.isArray(svc['execStart']) && svc['execStart'].length > 0) lines.push(`Exec=${String(svc['execStart'][0])}`);
    if (svc['user'] !== undefined) lines.push(`User=${String(svc['user'])}`);
    lines.push(...(carried.get('D-BUS Service') ?? []));
    return blocks.join('') + lines.join('\n') + '\n';
  }
  const sectionValues = { Unit: spec.unit, Service: spec.service, Install: spec.install };
  const sectionNames = [...SECTIONS, ...[...carried.keys()].filter((s) => !SECTIONS.includes(s as Section) && s !== 'D-BUS Service')];
  for (const section of sectionNames) {
    const lines: string[] = [];
    const values = sectionValues[section as Section];
    if (values && SECTIONS.includes(section as Section)) {
      for (const d of directivesOf(section as Section)) {
        const v = values[d.field];
        if (v !== undefined) lines.push(...renderValue(d, v));
      }
    }
    lines.push(...(carried.get(section) ?? []));
    if (lines.length > 0) blocks.push(`[${section}]\n${lines.join('\n')}\n`);
  }
  return blocks.join('\n');
}
