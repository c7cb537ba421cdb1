// systemd.resource-control(5) for a unit's cgroup (issue 13), pure: the directives of a
// ServiceUnitSpec read into typed values (parseResources), the cgroup file writes that express
// them on a cgroup v2 node or on v1 controller hierarchies (limitWrites), and what a node cannot
// express (unappliable). limits.ts writes the files.
//
// The mappings follow systemd 257's src/core/cgroup.c cgroup_context_apply():
//   v2  memory.min/.low/.high/.max/.swap.max ("max" for infinity), memory.oom.group (OOMPolicy=kill),
//       cpu.idle + cpu.weight, cpu.max "QUOTA PERIOD" | "max PERIOD", cpuset.cpus/.mems,
//       io.bfq.weight + io.weight "default N", pids.max
//   v1  memory.limit_in_bytes (MemoryMax=, "-1" for infinity), cpu.shares
//       (cgroup_cpu_weight_to_shares()), cpu.cfs_period_us then cpu.cfs_quota_us ("-1"),
//       blkio.bfq.weight + blkio.weight (cgroup_weight_io_to_blkio()), pids.max
// and two writes systemd does not make on v1, said where they are made: cpuset.cpus/.mems
// (systemd's v1 controller mask has no cpuset) and memory.memsw.limit_in_bytes (MemorySwapMax=).

import { fieldName } from '../../api/table/kinds.ts';
import { parseTimespan, USEC_PER_MSEC, USEC_PER_SEC } from '../../api/timespan.ts';
import type { Unapplied } from '../../api/applied.ts';
import type { ServiceUnitSpec } from '../../api/types.ts';

/** Where limits are written: one cgroup2 hierarchy with controllers, or v1 controller hierarchies (a hybrid node too). */
export type LimitLayout = 'v2' | 'v1';

/** What the node is: systemd's physical_memory() and system_tasks_max() (src/basic/limits-util.c). */
export interface HostFacts {
  /** Physical memory, bounded by the root cgroup's memory limit, in bytes. */
  readonly physicalMemory: number;
  readonly pageSize: number;
  /** min(kernel.threads-max, kernel.pid_max − 1, the root cgroup's pids.max). */
  readonly tasksMax: number;
}

export type CpuSet = string;

export interface Resources {
  /** Bytes; Infinity for "infinity" (the kernel's "max"). Unset fields are the kernel's defaults. */
  readonly memoryMin: number;
  readonly memoryLow: number;
  readonly memoryHigh: number;
  readonly memoryMax: number;
  readonly memorySwapMax: number;
  /** 1…10000, 'idle', or undefined for the default (100). */
  readonly cpuWeight: number | 'idle' | undefined;
  /** CPUQuota= as CPU time per second of wall time (µs/s); Infinity when unset. */
  readonly cpuQuotaPerSecUSec: number;
  /** CPUQuotaPeriodSec= as asked (µs), Infinity for the default; cpuPeriod() clamps it. */
  readonly cpuQuotaPeriodUSec: number;
  /** Range strings as systemd writes them ("0-3,6"); undefined when unset. */
  readonly allowedCPUs: CpuSet | undefined;
  readonly allowedMemoryNodes: CpuSet | undefined;
  /** The resolved number, Infinity for "infinity"; DefaultTasksMax= (15%) when unset. */
  readonly tasksMax: number;
  /** Whether TasksMax= was set (else tasksMax is the default). */
  readonly tasksMaxSet: boolean;
  /** 1…10000 or undefined for the default (100). */
  readonly ioWeight: number | undefined;
  /** Slice= (the core nests the unit's cgroup in it). */
  readonly slice: string | undefined;
  /** Delegate=: false, true, or the controllers named. */
  readonly delegate: boolean | readonly string[];
  /** memory.oom.group: OOMPolicy=kill (service.c service_add_extras(): "Let the kernel do the killing"). */
  readonly oomGroup: boolean;
  /** Directives set to values that could not be read (the schema normally refuses them first). */
  readonly invalid: ReadonlyArray<{ readonly directive: string; readonly reason: string }>;
  /** Directives set whose value only matters at boot and shutdown (Startup*=): reported, not applied. */
  readonly startupOnly: readonly string[];
}

