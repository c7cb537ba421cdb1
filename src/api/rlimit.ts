// Limit*= values read as systemd's rlimit_parse() reads them (src/basic/rlimit-util.c), so that
// the shim gets plain numbers for setrlimit(2):
//   sizes (FSIZE DATA STACK CORE RSS AS MEMLOCK MSGQUEUE): bytes, binary suffixes B K M G T P E,
//     fractions ("1.5K" = 1536) and summed components ("1K 512" = 1536), as parse_size(…, 1024);
//   CPU: a time span in seconds (bare number = seconds), rounded up to whole seconds;
//   RTTIME: a time span in microseconds (a bare number is µs);
//   NICE: "+N"/"-N" is a nice level (-20…19) stored as 20 - N; a bare number is the raw limit 0…40;
//   the others (NOFILE NPROC LOCKS SIGPENDING RTPRIO): plain counts;
// each "infinity" or a number, one value for both limits or "SOFT:HARD". A value systemd refuses
// (a suffix on a count, a nice level out of range, soft above hard) is an RlimitError: systemd
// ignores such an assignment with a warning and keeps the default.
//
// Checked with systemd 257 (systemd-oracle, `systemctl show -p LimitCORE,LimitCORESoft…`):
//   LimitCORE=64K → 65536; LimitFSIZE=1.5M:2G → 1572864:2147483648; LimitCPU=1min → 60;
//   LimitCPU=0.5 → 1; LimitCPU=1.5s:1h 30s → 2:3630; LimitRTTIME=500ms → 500000; LimitRTTIME=100 → 100;
//   LimitNICE=+5 → 15; LimitNICE=-3 → 23; LimitNICE=40 → 40; LimitNICE=41, +25, -20:+19 → ignored;
//   LimitNOFILE=1K, LimitSTACK=10k, LimitCORE=4G:1G, LimitNPROC=infinity:100 → ignored.

import { parseTimespan, USEC_PER_SEC } from './timespan.ts';

export type RlimitKind = 'size' | 'sec' | 'usec' | 'nice' | 'count';

/** How each resource's value is read, by RLIMIT name without the prefix. */
export const RLIMIT_KIND: Readonly<Record<string, RlimitKind>> = {
  CPU: 'sec', FSIZE: 'size', DATA: 'size', STACK: 'size', CORE: 'size', RSS: 'size', NOFILE: 'count', AS: 'size',
  NPROC: 'count', MEMLOCK: 'size', LOCKS: 'count', SIGPENDING: 'count', MSGQUEUE: 'size', NICE: 'nice', RTPRIO: 'count', RTTIME: 'usec',
};

/** RLIM_INFINITY on Linux: (rlim_t)-1. */
const RLIM_INFINITY = (1n << 64n) - 1n;

export type RlimitValue = bigint | 'infinity';
export interface Rlimit { readonly soft: RlimitValue; readonly hard: RlimitValue }

export class RlimitError extends Error {
  constructor(message: string) { super(message); this.name = 'RlimitError'; }
}

const SIZE_FACTORS: Readonly<Record<string, bigint>> = {
  '': 1n, B: 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n, E: 1n << 60n,
};

/** parse_size(…, 1024): summed components NUMBER[.FRACTION][B|K|M|G|T|P|E]. */
function parseSize(s: string): bigint {
  const text = s.trim();
  if (text === '') throw new RlimitError('empty size');
  let total = 0n;
  let rest = text;
  while (rest !== '') {
    const m = /^([0-9]+)(?:\.([0-9]+))?\s*([BKMGTPE]?)\s*/.exec(rest);
    if (!m || m[0] === '') throw new RlimitError(`"${s}" is not a size (bytes with an optional K, M, G, T, P or E suffix)`);
    const factor = SIZE_FACTORS[m[3]!]!;
    const frac = m[2] ?? '';
    total += BigInt(m[1]!) * factor + (frac === '' ? 0n : (BigInt(frac) * factor) / 10n ** BigInt(frac.length));
    rest = rest.slice(m[0].length);
  }
  if (total >= RLIM_INFINITY) throw new RlimitError(`"${s}" is too large`);
  return total;
}

function parseCount(s: string): bigint {
  const t = s.trim();
  if (!/^[0-9]+$/.test(t)) throw new RlimitError(`"${s}" is not a number (no unit suffix here)`);
  const n = BigInt(t);
  if (n >= RLIM_INFINITY) throw new RlimitError(`"${s}" is too large`);
  return n;
}

function parseTime(s: string, kind: 'sec' | 'usec'): RlimitValue {
  let usec: number;
  // parse_time(…, 1) for RTTIME: a bare number is microseconds; parse_sec() for CPU: seconds
  if (kind === 'usec' && /^\s*[0-9]+\s*$/.test(s)) return BigInt(s.trim());
  try { usec = parseTimespan(s); } catch (e) { throw new RlimitError((e as Error).message); }
  if (usec === Infinity) return 'infinity';
  return kind === 'usec' ? BigInt(Math.floor(usec)) : BigInt(Math.ceil(usec / USEC_PER_SEC));
}

function parseNice(s: string): bigint {
  const t = s.trim();
  if (/^[+-][0-9]+$/.test(t)) {
    const nice = Number(t);
    if (nice < -20 || nice > 19) throw new RlimitError(`nice level ${t} is out of range (-20…19)`);
    return BigInt(20 - nice);
  }
  const n = parseCount(t);
  if (n > 40n) throw new RlimitError(`"${s}" is out of range (0…40, or a nice level +N/-N)`);
  return n;
}

function parseOne(kind: RlimitKind, s: string): RlimitValue {
  if (s.trim() === 'infinity') return 'infinity';
  switch (kind) {
    case 'size': return parseSize(s);
    case 'sec': case 'usec': return parseTime(s, kind);
    case 'nice': return parseNice(s);
    case 'count': return parseCount(s);
  }
}

const above = (a: RlimitValue, b: RlimitValue): boolean => a === 'infinity' ? b !== 'infinity' : b !== 'infinity' && a > b;

/** One Limit*= value: `resource` is the RLIMIT name without the prefix (CORE, NOFILE…). */
export function parseRlimit(resource: string, value: string | number): Rlimit {
  const kind = RLIMIT_KIND[resource];
  if (!kind) throw new RlimitError(`unknown resource limit ${resource}`);
  // a YAML number: bytes, counts and µs as they are; CPU= seconds (parse_sec reads "90" the same)
  const text = typeof value === 'number' ? String(value) : value;
  const colon = text.indexOf(':');
  const soft = parseOne(kind, colon < 0 ? text : text.slice(0, colon));
  const hard = colon < 0 ? soft : parseOne(kind, text.slice(colon + 1));
  if (above(soft, hard)) throw new RlimitError(`soft limit ${text.slice(0, colon)} is above hard limit ${text.slice(colon + 1)}`);
  return { soft, hard };
}

/** The shim's form: "N", "infinity", or "SOFT:HARD" when they differ. */
export function formatRlimit(r: Rlimit): string {
  const s = String(r.soft);
  const h = String(r.hard);
  return s === h ? s : `${s}:${h}`;
}

/** Why systemd would ignore this value (undefined when it is valid). */
export function rlimitProblem(resource: string, value: unknown): string | undefined {
  try {
    parseRlimit(resource, typeof value === 'number' ? value : String(value));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
