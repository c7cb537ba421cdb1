// Human output in systemctl's style: tables, the status view, colours only on a terminal.

import type { UnitStatus } from '../agent/protocol.ts';
import { formatTimespan } from '../api/timespan.ts';
import { exitCodeName, exitText, type UnitProperties } from '../api/status.ts';
import { describeEntry } from '../api/applied.ts';

export interface Style { readonly color: boolean }

/** Colours when stdout is a terminal and NO_COLOR is not set (systemctl's habit). */
export const terminalStyle = (): Style => ({ color: !!process.stdout.isTTY && !process.env['NO_COLOR'] });

const paint = (s: Style, code: string, text: string): string => (s.color ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = (s: Style, t: string): string => paint(s, '1', t);
export const red = (s: Style, t: string): string => paint(s, '1;31', t);
export const green = (s: Style, t: string): string => paint(s, '1;32', t);

/** systemctl's bullet: green ● active, red × failed, white ● activating/deactivating, ○ inactive. */
export function bullet(st: { readonly ActiveState: string }, s: Style): string {
  if (st.ActiveState === 'failed') return red(s, '×');
  if (st.ActiveState === 'active' || st.ActiveState === 'reloading') return green(s, '●');
  if (st.ActiveState === 'inactive') return '○';
  return '●';
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').replace(/\x1b\[[0-9;]*m/g, '').length)));
  return rows.map((r) => r.map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - c.replace(/\x1b\[[0-9;]*m/g, '').length))).join('  ').trimEnd()).join('\n') + '\n';
}

export function listTable(units: readonly UnitStatus[], s: Style): string {
  const rows = [['UNIT', 'LOAD', 'ACTIVE', 'SUB', 'RESULT', 'RESTARTS', 'DESCRIPTION']];
  for (const u of units) {
    const active = u.ActiveState === 'failed' ? red(s, u.ActiveState) : u.ActiveState === 'active' ? green(s, u.ActiveState) : u.ActiveState;
    rows.push([`${bullet(u, s)} ${u.Id}`, u.LoadState, active, u.SubState, u.Result, String(u.NRestarts), u.Description]);
  }
  return table(rows) + `\n${units.length} unit${units.length === 1 ? '' : 's'} listed.\n`;
}

function since(ts: string | undefined, now: number): string {
  if (!ts) return '';
  const ago = Math.max(0, now - Date.parse(ts));
  return ` since ${new Date(ts).toUTCString()}; ${formatTimespan(Math.floor(ago / 1000) * 1_000_000) || '0'} ago`;
}

/** systemd's format_bytes(): 1024-based, one decimal from K up ("512B", "236.0K", "12.3M"). */
export function formatBytes(n: number): string {
  const units = ['E', 'P', 'T', 'G', 'M', 'K'];
  for (let i = 0; i < units.length; i++) {
    const f = 1024 ** (units.length - i);
    if (n >= f) return `${(Math.floor((n * 10) / f) / 10).toFixed(1)}${units[i]}`;
  }
  return `${n}B`;
}

/**
 * systemd's format_timespan() with an accuracy (systemctl status prints CPU: with 1 ms):
 * below a minute in dot notation ("1.234s", "17ms"), above it "2min 3.456s".
 */
export function formatTimespanAccuracy(usec: number, accuracyUs: number): string {
  if (usec <= 0) return '0';
  const units: ReadonlyArray<readonly [string, number]> = [['y', 31_557_600e6], ['month', 2_629_800e6], ['w', 604_800e6], ['d', 86_400e6], ['h', 3_600e6], ['min', 60e6], ['s', 1e6], ['ms', 1e3], ['us', 1]];
  const parts: string[] = [];
  let t = Math.round(usec);
  for (const [suffix, u] of units) {
    if (t <= 0 || (t < accuracyUs && parts.length > 0)) break;
    if (t < u) continue;
    const a = Math.floor(t / u);
    let b = t % u;
    if (t < 60e6 && b > 0) {
      let j = String(u).length - 1;
      for (let cc = accuracyUs; cc > 1; cc /= 10) { b = Math.floor(b / 10); j--; }
      if (j > 0) { parts.push(`${a}.${String(b).padStart(j, '0')}${suffix}`); break; }
    }
    parts.push(`${a}${suffix}`);
    t = b;
  }
  return parts.join(' ');
}

/** What the status view shows: systemctl show's properties, and what the runner adds when known. */
export type StatusFacts = UnitProperties & Partial<Pick<UnitStatus, 'Job' | 'ExecStart' | 'TasksCurrent' | 'MemoryCurrent' | 'CPUUsageNSec' | 'MemoryPeak' | 'MemoryMax' | 'MemoryHigh' | 'TasksMax' | 'NotApplied' | 'Problems'>>;

/**
 * The lines of the systemctl status view below its title, for one unit on one host: the
 * standalone view and each node's block of the cluster view. `indent` shifts the labels;
 * `commands` is false where the command lines are not known (the cluster's status).
 */
