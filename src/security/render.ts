// The text `systemd-analyze security UNIT` prints (systemd 257, output not a terminal): the
// table " ", NAME, DESCRIPTION, EXPOSURE sorted as format-table.c sorts it — by description,
// reversed (strcmp), then by name — and the overall line. The sort is glibc's merge sort over
// the row indices with systemd's comparator, reproduced step by step: a row without a
// description (ProtectProc=noaccess) compares by the order rows were added, which does not
// agree with the string order, so only the same algorithm lands it where systemd does.

import type { Assessment, Row } from './assess.ts';

/** strcmp() of the UTF-8 bytes. */
const strcmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** table_data_compare() with the sort map (description, name) and description reversed; index 0 is the header. */
function compare(rows: readonly Row[], a: number, b: number): number {
  if (a === 0 && b === 0) return 0;
  if (a === 0) return -1;
  if (b === 0) return 1;
  const ra = rows[a - 1]!, rb = rows[b - 1]!;
  // cells of different types (an empty cell and a string) or two empty cells: the order they were added in
  const byDescription = ra.description !== undefined && rb.description !== undefined ? strcmp(ra.description, rb.description) : Math.sign(a - b);
  if (byDescription !== 0) return -byDescription;
  const byName = strcmp(ra.id, rb.id);
  return byName !== 0 ? byName : Math.sign(a - b);
}

/** glibc's msort_with_tmp(): top-down merge sort, the left run first on ties. */
function mergeSort(items: number[], cmp: (a: number, b: number) => number): number[] {
  if (items.length <= 1) return items;
  const n1 = Math.floor(items.length / 2);
  const left = mergeSort(items.slice(0, n1), cmp), right = mergeSort(items.slice(n1), cmp);
  const out: number[] = [];
  let i = 0, j = 0;
  while (i < left.length && j < right.length) out.push(cmp(left[i]!, right[j]!) <= 0 ? left[i++]! : right[j++]!);
  return out.concat(left.slice(i), right.slice(j));
}

/** The rows in the order systemd-analyze prints them. */
export function sortedRows(a: Assessment): Row[] {
  const order = mergeSort(Array.from({ length: a.rows.length + 1 }, (_, i) => i), (x, y) => compare(a.rows, x, y));
  return order.filter((i) => i !== 0).map((i) => a.rows[i - 1]!);
}

/** Display width: one cell per character (✓, ✗, …), two for the smileys. */
const width = (s: string): number => [...s].reduce((n, ch) => n + ((ch.codePointAt(0) ?? 0) >= 0x1f300 ? 2 : 1), 0);

/**
 * A table laid out as format-table.c lays it out for a pipe: a space between columns, cells
 * padded to the column's width (right-aligned ones on the left); the last column is not padded
 * on the right, and an empty last cell leaves nothing after the separator.
 */
export function layoutTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, right: ReadonlySet<number> = new Set([header.length - 1])): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => width(r[c] ?? ''))));
  const last = header.length - 1;
  const cell = (s: string, c: number): string => {
    if (c === last && s === '') return '';
    const pad = ' '.repeat(Math.max(0, widths[c]! - width(s)));
    return right.has(c) ? pad + s : c === last ? s : s + pad;
  };
  return all.map((r) => r.map(cell).join(' ')).join('\n') + '\n';
}

/** The "→ Overall exposure level for UNIT: 9.6 UNSAFE 😨" line. */
export const overallLine = (a: Assessment): string => `→ Overall exposure level for ${a.unit}: ${a.exposureText} ${a.level} ${a.glyph}`;

/** Exactly what `systemd-analyze security UNIT` prints to a pipe. */
export function renderAnalyze(a: Assessment): string {
  const rows = sortedRows(a).map((r) => [r.mark, r.id, r.description ?? '', r.exposure ?? '']);
  return `${layoutTable([' ', 'NAME', 'DESCRIPTION', 'EXPOSURE'], rows)}\n${overallLine(a)}\n`;
}

/** The overview systemd-analyze prints after several units (UNIT, EXPOSURE, PREDICATE, HAPPY). */
export function renderOverview(list: readonly Assessment[]): string {
  return layoutTable(['UNIT', 'EXPOSURE', 'PREDICATE', 'HAPPY'], list.map((a) => [a.unit, a.exposureText, a.level, a.glyph]), new Set([1]));
}
