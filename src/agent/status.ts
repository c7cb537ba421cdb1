// A hosted unit's status: the runner's facts handed to the one status model (src/api/status.ts).

import type { UnitRunner } from '../runner/unit.ts';
import { usage } from '../runner/procfs.ts';
import { toUnitStatus, type UnitFacts, type UnitStatus, type UnitUsage } from '../api/status.ts';
import { notAppliedEntries } from '../api/applied.ts';

/** A unit's tasks, memory and CPU: its cgroup's files (issue 13), else a /proc scan of its processes. */
export function unitUsage(r: UnitRunner): UnitUsage {
  const c = r.cgroupUsage();
  if (c) {
    return { tasks: c.tasks, rssBytes: c.memoryBytes, cpuNs: c.cpuNs, memoryPeak: c.memoryPeak, memoryMax: c.memoryMax, memoryHigh: c.memoryHigh, tasksMax: c.tasksMax };
  }
  const procs = r.unitProcesses();
  const u = procs.length > 0 ? usage(procs) : undefined;
  return { tasks: procs.length, rssBytes: u?.rssBytes, cpuNs: u?.cpuNs };
}

/** `detail` adds tasks, memory and CPU, which cost a read of the unit's cgroup files or a /proc scan per unit (status, not list). */
export function unitFacts(r: UnitRunner, file: string, detail = false): UnitFacts {
  return {
    id: r.unitName, description: String(r.spec.unit?.['description'] ?? r.unitName), loadState: r.spec.masked ? 'masked' : r.refusal !== undefined ? 'bad-setting' : r.stateError !== undefined ? 'error' : 'loaded',
    invocationId: r.invocationId, type: r.cfg.type, restart: r.cfg.restart, mainCommandLine: r.mainCommandLine,
    fragmentPath: file, logPath: r.logPath(), notApplied: notAppliedEntries(r.notApplied, r.refused), problems: r.problems,
    ...(detail ? { usage: unitUsage(r) } : {}),
  };
}

export const unitStatus = (r: UnitRunner, file: string, detail = false): UnitStatus => toUnitStatus(r.machine, unitFacts(r, file, detail));