/**
 * One file write. `optional`: a missing file is no problem (a reset to the kernel default, or
 * one of two files a node may have either of, io.weight / io.bfq.weight); unappliable() says
 * what a node without them cannot express.
 */
export interface LimitWrite {
  readonly controller: string;
  readonly file: string;
  readonly value: string;
  /** The directive the write expresses ("MemoryMax"); "" for a reset no directive asks for. */
  readonly directive: string;
  readonly optional: boolean;
}

// systemd's constants (src/basic/cgroup-util.h)
export const CGROUP_WEIGHT_DEFAULT = 100;
const CGROUP_WEIGHT_MIN = 1, CGROUP_WEIGHT_MAX = 10000;
const CPU_SHARES_MIN = 2, CPU_SHARES_MAX = 262144, CPU_SHARES_DEFAULT = 1024;
const BLKIO_WEIGHT_MIN = 10, BLKIO_WEIGHT_MAX = 1000, BLKIO_WEIGHT_DEFAULT = 500;
const BFQ_WEIGHT_MIN = 1, BFQ_WEIGHT_MAX = 1000, BFQ_WEIGHT_DEFAULT = 100;
/** CGROUP_CPU_QUOTA_DEFAULT_PERIOD_USEC. */
export const CPU_QUOTA_DEFAULT_PERIOD_USEC = 100 * USEC_PER_MSEC;
/** DEFAULT_TASKS_MAX in src/core/main.c: { 15U, 100U }, 15% of system_tasks_max(). */
export const DEFAULT_TASKS_MAX_PERCENT = 15;

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

/** cgroup_cpu_weight_to_shares(): CPUWeight= on v1 (idle is not supported there: the minimum). */
export function cpuWeightToShares(weight: number | 'idle'): number {
  if (weight === 'idle') return CPU_SHARES_MIN;
  return clamp(Math.floor(weight * CPU_SHARES_DEFAULT / CGROUP_WEIGHT_DEFAULT), CPU_SHARES_MIN, CPU_SHARES_MAX);
}

/** cgroup_weight_io_to_blkio(): IOWeight= on v1. */
export function ioWeightToBlkio(weight: number): number {
  return clamp(Math.floor(weight * BLKIO_WEIGHT_DEFAULT / CGROUP_WEIGHT_DEFAULT), BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX);
}

/** BFQ_WEIGHT() (cgroup-util.h): io.weight's 1…100…10000 onto bfq's 1…100…1000, piecewise linear. */
export function bfqWeight(weight: number): number {
  return weight <= CGROUP_WEIGHT_DEFAULT
    ? BFQ_WEIGHT_DEFAULT - Math.floor((CGROUP_WEIGHT_DEFAULT - weight) * (BFQ_WEIGHT_DEFAULT - BFQ_WEIGHT_MIN) / (CGROUP_WEIGHT_DEFAULT - CGROUP_WEIGHT_MIN))
    : BFQ_WEIGHT_DEFAULT + Math.floor((weight - CGROUP_WEIGHT_DEFAULT) * (BFQ_WEIGHT_MAX - BFQ_WEIGHT_DEFAULT) / (CGROUP_WEIGHT_MAX - CGROUP_WEIGHT_DEFAULT));
}

/**
 * cgroup_cpu_adjust_period_and_log(): the period written with CPUQuota=: the default (100ms)
 * without a quota or a CPUQuotaPeriodSec=, else clamped to [1ms, 1s] and long enough that
 * the quota per period is at least 1ms (cgroup_cpu_adjust_period()).
 */
