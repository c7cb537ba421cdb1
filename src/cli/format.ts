// Human output in systemctl's style: tables, the status view, colours only on a terminal.

import type { UnitStatus } from '../agent/protocol.ts';
import { formatTimespan } from '../api/timespan.ts';
import { signalName } from '../api/signals.ts';

export interface Style { readonly color: boolean }

/** Colours when stdout is a terminal and NO_COLOR is not set (systemctl's habit). */
export const terminalStyle = (): Style => ({ color: !!process.stdout.isTTY && !process.env['NO_COLOR'] });

const paint = (s: Style, code: string, text: string): string => (s.color ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = (s: Style, t: string): string => paint(s, '1', t);
export const red = (s: Style, t: string): string => paint(s, '1;31', t);
export const green = (s: Style, t: string): string => paint(s, '1;32', t);

/** systemctl's bullet: green ● active, red × failed, white ● activating/deactivating, ○ inactive. */
export function bullet(st: UnitStatus, s: Style): string {
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

function exitText(u: UnitStatus): string {
  if (u.ExecMainCode === 1) return `code=exited, status=${u.ExecMainStatus}${u.ExecMainStatus === 0 ? '/SUCCESS' : ''}`;
  if (u.ExecMainCode === 2) return `code=killed, signal=${signalName(u.ExecMainStatus).replace(/^SIG/, '')}`;
  if (u.ExecMainCode === 3) return `code=dumped, signal=${signalName(u.ExecMainStatus).replace(/^SIG/, '')}`;
  return '';
}

/** The systemctl status view. */
export function statusView(u: UnitStatus, logTail: readonly string[], s: Style, now = Date.now()): string {
  const lines: string[] = [];
  lines.push(`${bullet(u, s)} ${bold(s, u.Id)} - ${u.Description}`);
  lines.push(`     Loaded: ${u.LoadState} (${u.FragmentPath})`);
  const stateColor = u.ActiveState === 'failed' ? red(s, `${u.ActiveState} (Result: ${u.Result})`) : u.ActiveState === 'active' ? green(s, `${u.ActiveState} (${u.SubState})`) : `${u.ActiveState} (${u.SubState})`;
  const when = u.ActiveState === 'active' ? u.ActiveEnterTimestamp : u.ActiveState === 'inactive' || u.ActiveState === 'failed' ? u.InactiveEnterTimestamp : u.StateChangeTimestamp;
  lines.push(`     Active: ${stateColor}${since(when, now)}`);
  if (u.NRestarts > 0) lines.push(`   Restarts: ${u.NRestarts}`);
  if (u.ExecMainCode > 0 && u.MainPID === 0) lines.push(`    Process: ${u.ExecMainStatus === 0 && u.ExecMainCode === 1 ? '' : ''}ExecStart=${u.ExecStart ?? '?'} (${exitText(u)})`);
  if (u.MainPID > 0) lines.push(`   Main PID: ${u.MainPID}${u.ExecStart ? ` (${u.ExecStart.split(' ')[0]!.split('/').pop()})` : ''}`);
  if (u.StatusText) lines.push(`     Status: "${u.StatusText}"`);
  if ((u.TasksCurrent ?? 0) > 0) lines.push(`      Tasks: ${u.TasksCurrent}`);
  if (u.MemoryCurrent !== undefined) lines.push(`     Memory: ${(u.MemoryCurrent / 1024 / 1024).toFixed(1)}M`);
  if (u.CPUUsageNSec !== undefined) lines.push(`        CPU: ${formatTimespan(Math.round(u.CPUUsageNSec / 1000)) || '0'}`);
  if (u.ExecStart) lines.push(`    Command: ${u.ExecStart}`);
  if (logTail.length > 0) lines.push('', ...logTail);
  return lines.join('\n') + '\n';
}
