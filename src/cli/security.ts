// unitctl security [UNIT...] — systemd-analyze security for the units of the standalone agent
// (their saved spec), for unit files (--offline FILE.service, with their drop-ins) or for a
// ServiceUnit of the cluster (kubectl unit security NAME): systemd 257's table and overall
// exposure, then what this node does not apply (src/security).

import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { readUnitState, unitDirOfJournal } from '../runner/store.ts';
import { request, resolveStateDir, AgentUnreachable } from './client.ts';
import { convertText, findDropIns, parseUnitName, instantiate, UnitFileError, formatDiagnostic } from '../unitfile/index.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { unitSecurity, changedRows, renderAnalyze, layoutTable, type UnitSecurity } from '../security/index.ts';
import { renderOverview } from '../security/render.ts';
import { EXIT, UsageError, type Io } from './io.ts';

export const SECURITY_HELP = `Usage: unitctl security [UNIT...] [--threshold=N] [-o json] [--state-dir DIR]
       unitctl security --offline FILE.service... [--threshold=N] [-o json]
       kubectl unit security NAME [-n NS]        (unitctl security NAME --namespace NS)

The exposure table and overall level of systemd-analyze security (systemd 257): every check,
its exposure, and the overall exposure 0.0-10.0 with its level (PERFECT, SAFE, OK, MEDIUM,
EXPOSED, UNSAFE, DANGEROUS), computed from the unit's spec as systemd would load it. Below it,
the directives the unit sets that this node does not apply, the rows they change and the
exposure without them (what runs if the agent starts the unit with --allow-unenforced).

Without UNIT: the overview of every unit of the agent (Type=oneshot units left out, as
systemd-analyze does). --offline reads unit files (and FILE.service.d/ drop-ins beside them)
instead of the agent's units; a template is analyzed as TEMPLATE@test_instance.service.
--threshold=N: exit status 1 when an overall exposure is above N (0-100, tenths: 96 is 9.6).
Exit status 1 when a unit is not found.
`;

/** unit_name_mangle(): a name without a unit type's suffix is a service (org.freedesktop.Accounts → ….service). */
const nameOf = (arg: string): string => (/\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)$/.test(arg) ? arg : `${arg}.service`);

/** The unit's table (systemd's text) and, when the node does not apply some directives, what runs. */
export function securityText(s: UnitSecurity): string {
  let out = renderAnalyze(s.systemd);
  if (s.gaps.length === 0) return out;
  const refused = s.gaps.filter((g) => g.refused).map((g) => g.directive);
  const reported = s.gaps.filter((g) => !g.refused).map((g) => `${g.directive}=`);
  const byRow = new Map<string, string[]>();
  for (const g of s.gaps) for (const r of g.rows) byRow.set(r, [...(byRow.get(r) ?? []), `${g.directive}=`]);
  out += `\nNot applied on this node: ${s.gaps.map((g) => `${g.directive}=`).join(', ')}.`;
  if (refused.length > 0) out += ` The agent does not start the unit unless run with --allow-unenforced=${refused.join(',')}.`;
  if (reported.length > 0) out += ` It runs without ${reported.join(', ')}.`;
  out += ' Without them:\n';
  for (const g of s.gaps) out += `  ${g.directive}=: ${g.reason}\n`;
  out += layoutTable([' ', 'NAME', 'DESCRIPTION', 'NOT APPLIED', 'EXPOSURE'],
    changedRows(s).map((r) => [r.mark, r.id, r.description ?? '', (byRow.get(r.id) ?? []).join(' '), r.exposure ?? '']));
  return `${out}\n→ Exposure as applied on this node for ${s.applied.unit}: ${s.applied.exposureText} ${s.applied.level} ${s.applied.glyph}\n`;
}

function json(s: UnitSecurity): unknown {
  const rows = (a: UnitSecurity['systemd']): unknown[] => a.rows.map((r) => ({ set: r.badness === undefined ? null : r.badness === 0, name: r.id, description: r.description ?? null, weight: r.weight, badness: r.badness ?? null, range: r.range, exposure: r.exposure ?? null }));
  return {
    unit: s.systemd.unit, exposure: s.systemd.exposureText, level: s.systemd.level, checks: rows(s.systemd),
    notApplied: s.gaps, applied: { exposure: s.applied.exposureText, level: s.applied.level },
  };
}

interface Loaded { readonly name: string; readonly spec: ServiceUnitSpec }

function loadFile(file: string): Loaded {
  if (!existsSync(file)) throw new UsageError(`security: ${file}: no such file`);
  const fileName = basename(file);
  const template = parseUnitName(fileName).isTemplate;
  const name = template ? instantiate(fileName, 'test_instance') : fileName;
  const dropIns = findDropIns(dirname(file), name).map((p) => ({ file: p, text: readFileSync(p, 'utf8') }));
  const r = convertText(readFileSync(file, 'utf8'), file, dropIns, { unitName: fileName, ...(template ? { instance: 'test_instance' } : {}) });
  return { name, spec: r.object.spec };
}

async function loadFromAgent(stateDir: string, name: string, io: Io): Promise<Loaded | undefined> {
  const res = await request(stateDir, { cmd: 'status', unit: name });
  if (!res.ok || !res.unit) { io.stderr(`Unit ${name} not found, cannot analyze.\n`); return undefined; }
  const spec = readUnitState(unitDirOfJournal(res.unit.LogPath))?.spec;
  if (!spec) { io.stderr(`Unit ${res.unit.Id} has no readable saved state under ${unitDirOfJournal(res.unit.LogPath)}, cannot analyze.\n`); return undefined; }
  return { name: res.unit.Id, spec };
}