export function cpuPeriod(quotaPerSecUSec: number, periodUSec: number): number {
  if (quotaPerSecUSec === Infinity) return CPU_QUOTA_DEFAULT_PERIOD_USEC;
  const period = periodUSec === Infinity ? CPU_QUOTA_DEFAULT_PERIOD_USEC : periodUSec;
  return Math.min(Math.max(period, USEC_PER_MSEC, Math.floor(USEC_PER_MSEC * USEC_PER_SEC / quotaPerSecUSec)), USEC_PER_SEC);
}

/** The quota per period (cgroup_apply_unified_cpu_quota()): at least 1ms. */
export function cpuQuotaUSec(quotaPerSecUSec: number, periodUSec: number): number {
  return Math.max(Math.floor(quotaPerSecUSec * periodUSec / USEC_PER_SEC), USEC_PER_MSEC);
}

/** parse_permyriad(): "N%", "N.NN%", "N‰", "N‱" → parts per 10000 (further decimals are dropped); undefined when not one. */
export function parsePermyriad(s: string): number | undefined {
  const m = /^([0-9]+)(?:\.([0-9]+))?(%|‰|‱)$/.exec(s.trim());
  if (!m) return undefined;
  const scale = m[3] === '%' ? 100 : m[3] === '‰' ? 10 : 1;
  const digits = scale === 100 ? 2 : scale === 10 ? 1 : 0;
  const frac = (m[2] ?? '').padEnd(digits, '0').slice(0, digits);
  return Number(m[1]) * scale + (digits > 0 ? Number(frac) : 0);
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };

/** parse_size() with base 1024: "512M", "1.5G", "4096"; undefined when not a size. */
export function parseBytes(s: string): number | undefined {
  const m = /^([0-9]+)(?:\.([0-9]+))?([KMGTPEB]?)$/.exec(s.trim());
  if (!m) return undefined;
  const mult = SIZE_UNITS[m[3]!]!;
  const whole = BigInt(m[1]!) * BigInt(mult);
  const frac = m[2] ? Math.floor(Number(`0.${m[2]}`) * mult) : 0;
  const total = whole + BigInt(frac);
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(total);
}

/** physical_memory_scale(): a fraction of physical memory, rounded down to whole pages. */
export function physicalMemoryScale(permyriad: number, host: HostFacts): number {
  if (permyriad === 0) return 0;
  if (permyriad === 10000) return host.physicalMemory;
  const pages = Math.floor(host.physicalMemory / host.pageSize);
  return Math.floor(pages * permyriad / 10000) * host.pageSize;
}

/** system_tasks_max_scale(): a fraction of the node's task limit, rounded down. */
export function tasksMaxScale(value: number, max: number, host: HostFacts): number {
  if (value === 0) return 0;
  if (value === max) return host.tasksMax;
  return Math.floor(host.tasksMax * value / max);
}

/** cpu_set_to_range_string() of parse_cpu_set(): "0-3 6" / "0,1,2,3,6" → "0-3,6"; undefined when not a CPU list. */
export function normalizeCpuSet(s: string): CpuSet | undefined {
  const ids = new Set<number>();
  for (const part of s.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]), b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b - a > 65536) return undefined;
    for (let i = a; i <= b; i++) ids.add(i);
  }
  const sorted = [...ids].sort((x, y) => x - y);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    ranges.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(',');
}

/** The Service-section directives this module reads, by systemd name. */
export const RESOURCE_DIRECTIVES = ['MemoryMin', 'MemoryLow', 'MemoryHigh', 'MemoryMax', 'MemorySwapMax', 'CPUWeight', 'StartupCPUWeight',
  'CPUQuota', 'CPUQuotaPeriodSec', 'AllowedCPUs', 'StartupAllowedCPUs', 'AllowedMemoryNodes', 'StartupAllowedMemoryNodes', 'TasksMax',
  'IOWeight', 'StartupIOWeight', 'Slice', 'Delegate'] as const;
export type ResourceDirective = (typeof RESOURCE_DIRECTIVES)[number];

