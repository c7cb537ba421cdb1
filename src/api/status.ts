// The one status model: a unit's machine (plus the few facts its runner knows) as systemctl
// show's properties, the standalone agent's UnitStatus and the cluster's status.nodes[] entry.
// Pure: plain data in, plain data out (no runner here).

import { properties, type ExitCode, type Machine } from '../engine/index.ts';
import type { NodeStatus } from './types.ts';
import { signalName } from './signals.ts';
import type { NotAppliedEntry } from './applied.ts';

/** systemctl show's properties of a unit that come from its state machine. */
export interface UnitProperties {
  readonly ActiveState: string;
  readonly SubState: string;
  readonly Result: string;
  readonly NRestarts: number;
  readonly MainPID: number;
  readonly ControlPID: number;
  readonly ExecMainCode: number;
  readonly ExecMainStatus: number;
  readonly ExecMainStartTimestamp?: string | undefined;
  readonly ExecMainExitTimestamp?: string | undefined;
  readonly StateChangeTimestamp?: string | undefined;
  readonly ActiveEnterTimestamp?: string | undefined;
  readonly ActiveExitTimestamp?: string | undefined;
  readonly InactiveEnterTimestamp?: string | undefined;
  readonly InactiveExitTimestamp?: string | undefined;
  readonly StatusText?: string | undefined;
  /** The last evaluation of the unit's Condition*= (set once a start checked them, as systemd's ConditionResult=, ConditionTimestamp=). */
  readonly ConditionResult?: boolean | undefined;
  readonly ConditionTimestamp?: string | undefined;
  /** Each condition and its state, in evaluation order (systemd's Conditions=: 1 met, -1 not met, 0 not tested). */
  readonly Conditions?: readonly CheckState[] | undefined;
  readonly AssertResult?: boolean | undefined;
  readonly AssertTimestamp?: string | undefined;
  readonly Asserts?: readonly CheckState[] | undefined;
}

/** One Condition*=/Assert*= and its state after the last evaluation (systemd's D-Bus Conditions= entry). */
export interface CheckState {
  readonly type: string;
  readonly trigger: boolean;
  readonly negate: boolean;
  readonly parameter: string;
  readonly state: 1 | 0 | -1;
}

/** The standalone agent's view of a unit (unitctl status/show/list, -o json). */
export interface UnitStatus extends UnitProperties {
  readonly Id: string;
  readonly Description: string;
  /** bad-setting: the unit asks for a protection this node does not apply, so it does not start (as systemd's units with a bad setting). */
  readonly LoadState: 'loaded' | 'not-found' | 'masked' | 'error' | 'bad-setting';
  readonly InvocationID: string;
  readonly Type: string;
  readonly Restart: string;
  readonly ExecStart: string | undefined;
  readonly FragmentPath: string;
  readonly LogPath: string;
  readonly MemoryCurrent: number | undefined;
  readonly CPUUsageNSec: number | undefined;
  readonly TasksCurrent: number | undefined;
  /** From the unit's cgroup (issue 13): memory.peak (v2) or memory.max_usage_in_bytes (v1); the limits where set. */
  readonly MemoryPeak?: number | undefined;
  readonly MemoryMax?: number | undefined;
  readonly MemoryHigh?: number | undefined;
  readonly TasksMax?: number | undefined;
  /** Directives set but not applied on this node, and how each is treated. */
  readonly NotApplied: readonly NotAppliedEntry[];
  /** What keeps the unit from running as written or its state from being kept (a refused state file, a read-only state folder); left out when none. */
  readonly Problems?: readonly string[];
  /** The unit's installed job (systemctl status "Job: N"; issue 16), when it has one. */
  readonly Job?: { readonly id: number; readonly type: string; readonly state: 'waiting' | 'running' } | undefined;
  /** The dependency engine's last lines about the unit, time-stamped as its journal lines ("Dependency failed for X."). */
  readonly ManagerLog?: readonly string[] | undefined;
}

/** What the machine does not know: the runner's and the agent's facts about a unit. */
export interface UnitFacts {
  readonly id: string;
  readonly description: string;
  readonly loadState: UnitStatus['LoadState'];
  readonly invocationId: string;
  readonly type: string;
  readonly restart: string;
  readonly mainCommandLine: string | undefined;
  readonly fragmentPath: string;
  readonly logPath: string;
  readonly notApplied?: readonly NotAppliedEntry[] | undefined;
  readonly problems?: readonly string[] | undefined;
  /** Processes, memory and CPU (a /proc scan: status asks for it, list does not). */
  readonly usage?: UnitUsage | undefined;
}

/** A unit's tasks, memory and CPU: from its cgroup (issue 13), else a /proc scan of its processes. */
export interface UnitUsage {
  readonly tasks: number;
  readonly rssBytes?: number | undefined;
  readonly cpuNs?: number | undefined;
  readonly memoryPeak?: number | undefined;
  readonly memoryMax?: number | undefined;
  readonly memoryHigh?: number | undefined;
  readonly tasksMax?: number | undefined;
}

/** A µs timestamp of the engine's clock as ISO 8601; 0 or undefined means "never". */
export const iso = (us: number | undefined): string | undefined => (us === undefined || us === 0 ? undefined : new Date(us / 1000).toISOString());

