// The directives `systemd-analyze security` reads that hold sets, parsed as systemd 257's
// load-fragment.c accumulates them: CapabilityBoundingSet=/AmbientCapabilities=
// (config_parse_capability_set()), RestrictAddressFamilies=, RestrictNamespaces= and
// SystemCallFilter= (config_parse_syscall_filter(), groups expanded). The runner has its own
// parsers (they build what uo-shim applies); these give the same sets without loading the
// runner, and test/cli/security.test.ts checks that both agree on every unit of the corpus.
// Invalid words are skipped, as systemd skips them with a warning (the converter reports them).

import { constants } from 'node:os';
import { ADDRESS_FAMILIES, CAPABILITIES, SYSCALL_GROUPS } from './tables.ts';

/** CAP_MASK_ALL: the 63 capability bits systemd can hold. */
export const CAP_ALL = (1n << 63n) - 1n;

/** capability_from_name(): a name (any case) or a number up to 62. */
export function capabilityNumber(s: string): number | undefined {
  if (/^[0-9]{1,2}$/.test(s)) return Number(s) <= 62 ? Number(s) : undefined;
  return CAPABILITIES[s.toUpperCase()];
}

/** Lines of CapabilityBoundingSet= (initial CAP_ALL) or AmbientCapabilities= (initial 0). */
export function capabilitySet(lines: readonly string[], initial: bigint): bigint {
  let set = initial;
  for (const raw of lines) {
    let line = raw.trim();
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    let sum = 0n;
    for (const w of line.split(/\s+/).filter(Boolean)) {
      const c = capabilityNumber(w);
      if (c !== undefined) sum |= 1n << BigInt(c);
    }
    // "", "~" or the initial value: replaced; otherwise merged
    if (sum === 0n || set === initial) set = invert ? ~sum & CAP_ALL : sum;
    else set = invert ? set & ~sum : set | sum;
  }
  return set;
}

/** RestrictAddressFamilies= lines: undefined when not restricted. */
export function addressFamilies(lines: readonly string[]): { allowList: boolean; families: Set<number> } | undefined {
  let set: Set<number> | undefined;
  let allowList = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line === '') { set = undefined; allowList = false; continue; }
    if (line === 'none') { set = new Set(); allowList = true; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    if (!set) { set = new Set(); allowList = !invert; }
    for (const w of line.split(/\s+/).filter(Boolean)) {
      const af = w !== 'AF_UNSPEC' ? ADDRESS_FAMILIES[w] : undefined;
      if (af === undefined) continue;
      if (!invert === allowList) set.add(af); else set.delete(af);
    }
  }
  return !set || (!allowList && set.size === 0) ? undefined : { allowList, families: set };
}

/** The clone flags of RestrictNamespaces=' types; "~" and "no" are within the seven without "time". */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  cgroup: 0x02000000, ipc: 0x08000000, net: 0x40000000, mnt: 0x00020000, pid: 0x20000000, user: 0x10000000, uts: 0x04000000, time: 0x00000080,
};
const NAMESPACES_ALL = 0x02000000 | 0x08000000 | 0x40000000 | 0x00020000 | 0x20000000 | 0x10000000 | 0x04000000;

/** RestrictNamespaces=: the flags kept (undefined: not restricted). An assignment with an unknown type is skipped whole. */
export function namespacesKept(v: unknown): number | undefined {
  let retain: number | undefined;
  for (const raw of Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]) {
    let line = raw.trim();
    if (line === '') { retain = undefined; continue; }
    if (/^(1|yes|y|true|t|on)$/i.test(line)) { retain = 0; continue; }
    if (/^(0|no|n|false|f|off)$/i.test(line)) { retain = NAMESPACES_ALL; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    const ws = line.split(/\s+/).filter(Boolean);
    if (ws.some((w) => NAMESPACE_FLAGS[w] === undefined)) continue;
    let flags = ws.reduce((f, w) => (f | NAMESPACE_FLAGS[w]!) >>> 0, 0);
    if (invert) flags = (~flags & NAMESPACES_ALL) >>> 0;
    retain = retain === undefined ? flags : invert ? (retain & flags) >>> 0 : (retain | flags) >>> 0;
  }
  return retain;
}

/** SystemCallFilter= lines: allow or deny list, name → errno (-1: the list's own action, -2: kill); undefined: no filter. */
export function syscallFilter(lines: readonly string[]): { allowList: boolean; entries: Map<string, number> } | undefined {
  let allowList = false;
  let entries: Map<string, number> | undefined;
  const add = (name: string, num: number, invert: boolean, depth: number): void => {
    if (name.startsWith('@')) {
      if (depth <= 8) for (const m of SYSCALL_GROUPS[name] ?? []) add(m, num, invert, depth + 1);
      return;
    }
    if (!/^[a-z0-9_]{1,64}$/.test(name)) return;
    // put when (not inverted) == allow list, or an allow list's inverted entry with an errno
    if (!invert === allowList || (invert && allowList && num >= 0)) entries!.set(name, num);
    else entries!.delete(name);
  };
  for (const raw of lines) {
    let line = raw.trim();
    if (line === '') { entries = undefined; allowList = false; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    if (!entries) {
      entries = new Map();
      allowList = !invert;
      if (allowList) add('@default', -1, false, 0);
    }
    for (const word of line.split(/\s+/).filter(Boolean)) {
      const colon = word.indexOf(':');
      const name = colon < 0 ? word : word.slice(0, colon);
      let num = -1;
      if (colon >= 0) {
        const e = word.slice(colon + 1);
        if (e === 'kill') num = -2;
        else if (/^[0-9]{1,4}$/.test(e) && Number(e) <= 4095) num = Number(e);
        else {
          const n = /^E[A-Z0-9]+$/.test(e) ? (constants.errno as Record<string, number>)[e] : undefined;
          if (n === undefined || n <= 0 || n > 4095) continue; // not an errno: the word is skipped
          num = n;
        }
      }
      if (name !== '') add(name, num, invert, 0);
    }
  }
  return entries ? { allowList, entries } : undefined;
}
