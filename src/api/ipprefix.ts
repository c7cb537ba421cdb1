// IP address prefixes as systemd 257 reads IPAddressAllow= and IPAddressDeny=
// (config_parse_in_addr_prefixes(), src/shared/in-addr-prefix-util.c): words; "any" is 0.0.0.0/0
// and ::/0, a localhost name (is_localhost(): localhost, localhost.localdomain, *.localhost, with
// or without a final dot, any case) 127.0.0.0/8 and ::1/128, "link-local" 169.254.0.0/16 and
// fe80::/64, "multicast" 224.0.0.0/4 and ff00::/8; anything else ADDRESS[/LENGTH] as inet_pton()
// reads the address (no LENGTH: the whole address). The address is masked to its length
// (in_addr_prefix_add()), the list is a set (a repeated prefix counts once), an empty assignment
// resets it, and a word that is not a prefix is ignored with systemd's warning. Used by the
// runner (the cgroup BPF filter, src/runner/cgroup/ipaccess.ts) and by `unitctl security`.

export interface Prefix {
  readonly v6: boolean;
  /** 4 or 16 bytes, network order, masked to `len`. */
  readonly bytes: readonly number[];
  readonly len: number;
}

export interface PrefixList {
  readonly prefixes: readonly Prefix[];
  /** systemd's warnings for the words it ignores. */
  readonly ignored: readonly string[];
}

/** inet_pton(AF_INET): four decimal parts 0–255, no leading zero. */
export function parseIPv4(s: string): number[] | undefined {
  const p = s.split('.');
  if (p.length !== 4 || !p.every((x) => /^(0|[1-9][0-9]{0,2})$/.test(x) && Number(x) < 256)) return undefined;
  return p.map(Number);
}

/** inet_pton(AF_INET6): up to eight groups of 1–4 hex digits, one "::", a dotted IPv4 tail. */
export function parseIPv6(s: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split('::').length > 2) return undefined;
  const groups = (x: string, last: boolean): number[] | undefined => {
    if (x === '') return [];
    const parts = x.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const g = parts[i]!;
      if (last && i === parts.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  const double = s.includes('::');
  const [head, tail] = double ? s.split('::') as [string, string] : [s, ''];
  const h = groups(head, !double), t = groups(tail, true);
  if (!h || !t) return undefined;
  const n = h.length + t.length;
  if (double ? n > 7 : n !== 8) return undefined;
  return [...h, ...new Array<number>(8 - n).fill(0), ...t].flatMap((g) => [g >> 8, g & 0xff]);
}

/** The address masked to its first `len` bits. */
function masked(bytes: readonly number[], len: number): number[] {
  return bytes.map((b, i) => (len >= 8 * (i + 1) ? b : len <= 8 * i ? 0 : b & (0xff << (8 - (len - 8 * i))) & 0xff));
}

const v4 = (bytes: number[], len: number): Prefix => ({ v6: false, bytes: masked(bytes, len), len });
const v6 = (bytes: number[], len: number): Prefix => ({ v6: true, bytes: masked(bytes, len), len });
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** hostname-util.c is_localhost(). */
export function isLocalhostName(w: string): boolean {
  const s = w.toLowerCase();
  return ['localhost', 'localhost.', 'localhost.localdomain', 'localhost.localdomain.'].includes(s)
    || ['.localhost', '.localhost.', '.localhost.localdomain', '.localhost.localdomain.'].some((e) => s.endsWith(e));
}

/** One word as a prefix (or two, for the names); undefined when systemd ignores it. */
export function wordPrefixes(w: string): Prefix[] | undefined {
  if (w === 'any') return [v4(zeros(4), 0), v6(zeros(16), 0)];
  if (isLocalhostName(w)) return [v4([127, 0, 0, 0], 8), v6([...zeros(15), 1], 128)];
  if (w === 'link-local') return [v4([169, 254, 0, 0], 16), v6([0xfe, 0x80, ...zeros(14)], 64)];
  if (w === 'multicast') return [v4([224, 0, 0, 0], 4), v6([0xff, ...zeros(15)], 8)];
  const slash = w.indexOf('/');
  const addr = slash < 0 ? w : w.slice(0, slash);
  const a4 = parseIPv4(addr), a6 = a4 ? undefined : parseIPv6(addr);
  if (!a4 && !a6) return undefined;
  const max = a4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const l = w.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(l) || Number(l) > max) return undefined;
    len = Number(l);
  }
  return [a4 ? v4(a4, len) : v6(a6!, len)];
}

const key = (p: Prefix): string => `${p.v6 ? 6 : 4}/${p.len}/${p.bytes.join('.')}`;

/**
 * A directive's value (a word list, one string of words, or lines of them as a spec gives it;
 * "" resets) as the set systemd keeps, in the order first given.
 */
export function parsePrefixList(value: unknown): PrefixList {
  const lines = Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)];
  let out = new Map<string, Prefix>();
  const ignored: string[] = [];
  for (const line of lines) {
    if (line.trim() === '') { out = new Map(); continue; }
    for (const w of line.trim().split(/\s+/)) {
      const ps = wordPrefixes(w);
      if (!ps) { ignored.push(`Address prefix is invalid, ignoring assignment: ${w}`); continue; }
      for (const p of ps) if (!out.has(key(p))) out.set(key(p), p);
    }
  }
  return { prefixes: [...out.values()], ignored };
}

/** in_addr_prefixes_reduce(): a prefix inside a shorter one of the list is dropped (what `systemctl show` lists). */
export function reducePrefixes(ps: readonly Prefix[]): Prefix[] {
  const have = new Set(ps.map(key));
  return ps.filter((p) => {
    for (let l = 0; l < p.len; l++) if (have.has(key(p.v6 ? v6([...p.bytes], l) : v4([...p.bytes], l)))) return false;
    return true;
  });
}

/** in_addr_prefix_to_string(): "127.0.0.0/8", "::1/128" (IPv6 as inet_ntop() writes it). */
export function formatPrefix(p: Prefix): string {
  if (!p.v6) return `${p.bytes.join('.')}/${p.len}`;
  const g = Array.from({ length: 8 }, (_, i) => (p.bytes[2 * i]! << 8) | p.bytes[2 * i + 1]!);
  // the longest run of two or more zero groups becomes "::" (the first, when two are as long)
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  // inet_ntop writes ::ffff:a.b.c.d and ::a.b.c.d (not ::1, ::) with a dotted tail
  const dotted = best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff));
  const text = dotted
    ? `::${bestLen === 5 ? 'ffff:' : ''}${p.bytes.slice(12).join('.')}`
    : best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
  return `${text}/${p.len}`;
}
