// The [Unit] dependency fields of a spec, typed: what the dependency engine reads. Pure.
// (spec.unit carries them camel-cased, as src/api/table/unit.ts declares: requires, wantedBy…)

import type { ServiceUnitSpec } from '../api/types.ts';
import { parseTimespan } from '../api/timespan.ts';

/** systemd's job modes (systemctl --job-mode=; OnFailureJobMode=). */
export type JobMode = 'replace' | 'fail' | 'replace-irreversibly' | 'isolate' | 'flush' | 'ignore-dependencies' | 'ignore-requirements';

/** The dependency directives of one unit, as written (forward directions only). */
export interface UnitDeps {
  readonly requires: readonly string[];
  readonly requisite: readonly string[];
  readonly wants: readonly string[];
  readonly bindsTo: readonly string[];
  readonly partOf: readonly string[];
  readonly upholds: readonly string[];
  readonly conflicts: readonly string[];
  readonly after: readonly string[];
  readonly before: readonly string[];
  readonly onFailure: readonly string[];
  readonly onSuccess: readonly string[];
  readonly propagatesReloadTo: readonly string[];
  readonly reloadPropagatedFrom: readonly string[];
  readonly propagatesStopTo: readonly string[];
  readonly stopPropagatedFrom: readonly string[];
  readonly onFailureJobMode: JobMode;
  readonly onSuccessJobMode: JobMode;
  readonly stopWhenUnneeded: boolean;
  readonly defaultDependencies: boolean;
  readonly refuseManualStart: boolean;
  readonly refuseManualStop: boolean;
  /** ExecReload= (or Type=notify-reload): reload jobs are applicable. */
  readonly canReload: boolean;
  /** JobTimeoutSec= in µs; Infinity when unset. */
  readonly jobTimeoutUSec: number;
  /** JobRunningTimeoutSec= in µs, from the moment the job runs; Infinity when unset. */
  readonly jobRunningTimeoutUSec: number;
  /** A target: the dependency engine itself makes it active or inactive (no service engine). */
  readonly target: boolean;
  /** Type=oneshot: a finished start job is logged "Finished X." (service.c's finished_job). */
  readonly oneshot: boolean;
  /** spec.masked: only a stop job may be queued for it ("Unit X is masked."). */
  readonly masked: boolean;
  /** RequiresMountsFor=/WantsMountsFor=: absolute paths whose mount units are required/wanted (src/deps/mounts.ts). */
  readonly requiresMountsFor: readonly string[];
  readonly wantsMountsFor: readonly string[];
  /** A mount unit of the host (mounts.ts): the agent neither mounts nor unmounts it; jobs on it do not change it. */
  readonly hostMount: boolean;
  /** AllowIsolate=: the unit may be the anchor of an isolate request. */
  readonly allowIsolate: boolean;
  /** IgnoreOnIsolate=: an isolate leaves the unit (and its job) alone. */
  readonly ignoreOnIsolate: boolean;
}

export const NO_DEPS: UnitDeps = {
  requires: [], requisite: [], wants: [], bindsTo: [], partOf: [], upholds: [], conflicts: [], after: [], before: [],
  onFailure: [], onSuccess: [], propagatesReloadTo: [], reloadPropagatedFrom: [], propagatesStopTo: [], stopPropagatedFrom: [],
  onFailureJobMode: 'replace', onSuccessJobMode: 'replace', stopWhenUnneeded: false, defaultDependencies: true,
  refuseManualStart: false, refuseManualStop: false, canReload: false, jobTimeoutUSec: Infinity, jobRunningTimeoutUSec: Infinity, target: false, oneshot: false, masked: false,
  requiresMountsFor: [], wantsMountsFor: [], hostMount: false, allowIsolate: false, ignoreOnIsolate: false,
};

/** Builds a UnitDeps from a partial one (tests, targets). */
export const deps = (d: Partial<UnitDeps> = {}): UnitDeps => ({ ...NO_DEPS, ...d });

/** The names written in a list value: entries may hold several space-separated names (Requires=a b). */
function written(v: unknown): string[] {
  const items = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return items.flatMap((x) => String(x).split(/\s+/)).filter((s) => s.length > 0);
}

/** An empty list, shared by every unit's unset fields (issue 19: 17 fresh arrays a unit otherwise). */
const NONE: readonly string[] = Object.freeze([]);

/** The valid unit names in a list value (invalid ones are dropped: invalidDependencies() names them). */
function names(v: unknown): readonly string[] {
  if (v === undefined || v === null) return NONE;
  const n = written(v).map(normalizeName).filter(isValidUnitName);
  return n.length === 0 ? NONE : n;
}

/** "foo" names foo.service, as systemctl completes it. */
export const normalizeName = (n: string): string => (/\.[a-z]+$/.test(n) ? n : `${n}.service`);

/** The unit types systemd knows (unit_type_from_string()). */
const UNIT_SUFFIXES = ['service', 'socket', 'target', 'device', 'mount', 'automount', 'swap', 'timer', 'path', 'slice', 'scope'];

/**
 * systemd's unit_name_is_valid(name, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE): at most 255 bytes, a
 * known type suffix, a non-empty prefix of ASCII letters, digits and ":-_.\\", and an optional
 * "@instance" (non-empty: a template is no dependency).
 */
export function isValidUnitName(n: string): boolean {
  if (n.length === 0 || n.length > 255) return false;
  const dot = n.lastIndexOf('.');
  if (dot <= 0 || !UNIT_SUFFIXES.includes(n.slice(dot + 1))) return false;
  return /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?$/.test(n.slice(0, dot));
}

