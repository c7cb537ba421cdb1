// A hosted unit's status: the runner's facts handed to the one status model (src/api/status.ts).

import type { UnitRunner } from '../runner/unit.ts';
import { usage } from '../runner/procfs.ts';
import { toUnitStatus, type UnitFacts, type UnitStatus } from '../api/status.ts';
import { notAppliedEntries } from '../api/applied.ts';

/** `detail` adds tasks, memory and CPU, which cost a /proc scan per unit (status, not list). */
export function unitFacts(r: UnitRunner, file: string, detail = false): UnitFacts {
  const procs = detail ? r.unitProcesses() : [];
  const u = procs.length > 0 ? usage(procs) : undefined;
  return {
    id: r.unitName, description: String(r.spec.unit?.['description'] ?? r.unitName), loadState: r.spec.masked ? 'masked' : r.refusal !== undefined ? 'bad-setting' : r.stateError !== undefined ? 'error' : 'loaded',
    invocationId: r.invocationId, type: r.cfg.type, restart: r.cfg.restart, mainCommandLine: r.mainCommandLine,
    fragmentPath: file, logPath: r.logPath(), notApplied: notAppliedEntries(r.notApplied, r.refused), problems: r.problems,
    ...(detail ? { usage: { tasks: procs.length, rssBytes: u?.rssBytes, cpuNs: u?.cpuNs } } : {}),
  };
}

export const unitStatus = (r: UnitRunner, file: string, detail = false): UnitStatus => toUnitStatus(r.machine, unitFacts(r, file, detail));
