// Privileges of systemd.exec(5) (issue 15): NoNewPrivileges=, CapabilityBoundingSet=,
// AmbientCapabilities= and PrivateNetwork=, parsed as systemd 257 parses them
// (load-fragment.c: config_parse_capability_set(), capability_set_from_string()) and encoded for
// uo-shim (shim/privs.c), which applies them in exec_invoke()'s order (src/core/exec-invoke.c):
//
//   PrivateNetwork=            the exec runtime's network namespace (nsruntime.ts), joined before
//                              the mount namespace by every command of the unit        NETWORK 225
//   CapabilityBoundingSet=     PR_CAPBSET_DROP of every capability not in the set, after the
//                              groups, before RootDirectory= and the user change  CAPABILITIES 218
//   AmbientCapabilities=       raised (with the inheritable set) before the user change; a
//                              non-root User= keeps its capabilities through setresuid()
//                              (SECURE_KEEP_CAPS) and raises them again after it; the ones
//                              missing from the bounding set are dropped from the request
//                                                                                CAPABILITIES 218
//   SecureBits=                the bits set late (0 without it: keep-caps off again); a non-root
//                              User= keeps its capabilities through setresuid() to be allowed to
//                              (enforce_user())                                    SECUREBITS 213
//   then NoNewPrivileges=                                                   NO_NEW_PRIVILEGES 227
//   KeyringMode=               (keyringSetting(), for "+" commands too) a fresh session keyring
//                              before the namespaces (setup_keyring())                KEYRING 237
//   the seccomp programs of seccomp.ts last                ADDRESS_FAMILIES 232, SECCOMP 228
//
// A seccomp filter needs NoNewPrivileges= or CAP_SYS_ADMIN. As systemd 257 (the oracle: a unit
// with User=nobody and SystemCallFilter= runs with NoNewPrivs 0 and its filter on), a non-root
// User= keeps its capabilities through setresuid() (SECURE_KEEP_CAPS) and loads the programs
// with CAP_SYS_ADMIN; execve() drops them. Only without CAP_SYS_ADMIN at all (an unprivileged
// agent) is NoNewPrivileges= implied, as context_has_no_new_privileges() (UO_SHIM_NNP=implied),
// for any form of seccomp of context_has_seccomp(): the filters above and LockPersonality=,
// MemoryDenyWriteExecute=, PrivateDevices=, ProtectClock=, ProtectHostname=, ProtectKernelTunables=,
// ProtectKernelModules=, ProtectKernelLogs=, RestrictNamespaces=, RestrictRealtime=,
// RestrictSUIDSGID=, SystemCallLog= (seccomp.ts). ProtectClock= also drops CAP_SYS_TIME and
// CAP_WAKE_ALARM from the bounding set; RestrictRealtime= sets RLIMIT_RTPRIO to 0 unless
// LimitRTPRIO= is given (UO_SHIM_RTPRIO_ZERO); ProtectHostname= is a UTS namespace with its filter
// (UO_SHIM_PROTECT_HOSTNAME, after the mount namespace).
//
// A command with the "+" prefix runs without any of it (systemd: no sandboxing for it).

import { CAPABILITIES } from '../api/linux-tables.ts';
import { parseCapabilitySet, CAP_MASK_ALL } from '../api/sets.ts';

export { CAP_MASK_ALL, capabilityFromName, parseCapabilitySet } from '../api/sets.ts';
import { encodePrograms, seccompPlan } from './seccomp.ts';
import { truthy } from './sandbox.ts';

const words = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);

/** secure_bits_from_string()'s words and their bits (linux/securebits.h). */
const SECURE_BITS: Readonly<Record<string, number>> = {
  'noroot': 1 << 0, 'noroot-locked': 1 << 1, 'no-setuid-fixup': 1 << 2, 'no-setuid-fixup-locked': 1 << 3, 'keep-caps': 1 << 4, 'keep-caps-locked': 1 << 5,
};

/**
 * SecureBits= as systemd 257 takes it (config_parse_exec_secure_bits()): each line replaces the
 * value before it (the oracle: keep-caps-locked then noroot-locked gives noroot-locked), an empty
 * one resets it to 0, a word it does not know is skipped with a warning.
 */
