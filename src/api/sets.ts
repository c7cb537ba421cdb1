// The sets of systemd.exec(5) as systemd 257's load-fragment.c accumulates them:
// CapabilityBoundingSet=/AmbientCapabilities= (config_parse_capability_set()),
// SystemCallFilter= (config_parse_syscall_filter(), groups expanded), RestrictAddressFamilies=,
// RestrictNamespaces=. Pure: the runner builds what uo-shim applies from them (privs.ts,
// seccomp.ts) and `unitctl security` scores them (src/security), one copy for both. A word
// systemd skips with a warning is skipped here with a line in `problems`.

import { constants } from 'node:os';
import { ADDRESS_FAMILIES, CAPABILITIES, SYSCALL_GROUPS } from './linux-tables.ts';

/** CAP_MASK_ALL: every capability bit systemd can hold (63 of them). */
export const CAP_MASK_ALL = (1n << 63n) - 1n;

/** capability_from_name(): a name (any case) or a number up to 62; undefined when neither. */
export function capabilityFromName(s: string): number | undefined {
  if (/^[0-9]{1,2}$/.test(s)) return Number(s) <= 62 ? Number(s) : undefined;
  return CAPABILITIES[s.toUpperCase()];
}

/** config_parse_capability_set(): lines accumulated onto `initial` (CAP_MASK_ALL for the bounding set, 0 for ambient). */
export function parseCapabilitySet(lines: readonly string[], initial: bigint, directive: string, problems: string[]): bigint {
  let set = initial;
  for (const raw of lines) {
    let line = raw.trim();
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    let sum = 0n;
    for (const w of line.split(/\s+/).filter(Boolean)) {
      const c = capabilityFromName(w);
      if (c === undefined) { problems.push(`${directive}=: failed to parse capability ${JSON.stringify(w)}, ignoring`); continue; }
      sum |= 1n << BigInt(c);
    }
    // "", "~" or the initial value: replaced; otherwise merged
    if (sum === 0n || set === initial) set = invert ? ~sum & CAP_MASK_ALL : sum;
    else set = invert ? set & ~sum : set | sum;
  }
  return set;
}

const ERRNO_MAX = 4095;
/** SECCOMP_ERROR_NUMBER_KILL: "kill" where an errno goes. */
export const ERRNO_KILL = -2;

/** seccomp_parse_errno_or_action(): an errno name or number (0..4095), or "kill"; undefined if neither. */
export function parseErrno(s: string): number | undefined {
  if (s === 'kill') return ERRNO_KILL;
  if (/^[0-9]{1,4}$/.test(s)) return Number(s) <= ERRNO_MAX ? Number(s) : undefined;
  const n = (constants.errno as Record<string, number>)[s];
  return /^E[A-Z0-9]+$/.test(s) && n !== undefined && n > 0 && n <= ERRNO_MAX ? n : undefined;
}

export interface SyscallFilter {
  readonly allowList: boolean;
  /** name → errno (-1: the list's own action; ERRNO_KILL: kill). */
  readonly entries: ReadonlyMap<string, number>;
}

/** SystemCallFilter= lines as config_parse_syscall_filter() accumulates them; undefined: none. */
export function parseSyscallFilter(lines: readonly string[], problems: string[]): SyscallFilter | undefined {
  let allowList = false;
  let entries: Map<string, number> | undefined;
  const add = (name: string, num: number, invert: boolean, depth: number): void => {
    if (name.startsWith('@')) {
      const members = SYSCALL_GROUPS[name];
      if (!members) { problems.push(`SystemCallFilter=: unknown system call group ${name}, ignoring`); return; }
      if (depth > 8) throw new Error(`SystemCallFilter=: group ${name} nests too deep`);
      for (const m of members) add(m, num, invert, depth + 1);
      return;
    }
    if (!/^[a-z0-9_]{1,64}$/.test(name)) { problems.push(`SystemCallFilter=: not a system call name: ${JSON.stringify(name)}, ignoring`); return; }
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
        const e = parseErrno(word.slice(colon + 1));
        if (e === undefined) { problems.push(`SystemCallFilter=: invalid errno in ${JSON.stringify(word)}, ignoring`); continue; }
        num = e;
      }
      if (name === '') { problems.push(`SystemCallFilter=: empty system call name in ${JSON.stringify(word)}, ignoring`); continue; }
      add(name, num, invert, 0);
    }
  }
  return entries ? { allowList, entries } : undefined;
}

export interface AddressFamilies { readonly allowList: boolean; readonly families: ReadonlySet<number> }

/** RestrictAddressFamilies= lines as config_parse_address_families(); undefined: not restricted. */
export function parseAddressFamilies(lines: readonly string[], problems: string[]): AddressFamilies | undefined {
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
      if (af === undefined) { problems.push(`RestrictAddressFamilies=: failed to parse address family ${JSON.stringify(w)}, ignoring`); continue; }
      if (!invert === allowList) set.add(af); else set.delete(af);
    }
  }
  if (!set || (!allowList && set.size === 0)) return undefined;
  return { allowList, families: set };
}

/** The namespace types of RestrictNamespaces= (namespace_info[], its clone flags), "time" included. */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  cgroup: 0x02000000, ipc: 0x08000000, net: 0x40000000, mnt: 0x00020000, pid: 0x20000000, user: 0x10000000, uts: 0x04000000, time: 0x00000080,
};
/**
 * NAMESPACE_FLAGS_ALL: the seven types without "time". As systemd 257 (and its oracle): "~" and
 * "no" are computed within these, so "~user" and "yes" refuse a time namespace, "no" allows it,
 * and only a list naming "time" keeps it.
 */
export const NAMESPACE_FLAGS_ALL = Object.entries(NAMESPACE_FLAGS).filter(([n]) => n !== 'time').reduce((x, [, y]) => (x | y) >>> 0, 0);

/** config_parse_restrict_namespaces(): the namespace flags kept (undefined: not restricted, as the initial value). */
export function parseRestrictNamespaces(v: unknown, problems: string[]): number | undefined {
  let retain: number | undefined;
  const lines = Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)];
  for (const raw of lines) {
    let line = raw.trim();
    if (line === '') { retain = undefined; continue; }
    if (/^(1|yes|y|true|t|on)$/i.test(line)) { retain = 0; continue; }
    if (/^(0|no|n|false|f|off)$/i.test(line)) { retain = NAMESPACE_FLAGS_ALL; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    let flags = 0;
    let bad = false;
    for (const w of line.split(/\s+/).filter(Boolean)) {
      const f = NAMESPACE_FLAGS[w];
      if (f === undefined) { bad = true; problems.push(`RestrictNamespaces=${raw}: invalid namespace type "${w}", ignoring`); break; }
      flags = (flags | f) >>> 0;
    }
    if (bad) continue; // systemd ignores the whole assignment
    if (invert) flags = (~flags & NAMESPACE_FLAGS_ALL) >>> 0;
    retain = retain === undefined ? flags : invert ? (retain & flags) >>> 0 : (retain | flags) >>> 0;
  }
  return retain;
}
