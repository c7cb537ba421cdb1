// systemd time spans (systemd.time(7)): "5min 20s", "2h", "100ms", "infinity", bare seconds.
// Values are microseconds, as in systemd (usec_t); `Infinity` stands for USEC_INFINITY.

export const USEC_PER_MSEC = 1_000;
export const USEC_PER_SEC = 1_000_000;
const USEC_PER_MINUTE = 60 * USEC_PER_SEC;
const USEC_PER_HOUR = 60 * USEC_PER_MINUTE;
const USEC_PER_DAY = 24 * USEC_PER_HOUR;
const USEC_PER_WEEK = 7 * USEC_PER_DAY;
const USEC_PER_MONTH = 2_629_800 * USEC_PER_SEC; // 30.44 days, as time-util.c
const USEC_PER_YEAR = 31_557_600 * USEC_PER_SEC; // 365.25 days

/** Unit suffixes accepted by systemd's parse_sec(), longest first so that "ms" wins over "m". */
const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['seconds', USEC_PER_SEC], ['second', USEC_PER_SEC], ['sec', USEC_PER_SEC], ['s', USEC_PER_SEC],
  ['minutes', USEC_PER_MINUTE], ['minute', USEC_PER_MINUTE], ['min', USEC_PER_MINUTE],
  ['months', USEC_PER_MONTH], ['month', USEC_PER_MONTH], ['M', USEC_PER_MONTH],
  ['msec', USEC_PER_MSEC], ['ms', USEC_PER_MSEC], ['m', USEC_PER_MINUTE],
  ['hours', USEC_PER_HOUR], ['hour', USEC_PER_HOUR], ['hr', USEC_PER_HOUR], ['h', USEC_PER_HOUR],
  ['days', USEC_PER_DAY], ['day', USEC_PER_DAY], ['d', USEC_PER_DAY],
  ['weeks', USEC_PER_WEEK], ['week', USEC_PER_WEEK], ['w', USEC_PER_WEEK],
  ['years', USEC_PER_YEAR], ['year', USEC_PER_YEAR], ['y', USEC_PER_YEAR],
  ['usec', 1], ['us', 1], ['µs', 1], ['μs', 1],
];

const UNIT_ALTERNATION = [...UNITS].map(([u]) => u).sort((a, b) => b.length - a.length).join('|');

/** The same grammar as a regular expression, for the CRD schema and the offline validator. */
const NUMBER = '([0-9]+(\\.[0-9]*)?|\\.[0-9]+)';
export const TIMESPAN_PATTERN =
  `^\\s*(infinity|(${NUMBER}\\s*(${UNIT_ALTERNATION})\\s*|${NUMBER}(\\s+|$))+)$`;

export class TimespanError extends Error {
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'TimespanError';
    this.column = column;
  }
}

/**
 * Parses a time span the way systemd's parse_sec() does: components are summed, a bare
 * number means seconds, "infinity" stands alone. Returns microseconds.
 * A number (from YAML) is taken as seconds.
 */
export function parseTimespan(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new TimespanError(`invalid time span ${input}: must be a non-negative number of seconds`, 0);
    return Math.round(input * USEC_PER_SEC);
  }
  const s = input.trim();
  if (s === 'infinity') return Infinity;
  if (s === '') throw new TimespanError('empty time span', 0);
  let total = 0;
  let i = input.indexOf(s);
  const end = i + s.length;
  let components = 0;
  while (i < end) {
    while (i < end && /\s/.test(input[i]!)) i++;
    if (i >= end) break;
    const numMatch = /^([0-9]+)?(\.([0-9]*))?/.exec(input.slice(i, end));
    const whole = numMatch?.[1];
    const frac = numMatch?.[3];
    if (!numMatch || (whole === undefined && (frac === undefined || frac === ''))) {
      if (input[i] === '-') throw new TimespanError(`negative time span "${input}"`, i);
      throw new TimespanError(`invalid time span "${input}": expected a number at "${input.slice(i, end)}"`, i);
    }
    i += numMatch[0].length;
    while (i < end && /\s/.test(input[i]!)) i++;
    let multiplier = USEC_PER_SEC;
    let unitLen = 0;
    for (const [u, m] of UNITS) {
      if (input.startsWith(u, i) && (unitLen === 0 || u.length > unitLen)) {
        const next = input[i + u.length];
        if (next === undefined || i + u.length >= end || /[\s0-9.]/.test(next)) { multiplier = m; unitLen = u.length; }
      }
    }
    if (unitLen === 0 && i < end && (!/\s/.test(input[i - 1]!) || /[^\s0-9.]/.test(input[i]!))) {
      throw new TimespanError(`invalid time span "${input}": unknown unit at "${input.slice(i, end)}" (use us, ms, s, min, h, d, w, M, y)`, i);
    }
    i += unitLen;
    const wholeUsec = (whole ? Number(whole) : 0) * multiplier;
    const fracUsec = frac ? Math.floor(Number(`0.${frac}`) * multiplier) : 0;
    total += wholeUsec + fracUsec;
    components++;
  }
  if (components === 0) throw new TimespanError(`invalid time span "${input}"`, 0);
  return total;
}

/** Tells whether a value is a valid time span without throwing. */
export function isTimespan(input: unknown): boolean {
  if (typeof input !== 'string' && typeof input !== 'number') return false;
  try { parseTimespan(input); return true; } catch { return false; }
}

const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['y', USEC_PER_YEAR], ['month', USEC_PER_MONTH], ['w', USEC_PER_WEEK], ['d', USEC_PER_DAY],
  ['h', USEC_PER_HOUR], ['min', USEC_PER_MINUTE], ['s', USEC_PER_SEC], ['ms', USEC_PER_MSEC], ['us', 1],
];

/** Formats microseconds as systemd's format_timespan() does with accuracy 1us: "5min 20s". */
export function formatTimespan(usec: number): string {
  if (usec === Infinity) return 'infinity';
  if (usec <= 0) return '0';
  const parts: string[] = [];
  let rest = Math.round(usec);
  for (const [u, m] of FORMAT_UNITS) {
    if (rest >= m) {
      const n = Math.floor(rest / m);
      rest -= n * m;
      parts.push(`${n}${u}`);
    }
  }
  return parts.join(' ');
}