/** The directives whose files limitWrites() writes and a running unit may change without a restart (set-property). */
export const LIVE_DIRECTIVES: readonly ResourceDirective[] = ['MemoryMin', 'MemoryLow', 'MemoryHigh', 'MemoryMax', 'MemorySwapMax', 'CPUWeight',
  'CPUQuota', 'CPUQuotaPeriodSec', 'AllowedCPUs', 'AllowedMemoryNodes', 'TasksMax', 'IOWeight'];

/** Reads the resource-control directives of `spec` (spec.service) against the node's facts. */
export function parseResources(spec: ServiceUnitSpec, host: HostFacts): Resources {
  const s = (spec.service ?? {}) as Record<string, unknown>;
  const invalid: Array<{ directive: string; reason: string }> = [];
  const get = (name: string): unknown => {
    const v = s[fieldName(name)];
    return v === undefined || v === null || v === '' ? undefined : v;
  };
  const bad = (directive: string, reason: string): undefined => { invalid.push({ directive, reason }); return undefined; };

  // config_parse_memory_limit(): bytes, a percentage of physical memory (at most 100%), or infinity
  const memory = (name: string): number => {
    const v = get(name);
    if (v === undefined) return name === 'MemoryMin' || name === 'MemoryLow' ? 0 : Infinity;
    const t = String(v).trim();
    if (t === 'infinity') return Infinity;
    const pm = parsePermyriad(t);
    if (pm !== undefined) return pm > 10000 ? (bad(name, `${t} is more than 100% of physical memory`), Infinity) : physicalMemoryScale(pm, host);
    const b = parseBytes(t);
    return b ?? (bad(name, `"${t}" is not a size`), name === 'MemoryMin' || name === 'MemoryLow' ? 0 : Infinity);
  };
  const weight = (name: string, idle: boolean): number | 'idle' | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (idle && String(v).trim() === 'idle') return 'idle';
    const n = Number(v);
    return Number.isInteger(n) && n >= CGROUP_WEIGHT_MIN && n <= CGROUP_WEIGHT_MAX ? n : bad(name, `"${String(v)}" is not a weight (1…10000${idle ? ' or idle' : ''})`);
  };
  const cpuset = (name: string): CpuSet | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    return normalizeCpuSet(String(v)) ?? bad(name, `"${String(v)}" is not a list of CPU or node numbers and ranges`);
  };

  // config_parse_cpu_quota(): parse_permyriad_unbounded(), so above 100% too; 0% is refused
  let cpuQuotaPerSecUSec = Infinity;
  const quota = get('CPUQuota');
  if (quota !== undefined) {
    const pm = parsePermyriad(String(quota));
    if (pm === undefined || pm <= 0) bad('CPUQuota', `"${String(quota)}" is not a positive percentage`);
    else cpuQuotaPerSecUSec = pm * USEC_PER_SEC / 10000;
  }
  let cpuQuotaPeriodUSec = Infinity;
  const period = get('CPUQuotaPeriodSec');
  if (period !== undefined) {
    try { cpuQuotaPeriodUSec = parseTimespan(period as string | number); } catch { bad('CPUQuotaPeriodSec', `"${String(period)}" is not a time span`); }
    if (cpuQuotaPeriodUSec === 0) cpuQuotaPeriodUSec = Infinity;
  }

  // config_parse_tasks_max(): a number (> 0), a percentage of system_tasks_max(), or infinity;
  // unset: DefaultTasksMax=15% (systemd 257 src/core/main.c DEFAULT_TASKS_MAX)
  let tasksMax = tasksMaxScale(DEFAULT_TASKS_MAX_PERCENT, 100, host);
  const tm = get('TasksMax');
  if (tm !== undefined) {
    const t = String(tm).trim();
    const pm = parsePermyriad(t);
    if (t === 'infinity') tasksMax = Infinity;
    else if (pm !== undefined && pm <= 10000) tasksMax = tasksMaxScale(pm, 10000, host);
    else if (/^[0-9]+$/.test(t) && Number(t) > 0) tasksMax = Number(t);
    else bad('TasksMax', `"${t}" is not a positive number, a percentage up to 100% or infinity`);
  }

  const io = weight('IOWeight', false);
  const d = get('Delegate');
  const delegateText = d === undefined ? 'false' : String(d).trim();
  const delegate: boolean | string[] = delegateText === 'false' ? false : delegateText === 'true' ? true : delegateText.split(/\s+/).filter(Boolean);
  const oomPolicy = get('OOMPolicy');
  const sliceValue = get('Slice');
  const slice = sliceValue === undefined ? undefined : /^[A-Za-z0-9:_.\\-]+\.slice$/.test(String(sliceValue)) ? String(sliceValue) : bad('Slice', `"${String(sliceValue)}" is not a slice unit name`);

  return {
    memoryMin: memory('MemoryMin'), memoryLow: memory('MemoryLow'), memoryHigh: memory('MemoryHigh'), memoryMax: memory('MemoryMax'),
    memorySwapMax: memory('MemorySwapMax'),
    cpuWeight: weight('CPUWeight', true), cpuQuotaPerSecUSec, cpuQuotaPeriodUSec,
    allowedCPUs: cpuset('AllowedCPUs'), allowedMemoryNodes: cpuset('AllowedMemoryNodes'),
    tasksMax,
    tasksMaxSet: tm !== undefined,
    ioWeight: io === 'idle' ? undefined : io,
    slice,
    delegate,
    // service_add_extras(): OOMPolicy= defaults to continue with Delegate=, else DefaultOOMPolicy=stop
    oomGroup: oomPolicy === 'kill',
    invalid,
    startupOnly: ['StartupCPUWeight', 'StartupAllowedCPUs', 'StartupAllowedMemoryNodes', 'StartupIOWeight'].filter((n) => get(n) !== undefined),
  };
}