/** The dependency fields read from spec.unit, with their unit-file names (for warnings). */
const DEP_FIELDS: ReadonlyArray<readonly [keyof UnitDeps & string, string]> = [
  ['requires', 'Requires'], ['requisite', 'Requisite'], ['wants', 'Wants'], ['bindsTo', 'BindsTo'], ['partOf', 'PartOf'],
  ['upholds', 'Upholds'], ['conflicts', 'Conflicts'], ['after', 'After'], ['before', 'Before'], ['onFailure', 'OnFailure'],
  ['onSuccess', 'OnSuccess'], ['propagatesReloadTo', 'PropagatesReloadTo'], ['reloadPropagatedFrom', 'ReloadPropagatedFrom'],
  ['propagatesStopTo', 'PropagatesStopTo'], ['stopPropagatedFrom', 'StopPropagatedFrom'],
];

/**
 * The names in the spec's dependency fields that are no valid unit name (systemd: "Failed to add
 * dependency on X, ignoring: Invalid argument" at load time), and the relative paths of
 * RequiresMountsFor=/WantsMountsFor=: the graph leaves them out; the agent logs each message.
 */
export function invalidDependencies(spec: ServiceUnitSpec): Array<{ readonly field: string; readonly name: string; readonly message: string }> {
  const u = (spec.unit ?? {}) as Record<string, unknown>;
  const out: Array<{ field: string; name: string; message: string }> = [];
  for (const [key, field] of DEP_FIELDS) {
    for (const n of written(u[key])) if (!isValidUnitName(normalizeName(n))) out.push({ field, name: n, message: `Failed to add dependency on ${n}, ignoring: Invalid argument (not a valid unit name)` });
  }
  // config_parse_unit_mounts_for(): a relative path is ignored at load (mounts.ts skips it), in systemd 257's words (systemd-analyze verify)
  for (const [key, field] of [['requiresMountsFor', 'RequiresMountsFor'], ['wantsMountsFor', 'WantsMountsFor']] as const) {
    for (const p of written(u[key])) if (!p.startsWith('/')) out.push({ field, name: p, message: `${field}= path is not absolute, ignoring: ${p}` });
  }
  return out;
}

const bool = (v: unknown, dflt: boolean): boolean => (v === undefined ? dflt : v === true || v === 'yes' || v === 'true' || v === '1' || v === 'on');

export const JOB_MODES: readonly JobMode[] = ['replace', 'fail', 'replace-irreversibly', 'isolate', 'flush', 'ignore-dependencies', 'ignore-requirements'];
export const isJobMode = (s: string): s is JobMode => (JOB_MODES as readonly string[]).includes(s);

function mode(v: unknown): JobMode {
  const s = String(v ?? 'replace');
  return isJobMode(s) ? s : 'replace';
}

/** JobTimeoutSec=/JobRunningTimeoutSec= in µs as parse_sec() reads it ("1min 30s", a bare number: seconds); 0 and infinity: no timeout. */
function spanUSec(v: unknown): number {
  if (v === undefined || v === null) return Infinity;
  // validation refuses a malformed span before a spec gets here; one that slips through arms no timer
  let n: number;
  try { n = parseTimespan(typeof v === 'number' ? v : String(v)); } catch { return Infinity; }
  return n === 0 ? Infinity : n;
}

/** The dependency fields of a ServiceUnit spec. */
export function depsFromSpec(spec: ServiceUnitSpec): UnitDeps {
  const u = (spec.unit ?? {}) as Record<string, unknown>;
  const s = (spec.service ?? {}) as Record<string, unknown>;
  const reload = s['execReload'];
  return {
    requires: names(u['requires']), requisite: names(u['requisite']), wants: names(u['wants']),
    bindsTo: names(u['bindsTo']), partOf: names(u['partOf']), upholds: names(u['upholds']),
    conflicts: names(u['conflicts']), after: names(u['after']), before: names(u['before']),
    onFailure: names(u['onFailure']), onSuccess: names(u['onSuccess']),
    propagatesReloadTo: names(u['propagatesReloadTo']), reloadPropagatedFrom: names(u['reloadPropagatedFrom']),
    propagatesStopTo: names(u['propagatesStopTo']), stopPropagatedFrom: names(u['stopPropagatedFrom']),
    onFailureJobMode: mode(u['onFailureJobMode']), onSuccessJobMode: mode(u['onSuccessJobMode']),
    stopWhenUnneeded: bool(u['stopWhenUnneeded'], false), defaultDependencies: bool(u['defaultDependencies'], true),
    refuseManualStart: bool(u['refuseManualStart'], false), refuseManualStop: bool(u['refuseManualStop'], false),
    canReload: (Array.isArray(reload) ? reload.length > 0 : reload !== undefined) || s['type'] === 'notify-reload',
    jobTimeoutUSec: spanUSec(u['jobTimeoutSec']), jobRunningTimeoutUSec: spanUSec(u['jobRunningTimeoutSec']),
    target: false,
    masked: spec.masked === true,
    requiresMountsFor: u['requiresMountsFor'] == null ? NONE : written(u['requiresMountsFor']), wantsMountsFor: u['wantsMountsFor'] == null ? NONE : written(u['wantsMountsFor']), hostMount: false,
    allowIsolate: bool(u['allowIsolate'], false), ignoreOnIsolate: bool(u['ignoreOnIsolate'], false),
    oneshot: s['type'] === 'oneshot' || (s['type'] === undefined && (s['execStart'] === undefined || (Array.isArray(s['execStart']) && s['execStart'].length === 0))),
  };
}
