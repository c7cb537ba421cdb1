// assess() of systemd 257's analyze-security.c: every check judged on a SecurityInfo (a badness
// from 0, met, to the check's range, not met, or n/a), the exposure of each row and the
// overall exposure 0.0–10.0 with its level (OK, MEDIUM, EXPOSED, UNSAFE, …). Pure.

import { SYSCALLS_X86_64, SYSCALL_GROUPS } from '../api/linux-tables.ts';
import { capabilityFromName } from '../api/sets.ts';
import { CHECKS, LEVELS, type Check } from './checks.ts';
import type { SecurityInfo } from './info.ts';

export interface Row {
  readonly id: string;
  /** Index in CHECKS: the order systemd adds the rows in. */
  readonly index: number;
  /** "✓" met, "✗" not (fully) met, " " does not apply. */
  readonly mark: '✓' | '✗' | ' ';
  /** undefined: systemd prints an empty cell (a badness between 0 and the range without words of its own). */
  readonly description: string | undefined;
  readonly weight: number;
  /** undefined: n/a (systemd's UINT64_MAX), not counted. */
  readonly badness: number | undefined;
  readonly range: number;
  /** The row's share of the overall exposure, "0.2"; undefined when the badness is 0 or n/a. */
  readonly exposure: string | undefined;
}

export interface Assessment {
  readonly unit: string;
  readonly rows: readonly Row[];
  /** Overall exposure ×10: 0 (0.0) … 100 (10.0). */
  readonly exposure: number;
  /** "9.6", as systemd prints it. */
  readonly exposureText: string;
  readonly level: string;
  readonly glyph: string;
}

const divRoundUp = (a: number, b: number): number => Math.floor((a + b - 1) / b);
const tenths = (x: number): string => `${Math.floor(x / 10)}.${x % 10}`;

/** syscall_names_in_filter(): the first system call of `group` (nested groups walked in order) the filter leaves allowed. */
function offendingSyscall(info: SecurityInfo, group: string): string | undefined {
  for (const member of SYSCALL_GROUPS[group] ?? []) {
    if (member.startsWith('@')) {
      const found = offendingSyscall(info, member);
      if (found) return found;
      continue;
    }
    if (!Object.hasOwn(SYSCALLS_X86_64, member)) continue; // not a system call of this architecture
    if (info.systemCallFilter.has(member) === info.systemCallFilterAllowList) return member;
  }
  return undefined;
}

const runsPrivileged = (i: SecurityInfo): boolean => i.user === '0' || i.user === 'root' || (!i.dynamicUser && (i.user ?? '') === '');