const bytes = (v: number, infinity: string): string => (v === Infinity ? infinity : String(v));

/**
 * The files that express `r`, in the order they are written. Every knob of the controllers
 * this module manages is written (a directive's value, or the kernel default as an optional
 * reset), so that the same list applies a changed spec to a running unit (set-property).
 */
export function limitWrites(r: Resources, layout: LimitLayout): LimitWrite[] {
  const out: LimitWrite[] = [];
  const w = (controller: string, file: string, value: string, directive: string, isSet: boolean, optional = !isSet): void => {
    out.push({ controller, file, value, directive: isSet ? directive : '', optional });
  };
  const period = cpuPeriod(r.cpuQuotaPerSecUSec, r.cpuQuotaPeriodUSec);
  const quotaSet = r.cpuQuotaPerSecUSec !== Infinity;
  const quota = quotaSet ? String(cpuQuotaUSec(r.cpuQuotaPerSecUSec, period)) : undefined;
  const tasks = bytes(r.tasksMax, 'max');
  if (layout === 'v2') {
    // memory: cgroup_apply_unified_memory_limit() for min, low, high, max, swap.max; then memory.oom.group
    w('memory', 'memory.min', bytes(r.memoryMin, 'max'), 'MemoryMin', r.memoryMin !== 0);
    w('memory', 'memory.low', bytes(r.memoryLow, 'max'), 'MemoryLow', r.memoryLow !== 0);
    w('memory', 'memory.high', bytes(r.memoryHigh, 'max'), 'MemoryHigh', r.memoryHigh !== Infinity);
    w('memory', 'memory.max', bytes(r.memoryMax, 'max'), 'MemoryMax', r.memoryMax !== Infinity);
    w('memory', 'memory.swap.max', bytes(r.memorySwapMax, 'max'), 'MemorySwapMax', r.memorySwapMax !== Infinity);
    w('memory', 'memory.oom.group', r.oomGroup ? '1' : '0', 'OOMPolicy', r.oomGroup);
    // cpu: cgroup_apply_unified_cpu_idle(), _cpu_weight() (not written for idle), _cpu_quota()
    const weight = r.cpuWeight ?? CGROUP_WEIGHT_DEFAULT;
    w('cpu', 'cpu.idle', weight === 'idle' ? '1' : '0', 'CPUWeight', weight === 'idle');
    if (weight !== 'idle') w('cpu', 'cpu.weight', String(weight), 'CPUWeight', r.cpuWeight !== undefined);
    w('cpu', 'cpu.max', `${quota ?? 'max'} ${period}`, 'CPUQuota', quotaSet);
    // cpuset: cgroup_apply_unified_cpuset(); "" is the parent's set
    w('cpuset', 'cpuset.cpus', r.allowedCPUs ?? '', 'AllowedCPUs', r.allowedCPUs !== undefined);
    w('cpuset', 'cpuset.mems', r.allowedMemoryNodes ?? '', 'AllowedMemoryNodes', r.allowedMemoryNodes !== undefined);
    // io: set_io_weight(): io.bfq.weight (BFQ_WEIGHT()) then io.weight "default N"
    const io = r.ioWeight ?? CGROUP_WEIGHT_DEFAULT;
    w('io', 'io.bfq.weight', String(bfqWeight(io)), 'IOWeight', r.ioWeight !== undefined, true);
    w('io', 'io.weight', `default ${io}`, 'IOWeight', r.ioWeight !== undefined, true);
    w('pids', 'pids.max', tasks, 'TasksMax', r.tasksMaxSet);
    return out;
  }
  // v1 memory: MemoryMax= as memory.limit_in_bytes ("-1": no limit). The kernel keeps
  // limit_in_bytes <= memsw.limit_in_bytes at every write (mem_cgroup_resize_max() refuses
  // otherwise), so memsw is opened first, the limit set, then memsw set (not systemd: see
  // unappliable()). memsw is written only where the kernel has it (swap accounting).
  const memsw = r.memorySwapMax !== Infinity && r.memoryMax !== Infinity ? String(r.memoryMax + r.memorySwapMax) : undefined;
  w('memory', 'memory.memsw.limit_in_bytes', '-1', '', false);
  w('memory', 'memory.limit_in_bytes', bytes(r.memoryMax, '-1'), 'MemoryMax', r.memoryMax !== Infinity);
  if (memsw !== undefined) w('memory', 'memory.memsw.limit_in_bytes', memsw, 'MemorySwapMax', true);
  // cpu: cgroup_apply_legacy_cpu_shares(), then _cpu_quota(): cfs_period_us before cfs_quota_us
  w('cpu', 'cpu.shares', String(r.cpuWeight === undefined ? CPU_SHARES_DEFAULT : cpuWeightToShares(r.cpuWeight)), 'CPUWeight', r.cpuWeight !== undefined);
  w('cpu', 'cpu.cfs_period_us', String(period), 'CPUQuota', quotaSet);
  w('cpu', 'cpu.cfs_quota_us', quota ?? '-1', 'CPUQuota', quotaSet);
  // cpuset on v1 (beyond systemd): only when asked; the core gave the cgroup its parent's sets
  if (r.allowedCPUs !== undefined) w('cpuset', 'cpuset.cpus', r.allowedCPUs, 'AllowedCPUs', true);
  if (r.allowedMemoryNodes !== undefined) w('cpuset', 'cpuset.mems', r.allowedMemoryNodes, 'AllowedMemoryNodes', true);
  // blkio: set_blkio_weight(): blkio.bfq.weight (BFQ_WEIGHT() of the blkio weight, as systemd) then blkio.weight
  const blkio = ioWeightToBlkio(r.ioWeight ?? CGROUP_WEIGHT_DEFAULT);
  w('blkio', 'blkio.bfq.weight', String(bfqWeight(blkio)), 'IOWeight', r.ioWeight !== undefined, true);
  w('blkio', 'blkio.weight', String(blkio), 'IOWeight', r.ioWeight !== undefined, true);
  w('pids', 'pids.max', tasks, 'TasksMax', r.tasksMaxSet);
  return out;
}

