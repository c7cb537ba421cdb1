// Accounting from a unit's cgroup files, as systemctl status shows it (Tasks:, Memory:, CPU:):
//   tasks    pids.current (v2 or the v1 pids hierarchy); else the number of cgroup.procs entries
//   memory   v2 memory.current / memory.peak / memory.max / memory.high;
//            v1 memory.usage_in_bytes / memory.max_usage_in_bytes / memory.limit_in_bytes
//   cpu      cpu.stat usage_usec of the unified hierarchy (which has it even without the cpu
//            controller), else v1 cpuacct.usage (ns) where the unit's cgroup is made in it
// A figure the node does not have is left out (undefined), never guessed.

import { readFileSync } from 'node:fs';
import type { UnitCgroup } from './naming.ts';
import { cgroupPids } from './ops.ts';

export interface CgroupUsage {
  readonly tasks: number;
  readonly tasksMax?: number | undefined;
  readonly memoryBytes?: number | undefined;
  readonly memoryPeak?: number | undefined;
  readonly memoryMax?: number | undefined;
  readonly memoryHigh?: number | undefined;
  readonly cpuNs?: number | undefined;
}

const read = (f: string | undefined): string | undefined => { if (f === undefined) return undefined; try { return readFileSync(f, 'utf8').trim(); } catch { return undefined; } };
const num = (s: string | undefined): number | undefined => (s === undefined || !/^[0-9]+$/.test(s) ? undefined : Number(s));
/** A limit: 'max' (v2) or the v1 "unlimited" value (PAGE_COUNTER_MAX pages, ≥ 2^62) is no limit. */
const limit = (s: string | undefined): number | undefined => { const n = num(s); return n === undefined || n >= 2 ** 62 ? undefined : n; };

export function readUsage(cg: UnitCgroup): CgroupUsage {
  const uni = cg.dirs['unified'], v2 = (c: string): string | undefined => (uni && cg.layout.unified?.controllers.includes(c) ? uni : undefined);
  const pidsDir = v2('pids') ?? cg.dirs['pids'];
  const tasks = num(read(pidsDir && `${pidsDir}/pids.current`)) ?? cgroupPids(cg).length;
  const tasksMax = limit(read(pidsDir && `${pidsDir}/pids.max`));
  let memoryBytes: number | undefined, memoryPeak: number | undefined, memoryMax: number | undefined, memoryHigh: number | undefined;
  const m2 = v2('memory');
  if (m2) {
    memoryBytes = num(read(`${m2}/memory.current`));
    memoryPeak = num(read(`${m2}/memory.peak`));
    memoryMax = limit(read(`${m2}/memory.max`));
    memoryHigh = limit(read(`${m2}/memory.high`));
  } else if (cg.dirs['memory']) {
    const m = cg.dirs['memory'];
    memoryBytes = num(read(`${m}/memory.usage_in_bytes`));
    memoryPeak = num(read(`${m}/memory.max_usage_in_bytes`));
    memoryMax = limit(read(`${m}/memory.limit_in_bytes`));
  }
  // cgroup2 first: its cgroup lives as long as the invocation (a cpuacct cgroup may be made
  // partway through one, realize.ts, and would count from then)
  const us = uni ? /^usage_usec ([0-9]+)$/m.exec(read(`${uni}/cpu.stat`) ?? '') : null;
  const cpuNs = us ? Number(us[1]) * 1000 : num(read(cg.dirs['cpuacct'] && `${cg.dirs['cpuacct']}/cpuacct.usage`));
  return { tasks, tasksMax, memoryBytes, memoryPeak, memoryMax, memoryHigh, cpuNs };
}
