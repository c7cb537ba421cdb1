// The canonical form of what runs (issue 18): two spellings that systemd reads the same way
// are one form, so re-writing a spec (key order, `5` for "5s", "TERM" for "SIGTERM", "yes" for
// "true", a default written out, an empty list) makes neither a new revision (the controller's
// rollout) nor a restart (the agent's runtime hash). Values take the form systemd prints
// (systemctl show): time spans as format_timespan() writes them ("1min 30s"), signals by name,
// booleans as booleans ("true"/"false" where a word may stand instead), numbers as numbers,
// sizes with the largest exact K/M/G/T/P/E suffix; exit-status lists sorted, without repeats; a
// field set to a fixed systemd default (one no other setting changes, as src/engine/config.ts
// reads it) is dropped. Conservative: a value it cannot read is kept as written (then it only
// equals itself), and keys it does not know are kept. Pure.

import { directiveByField, type Section } from './directives.ts';
import { formatTimespan, parseTimespan } from './timespan.ts';
import { EXIT_STATUS_NAMES, signalName, signalNumber } from './signals.ts';
import type { ServiceUnitSpec } from './types.ts';

/** systemd's parse_boolean() words (as src/unitfile/parse.ts reads them). */
function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(s)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(s)) return false;
  return undefined;
}

const numeric = (v: unknown): unknown => (typeof v === 'string' && /^[0-9]+$/.test(v) && Number(v) <= Number.MAX_SAFE_INTEGER ? Number(v) : v);

function timespan(v: unknown): unknown {
  if (typeof v !== 'string' && typeof v !== 'number') return v;
  let usec: number;
  try { usec = parseTimespan(v); } catch { return v; }
  const f = formatTimespan(usec);
  // one form per value: format_timespan()'s when it reads back exactly, else microseconds
  try { if (parseTimespan(f) === usec) return f; } catch { /* below */ }
  return `${usec}us`;
}

function signal(v: unknown): unknown {
  const n = typeof v === 'number' ? (Number.isInteger(v) ? v : undefined) : typeof v === 'string' ? signalNumber(v) : undefined;
  return n === undefined ? v : signalName(n);
}

const SUFFIXES = ['', 'K', 'M', 'G', 'T', 'P', 'E'];

function size(v: unknown): unknown {
  const m = typeof v === 'string' ? /^([0-9]+)([KMGTPE]?)$/.exec(v) : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? [String(v), String(v), ''] : null;
  if (!m) return v;
  let n = BigInt(m[1]!) * 1024n ** BigInt(SUFFIXES.indexOf(m[2]!));
  let i = 0;
  while (n > 0n && n % 1024n === 0n && i < SUFFIXES.length - 1) { n /= 1024n; i++; }
  return i === 0 && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : `${n}${SUFFIXES[i]}`;
}

/** An exit-status list as a set: codes (names read as numbers) ascending, then signals by number. */
function exitStatuses(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const codes = new Set<number>();
  const signals = new Set<number>();
  const other = new Set<string>();
  for (const item of v) {
    const s = String(item);
    if (/^[0-9]+$/.test(s)) codes.add(Number(s));
    else if (EXIT_STATUS_NAMES[s] !== undefined) codes.add(EXIT_STATUS_NAMES[s]);
    else { const n = signalNumber(s); if (n !== undefined) signals.add(n); else other.add(s); }
  }
  return [...[...codes].sort((a, b) => a - b), ...[...signals].sort((a, b) => a - b).map(signalName), ...[...other].sort()];
}

/**
 * Fixed defaults (canonical form): a field holding one is as if absent. Only those no other
 * setting changes (Type=, TimeoutStartSec=, NotifyAccess=, OOMPolicy=, RestartKillSignal=
 * depend on others: not here); test/controller/canonical.test.ts checks each against the engine.
 */
export const FIXED_DEFAULTS: Readonly<Record<'unit' | 'service', Readonly<Record<string, unknown>>>> = {
  unit: { startLimitIntervalSec: '10s', startLimitBurst: 5 },
  service: {
    remainAfterExit: false, guessMainPID: true, restart: 'no', restartMode: 'normal', restartSec: '100ms', restartSteps: 0,
    restartMaxDelaySec: 'infinity', runtimeMaxSec: 'infinity', runtimeRandomizedExtraSec: '0', watchdogSec: '0',
    timeoutStartFailureMode: 'terminate', timeoutStopFailureMode: 'terminate', killMode: 'control-group',
    killSignal: 'SIGTERM', sendSIGHUP: false, sendSIGKILL: true, finalKillSignal: 'SIGKILL', watchdogSignal: 'SIGABRT', reloadSignal: 'SIGHUP',
  },
};

/** One field's value in canonical form (by the directive table's kind of the field). */
export function canonicalValue(section: Section, field: string, v: unknown): unknown {
  const d = directiveByField(section, field);
  if (!d) return v;
  switch (d.kind.t) {
    case 'bool': return bool(v) ?? v;
    case 'boolOr': { const b = bool(v); return b === undefined ? v : String(b); }
    case 'timespan': return timespan(v);
    case 'signal': return signal(v);
    case 'size': return size(v);
    case 'int': case 'intOrString': return numeric(v);
    case 'exitStatus': return exitStatuses(v);
    default: return v;
  }
}

/** A section's values in canonical form: empty lists and fixed defaults dropped, keys sorted. */
export function canonicalSection(section: Section, values: Record<string, unknown> | undefined): Record<string, unknown> {
  const defaults = section === 'Unit' ? FIXED_DEFAULTS.unit : section === 'Service' ? FIXED_DEFAULTS.service : {};
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(values ?? {}).sort()) {
    const v = canonicalValue(section, k, values![k]);
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    if (k in defaults && defaults[k] === v) continue;
    out[k] = v;
  }
  return out;
}

/** JSON with object keys sorted at every depth: one text per value, whatever the key order. */
export function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

/** A spec with its [Unit], [Service] and [Install] values in canonical form (empty sections dropped). */
export function canonicalSpec(spec: ServiceUnitSpec): ServiceUnitSpec {
  const out: Record<string, unknown> = { ...spec };
  for (const [key, section] of [['unit', 'Unit'], ['service', 'Service'], ['install', 'Install']] as const) {
    if (spec[key] === undefined) continue;
    const c = canonicalSection(section, spec[key]);
    if (Object.keys(c).length > 0) out[key] = c; else delete out[key];
  }
  return JSON.parse(sortedJson(out)) as ServiceUnitSpec;
}
