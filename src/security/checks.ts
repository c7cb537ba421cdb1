// The checks of `systemd-analyze security` as systemd 257 has them (security_assessor_table[]
// of src/analyze/analyze-security.c): in the table's order, each with its name, weight, range,
// the words shown when it is met (good), not met (bad) or does not apply (na), and what it
// looks at. The words, weights and ranges are facts checked against systemd 257 itself
// (test/fixtures/security, recorded in systemd-oracle).

/** What a check reads from the unit (SecurityInfo, info.ts) and how it turns that into a badness. */
export type Assess =
  | { readonly t: 'bool'; readonly field: BoolField; readonly invert?: boolean }
  | { readonly t: 'caps'; readonly caps: readonly string[] }
  | { readonly t: 'namespace'; readonly flag: number }
  | { readonly t: 'syscalls'; readonly group: string }
  | { readonly t: 'user' | 'supplementaryGroups' | 'protectHome' | 'protectSystem' | 'rootDirectory' | 'umask' | 'keyringMode'
    | 'protectProc' | 'procSubset' | 'notifyAccess' | 'removeIPC' | 'architectures' | 'ipAddress' | 'deviceAllow' | 'ambient' };

export type BoolField = 'privateDevices' | 'privateMounts' | 'privateNetwork' | 'privateTmp' | 'privateUsers' | 'protectControlGroups'
  | 'protectKernelModules' | 'protectKernelTunables' | 'protectKernelLogs' | 'protectClock' | 'protectHostname' | 'lockPersonality'
  | 'memoryDenyWriteExecute' | 'noNewPrivileges' | 'delegate' | 'restrictRealtime' | 'restrictSUIDSGID'
  | 'afInet' | 'afUnix' | 'afNetlink' | 'afPacket' | 'afOther';

export interface Check {
  /** The NAME column, e.g. "CapabilityBoundingSet=~CAP_SYS_ADMIN". */
  readonly id: string;
  readonly weight: number;
  readonly range: number;
  readonly good?: string;
  readonly bad?: string;
  readonly na?: string;
  /** Not judged (n/a) for a unit with DefaultDependencies=no: "runs in special boot phase". */
  readonly defaultDependenciesOnly?: boolean;
  readonly assess: Assess;
}

const bool = (id: string, field: BoolField, weight: number, good: string, bad: string, extra: Partial<Check> = {}): Check =>
  ({ id, weight, range: 1, good, bad, assess: { t: 'bool', field }, ...extra });
const cap = (id: string, caps: readonly string[], weight: number, good: string, bad: string): Check =>
  ({ id: `CapabilityBoundingSet=~${id}`, weight, range: 1, good, bad, assess: { t: 'caps', caps } });
const ns = (name: string, flag: number, weight: number, what: string): Check =>
  ({ id: `RestrictNamespaces=~${name}`, weight, range: 1, good: `Service cannot create ${what} namespaces`, bad: `Service may create ${what} namespaces`, assess: { t: 'namespace', flag } });
const af = (id: string, field: BoolField, weight: number, what: string): Check =>
  bool(`RestrictAddressFamilies=~${id}`, field, weight, `Service cannot allocate ${what} sockets`, `Service may allocate ${what} sockets`);
const syscalls = (group: string, weight: number): Check => ({ id: `SystemCallFilter=~${group}`, weight, range: 10, assess: { t: 'syscalls', group } });
const custom = (id: string, t: Exclude<Assess['t'], 'bool' | 'caps' | 'namespace' | 'syscalls'>, weight: number, range: number, extra: Partial<Check> = {}): Check =>
  ({ id, weight, range, assess: { t } as Assess, ...extra });