export function statusLines(u: StatusFacts, s: Style, now: number, opts: { readonly indent?: number; readonly commands?: boolean } = {}): string[] {
  const pad = ' '.repeat(opts.indent ?? 0);
  const lines: string[] = [];
  const line = (label: string, value: string): void => { lines.push(`${pad}${label.padStart(11)}: ${value}`); };
  const state = `${u.ActiveState}${u.SubState ? ` (${u.SubState})` : ''}`;
  const stateColor = u.ActiveState === 'failed' ? red(s, `${u.ActiveState} (Result: ${u.Result})`) : u.ActiveState === 'active' ? green(s, state) : state;
  const when = u.ActiveState === 'active' ? u.ActiveEnterTimestamp : u.ActiveState === 'inactive' || u.ActiveState === 'failed' ? u.InactiveEnterTimestamp : u.StateChangeTimestamp;
  line('Active', `${stateColor}${since(when, now)}`);
  if (u.Job) line('Job', String(u.Job.id));
  lines.push(...checkLines(u, s, now, pad));
  if (u.NRestarts > 0) line('Restarts', String(u.NRestarts));
  const code = exitCodeName(u.ExecMainCode);
  if (code && u.MainPID === 0) {
    const exit = exitText(code, u.ExecMainStatus);
    line('Process', opts.commands === false ? exit : `ExecStart=${u.ExecStart ?? '?'} (${exit})`);
  }
  if (u.MainPID > 0) line('Main PID', `${u.MainPID}${u.ExecStart ? ` (${u.ExecStart.split(' ')[0]!.split('/').pop()})` : ''}`);
  if (u.StatusText) line('Status', `"${u.StatusText}"`);
  // as systemctl: "Tasks: 2 (limit: 4915)", "Memory: 1.2M (high: 2.0M, max: 4.0M, peak: 1.5M)"
  if ((u.TasksCurrent ?? 0) > 0) line('Tasks', `${u.TasksCurrent}${u.TasksMax !== undefined ? ` (limit: ${u.TasksMax})` : ''}`);
  if (u.MemoryCurrent !== undefined) {
    const mem = [['high', u.MemoryHigh], ['max', u.MemoryMax], ['peak', u.MemoryPeak]].filter((x): x is [string, number] => x[1] !== undefined).map(([k, v]) => `${k}: ${formatBytes(v)}`);
    line('Memory', `${formatBytes(u.MemoryCurrent)}${mem.length > 0 ? ` (${mem.join(', ')})` : ''}`);
  }
  if (u.CPUUsageNSec !== undefined) line('CPU', formatTimespanAccuracy(Math.floor(u.CPUUsageNSec / 1000), 1000));
  if (u.ExecStart) line('Command', u.ExecStart);
  (u.Problems ?? []).forEach((p, i) => { if (i === 0) line('Problem', red(s, p)); else lines.push(`${pad}${' '.repeat(13)}${red(s, p)}`); });
  // nothing silent: what the unit asks for and this node does not apply, one directive a line
  (u.NotApplied ?? []).forEach((e, i) => {
    const text = describeEntry(e);
    if (i === 0) line('Not applied', e.enforcement === 'refused' ? red(s, text) : text);
    else lines.push(`${pad}${' '.repeat(13)}${e.enforcement === 'refused' ? red(s, text) : text}`);
  });
  return lines;
}

/** " at <date>; <ago> ago", as systemctl prints a check's time. */
function at(ts: string, now: number): string {
  const ago = Math.max(0, now - Date.parse(ts));
  return ` at ${new Date(ts).toUTCString()}; ${formatTimespan(Math.floor(ago / 1000) * 1_000_000) || '0'} ago`;
}

/**
 * systemctl status's Condition:/Assert: lines: an unmet start condition with each condition
 * that was not met (in the order written), a failed assertion with the one that failed.
 */
export function checkLines(u: Pick<UnitProperties, 'ConditionResult' | 'ConditionTimestamp' | 'Conditions' | 'AssertResult' | 'AssertTimestamp' | 'Asserts'>, s: Style, now: number, pad = ''): string[] {
  const out: string[] = [];
  const yellow = (t: string): string => paint(s, '1;33', t);
  if (u.ConditionResult === false && u.ConditionTimestamp) {
    out.push(`${pad}  Condition: start ${yellow('condition unmet')}${at(u.ConditionTimestamp, now)}`);
    const unmet = [...(u.Conditions ?? [])].reverse().filter((c) => c.state < 0);
    unmet.forEach((c, i) => out.push(`${pad}             ${i === unmet.length - 1 ? '└─' : '├─'} ${c.type}=${c.trigger ? '|' : ''}${c.negate ? '!' : ''}${c.parameter} was not met`));
  }
  if (u.AssertResult === false && u.AssertTimestamp) {
    out.push(`${pad}     Assert: start ${red(s, 'assertion failed')}${at(u.AssertTimestamp, now)}`);
    // systemctl's map_asserts(): the failed non-triggering one, else the first failed triggering one
    let failed: NonNullable<UnitProperties['Asserts']>[number] | undefined;
    for (const c of u.Asserts ?? []) if (c.state < 0 && (!c.trigger || !failed)) failed = c;
    if (failed?.trigger) out.push(`${pad}             none of the trigger assertions were met`);
    else if (failed) out.push(`${pad}             ${failed.type}=${failed.negate ? '!' : ''}${failed.parameter} was not met`);
  }
  return out;
}

/** The systemctl status view. */
export function statusView(u: UnitStatus, logTail: readonly string[], s: Style, now = Date.now()): string {
  const lines = [`${bullet(u, s)} ${bold(s, u.Id)} - ${u.Description}`, `     Loaded: ${u.LoadState} (${u.FragmentPath})`, ...statusLines(u, s, now)];
  // the dependency engine's lines about the unit among its own, by time (both lead with a 27-character time stamp)
  const manager = u.ManagerLog ?? [];
  const tail = manager.length === 0 ? logTail : [...logTail, ...manager].map((l, i) => ({ l, i })).sort((a, b) => a.l.slice(0, 27).localeCompare(b.l.slice(0, 27)) || a.i - b.i).map((x) => x.l).slice(-Math.max(logTail.length, Math.min(manager.length, 10)));
  if (tail.length > 0) lines.push('', ...tail);
  return lines.join('\n') + '\n';
}