/** One check's badness (undefined: n/a) and its own words, if any. */
function judge(c: Check, i: SecurityInfo): { badness: number | undefined; words?: string } {
  if (c.defaultDependenciesOnly && !i.defaultDependencies) return { badness: undefined, words: 'Service runs in special boot phase, option is not appropriate' };
  const a = c.assess;
  switch (a.t) {
    case 'bool': { const b = i.bools[a.field]; return { badness: (a.invert ? b : !b) ? 1 : 0 }; }
    case 'caps': return { badness: a.caps.some((n) => (i.capabilityBoundingSet >> BigInt(capabilityFromName(n)!)) & 1n) ? 1 : 0 };
    case 'namespace': return { badness: (i.restrictNamespaces & a.flag) !== 0 ? 1 : 0 };
    case 'user':
      if (i.user === 'nobody') return { badness: 9, words: "Service runs under as 'nobody' user, which should not be used for services" };
      if (i.dynamicUser && i.user !== '0' && i.user !== 'root') return { badness: 0, words: 'Service runs under a transient non-root user identity' };
      if (i.user !== undefined && !['0', 'root', ''].includes(i.user)) return { badness: 0, words: 'Service runs under a static non-root user identity' };
      return { badness: 10 };
    case 'supplementaryGroups': return { badness: runsPrivileged(i) ? undefined : i.supplementaryGroups.length > 0 ? 1 : 0 };
    case 'removeIPC': return { badness: runsPrivileged(i) ? undefined : i.removeIPC ? 0 : 1 };
    case 'protectHome': {
      const h = i.protectHome;
      if (h === 'yes') return { badness: 0, words: 'Service has no access to home directories' };
      if (h === 'read-only') return { badness: 5, words: 'Service has read-only access to home directories' };
      if (h === 'tmpfs') return { badness: 1, words: 'Service has access to fake empty home directories' };
      return { badness: 10, words: 'Service has full access to home directories' };
    }
    case 'protectSystem': {
      const s = i.protectSystem;
      if (s === 'yes') return { badness: 5, words: 'Service has limited write access to the OS file hierarchy' };
      if (s === 'full') return { badness: 3, words: 'Service has very limited write access to the OS file hierarchy' };
      if (s === 'strict') return { badness: 0, words: 'Service has strict read-only access to the OS file hierarchy' };
      return { badness: 10, words: 'Service has full access to the OS file hierarchy' };
    }
    case 'rootDirectory': {
      const hostRoot = (p: string | undefined): boolean => p === undefined || p === '' || /^\/+$/.test(p);
      return { badness: hostRoot(i.rootDirectory) && hostRoot(i.rootImage) ? 1 : 0 };
    }
    case 'umask': {
      const m = i.umask;
      if (!(m & 0o002)) return { badness: 10, words: 'Files created by service are world-writable by default' };
      if (!(m & 0o004)) return { badness: 5, words: 'Files created by service are world-readable by default' };
      if (!(m & 0o020)) return { badness: 2, words: 'Files created by service are group-writable by default' };
      if (!(m & 0o040)) return { badness: 1, words: 'Files created by service are group-readable by default' };
      return { badness: 0, words: "Files created by service are accessible only by service's own user by default" };
    }
    case 'keyringMode': return { badness: i.keyringMode === 'private' ? 0 : 1 };
    case 'protectProc': return { badness: i.protectProc === 'noaccess' ? 1 : i.protectProc === 'invisible' || i.protectProc === 'ptraceable' ? 0 : 3 };
    case 'procSubset': return { badness: i.procSubset === 'pid' ? 0 : 1 };
    case 'notifyAccess': return { badness: i.notifyAccess === 'all' ? 1 : 0 };
    case 'ambient': return { badness: i.ambientCapabilities !== 0n ? 1 : 0 };
    case 'architectures':
      if (i.systemCallArchitectures.size === 0) return { badness: 10, words: 'Service may execute system calls with all ABIs' };
      if (i.systemCallArchitectures.has('native') && i.systemCallArchitectures.size === 1) return { badness: 0, words: 'Service may execute system calls only with native ABI' };
      return { badness: 8, words: 'Service may execute system calls with multiple ABIs' };
    case 'syscalls': {
      if (!i.systemCallFilterAllowList && i.systemCallFilter.size === 0) return { badness: 10, words: 'Service does not filter system calls' };
      const offender = offendingSyscall(i, a.group);
      if (i.systemCallFilterAllowList) {
        return offender
          ? { badness: 9, words: `System call allow list defined for service, and ${a.group} is included (e.g. ${offender} is allowed)` }
          : { badness: 0, words: `System call allow list defined for service, and ${a.group} is not included` };
      }
      return offender
        ? { badness: 10, words: `System call deny list defined for service, and ${a.group} is not included (e.g. ${offender} is allowed)` }
        : { badness: 0, words: `System call deny list defined for service, and ${a.group} is included` };
    }
    case 'ipAddress':
      if (i.ipFiltersCustom) return { badness: 0, words: 'Service defines custom ingress/egress IP filters with BPF programs' };
      if (!i.ipAddressDenyAll) return { badness: 10, words: 'Service does not define an IP address allow list' };
      if (i.ipAddressAllowOther) return { badness: 5, words: 'Service defines IP address allow list with non-localhost entries' };
      if (i.ipAddressAllowLocalhost) return { badness: 2, words: 'Service defines IP address allow list with only localhost entries' };
      return { badness: 0, words: 'Service blocks all IP address ranges' };
    case 'deviceAllow':
      if (i.devicePolicy === 'strict' || i.devicePolicy === 'closed') {
        return i.deviceAllow.length > 0
          ? { badness: 5, words: `Service has a device ACL with some special devices: ${i.deviceAllow.join(' ')}` }
          : { badness: 0, words: 'Service has a minimal device ACL' };
      }
      return { badness: 10, words: 'Service has no device ACL' };
  }
}

/** The level of an overall exposure ×10 (badness_table[]). */
export function levelOf(exposure: number): { name: string; glyph: string } {
  return LEVELS.find((l) => exposure >= l.min)!;
}

/** assess(): the rows in systemd's table order and the overall exposure. */
export function assess(info: SecurityInfo): Assessment {
  let badnessSum = 0, weightSum = 0;
  const judged = CHECKS.map((c, index) => {
    const { badness, words } = judge(c, info);
    if (badness !== undefined) { badnessSum += divRoundUp(badness * c.weight, c.range); weightSum += c.weight; }
    const mark = badness === undefined ? ' ' : badness === 0 ? '✓' : '✗';
    const fixed = badness === undefined ? c.na : badness === c.range ? c.bad : badness === 0 ? c.good : undefined;
    return { c, index, badness, mark, description: words ?? fixed } as const;
  });
  const rows = judged.map((j): Row => ({
    id: j.c.id, index: j.index, mark: j.mark, description: j.description, weight: j.c.weight, badness: j.badness, range: j.c.range,
    exposure: j.badness === undefined || j.badness === 0 ? undefined : tenths(divRoundUp(divRoundUp(j.badness * j.c.weight * 100, j.c.range), weightSum)),
  }));
  const exposure = divRoundUp(badnessSum * 100, weightSum);
  const level = levelOf(exposure);
  return { unit: info.id, rows, exposure, exposureText: tenths(exposure), level: level.name, glyph: level.glyph };
}