/** Prints the units as systemd-analyze does: one table per unit (a blank line between), the overview after several. */
function print(loaded: readonly Loaded[], opts: { json: boolean; threshold: number; short: boolean }, io: Io, failedBefore: boolean): number {
  // as acquire_security_info(): a masked unit is not analyzed (left out of the overview)
  const masked = loaded.filter((u) => u.spec.masked === true);
  if (!opts.short) for (const u of masked) io.stderr(`Unit ${u.name} is masked, cannot analyze.\n`);
  const failed = failedBefore || (!opts.short && masked.length > 0);
  const units = loaded.filter((u) => u.spec.masked !== true);
  const all = units.map((u) => unitSecurity(u.spec, u.name));
  if (opts.json) io.stdout(JSON.stringify(all.length === 1 && !opts.short ? json(all[0]!) : all.map(json), null, 2) + '\n');
  else {
    if (!opts.short) io.stdout(all.map(securityText).join('\n'));
    if (opts.short || all.length > 1) io.stdout(`${opts.short ? '' : '\n'}${renderOverview(all.map((s) => s.systemd))}`);
  }
  return failed || all.some((s) => s.systemd.exposure > opts.threshold) ? EXIT.failure : EXIT.ok;
}

export async function runSecurity(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    offline: { type: 'boolean' }, threshold: { type: 'string' }, output: { type: 'string', short: 'o' }, 'state-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) { io.stdout(SECURITY_HELP); return EXIT.ok; }
  const threshold = values.threshold === undefined ? 100 : Number(values.threshold);
  if (!/^[0-9]+$/.test(values.threshold ?? '0') || threshold > 100) throw new UsageError(`security: --threshold=${values.threshold}: a number 0-100`);
  if (values.output !== undefined && values.output !== 'json') throw new UsageError(`security: -o ${values.output}: only json`);
  const opts = { json: values.output === 'json', threshold, short: false };
  for (const p of positionals) if (!values.offline && !nameOf(p).endsWith('.service')) { io.stderr(`Unit ${p} is not a service unit, refusing.\n`); return EXIT.failure; }
  if (values.offline) {
    if (positionals.length === 0) throw new UsageError('security: --offline needs unit files (unitctl security --offline web.service)');
    const units: Loaded[] = [];
    let failed = false;
    for (const f of positionals) {
      try { units.push(loadFile(f)); } catch (e) {
        if (!(e instanceof UnitFileError)) throw e;
        for (const d of e.diagnostics) io.stderr(formatDiagnostic(d) + '\n');
        failed = true;
      }
    }
    return print(units, opts, io, failed);
  }
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  try {
    let names = positionals.map(nameOf);
    const short = names.length === 0;
    if (short) {
      const res = await request(stateDir, { cmd: 'list' });
      names = (res.ok ? res.units ?? [] : []).map((u) => u.Id).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    }
    const units: Loaded[] = [];
    let failed = false;
    for (const n of names) {
      const u = await loadFromAgent(stateDir, n, io);
      if (!u) { failed = true; continue; }
      if (short && u.spec.service?.['type'] === 'oneshot') continue;
      units.push(u);
    }
    return print(units, { ...opts, short }, io, failed);
  } catch (e) {
    if (e instanceof AgentUnreachable) { io.stderr(`unitctl: ${e.message}\n`); return EXIT.failure; }
    throw e;
  }
}

/** kubectl unit security NAME: the ServiceUnit as the cluster stores it. */
export async function clusterSecurity(args: string[], io: Io): Promise<number> {
  if (args.includes('--offline')) return runSecurity(args.filter((a) => a !== '--cluster'), io);
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    namespace: { type: 'string', short: 'n' }, kubeconfig: { type: 'string' }, cluster: { type: 'boolean' }, threshold: { type: 'string' },
    output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) { io.stdout(SECURITY_HELP); return EXIT.ok; }
  if (positionals.length === 0) throw new UsageError('security: name a ServiceUnit (kubectl unit security web)');
  const { KubeClient, ApiError } = await import('../kube/client.ts');
  const { SU_PATH } = await import('../api/contract.ts');
  const c = (() => { try { return KubeClient.load(values.kubeconfig); } catch (e) { throw new UsageError(`cannot load a kubeconfig: ${(e as Error).message}`); } })();
  const ns = values.namespace ?? 'default';
  const units: Loaded[] = [];
  let failed = false;
  for (const p of positionals) {
    const name = p.replace(/^(serviceunits?|su)\//, '').replace(/\.service$/, '');
    try {
      const su = await c.request<{ metadata: { name: string }; spec: ServiceUnitSpec }>(SU_PATH(ns, name));
      units.push({ name: su.spec.unitName ?? `${su.metadata.name}.service`, spec: su.spec });
    } catch (e) {
      io.stderr(e instanceof ApiError && e.status === 404 ? `ServiceUnit ${ns}/${name} not found, cannot analyze.\n` : `cannot read ServiceUnit ${ns}/${name}: ${(e as Error).message}\n`);
      failed = true;
    }
  }
  const threshold = values.threshold === undefined ? 100 : Number(values.threshold);
  return print(units, { json: values.output === 'json', threshold, short: false }, io, failed);
}