/** What the node offers: whether a controller's file exists in the unit's cgroup (or would: its parent's). */
export interface Available {
  readonly layout: LimitLayout;
  readonly has: (controller: string, file: string) => boolean;
}

const unapplied = (name: string, reason: string, protects: boolean): Unapplied => ({
  name, section: 'Service', path: `spec.service.${fieldName(name)}`, applier: 'cgroup', reason, protects,
});

/** Limits protect the host (fail closed when not applied); weights and protections only shape sharing. */
const PROTECTS: ReadonlySet<string> = new Set(['MemoryHigh', 'MemoryMax', 'MemorySwapMax', 'CPUQuota', 'CPUQuotaPeriodSec', 'AllowedCPUs', 'AllowedMemoryNodes', 'TasksMax']);

/**
 * The directives `r` asks for that this node cannot express, in issue 8's shape (applied.ts
 * Unapplied) so they join the table's report: a value with no file on this layout (v1:
 * MemoryLow=/MemoryMin=/MemoryHigh=, which systemd does not apply on v1 either), a controller
 * or file the node lacks (IOWeight= without a blkio/io weight file, MemorySwapMax= without swap
 * accounting), and values read but not applied (Startup*=, CPUWeight=idle on v1).
 */
export function unappliable(r: Resources, available: Available): Unapplied[] {
  const out: Unapplied[] = [];
  const seen = new Set<string>();
  const add = (name: string, reason: string, protects = PROTECTS.has(name)): void => {
    if (seen.has(name)) return;
    seen.add(name);
    out.push(unapplied(name, reason, protects));
  };
  for (const x of r.invalid) add(x.directive, `not applied: ${x.reason}`);
  if (available.layout === 'v1') {
    const v2only = 'has no cgroup v1 equivalent (systemd 257 applies it on the unified hierarchy only; this node\'s limits are on v1)';
    if (r.memoryMin !== 0) add('MemoryMin', `memory.min ${v2only}`);
    if (r.memoryLow !== 0) add('MemoryLow', `memory.low ${v2only}`);
    if (r.memoryHigh !== Infinity) add('MemoryHigh', `memory.high ${v2only}`);
    if (r.memorySwapMax !== Infinity && r.memoryMax === Infinity) {
      add('MemorySwapMax', 'cgroup v1 limits swap only together with memory (memory.memsw.limit_in_bytes = MemoryMax= + MemorySwapMax=); set MemoryMax= as well');
    }
    if (r.cpuWeight === 'idle') add('CPUWeight', 'cpu.idle is cgroup v2 only; on v1 CPUWeight=idle is applied as the smallest cpu.shares (2), as systemd does', false);
  }
  if (r.ioWeight !== undefined) {
    const [ctl, files] = available.layout === 'v2' ? ['io', ['io.weight', 'io.bfq.weight']] as const : ['blkio', ['blkio.weight', 'blkio.bfq.weight']] as const;
    if (!files.some((f) => available.has(ctl, f))) add('IOWeight', `no ${files.join(' or ')} on this node (the block I/O scheduler offers no ${ctl} weight)`);
  }
  for (const x of limitWrites(r, available.layout)) {
    if (x.optional || x.directive === '' || available.has(x.controller, x.file)) continue;
    if (x.file === 'memory.memsw.limit_in_bytes') add(x.directive, 'no memory.memsw.limit_in_bytes on this node (swap accounting is off: boot with swapaccount=1)');
    else add(x.directive, `no ${x.file} on this node (the ${x.controller} controller is not available to the unit's cgroup)`);
  }
  for (const n of r.startupOnly) add(n, `applies only while the system boots or shuts down (systemd's MANAGER_STARTING/STOPPING); a node agent has no such phase, so ${n.replace(/^Startup/, '')}= applies throughout`, false);
  return out;
}
