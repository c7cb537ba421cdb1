// A unit's systemctl-show view, from its runner.

import type { UnitRunner } from '../runner/unit.ts';
import { usage } from '../runner/procfs.ts';
import type { UnitStatus } from './protocol.ts';

/** A µs timestamp of the engine's clock as ISO 8601; 0 or undefined means "never". */
export const iso = (us: number | undefined): string | undefined => (us === undefined || us === 0 ? undefined : new Date(us / 1000).toISOString());

/** `detail` adds tasks, memory and CPU, which cost a /proc scan per unit (status, not list). */
export function unitStatus(r: UnitRunner, file: string, detail = false): UnitStatus {
  const loadState: UnitStatus['LoadState'] = 'loaded';
  const p = r.props;
  const m = r.machine;
  const procs = detail ? r.unitProcesses() : [];
  const u = procs.length > 0 ? usage(procs) : undefined;
  return {
    Id: r.unitName,
    Description: String(r.spec.unit?.['description'] ?? r.unitName),
    LoadState: r.spec.masked ? 'masked' : loadState,
    ActiveState: p.ActiveState, SubState: p.SubState, Result: p.Result, NRestarts: p.NRestarts,
    MainPID: p.MainPID, ControlPID: p.ControlPID, ExecMainCode: p.ExecMainCode, ExecMainStatus: p.ExecMainStatus,
    ExecMainStartTimestamp: iso(m.mainStartUs), ExecMainExitTimestamp: iso(m.mainExec?.exitUs),
    StateChangeTimestamp: iso(m.timestamps.stateChange), ActiveEnterTimestamp: iso(m.timestamps.activeEnter),
    ActiveExitTimestamp: iso(m.timestamps.activeExit), InactiveEnterTimestamp: iso(m.timestamps.inactiveEnter),
    InactiveExitTimestamp: iso(m.timestamps.inactiveExit),
    StatusText: m.statusText, InvocationID: r.invocationId, Type: r.cfg.type, Restart: r.cfg.restart,
    ExecStart: r.mainCommandLine, FragmentPath: file, LogPath: r.logPath(),
    MemoryCurrent: u?.rssBytes, CPUUsageNSec: u?.cpuNs, TasksCurrent: detail ? procs.length : undefined,
  };
}
