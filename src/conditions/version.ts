// systemd's comparison operators (parse_order(), test_order()) and its version comparison
// (strverscmp_improved(), `systemd-analyze compare-versions`): "~" sorts before anything, "-"
// before "^" before "." segments, numbers compare by value, longer alpha runs are newer.

import { fnmatch } from './fnmatch.ts';

export type Order = '<=' | '>=' | '<' | '>' | '=' | '!=' | '$=' | '!$=';

/** Tried longest first, as systemd's table gives "<=" before "<" and "!$=" before "!=". */
const ORDERS: readonly Order[] = ['!$=', '$=', '<=', '>=', '!=', '<', '>', '='];

/** The operator a string starts with and the rest, or undefined (an fnmatch one only when allowed). */
export function parseOrder(s: string, allowFnmatch: boolean): { order: Order; rest: string } | undefined {
  for (const o of ORDERS) {
    if (!s.startsWith(o)) continue;
    if (!allowFnmatch && (o === '$=' || o === '!$=')) return undefined;
    return { order: o, rest: s.slice(o.length) };
  }
  return undefined;
}

export function testOrder(k: number, o: Order): boolean {
  switch (o) {
    case '<': return k < 0;
    case '<=': return k <= 0;
    case '=': return k === 0;
    case '!=': return k !== 0;
    case '>=': return k >= 0;
    case '>': return k > 0;
    default: return false;
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const validChar = (c: string): boolean => isDigit(c) || isAlpha(c) || c === '~' || c === '-' || c === '^' || c === '.';
const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);
const flag = (a: boolean, b: boolean): number => cmp(Number(a), Number(b));

/** strverscmp_improved(): <0, 0, >0. */
export function compareVersions(x: string, y: string): number {
  if (x === '' || y === '') return cmp(x, y);
  let a = 0, b = 0;
  const A = x, B = y;
  for (;;) {
    while (a < A.length && !validChar(A[a]!)) a++;
    while (b < B.length && !validChar(B[b]!)) b++;
    if (A[a] === '~' || B[b] === '~') {
      const r = flag(A[a] !== '~', B[b] !== '~');
      if (r !== 0) return r;
      a++; b++;
    }
    if (a >= A.length || b >= B.length) return cmp(A.slice(a), B.slice(b));
    for (const sep of ['-', '^', '.']) {
      if (A[a] === sep || B[b] === sep) {
        const r = flag(A[a] !== sep, B[b] !== sep);
        if (r !== 0) return r;
        a++; b++;
      }
    }
    let aa = a, bb = b;
    if (isDigit(A[a]) || isDigit(B[b])) {
      while (isDigit(A[aa])) aa++;
      while (isDigit(B[bb])) bb++;
      let r = flag(a !== aa, b !== bb);
      if (r !== 0) return r;
      while (A[a] === '0') a++;
      while (B[b] === '0') b++;
      r = cmp(aa - a, bb - b);
      if (r !== 0) return r;
      r = cmp(A.slice(a, aa), B.slice(b, bb));
      if (r !== 0) return r;
    } else {
      while (isAlpha(A[aa])) aa++;
      while (isAlpha(B[bb])) bb++;
      const n = Math.min(aa - a, bb - b);
      let r = cmp(A.slice(a, a + n), B.slice(b, b + n));
      if (r !== 0) return r;
      r = cmp(aa - a, bb - b);
      if (r !== 0) return r;
    }
    a = aa; b = bb;
  }
}

/** version_or_fnmatch_compare(): "$=" and "!$=" glob-match, the others compare versions. */
export function versionOrFnmatch(o: Order, actual: string, wanted: string): boolean {
  if (o === '$=') return fnmatch(wanted, actual);
  if (o === '!$=') return !fnmatch(wanted, actual);
  return testOrder(compareVersions(actual, wanted), o);
}
