// What `systemd-analyze security` reads of a loaded unit (SecurityInfo, from the manager's D-Bus
// properties in acquire_security_info()), computed from a ServiceUnit spec: the values a unit
// file sets, with what systemd 257's manager adds when it loads the unit (unit_patch_contexts():
// DynamicUser='s implied sandbox, the capabilities ProtectKernelModules=, ProtectKernelLogs=,
// ProtectClock= and PrivateDevices= drop, the device rules DevicePolicy= and ProtectClock=,
// RootImage= and encrypted credentials add) and what acquire_security_info() adds (the
// options that imply a private mount namespace). Pure.

import type { ServiceUnitSpec } from '../api/types.ts';
import { parsePrefixList, type Prefix } from '../api/ipprefix.ts';
import { CAP_MASK_ALL, capabilityFromName, parseAddressFamilies, parseCapabilitySet, parseRestrictNamespaces, parseSyscallFilter } from '../api/sets.ts';

// The runner's parsers (one copy, src/api/sets.ts); the words they skip are the converter's warnings already.
const capabilitySet = (lines: readonly string[], initial: bigint): bigint => parseCapabilitySet(lines, initial, 'CapabilityBoundingSet', []);
import { hasDynamicUser, withDynamicUser } from '../api/dynamicuser.ts';

export interface SecurityInfo {
  readonly id: string;
  readonly defaultDependencies: boolean;
  readonly ambientCapabilities: bigint;
  readonly capabilityBoundingSet: bigint;
  readonly user: string | undefined;
  readonly supplementaryGroups: readonly string[];
  readonly dynamicUser: boolean;
  readonly ipAddressDenyAll: boolean;
  readonly ipAddressAllowLocalhost: boolean;
  readonly ipAddressAllowOther: boolean;
  readonly ipFiltersCustom: boolean;
  readonly keyringMode: string;
  readonly protectProc: string;
  readonly procSubset: string;
  readonly notifyAccess: string;
  readonly protectHome: string;
  readonly protectSystem: string;
  readonly removeIPC: boolean;
  /** RestrictNamespaces=: the clone flags still allowed (all bits when unrestricted). */
  readonly restrictNamespaces: number;
  readonly rootDirectory: string | undefined;
  readonly rootImage: string | undefined;
  readonly devicePolicy: string;
  /** DeviceAllow= as the manager lists it: "PATH:rwm", the last added first. */
  readonly deviceAllow: readonly string[];
  readonly systemCallArchitectures: ReadonlySet<string>;
  readonly systemCallFilterAllowList: boolean;
  readonly systemCallFilter: ReadonlySet<string>;
  readonly umask: number;
  readonly bools: Readonly<Record<import('./checks.ts').BoolField, boolean>>;
}

type Values = Readonly<Record<string, unknown>>;
const TRUE = /^(1|yes|y|true|t|on)$/i;
const FALSE = /^(0|no|n|false|f|off)$/i;
const isTrue = (v: unknown): boolean => v === true || (typeof v === 'string' && TRUE.test(v));
/** A boolean-or-word directive (PrivateTmp=disconnected, Delegate=cpu): set unless absent or false. */
const isOn = (v: unknown): boolean => v !== undefined && v !== null && v !== false && !(typeof v === 'string' && (FALSE.test(v) || v === ''));
const lines = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);
const words = (v: unknown): string[] => lines(v).flatMap((l) => l.split(/\s+/)).filter(Boolean);
/** "true"/"false" of a boolean-or-word directive as systemd names the value (ProtectHome=yes → "yes"). */
const word = (v: unknown, dflt: string): string => (v === undefined || v === null ? dflt : isTrue(v) ? 'yes' : typeof v === 'string' && FALSE.test(v) ? 'no' : String(v));
const bit = (name: string): bigint => 1n << BigInt(capabilityFromName(name)!);

/** seccomp_arch_from_string(): the architecture names SystemCallArchitectures= accepts. */
const ARCHITECTURES = new Set(['native', 'x86', 'x86-64', 'x32', 'arm', 'arm64', 'loongarch64', 'mips', 'mips64', 'mips64-n32', 'mips-le',
  'mips64-le', 'mips64-le-n32', 'parisc', 'parisc64', 'ppc', 'ppc64', 'ppc64-le', 'riscv64', 's390', 's390x']);