/** systemctl show's properties of a machine (undefined ones left out). */
export function unitProperties(m: Machine): UnitProperties {
  const p: Record<string, unknown> = {
    ...properties(m),
    ExecMainStartTimestamp: iso(m.mainStartUs), ExecMainExitTimestamp: iso(m.mainExec?.exitUs),
    StateChangeTimestamp: iso(m.timestamps.stateChange), ActiveEnterTimestamp: iso(m.timestamps.activeEnter),
    ActiveExitTimestamp: iso(m.timestamps.activeExit), InactiveEnterTimestamp: iso(m.timestamps.inactiveEnter),
    InactiveExitTimestamp: iso(m.timestamps.inactiveExit), StatusText: m.statusText,
    ConditionResult: m.checks?.condition?.result, ConditionTimestamp: iso(m.checks?.condition?.timestampUs),
    Conditions: m.checks?.condition && m.checks.condition.states.length > 0 ? m.checks.condition.states : undefined,
    AssertResult: m.checks?.assert?.result, AssertTimestamp: iso(m.checks?.assert?.timestampUs),
    Asserts: m.checks?.assert && m.checks.assert.states.length > 0 ? m.checks.assert.states : undefined,
  };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return p as unknown as UnitProperties;
}

export function toUnitStatus(m: Machine, f: UnitFacts): UnitStatus {
  return {
    Id: f.id, Description: f.description, LoadState: f.loadState, ...unitProperties(m),
    InvocationID: f.invocationId, Type: f.type, Restart: f.restart, ExecStart: f.mainCommandLine, FragmentPath: f.fragmentPath, LogPath: f.logPath,
    MemoryCurrent: f.usage?.rssBytes, CPUUsageNSec: f.usage?.cpuNs, TasksCurrent: f.usage?.tasks,
    ...(f.usage?.memoryPeak !== undefined ? { MemoryPeak: f.usage.memoryPeak } : {}),
    ...(f.usage?.memoryMax !== undefined ? { MemoryMax: f.usage.memoryMax } : {}),
    ...(f.usage?.memoryHigh !== undefined ? { MemoryHigh: f.usage.memoryHigh } : {}),
    ...(f.usage?.tasksMax !== undefined ? { TasksMax: f.usage.tasksMax } : {}),
    NotApplied: f.notApplied ?? [],
    ...(f.problems && f.problems.length > 0 ? { Problems: [...f.problems] } : {}),
  };
}

/** status.nodes[] names the same properties in camelCase (ActiveState → activeState). */
type NodeProperties = { [K in keyof UnitProperties as Uncapitalize<K>]: UnitProperties[K] };
/** Compile-time check: NodeStatus carries every property under its camelCase name. */
export type NodeStatusMisses = Exclude<keyof NodeProperties, keyof NodeStatus>;
const _nodeCarriesAll: [NodeStatusMisses] extends [never] ? true : never = true;
void _nodeCarriesAll;

const lower = (k: string): string => k[0]!.toLowerCase() + k.slice(1);
const upper = (k: string): string => k[0]!.toUpperCase() + k.slice(1);

/**
 * A node's status.nodes[] entry for a machine (the agent adds heartbeat, message, generation);
 * with `usage`, the unit's accounting as sampled when the entry is written (tasksCurrent,
 * memoryCurrent, memoryPeak, cpuUsageNSec).
 */
export function toNodeStatus(node: string, m: Machine, usage?: UnitUsage): NodeStatus {
  const e: Record<string, unknown> = { node };
  for (const [k, v] of Object.entries(unitProperties(m))) e[lower(k)] = v;
  if (usage) {
    e['tasksCurrent'] = usage.tasks;
    for (const [k, v] of [['memoryCurrent', usage.rssBytes], ['memoryPeak', usage.memoryPeak], ['cpuUsageNSec', usage.cpuNs]] as const) if (v !== undefined) e[k] = v;
  }
  return e as unknown as NodeStatus;
}

const PROPERTY_NAMES: ReadonlySet<string> = new Set(['ActiveState', 'SubState', 'Result', 'NRestarts', 'MainPID', 'ControlPID', 'ExecMainCode', 'ExecMainStatus',
  'ExecMainStartTimestamp', 'ExecMainExitTimestamp', 'StateChangeTimestamp', 'ActiveEnterTimestamp', 'ActiveExitTimestamp', 'InactiveEnterTimestamp',
  'InactiveExitTimestamp', 'StatusText', 'ConditionResult', 'ConditionTimestamp', 'Conditions', 'AssertResult', 'AssertTimestamp', 'Asserts'] satisfies ReadonlyArray<keyof UnitProperties>);

/** The properties a node reported (read back from the cluster); an entry with no state is Unknown. */
export function fromNodeStatus(n: NodeStatus): UnitProperties {
  const p: Record<string, unknown> = { ActiveState: 'Unknown', SubState: '', Result: '', NRestarts: 0, MainPID: 0, ControlPID: 0, ExecMainCode: 0, ExecMainStatus: 0 };
  for (const [k, v] of Object.entries(n)) if (v !== undefined && PROPERTY_NAMES.has(upper(k))) p[upper(k)] = v;
  return p as unknown as UnitProperties;
}

/** ExecMainCode= as a CLD_* name (the inverse of the engine's CLD); undefined for 0 (no exit yet). */
export const exitCodeName = (code: number): ExitCode | undefined => (code === 1 ? 'exited' : code === 2 ? 'killed' : code === 3 ? 'dumped' : undefined);

/** systemctl's "code=exited, status=0/SUCCESS", "code=killed, signal=TERM". */
export function exitText(code: ExitCode, status: number): string {
  return code === 'exited' ? `code=exited, status=${status}${status === 0 ? '/SUCCESS' : ''}` : `code=${code}, signal=${signalName(status).replace(/^SIG/, '')}`;
}
