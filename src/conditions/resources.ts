// The checks of the node's resources (condition.c): CPUs, memory, cgroup controllers and
// pressure stall information (PSI).

import type { Facts } from './types.ts';
import type { Outcome } from './paths.ts';
import { parseOrder, testOrder } from './version.ts';
import { parsePermyriad, parseSize } from './words.ts';

const EINVAL = { errno: 'EINVAL' } as const;

/** "[op]number": an operator (no glob ones; >= when none) and the rest. */
function ordered(p: string): { order: Parameters<typeof testOrder>[1]; rest: string } {
  const o = parseOrder(p, false);
  return o ? { order: o.order, rest: o.rest.trim() } : { order: '>=', rest: p.trim() };
}

/** ConditionCPUs=: the CPUs in the manager's affinity mask, compared (">=" when no operator). */
export function cpus(f: Facts, p: string): Outcome {
  const { order, rest } = ordered(p);
  if (!/^[0-9]+$/.test(rest)) return EINVAL;
  const n = f.cpus();
  return testOrder(Math.sign(n - Number(rest)), order);
}

/** ConditionMemory=: physical memory, compared with a size (K, M, G… base 1024). */
export function memory(f: Facts, p: string): Outcome {
  const { order, rest } = ordered(p);
  const want = parseSize(rest);
  if (want === undefined) return EINVAL;
  return testOrder(Math.sign(f.memoryBytes() - want), order);
}

const CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'io', 'blkio', 'memory', 'devices', 'pids', 'bpf-firewall',
  'bpf-devices', 'bpf-foreign', 'bpf-socket-bind', 'bpf-restrict-network-interfaces']);

/**
 * ConditionControlGroupController=: "v1", "v2", or blank-separated controllers that must all be
 * available; unknown names are ignored, and a list of none holds (as systemd's cg_mask_from_string).
 */
export function controlGroupController(f: Facts, p: string): Outcome {
  const cg = f.cgroupControllers();
  if (p === 'v2') return cg === undefined ? { errno: 'ENOMEDIUM' } : cg.unified;
  if (p === 'v1') return cg === undefined ? { errno: 'ENOMEDIUM' } : !cg.unified;
  const wanted = p.split(/[ \t\n\r]+/).filter((w) => CONTROLLERS.has(w));
  if (wanted.length === 0) return true;
  if (cg === undefined) return { errno: 'ENOMEDIUM' };
  const has = (c: string): boolean => {
    if (cg.controllers.has(c)) return true;
    if (c.startsWith('bpf-')) return cg.unified;
    return false;
  };
  return wanted.every(has);
}

/** cg_slice_to_path(): "a-b.slice" → "a.slice/a-b.slice"; "-.slice" → ""; undefined when not a slice name. */
export function slicePath(slice: string): string | undefined {
  if (slice === '-.slice') return '';
  if (!/^[A-Za-z0-9:_.\\-]+\.slice$/.test(slice)) return undefined;
  const stem = slice.slice(0, -'.slice'.length);
  if (stem.startsWith('-') || stem.endsWith('-') || stem.includes('--')) return undefined;
  const parts = stem.split('-');
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`).join('/');
}

/** One line ("some"/"full") of a pressure file; undefined when the file has no such line. */
export function pressureLine(text: string, which: 'some' | 'full'): { avg10: number; avg60: number; avg300: number } | undefined {
  const m = new RegExp(`^${which} avg10=([0-9.]+) avg60=([0-9.]+) avg300=([0-9.]+)`, 'm').exec(text);
  return m ? { avg10: Number(m[1]), avg60: Number(m[2]), avg300: Number(m[3]) } : undefined;
}

/**
 * ConditionMemoryPressure=/CPUPressure=/IOPressure=: "[SLICE:]PERCENT[/10sec|1min|5min]" holds
 * while the "full" pressure average (5 min unless given; CPU falls back to "some") is at most
 * the percentage, system-wide or of the slice's cgroup. Where the node has no PSI, or the slice
 * or its controller is not there, the check holds (systemd skips it).
 */
export function pressure(f: Facts, resource: 'memory' | 'cpu' | 'io', p: string): Outcome {
  if (['cpu', 'io', 'memory'].some((r) => f.readKernelFile(`/proc/pressure/${r}`) === undefined)) return true;
  const colon = p.indexOf(':');
  let file = `/proc/pressure/${resource}`;
  let value = p;
  if (colon >= 0) {
    const slice = p.slice(0, colon).trim();
    value = p.slice(colon + 1);
    if (slice === '') return EINVAL;
    const cg = f.cgroupControllers();
    if (!cg || !cg.unified) return true;
    if (!cg.controllers.has(resource)) return true;
    const rel = slicePath(slice);
    if (rel === undefined) return EINVAL;
    file = `/sys/fs/cgroup/${rel ? `${rel}/` : ''}${resource}.pressure`;
  }
  const slash = value.indexOf('/');
  let window: 'avg10' | 'avg60' | 'avg300' = 'avg300';
  if (slash >= 0) {
    const span = value.slice(slash + 1).replace(/^[ \t\n\r]+/, '');
    if (span.startsWith('10sec')) window = 'avg10';
    else if (span.startsWith('1min')) window = 'avg60';
    else if (span.startsWith('5min')) window = 'avg300';
    else return EINVAL;
    value = value.slice(0, slash);
  }
  const limit = parsePermyriad(value.trim());
  if (limit === undefined) return EINVAL;
  const text = f.readKernelFile(file);
  if (text === undefined) return true; // the slice is not there (any more)
  const line = pressureLine(text, 'full') ?? (resource === 'cpu' ? pressureLine(text, 'some') : undefined);
  if (!line) return { errno: 'ENODATA' };
  return Math.round(line[window] * 100) <= limit;
}
