// systemd.exec(5) sandboxing, security, capabilities, system call filtering, directories and
// credentials: the sandbox of issues 14 (file system, directories, credentials) and 15
// (identity, privileges, system calls, network). A unit asking for a protection the node
// does not apply yet does not start (fail closed) unless the agent allows it.

import { row, STR, LIST, LINES, BOOL, SPAN, boolOr, enumOf, modeKind, type Applied, type Directive, type Kind, type NotApplied } from './kinds.ts';

const FS = 'file-system sandboxing is not applied yet (sandbox, issue 14)';
const DIRS = 'the runtime, state, cache, logs and configuration directories are not created yet (sandbox, issue 14)';
const CREDS = 'credentials are not passed yet (sandbox, issue 14)';
const PRIV = 'privileges, capabilities and system call filters are not applied yet (sandbox, issue 15)';
const USERS_FULL = 'PrivateUsers=full is not known to systemd 257 ("Failed to parse PrivateUsers=full, ignoring"): no user namespace would be set up';
const MAC = 'mandatory access control labels are not applied yet';
const IMG = 'disk images and extensions are not mounted yet';
/** Applied by uo-shim in the command's private mount namespace (shim/sandbox.c, planned by src/runner/sandbox.ts). */
const ns: Applied = { applier: 'shim', protects: true };
const nsInfo: Applied = { applier: 'shim', protects: false };
const fsInfo: NotApplied = { applier: 'sandbox', reason: FS, protects: false };
const dirs: NotApplied = { applier: 'sandbox', reason: DIRS, protects: false };
const creds: NotApplied = { applier: 'sandbox', reason: CREDS, protects: false };
const priv: NotApplied = { applier: 'sandbox', reason: PRIV, protects: true };
/** Applied by uo-shim before execve() (issue 15: src/runner/privs.ts, seccomp.ts; shim/privs.c, seccomp.c). */
const privApplied: Applied = { applier: 'runner', protects: true };
const mac: NotApplied = { applier: 'not-yet', reason: MAC, protects: true };
const img: NotApplied = { applier: 'not-yet', reason: IMG, protects: true };
const PRESERVE = ['no', 'yes', 'restart'];
/**
 * The runner makes the exec directories (src/runner/directories.ts); a name it would refuse at
 * start (absolute, ".", "..") or systemd's ":symlink" form it does not make is reported here.
 */
const dirsApplied: Applied = {
  applier: 'runner',
  gap: (v: unknown): string | undefined => {
    const names = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(/\s+/)).filter(Boolean);
    const bad = names.find((n) => n.startsWith('/') || n.includes(':') || n.split('/').some((c) => c === '.' || c === '..'));
    return bad === undefined ? undefined : `"${bad}" is not made: names must be relative paths without "." or ".." (the ":SYMLINK" form is not applied)`;
  },
};
const d = (name: string, kind: Kind, doc: string, how: Applied | NotApplied): Directive => row('Service', name, kind, doc, how);