/** security_assessor_table[] of systemd 257, in its order (the order rows are added to the table). */
export const CHECKS: readonly Check[] = [
  custom('User=/DynamicUser=', 'user', 2000, 10, { bad: 'Service runs as root user' }),
  custom('SupplementaryGroups=', 'supplementaryGroups', 200, 1, { good: 'Service has no supplementary groups', bad: 'Service runs with supplementary groups', na: 'Service runs as root, option does not matter' }),
  bool('PrivateDevices=', 'privateDevices', 1000, 'Service has no access to hardware devices', 'Service potentially has access to hardware devices'),
  bool('PrivateMounts=', 'privateMounts', 1000, 'Service cannot install system mounts', 'Service may install system mounts'),
  bool('PrivateNetwork=', 'privateNetwork', 2500, "Service has no access to the host's network", "Service has access to the host's network"),
  bool('PrivateTmp=', 'privateTmp', 1000, "Service has no access to other software's temporary files", "Service has access to other software's temporary files", { defaultDependenciesOnly: true }),
  bool('PrivateUsers=', 'privateUsers', 1000, 'Service does not have access to other users', 'Service has access to other users'),
  bool('ProtectControlGroups=', 'protectControlGroups', 1000, 'Service cannot modify the control group file system', 'Service may modify the control group file system'),
  bool('ProtectKernelModules=', 'protectKernelModules', 1000, 'Service cannot load or read kernel modules', 'Service may load or read kernel modules'),
  bool('ProtectKernelTunables=', 'protectKernelTunables', 1000, 'Service cannot alter kernel tunables (/proc/sys, …)', 'Service may alter kernel tunables'),
  bool('ProtectKernelLogs=', 'protectKernelLogs', 1000, 'Service cannot read from or write to the kernel log ring buffer', 'Service may read from or write to the kernel log ring buffer'),
  bool('ProtectClock=', 'protectClock', 1000, 'Service cannot write to the hardware clock or system clock', 'Service may write to the hardware clock or system clock'),
  custom('ProtectHome=', 'protectHome', 1000, 10, { defaultDependenciesOnly: true }),
  bool('ProtectHostname=', 'protectHostname', 50, 'Service cannot change system host/domainname', 'Service may change system host/domainname'),
  custom('ProtectSystem=', 'protectSystem', 1000, 10, { defaultDependenciesOnly: true }),
  custom('RootDirectory=/RootImage=', 'rootDirectory', 200, 1, { good: 'Service has its own root directory/image', bad: "Service runs within the host's root directory", defaultDependenciesOnly: true }),
  bool('LockPersonality=', 'lockPersonality', 100, 'Service cannot change ABI personality', 'Service may change ABI personality'),
  bool('MemoryDenyWriteExecute=', 'memoryDenyWriteExecute', 100, 'Service cannot create writable executable memory mappings', 'Service may create writable executable memory mappings'),
  bool('NoNewPrivileges=', 'noNewPrivileges', 1000, 'Service processes cannot acquire new privileges', 'Service processes may acquire new privileges'),
  cap('CAP_SYS_ADMIN', ['CAP_SYS_ADMIN'], 1500, 'Service has no administrator privileges', 'Service has administrator privileges'),
  cap('CAP_SET(UID|GID|PCAP)', ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'], 1500, 'Service cannot change UID/GID identities/capabilities', 'Service may change UID/GID identities/capabilities'),
  cap('CAP_SYS_PTRACE', ['CAP_SYS_PTRACE'], 1500, 'Service has no ptrace() debugging abilities', 'Service has ptrace() debugging abilities'),
  cap('CAP_SYS_TIME', ['CAP_SYS_TIME'], 1000, 'Service processes cannot change the system clock', 'Service processes may change the system clock'),
  cap('CAP_NET_ADMIN', ['CAP_NET_ADMIN'], 1000, 'Service has no network configuration privileges', 'Service has network configuration privileges'),
  cap('CAP_SYS_RAWIO', ['CAP_SYS_RAWIO'], 1000, 'Service has no raw I/O access', 'Service has raw I/O access'),
  cap('CAP_SYS_MODULE', ['CAP_SYS_MODULE'], 1000, 'Service cannot load kernel modules', 'Service may load kernel modules'),
  cap('CAP_AUDIT_*', ['CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ', 'CAP_AUDIT_WRITE'], 500, 'Service has no audit subsystem access', 'Service has audit subsystem access'),
  cap('CAP_SYSLOG', ['CAP_SYSLOG'], 500, 'Service has no access to kernel logging', 'Service has access to kernel logging'),
  cap('CAP_SYS_(NICE|RESOURCE)', ['CAP_SYS_NICE', 'CAP_SYS_RESOURCE'], 500, 'Service has no privileges to change resource use parameters', 'Service has privileges to change resource use parameters'),
  cap('CAP_MKNOD', ['CAP_MKNOD'], 500, 'Service cannot create device nodes', 'Service may create device nodes'),
  cap('CAP_(CHOWN|FSETID|SETFCAP)', ['CAP_CHOWN', 'CAP_FSETID', 'CAP_SETFCAP'], 1000, 'Service cannot change file ownership/access mode/capabilities', 'Service may change file ownership/access mode/capabilities unrestricted'),
  cap('CAP_(DAC_*|FOWNER|IPC_OWNER)', ['CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_IPC_OWNER'], 1000, 'Service cannot override UNIX file/IPC permission checks', 'Service may override UNIX file/IPC permission checks'),
  cap('CAP_KILL', ['CAP_KILL'], 500, 'Service cannot send UNIX signals to arbitrary processes', 'Service may send UNIX signals to arbitrary processes'),
  cap('CAP_NET_(BIND_SERVICE|BROADCAST|RAW)', ['CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_RAW'], 500, 'Service has no elevated networking privileges', 'Service has elevated networking privileges'),
  cap('CAP_SYS_BOOT', ['CAP_SYS_BOOT'], 100, 'Service cannot issue reboot()', 'Service may issue reboot()'),
  cap('CAP_MAC_*', ['CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE'], 100, 'Service cannot adjust SMACK MAC', 'Service may adjust SMACK MAC'),
  cap('CAP_LINUX_IMMUTABLE', ['CAP_LINUX_IMMUTABLE'], 75, 'Service cannot mark files immutable', 'Service may mark files immutable'),
  cap('CAP_IPC_LOCK', ['CAP_IPC_LOCK'], 50, 'Service cannot lock memory into RAM', 'Service may lock memory into RAM'),
  cap('CAP_SYS_CHROOT', ['CAP_SYS_CHROOT'], 50, 'Service cannot issue chroot()', 'Service may issue chroot()'),
  cap('CAP_BLOCK_SUSPEND', ['CAP_BLOCK_SUSPEND'], 25, 'Service cannot establish wake locks', 'Service may establish wake locks'),
  cap('CAP_WAKE_ALARM', ['CAP_WAKE_ALARM'], 25, 'Service cannot program timers that wake up the system', 'Service may program timers that wake up the system'),
  cap('CAP_LEASE', ['CAP_LEASE'], 25, 'Service cannot create file leases', 'Service may create file leases'),
  cap('CAP_SYS_TTY_CONFIG', ['CAP_SYS_TTY_CONFIG'], 25, 'Service cannot issue vhangup()', 'Service may issue vhangup()'),
  cap('CAP_SYS_PACCT', ['CAP_SYS_PACCT'], 25, 'Service cannot use acct()', 'Service may use acct()'),
  cap('CAP_BPF', ['CAP_BPF'], 25, 'Service may not load BPF programs', 'Service may load BPF programs'),
  custom('UMask=', 'umask', 100, 10),
  custom('KeyringMode=', 'keyringMode', 1000, 1, { good: "Service doesn't share key material with other services", bad: 'Service shares key material with other service' }),
  custom('ProtectProc=', 'protectProc', 1000, 3, { good: 'Service has restricted access to process tree (/proc hidepid=)', bad: 'Service has full access to process tree (/proc hidepid=)' }),
  custom('ProcSubset=', 'procSubset', 10, 1, { good: 'Service has no access to non-process /proc files (/proc subset=)', bad: 'Service has full access to non-process /proc files (/proc subset=)' }),
  custom('NotifyAccess=', 'notifyAccess', 1000, 1, { good: 'Service child processes cannot alter service state', bad: 'Service child processes may alter service state' }),
  custom('RemoveIPC=', 'removeIPC', 100, 1, { good: 'Service user cannot leave SysV IPC objects around', bad: 'Service user may leave SysV IPC objects around', na: 'Service runs as root, option does not apply' }),
  { ...bool('Delegate=', 'delegate', 100, 'Service does not maintain its own delegated control group subtree', 'Service maintains its own delegated control group subtree'), assess: { t: 'bool', field: 'delegate', invert: true } },
  bool('RestrictRealtime=', 'restrictRealtime', 500, 'Service realtime scheduling access is restricted', 'Service may acquire realtime scheduling'),
  bool('RestrictSUIDSGID=', 'restrictSUIDSGID', 1000, 'SUID/SGID file creation by service is restricted', 'Service may create SUID/SGID files'),
  ns('user', 0x10000000, 1500, 'user'),
  ns('mnt', 0x00020000, 500, 'file system'),
  ns('ipc', 0x08000000, 500, 'IPC'),
  ns('pid', 0x20000000, 500, 'process'),
  ns('cgroup', 0x02000000, 500, 'cgroup'),
  ns('net', 0x40000000, 500, 'network'),
  ns('uts', 0x04000000, 100, 'hostname'),
  af('AF_(INET|INET6)', 'afInet', 1500, 'Internet'),
  af('AF_UNIX', 'afUnix', 25, 'local'),
  af('AF_NETLINK', 'afNetlink', 200, 'netlink'),
  af('AF_PACKET', 'afPacket', 1000, 'packet'),
  af('…', 'afOther', 1250, 'exotic'),
  custom('SystemCallArchitectures=', 'architectures', 1000, 10),
  syscalls('@swap', 1000),
  syscalls('@obsolete', 250),
  syscalls('@clock', 1000),
  syscalls('@cpu-emulation', 250),
  syscalls('@debug', 1000),
  syscalls('@mount', 1000),
  syscalls('@module', 1000),
  syscalls('@raw-io', 1000),
  syscalls('@reboot', 1000),
  syscalls('@privileged', 700),
  syscalls('@resources', 700),
  custom('IPAddressDeny=', 'ipAddress', 1000, 10),
  custom('DeviceAllow=', 'deviceAllow', 1000, 10),
  custom('AmbientCapabilities=', 'ambient', 500, 1, { good: 'Service process does not receive ambient capabilities', bad: 'Service process receives ambient capabilities' }),
];

/** The overall levels (badness_table[]): the first whose threshold the exposure (0–100) reaches. */
export const LEVELS: ReadonlyArray<{ readonly min: number; readonly name: string; readonly glyph: string }> = [
  { min: 100, name: 'DANGEROUS', glyph: '🤢' },
  { min: 90, name: 'UNSAFE', glyph: '😨' },
  { min: 75, name: 'EXPOSED', glyph: '🙁' },
  { min: 50, name: 'MEDIUM', glyph: '😐' },
  { min: 10, name: 'OK', glyph: '🙂' },
  { min: 1, name: 'SAFE', glyph: '😀' },
  { min: 0, name: 'PERFECT', glyph: '😇' },
];
