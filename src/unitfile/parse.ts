// systemd unit-file syntax (systemd.syntax(7), conf-parser.c): sections, KEY=VALUE lines,
// comments starting with # or ;, a trailing backslash joining the next line (replaced by a
// space, comment lines inside a continuation skipped), whitespace trimmed around key and value.
// Keys and section names are case-sensitive, as in systemd.

import { type Diagnostic, UnitFileError } from './errors.ts';

export interface Assignment {
  readonly section: string;
  readonly key: string;
  /** The value, continuation lines joined, surrounding whitespace trimmed. */
  readonly value: string;
  readonly file: string;
  readonly line: number;
  /** 1-based column of the value's first character (on `line`). */
  readonly valueColumn: number;
}

export interface UnitFile {
  readonly file: string;
  /** Section names in order of first appearance. */
  readonly sections: readonly string[];
  /** The line of each section's first header. */
  readonly sectionLines: Readonly<Record<string, number>>;
  readonly assignments: readonly Assignment[];
  /** Zero bytes, or only comments and blank lines: systemd treats an empty file as masked. */
  readonly empty: boolean;
}

const SECTION_NAME = /^[^\[\]\x00-\x1f]+$/;

/** Parses unit-file text. Throws UnitFileError with every syntax error found. */
export function parseUnitFile(text: string, file: string): UnitFile {
  const errors: Diagnostic[] = [];
  const assignments: Assignment[] = [];
  const sections: string[] = [];
  const sectionLines: Record<string, number> = {};
  let section: string | undefined;
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = src.split(/\r?\n/);
  // systemd's read_line() also ends a line at a NUL byte or a lone carriage return, and reads
  // what follows as a line of its own (a directive hidden after a NUL would be applied): named
  // as an error here instead of being read either way
  lines.forEach((l, idx) => {
    for (const m of l.matchAll(/\x00|\r(?=.)/g)) {
      errors.push({ severity: 'error', file, line: idx + 1, column: m.index + 1, message: m[0] === '\x00' ? 'a NUL byte in the line' : 'a carriage return inside the line',
        hint: `systemd ends the line there and reads ${JSON.stringify(l.slice(m.index + 1, m.index + 41))} as a line of its own; remove it` });
    }
  });
  let pending: { text: string; line: number; column: number } | undefined;

  const handle = (content: string, lineNo: number, indent: number): void => {
    const l = content;
    if (l.startsWith('[')) {
      const close = l.indexOf(']');
      if (close < 0 || close !== l.length - 1) {
        errors.push({ severity: 'error', file, line: lineNo, column: indent + (close < 0 ? l.length + 1 : close + 2), message: close < 0 ? 'section header without closing "]"' : 'text after the section header', hint: 'a section header is a line like [Service] and nothing else' });
        return;
      }
      const name = l.slice(1, -1);
      if (!SECTION_NAME.test(name)) {
        errors.push({ severity: 'error', file, line: lineNo, column: indent + 2, message: `invalid section name "${name}"`, hint: 'use [Unit], [Service] or [Install]' });
        return;
      }
      section = name;
      if (!sections.includes(name)) { sections.push(name); sectionLines[name] = lineNo; }
      return;
    }
    const eq = l.indexOf('=');
    if (eq < 0) {
      errors.push({ severity: 'error', file, line: lineNo, column: indent + 1, message: `missing "=" in "${l.length > 40 ? l.slice(0, 40) + '…' : l}"`, hint: 'each line is KEY=VALUE, a [Section] header, or a comment starting with # or ;' });
      return;
    }
    const rawKey = l.slice(0, eq);
    const key = rawKey.trim();
    if (key === '') {
      errors.push({ severity: 'error', file, line: lineNo, column: indent + 1, message: 'assignment without a key', hint: 'write KEY=VALUE' });
      return;
    }
    if (/\s/.test(key)) {
      errors.push({ severity: 'error', file, line: lineNo, column: indent + 1, message: `invalid key "${key}": keys have no whitespace`, hint: 'write KEY=VALUE' });
      return;
    }
    if (section === undefined) {
      errors.push({ severity: 'error', file, line: lineNo, column: indent + 1, message: `assignment "${key}=" outside of any section`, directive: key, hint: 'put it under a section header such as [Unit] or [Service]' });
      return;
    }
    const afterEq = l.slice(eq + 1);
    const lead = afterEq.length - afterEq.trimStart().length;
    assignments.push({ section, key, value: afterEq.trim(), file, line: lineNo, valueColumn: indent + eq + 2 + lead });
  };

  lines.forEach((rawLine, idx) => {
    const lineNo = idx + 1;
    const trimmedStart = rawLine.trimStart();
    const indent = rawLine.length - trimmedStart.length;
    if (pending) {
      if (trimmedStart.startsWith('#') || trimmedStart.startsWith(';')) return;
      const joined = continued(rawLine);
      if (joined.cont) { pending.text += joined.text; return; }
      pending.text += rawLine;
      const p = pending;
      pending = undefined;
      handle(p.text.trim(), p.line, p.column);
      return;
    }
    const l = trimmedStart.trimEnd();
    if (l === '' || l.startsWith('#') || l.startsWith(';')) return;
    const joined = continued(trimmedStart);
    if (joined.cont) { pending = { text: joined.text, line: lineNo, column: indent }; return; }
    handle(l, lineNo, indent);
  });
  if (pending) handle(pending.text.trim(), pending.line, pending.column);
  if (errors.length > 0) throw new UnitFileError(errors);
  const empty = assignments.length === 0 && sections.length === 0;
  return { file, sections, sectionLines, assignments, empty };
}

/** A line ending in an odd number of backslashes continues; the backslash becomes a space. */
function continued(line: string): { cont: boolean; text: string } {
  const t = line.replace(/[ \t\r]+$/, '');
  let n = 0;
  for (let i = t.length - 1; i >= 0 && t[i] === '\\'; i--) n++;
  if (n % 2 === 1) return { cont: true, text: t.slice(0, -1) + ' ' };
  return { cont: false, text: line };
}

/** systemd's parse_boolean(). */
export function parseBoolean(v: string): boolean | undefined {
  const s = v.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(s)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(s)) return false;
  return undefined;
}