/** The unit's DeviceAllow= entries as config_parse_device_allow() adds them (cgroup_context_add_device_allow()), the last line first. */
function deviceRules(v: unknown): Array<{ path: string; perms: string }> {
  const out: Array<{ path: string; perms: string }> = [];
  for (const line of lines(v)) {
    const [path, rights = 'rwm', ...rest] = line.trim().split(/\s+/);
    if (!path || rest.length > 0 || !/^[rwm]+$/.test(rights)) continue;
    if (!path.startsWith('/dev/') && !/^(char|block)-./.test(path)) continue;
    const perms = ['r', 'w', 'm'].filter((c) => rights.includes(c)).join('');
    // each line is its own entry, put first (a repeated path is kept twice: systemd 257's
    // `systemctl show` lists DeviceAllow=/dev/zero r and /dev/zero w both); only the implied
    // entries below are merged (cgroup_context_add_or_update_device_allow())
    out.unshift({ path, perms });
  }
  return out;
}

/** IPAddressAllow=/IPAddressDeny= as config_parse_in_addr_prefixes() reads them (src/api/ipprefix.ts). */
const ipPrefixes = (v: unknown): readonly Prefix[] => parsePrefixList(v).prefixes;

/** SecurityInfo of the unit `unitName` whose spec is `spec`, as systemd 257 would load it. */
export function securityInfo(spec: ServiceUnitSpec, unitName: string): SecurityInfo {
  // unit_patch_contexts(): DynamicUser= names the user and implies a strict sandbox (src/api/dynamicuser.ts)
  const s: Values = withDynamicUser(spec.service ?? {}, unitName);
  const u: Values = spec.unit ?? {};
  const dynamicUser = hasDynamicUser(s);
  const user = typeof s['user'] === 'string' && s['user'] !== '' ? s['user'] : undefined;
  const privateTmp = isOn(s['privateTmp']);
  const protectSystem = word(s['protectSystem'], 'no');
  const protectHome = word(s['protectHome'], 'no');
  const privateDevices = isTrue(s['privateDevices']);
  const protectControlGroups = isOn(s['protectControlGroups']);
  const protectKernelModules = isTrue(s['protectKernelModules']);
  const protectKernelTunables = isTrue(s['protectKernelTunables']);
  const protectKernelLogs = isTrue(s['protectKernelLogs']);
  const protectClock = isTrue(s['protectClock']);
  const rootImage = typeof s['rootImage'] === 'string' && s['rootImage'] !== '' ? s['rootImage'] : undefined;

  const bsetValue = s['capabilityBoundingSet'];
  let bset = Array.isArray(bsetValue) && bsetValue.length === 0 ? 0n : capabilitySet(lines(bsetValue), CAP_MASK_ALL);
  if (protectKernelModules) bset &= ~bit('CAP_SYS_MODULE');
  if (protectKernelLogs) bset &= ~bit('CAP_SYSLOG');
  if (protectClock) bset &= ~(bit('CAP_SYS_TIME') | bit('CAP_WAKE_ALARM'));
  if (privateDevices) bset &= ~(bit('CAP_MKNOD') | bit('CAP_SYS_RAWIO'));

  // the cgroup context: PrivateDevices= closes the device policy; with a policy, ProtectClock=,
  // RootImage= and encrypted credentials add the devices they need (each put first in the list)
  const configured = typeof s['devicePolicy'] === 'string' ? s['devicePolicy'] : 'auto';
  const devicePolicy = privateDevices && configured === 'auto' ? 'closed' : configured;
  const devices = deviceRules(s['deviceAllow']);
  if (devicePolicy !== 'auto' || devices.length > 0) {
    if (rootImage || lines(s['mountImages']).length > 0) {
      for (const path of ['/dev/loop-control', '/dev/mapper/control']) devices.unshift({ path, perms: 'rw' });
      for (const path of ['block-loop', 'block-blkext', 'block-device-mapper']) devices.unshift({ path, perms: 'rwm' });
    }
    if (protectClock) devices.unshift({ path: 'char-rtc', perms: 'r' });
    if (lines(s['loadCredentialEncrypted']).length > 0 || lines(s['setCredentialEncrypted']).length > 0) {
      const tpm = devices.find((d) => d.path === 'char-tpm');
      if (tpm) tpm.perms = 'rw'; else devices.unshift({ path: 'char-tpm', perms: 'rw' });
    }
  }

  const deny = ipPrefixes(s['ipAddressDeny']);
  const allow = ipPrefixes(s['ipAddressAllow']);
  // as read from the bus: an allowed 127.0.0.0/8 or ::1/128 is localhost, anything else is not
  const isLocal = (p: Prefix): boolean => (p.v6 ? p.len === 128 && p.bytes.slice(0, 15).every((b) => b === 0) && p.bytes[15] === 1 : p.len === 8 && p.bytes[0] === 127);

  const families = parseAddressFamilies(lines(s['restrictAddressFamilies']), []);
  const afAllow = families?.allowList ?? false;
  const af = { afInet: afAllow, afUnix: afAllow, afNetlink: afAllow, afPacket: afAllow, afOther: afAllow };
  for (const f of families?.families ?? []) {
    const key = f === 2 || f === 10 ? 'afInet' : f === 1 ? 'afUnix' : f === 16 ? 'afNetlink' : f === 17 ? 'afPacket' : 'afOther';
    af[key] = !afAllow;
  }

  const filter = parseSyscallFilter(lines(s['systemCallFilter']), []);
  const allowList = filter?.allowList ?? false;
  // the bus lists an allow list's entries without their denied exceptions ("~name:ERRNO"); a deny list's names without ":ERRNO"
  const syscalls = new Set([...(filter?.entries ?? new Map<string, number>())].filter(([, num]) => !allowList || num === -1).map(([name]) => name));

  let archs = new Set<string>();
  for (const line of lines(s['systemCallArchitectures'])) {
    if (line.trim() === '') { archs = new Set(); continue; }
    for (const w of line.trim().split(/\s+/)) if (ARCHITECTURES.has(w)) archs.add(w);
  }

  const privateMounts = isTrue(s['privateMounts']) || privateDevices || privateTmp || protectControlGroups || protectKernelTunables
    || protectKernelModules || protectHome !== 'no' || protectSystem !== 'no' || rootImage !== undefined;
  const umask = typeof s['umask'] === 'string' && /^[0-7]+$/.test(s['umask']) ? parseInt(s['umask'], 8) : 0o022;
  return {
    id: unitName,
    defaultDependencies: u['defaultDependencies'] !== false,
    ambientCapabilities: capabilitySet(lines(s['ambientCapabilities']), 0n),
    capabilityBoundingSet: bset,
    user,
    supplementaryGroups: words(s['supplementaryGroups']),
    dynamicUser,
    ipAddressDenyAll: deny.some((p) => !p.v6 && p.len === 0) && deny.some((p) => p.v6 && p.len === 0),
    ipAddressAllowLocalhost: allow.some(isLocal),
    ipAddressAllowOther: allow.some((p) => !isLocal(p)),
    ipFiltersCustom: lines(s['ipIngressFilterPath']).length > 0 || lines(s['ipEgressFilterPath']).length > 0,
    keyringMode: typeof s['keyringMode'] === 'string' ? s['keyringMode'] : 'private',
    protectProc: typeof s['protectProc'] === 'string' ? s['protectProc'] : 'default',
    procSubset: typeof s['procSubset'] === 'string' ? s['procSubset'] : 'all',
    notifyAccess: typeof s['notifyAccess'] === 'string' ? s['notifyAccess'] : 'none',
    protectHome,
    protectSystem,
    removeIPC: isTrue(s['removeIPC']),
    restrictNamespaces: parseRestrictNamespaces(s['restrictNamespaces'], []) ?? 0xffffffff,
    rootDirectory: typeof s['rootDirectory'] === 'string' && s['rootDirectory'] !== '' ? s['rootDirectory'] : undefined,
    rootImage,
    devicePolicy,
    deviceAllow: devices.map((d) => `${d.path}:${d.perms}`),
    systemCallArchitectures: archs,
    systemCallFilterAllowList: allowList,
    systemCallFilter: syscalls,
    umask,
    bools: {
      privateDevices, privateMounts, privateNetwork: isTrue(s['privateNetwork']), privateTmp, privateUsers: isOn(s['privateUsers']),
      protectControlGroups, protectKernelModules, protectKernelTunables, protectKernelLogs, protectClock,
      protectHostname: isTrue(s['protectHostname']), lockPersonality: isTrue(s['lockPersonality']),
      memoryDenyWriteExecute: isTrue(s['memoryDenyWriteExecute']), noNewPrivileges: isTrue(s['noNewPrivileges']),
      delegate: isOn(s['delegate']), restrictRealtime: isTrue(s['restrictRealtime']), restrictSUIDSGID: isTrue(s['restrictSUIDSGID']),
      ...af,
    },
  };
}