export function parseSecureBits(lines: readonly string[], problems: string[]): number {
  let bits = 0;
  for (const line of lines) {
    bits = 0;
    for (const w of line.trim().split(/\s+/).filter(Boolean)) {
      const b = SECURE_BITS[w];
      if (b === undefined) problems.push(`SecureBits=: unknown secure bit ${JSON.stringify(w)}, ignoring`);
      else bits |= b;
    }
  }
  return bits;
}

/**
 * KeyringMode= (default private for a system service): UO_SHIM_KEYRING, the session keyring made
 * as the unit's user (uid/gid, undefined: root's) holding the invocation ID; undefined for inherit.
 * Set for "+" commands too: systemd's setup_keyring() is not part of the sandbox.
 */
export function keyringSetting(service: Readonly<Record<string, unknown>> | undefined, uid: number | undefined, gid: number | undefined, invocationId: string): string | undefined {
  const mode = String(service?.['keyringMode'] ?? 'private');
  if (mode === 'inherit') return undefined;
  const id = /^[0-9a-f]{32}$/.test(invocationId) ? invocationId : '';
  return `${mode === 'shared' ? 'shared' : 'private'}:${uid ?? ''}:${gid ?? ''}:${id}`;
}

export interface PrivsPlan {
  /** UO_SHIM_* variables (privs.c, seccomp.c). */
  readonly env: Readonly<Record<string, string>>;
  readonly problems: readonly string[];
}

const hex64 = (v: bigint): string => v.toString(16).padStart(16, '0');

/** The privilege settings of spec.service for one command; `sandboxed` false for a "+" command. */
export function privsPlan(service: Readonly<Record<string, unknown>> | undefined, sandboxed: boolean): PrivsPlan {
  const s = service ?? {};
  const problems: string[] = [];
  const env: Record<string, string> = {};
  if (!sandboxed) return { env, problems };
  // an empty list in the spec: systemd's "CapabilityBoundingSet=" (the empty set)
  const bsetValue = s['capabilityBoundingSet'];
  let bset = Array.isArray(bsetValue) && bsetValue.length === 0 ? 0n : parseCapabilitySet(words(bsetValue), CAP_MASK_ALL, 'CapabilityBoundingSet', problems);
  // ProtectClock=: CAP_SYS_TIME and CAP_WAKE_ALARM out of the bounding set (unit_patch_contexts())
  if (truthy(s['protectClock'])) bset &= ~((1n << BigInt(CAPABILITIES['CAP_SYS_TIME']!)) | (1n << BigInt(CAPABILITIES['CAP_WAKE_ALARM']!)));
  if (bset !== CAP_MASK_ALL) env['UO_SHIM_CAPBSET'] = hex64(bset);
  const ambient = parseCapabilitySet(words(s['ambientCapabilities']), 0n, 'AmbientCapabilities', problems);
  if (ambient !== 0n) env['UO_SHIM_AMBIENT'] = hex64(ambient);
  const sec = seccompPlan(s);
  problems.push(...sec.problems);
  const af = encodePrograms(sec.addressFamilies), filters = encodePrograms(sec.filters);
  if (af !== undefined) env['UO_SHIM_SECCOMP_AF'] = af;
  if (filters !== undefined) env['UO_SHIM_SECCOMP'] = filters;
  if (sec.mdwe !== undefined) env['UO_SHIM_SECCOMP_MDWE'] = encodePrograms(sec.mdwe) ?? '';
  const hostname = encodePrograms(sec.hostname);
  if (hostname !== undefined) env['UO_SHIM_PROTECT_HOSTNAME'] = hostname;
  // RestrictRealtime=: RLIMIT_RTPRIO 0 as well, unless LimitRTPRIO= says otherwise (exec_invoke())
  if (truthy(s['restrictRealtime']) && (s['limitRTPRIO'] === undefined || s['limitRTPRIO'] === null)) env['UO_SHIM_RTPRIO_ZERO'] = '1';
  const bits = parseSecureBits(words(s['secureBits']), problems);
  if (bits !== 0) env['UO_SHIM_SECUREBITS'] = bits.toString(16).padStart(2, '0');
  if (truthy(s['noNewPrivileges'])) env['UO_SHIM_NNP'] = '1';
  else if (sec.any) env['UO_SHIM_NNP'] = 'implied';
  // PrivateNetwork=: the exec runtime's network namespace (nsruntime.ts), shared by the unit's commands
  return { env, problems };
}