export const SANDBOX: Directive[] = [
  // Identity and privileges (issue 15)
  // an id of 61184–65519 recorded in the unit's state folder (src/runner/dynuser.ts), the implied
  // sandbox of src/api/dynamicuser.ts, StateDirectory= & co below /var/lib/private (directories.ts)
  d('DynamicUser', BOOL, 'Run as a transient user and group allocated at start (DynamicUser=, default no): an id of 61184–65519, the same for the unit while it exists; implies ProtectSystem=strict, ProtectHome=read-only, PrivateTmp=, RemoveIPC=, NoNewPrivileges=, RestrictSUIDSGID=.', privApplied),
  d('NoNewPrivileges', BOOL, 'Forbid gaining privileges through execve(), PR_SET_NO_NEW_PRIVS (NoNewPrivileges=, default no).', privApplied),
  d('CapabilityBoundingSet', LINES, 'Capability bounding set (CapabilityBoundingSet=): names like CAP_NET_ADMIN, "~" to drop the listed ones.', privApplied),
  d('AmbientCapabilities', LINES, 'Ambient capabilities granted to a non-root User= (AmbientCapabilities=).', { applier: 'runner', protects: false }),
  // each line replaces the one before; set late with prctl(PR_SET_SECUREBITS) (privs.ts, shim/privs.c)
  d('SecureBits', LINES, 'Secure bits of the processes (SecureBits=): keep-caps, noroot, no-setuid-fixup and their -locked forms; each line replaces the one before.', privApplied),
  // a fresh session keyring with the invocation ID, made as the unit's user (privs.ts keyringSetting(), shim/privs.c)
  d('KeyringMode', enumOf(['inherit', 'private', 'shared']), 'Kernel session keyring (KeyringMode=, default private for system services: a keyring of its own; shared links the user keyring in; inherit: the agent\'s).', privApplied),
  d('SystemCallFilter', LINES, 'Allowed system calls, or with "~" denied ones (SystemCallFilter=): names and @groups such as @system-service, with an optional ":ERRNO".', privApplied),
  d('SystemCallErrorNumber', STR, 'errno returned by filtered system calls instead of killing (SystemCallErrorNumber=), e.g. EPERM or kill.', privApplied),
  d('SystemCallArchitectures', LINES, 'Architectures whose system calls may be used (SystemCallArchitectures=), e.g. native.', privApplied),
  d('SystemCallLog', LIST, 'System calls to log, or with "~" not to log (SystemCallLog=).', { applier: 'runner', protects: false }),
  d('MemoryDenyWriteExecute', BOOL, 'Forbid memory mappings both writable and executable (MemoryDenyWriteExecute=, default no).', privApplied),
  // one assignment: the unit-file converter keeps the last of several (systemd merges them)
  d('RestrictNamespaces', boolOr(), 'Restrict namespace creation (RestrictNamespaces=): "true", "false", or namespace types (cgroup ipc net mnt pid user uts time), "~" to deny them.', privApplied),
  d('RestrictRealtime', BOOL, 'Forbid real-time scheduling (RestrictRealtime=, default no).', privApplied),
  d('RestrictSUIDSGID', BOOL, 'Forbid setting set-user-ID and set-group-ID bits (RestrictSUIDSGID=, default no).', privApplied),
  d('RestrictAddressFamilies', LINES, 'Socket address families allowed, or with "~" denied (RestrictAddressFamilies=), e.g. AF_UNIX AF_INET AF_INET6, or none.', privApplied),
  d('RestrictFileSystems', LIST, 'File system types the processes may access, or with "~" not (RestrictFileSystems=).', priv),
  d('LockPersonality', BOOL, 'Lock the execution domain, personality(2) (LockPersonality=, default no).', privApplied),
  // when the user's last unit stops, not for root (src/runner/removeipc.ts, shim/removeipc.c)
  d('RemoveIPC', BOOL, 'Remove the user\'s System V and POSIX IPC objects when the unit stops (RemoveIPC=, default no).', { applier: 'runner', protects: false }),
  // a user namespace after the groups, before the capabilities and the user change, its maps written by a forked helper (shim/nsrt.c)
  d('PrivateUsers', boolOr('self', 'identity', 'full'), 'Run in a user namespace (PrivateUsers=, default "false"): "true"/"self" maps root and User=/Group= to themselves, "identity" maps 0..65535; the maps systemd 257 writes (test/ns/probe.test.ts). "full" is systemd 258\'s: 257 ignores it.', { applier: 'runner', protects: true, gap: (v) => (v === 'full' ? USERS_FULL : undefined) }),
  // Network (issue 15): the exec runtime's namespaces (src/runner/nsruntime.ts, shim/nsrt.c), as systemd 257 (test/ns/probe.test.ts)
  d('PrivateNetwork', BOOL, 'Run in a network namespace with only a loopback device (PrivateNetwork=, default no), shared by the unit\'s commands and its JoinsNamespaceOf= units.', privApplied),
  d('NetworkNamespacePath', STR, 'Join the network namespace at this path (NetworkNamespacePath=); it is the exec runtime\'s: JoinsNamespaceOf= units asking for PrivateNetwork= join it, and the path is not joined in a runtime that holds a network namespace (or none) already, as systemd 257 (said in the unit\'s status; test/ns/probe.test.ts nsk-*).', privApplied),
  d('PrivateIPC', BOOL, 'Run in an IPC namespace of its own (PrivateIPC=, default no), shared by the unit\'s commands and its JoinsNamespaceOf= units.', privApplied),
  d('IPCNamespacePath', STR, 'Join the IPC namespace at this path (IPCNamespacePath=); it is the exec runtime\'s, as NetworkNamespacePath=.', privApplied),
  // File system (issue 14)
  d('ProtectSystem', boolOr('full', 'strict'), 'Mount /usr and /boot read-only ("true"), also /etc ("full"), or the whole file system except /dev, /proc, /sys ("strict") (ProtectSystem=, default "false"). Quote "true"/"false".', ns),
  d('ProtectHome', boolOr('read-only', 'tmpfs'), 'Make /home, /root and /run/user inaccessible ("true"), read-only, or empty tmpfs (ProtectHome=, default "false").', ns),
  d('PrivateTmp', boolOr('disconnected'), 'Private /tmp and /var/tmp (PrivateTmp=, default "false"): "true" (shared by the commands of one invocation), or "disconnected" (a fresh tmpfs for each command, implied by DynamicUser=).', ns),
  d('PrivateDevices', BOOL, 'A private /dev with only pseudo devices (PrivateDevices=, default no).', ns),
  d('PrivateMounts', BOOL, 'Run in a mount namespace of its own (PrivateMounts=).', nsInfo),
  // the main process as PID 1 of a PID namespace with its own /proc; the holder still reaps it and the agent knows its host PID (shim/exec.c, sandbox.c)
  d('PrivatePIDs', BOOL, 'Run in a PID namespace of its own, as PID 1 (PrivatePIDs=, default no).', ns),
  d('ProtectKernelTunables', BOOL, 'Make /proc/sys, /sys and friends read-only (ProtectKernelTunables=, default no).', ns),
  d('ProtectKernelModules', BOOL, 'Forbid loading kernel modules (ProtectKernelModules=, default no).', ns),
  // /proc/kmsg and /dev/kmsg inaccessible and CAP_SYSLOG dropped (sandbox.ts), syslog(2) → EPERM (seccomp.ts)
  d('ProtectKernelLogs', BOOL, 'Forbid access to the kernel log ring buffer (ProtectKernelLogs=, default no).', ns),
  // CAP_SYS_TIME and CAP_WAKE_ALARM dropped and @clock → EPERM (privs.ts, seccomp.ts); with a device
  // policy or list, the implied DeviceAllow=char-rtc r is added to the unit's device rules (cgroup/devices.ts)
  d('ProtectClock', BOOL, 'Forbid changing the system clock (ProtectClock=, default no).', privApplied),
  // private|strict: a cgroup namespace and a cgroup2 of its own on a v2 host, systemd 257's fallback elsewhere (shim/sandbox.c)
  d('ProtectControlGroups', boolOr('private', 'strict'), 'Make /sys/fs/cgroup read-only ("true"), or a private cgroup namespace ("private", "strict") (ProtectControlGroups=, default "false").', ns),
  // a UTS namespace, sethostname()/setdomainname() → EPERM (privs.ts, shim/privs.c), the two /proc/sys/kernel files read-only (sandbox.ts)
  d('ProtectHostname', BOOL, 'Forbid changing the hostname, UTS namespace (ProtectHostname=, default no).', ns),
  d('ProtectProc', enumOf(['noaccess', 'invisible', 'ptraceable', 'default']), 'Visibility of other processes in /proc (ProtectProc=, default default).', ns),
  d('ProcSubset', enumOf(['all', 'pid']), 'Only process directories in /proc ("pid") (ProcSubset=, default all).', ns),
  d('ReadWritePaths', LIST, 'Paths writable even under ProtectSystem= (ReadWritePaths=); "-" ignores a missing one, "+" is relative to RootDirectory=.', ns),
  d('ReadOnlyPaths', LIST, 'Paths made read-only (ReadOnlyPaths=).', ns),
  d('InaccessiblePaths', LIST, 'Paths made inaccessible (InaccessiblePaths=).', ns),
  d('ExecPaths', LIST, 'Paths where executing is allowed despite NoExecPaths= (ExecPaths=).', ns),
  d('NoExecPaths', LIST, 'Paths where executing is forbidden (NoExecPaths=).', ns),
  d('TemporaryFileSystem', LIST, 'Empty tmpfs mounted over the listed paths, "PATH[:OPTIONS]" (TemporaryFileSystem=).', ns),
  d('BindPaths', LIST, 'Bind mounts "SOURCE[:DEST[:OPTIONS]]" into the unit\'s mount namespace (BindPaths=).', nsInfo),
  d('BindReadOnlyPaths', LIST, 'Read-only bind mounts (BindReadOnlyPaths=).', nsInfo),
  d('MountFlags', enumOf(['shared', 'slave', 'private']), 'Mount propagation of the unit\'s mount namespace (MountFlags=, default shared).', nsInfo),
  // a new /proc, the host's /dev and /sys, a tmpfs /run inside RootDirectory= (default yes with it: shim/sandbox.c)
  d('MountAPIVFS', BOOL, 'Mount /proc, /sys, /dev and /run in the unit\'s mount namespace (MountAPIVFS=).', nsInfo),
  // the sockets are bound when present (sandbox.ts), as systemd's default with MountAPIVFS=; not yet compared with systemd (no journal on the test host)
  d('BindLogSockets', BOOL, 'Bind the journal sockets into the unit\'s root (BindLogSockets=).', fsInfo),
  d('RootImage', STR, 'Disk image mounted as the root directory (RootImage=).', img),
  d('RootImageOptions', LIST, 'Mount options of RootImage= partitions (RootImageOptions=).', img),
  d('RootImagePolicy', STR, 'Image policy for RootImage= (RootImagePolicy=).', img),
  d('RootEphemeral', BOOL, 'Run on an ephemeral snapshot of the root directory or image (RootEphemeral=, default no).', img),
  d('RootHash', STR, 'dm-verity root hash of RootImage= (RootHash=).', img),
  d('RootHashSignature', STR, 'Signature of RootHash= (RootHashSignature=).', img),
  d('RootVerity', STR, 'dm-verity data of RootImage= (RootVerity=).', img),
  d('MountImages', LIST, 'Disk images mounted at paths (MountImages=).', img),
  d('MountImagePolicy', STR, 'Image policy for MountImages= (MountImagePolicy=).', img),
  d('ExtensionImages', LIST, 'System extension images overlaid on /usr and /opt (ExtensionImages=).', img),
  d('ExtensionDirectories', LIST, 'System extension directories overlaid on /usr and /opt (ExtensionDirectories=).', img),
  d('ExtensionImagePolicy', STR, 'Image policy for ExtensionImages= (ExtensionImagePolicy=).', img),
  // Mandatory access control
  d('SELinuxContext', STR, 'SELinux security context of the processes (SELinuxContext=).', mac),
  d('AppArmorProfile', STR, 'AppArmor profile of the processes (AppArmorProfile=).', mac),
  d('SmackProcessLabel', STR, 'SMACK label of the processes (SmackProcessLabel=).', mac),
  // Directories (issue 14)
  d('RuntimeDirectory', LIST, 'Directories created below /run for the service, owned by User= (RuntimeDirectory=).', dirsApplied),
  d('StateDirectory', LIST, 'Directories created below /var/lib (StateDirectory=).', dirsApplied),
  d('CacheDirectory', LIST, 'Directories created below /var/cache (CacheDirectory=).', dirsApplied),
  d('LogsDirectory', LIST, 'Directories created below /var/log (LogsDirectory=).', dirsApplied),
  d('ConfigurationDirectory', LIST, 'Directories created below /etc (ConfigurationDirectory=).', dirsApplied),
  d('RuntimeDirectoryMode', modeKind, 'Mode of RuntimeDirectory= (RuntimeDirectoryMode=, default 0755).', { applier: 'runner' }),
  d('StateDirectoryMode', modeKind, 'Mode of StateDirectory= (StateDirectoryMode=, default 0755).', { applier: 'runner' }),
  d('CacheDirectoryMode', modeKind, 'Mode of CacheDirectory= (CacheDirectoryMode=, default 0755).', { applier: 'runner' }),
  d('LogsDirectoryMode', modeKind, 'Mode of LogsDirectory= (LogsDirectoryMode=, default 0755).', { applier: 'runner' }),
  d('ConfigurationDirectoryMode', modeKind, 'Mode of ConfigurationDirectory= (ConfigurationDirectoryMode=, default 0755).', { applier: 'runner' }),
  d('RuntimeDirectoryPreserve', enumOf(PRESERVE), 'Keep RuntimeDirectory= when stopped (RuntimeDirectoryPreserve=, default no).', { applier: 'runner' }),
  d('TimeoutCleanSec', SPAN, 'Time allowed for systemctl clean (TimeoutCleanSec=, default infinity).', dirs),
  // Credentials (issue 14)
  d('LoadCredential', LINES, 'Credential "ID[:PATH]" read by the agent from a file, a folder or the credential store and passed in $CREDENTIALS_DIRECTORY (LoadCredential=; an AF_UNIX socket is not read).', { applier: 'runner' }),
  d('LoadCredentialEncrypted', LINES, 'Encrypted credential "ID[:PATH]" (LoadCredentialEncrypted=).', creds),
  d('ImportCredential', LIST, 'Credentials imported from the system credentials by glob (ImportCredential=).', { applier: 'runner' }),
  d('SetCredential', LINES, 'Credential "ID:VALUE" given inline (SetCredential=).', { applier: 'runner' }),
  d('SetCredentialEncrypted', LINES, 'Encrypted inline credential "ID:VALUE" (SetCredentialEncrypted=).', creds),
];

