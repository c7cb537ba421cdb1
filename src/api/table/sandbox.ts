// systemd.exec(5) sandboxing, security, capabilities, system call filtering, directories and
// credentials: the sandbox of issues 14 (file system, directories, credentials) and 15
// (identity, privileges, system calls, network). A unit asking for a protection the node
// does not apply yet does not start (fail closed) unless the agent allows it.

import { row, honours, STR, LIST, LINES, BOOL, SPAN, boolOr, enumOf, modeKind, type Directive, type Kind, type NotApplied } from './kinds.ts';

const FS = 'file-system sandboxing is not applied yet (sandbox, issue 14)';
const DIRS = 'the runtime, state, cache, logs and configuration directories are not created yet (sandbox, issue 14)';
const CREDS = 'credentials are not passed yet (sandbox, issue 14)';
const PRIV = 'privileges, capabilities and system call filters are not applied yet (sandbox, issue 15)';
const NET = 'network isolation is not applied yet (sandbox, issue 15)';
const MAC = 'mandatory access control labels are not applied yet';
const IMG = 'disk images and extensions are not mounted yet';
const fs: NotApplied = { applier: 'sandbox', reason: FS, protects: true };
const fsInfo: NotApplied = { applier: 'sandbox', reason: FS, protects: false };
const dirs: NotApplied = { applier: 'sandbox', reason: DIRS, protects: false };
const creds: NotApplied = { applier: 'sandbox', reason: CREDS, protects: false };
const priv: NotApplied = { applier: 'sandbox', reason: PRIV, protects: true };
const net: NotApplied = { applier: 'sandbox', reason: NET, protects: true };
const mac: NotApplied = { applier: 'not-yet', reason: MAC, protects: true };
const img: NotApplied = { applier: 'not-yet', reason: IMG, protects: true };
const PRESERVE = ['no', 'yes', 'restart'];
const d = (name: string, kind: Kind, doc: string, how: NotApplied): Directive => row('Service', name, kind, doc, how);

export const SANDBOX: Directive[] = [
  // Identity and privileges (issue 15)
  d('DynamicUser', BOOL, 'Run as a transient user and group allocated at start (DynamicUser=, default no).', priv),
  d('NoNewPrivileges', BOOL, 'Forbid gaining privileges through execve(), PR_SET_NO_NEW_PRIVS (NoNewPrivileges=, default no).', priv),
  d('CapabilityBoundingSet', LIST, 'Capability bounding set (CapabilityBoundingSet=): names like CAP_NET_ADMIN, "~" to drop the listed ones.', priv),
  d('AmbientCapabilities', LIST, 'Ambient capabilities granted to a non-root User= (AmbientCapabilities=).', { applier: 'sandbox', reason: PRIV, protects: false }),
  d('SecureBits', LIST, 'Secure bits of the processes (SecureBits=): keep-caps, noroot, no-setuid-fixup and their -locked forms.', priv),
  d('KeyringMode', enumOf(['inherit', 'private', 'shared']), 'Kernel session keyring (KeyringMode=, default private for system services).', { applier: 'sandbox', reason: `${PRIV}; processes share the agent's keyring`, protects: true, gap: honours(`${PRIV}; processes share the agent's keyring`, 'inherit') }),
  d('SystemCallFilter', LIST, 'Allowed system calls, or with "~" denied ones (SystemCallFilter=): names and @groups such as @system-service, with an optional ":ERRNO".', priv),
  d('SystemCallErrorNumber', STR, 'errno returned by filtered system calls instead of killing (SystemCallErrorNumber=), e.g. EPERM or kill.', priv),
  d('SystemCallArchitectures', LIST, 'Architectures whose system calls may be used (SystemCallArchitectures=), e.g. native.', priv),
  d('SystemCallLog', LIST, 'System calls to log, or with "~" not to log (SystemCallLog=).', { applier: 'sandbox', reason: PRIV, protects: false }),
  d('MemoryDenyWriteExecute', BOOL, 'Forbid memory mappings both writable and executable (MemoryDenyWriteExecute=, default no).', priv),
  d('RestrictNamespaces', boolOr(), 'Restrict namespace creation (RestrictNamespaces=): "true", "false", or namespace types (cgroup ipc net mnt pid user uts), "~" to deny them.', priv),
  d('RestrictRealtime', BOOL, 'Forbid real-time scheduling (RestrictRealtime=, default no).', priv),
  d('RestrictSUIDSGID', BOOL, 'Forbid setting set-user-ID and set-group-ID bits (RestrictSUIDSGID=, default no).', priv),
  d('RestrictAddressFamilies', LIST, 'Socket address families allowed, or with "~" denied (RestrictAddressFamilies=), e.g. AF_UNIX AF_INET AF_INET6, or none.', priv),
  d('RestrictFileSystems', LIST, 'File system types the processes may access, or with "~" not (RestrictFileSystems=).', priv),
  d('LockPersonality', BOOL, 'Lock the execution domain, personality(2) (LockPersonality=, default no).', priv),
  d('RemoveIPC', BOOL, 'Remove the user\'s System V and POSIX IPC objects when the unit stops (RemoveIPC=, default no).', { applier: 'sandbox', reason: PRIV, protects: false }),
  d('PrivateUsers', boolOr('self', 'identity', 'full'), 'Run in a user namespace (PrivateUsers=, default "false"): "true"/"self", "identity" or "full".', priv),
  // Network (issue 15)
  d('PrivateNetwork', BOOL, 'Run in a network namespace with only a loopback device (PrivateNetwork=, default no).', net),
  d('NetworkNamespacePath', STR, 'Join the network namespace at this path (NetworkNamespacePath=).', net),
  d('PrivateIPC', BOOL, 'Run in an IPC namespace of its own (PrivateIPC=, default no).', net),
  d('IPCNamespacePath', STR, 'Join the IPC namespace at this path (IPCNamespacePath=).', net),
  // File system (issue 14)
  d('ProtectSystem', boolOr('full', 'strict'), 'Mount /usr and /boot read-only ("true"), also /etc ("full"), or the whole file system except /dev, /proc, /sys ("strict") (ProtectSystem=, default "false"). Quote "true"/"false".', fs),
  d('ProtectHome', boolOr('read-only', 'tmpfs'), 'Make /home, /root and /run/user inaccessible ("true"), read-only, or empty tmpfs (ProtectHome=, default "false").', fs),
  d('PrivateTmp', boolOr('disconnected'), 'Private /tmp and /var/tmp (PrivateTmp=, default "false"): "true", or "disconnected" (not shared with JoinsNamespaceOf= units).', fs),
  d('PrivateDevices', BOOL, 'A private /dev with only pseudo devices (PrivateDevices=, default no).', fs),
  d('PrivateMounts', BOOL, 'Run in a mount namespace of its own (PrivateMounts=).', fsInfo),
  d('PrivatePIDs', BOOL, 'Run in a PID namespace of its own, as PID 1 (PrivatePIDs=, default no).', fs),
  d('ProtectKernelTunables', BOOL, 'Make /proc/sys, /sys and friends read-only (ProtectKernelTunables=, default no).', fs),
  d('ProtectKernelModules', BOOL, 'Forbid loading kernel modules (ProtectKernelModules=, default no).', fs),
  d('ProtectKernelLogs', BOOL, 'Forbid access to the kernel log ring buffer (ProtectKernelLogs=, default no).', fs),
  d('ProtectClock', BOOL, 'Forbid changing the system clock (ProtectClock=, default no).', fs),
  d('ProtectControlGroups', boolOr('private', 'strict'), 'Make /sys/fs/cgroup read-only ("true"), or a private cgroup namespace ("private", "strict") (ProtectControlGroups=, default "false").', fs),
  d('ProtectHostname', BOOL, 'Forbid changing the hostname, UTS namespace (ProtectHostname=, default no).', fs),
  d('ProtectProc', enumOf(['noaccess', 'invisible', 'ptraceable', 'default']), 'Visibility of other processes in /proc (ProtectProc=, default default).', { ...fs, gap: honours(FS, 'default') }),
  d('ProcSubset', enumOf(['all', 'pid']), 'Only process directories in /proc ("pid") (ProcSubset=, default all).', { ...fs, gap: honours(FS, 'all') }),
  d('ReadWritePaths', LIST, 'Paths writable even under ProtectSystem= (ReadWritePaths=); "-" ignores a missing one, "+" is relative to RootDirectory=.', fs),
  d('ReadOnlyPaths', LIST, 'Paths made read-only (ReadOnlyPaths=).', fs),
  d('InaccessiblePaths', LIST, 'Paths made inaccessible (InaccessiblePaths=).', fs),
  d('ExecPaths', LIST, 'Paths where executing is allowed despite NoExecPaths= (ExecPaths=).', fs),
  d('NoExecPaths', LIST, 'Paths where executing is forbidden (NoExecPaths=).', fs),
  d('TemporaryFileSystem', LIST, 'Empty tmpfs mounted over the listed paths, "PATH[:OPTIONS]" (TemporaryFileSystem=).', fs),
  d('BindPaths', LIST, 'Bind mounts "SOURCE[:DEST[:OPTIONS]]" into the unit\'s mount namespace (BindPaths=).', fsInfo),
  d('BindReadOnlyPaths', LIST, 'Read-only bind mounts (BindReadOnlyPaths=).', fsInfo),
  d('MountFlags', enumOf(['shared', 'slave', 'private']), 'Mount propagation of the unit\'s mount namespace (MountFlags=, default shared).', { ...fsInfo, gap: honours(FS, 'shared') }),
  d('MountAPIVFS', BOOL, 'Mount /proc, /sys, /dev and /run in the unit\'s mount namespace (MountAPIVFS=).', fsInfo),
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
  d('RuntimeDirectory', LIST, 'Directories created below /run for the service, owned by User= (RuntimeDirectory=).', dirs),
  d('StateDirectory', LIST, 'Directories created below /var/lib (StateDirectory=).', dirs),
  d('CacheDirectory', LIST, 'Directories created below /var/cache (CacheDirectory=).', dirs),
  d('LogsDirectory', LIST, 'Directories created below /var/log (LogsDirectory=).', dirs),
  d('ConfigurationDirectory', LIST, 'Directories created below /etc (ConfigurationDirectory=).', dirs),
  d('RuntimeDirectoryMode', modeKind, 'Mode of RuntimeDirectory= (RuntimeDirectoryMode=, default 0755).', dirs),
  d('StateDirectoryMode', modeKind, 'Mode of StateDirectory= (StateDirectoryMode=, default 0755).', dirs),
  d('CacheDirectoryMode', modeKind, 'Mode of CacheDirectory= (CacheDirectoryMode=, default 0755).', dirs),
  d('LogsDirectoryMode', modeKind, 'Mode of LogsDirectory= (LogsDirectoryMode=, default 0755).', dirs),
  d('ConfigurationDirectoryMode', modeKind, 'Mode of ConfigurationDirectory= (ConfigurationDirectoryMode=, default 0755).', dirs),
  d('RuntimeDirectoryPreserve', enumOf(PRESERVE), 'Keep RuntimeDirectory= when stopped (RuntimeDirectoryPreserve=, default no).', dirs),
  d('TimeoutCleanSec', SPAN, 'Time allowed for systemctl clean (TimeoutCleanSec=, default infinity).', dirs),
  // Credentials (issue 14)
  d('LoadCredential', LINES, 'Credential "ID[:PATH]" read from a file or socket and passed in $CREDENTIALS_DIRECTORY (LoadCredential=).', creds),
  d('LoadCredentialEncrypted', LINES, 'Encrypted credential "ID[:PATH]" (LoadCredentialEncrypted=).', creds),
  d('ImportCredential', LIST, 'Credentials imported from the system credentials by glob (ImportCredential=).', creds),
  d('SetCredential', LINES, 'Credential "ID:VALUE" given inline (SetCredential=).', creds),
  d('SetCredentialEncrypted', LINES, 'Encrypted inline credential "ID:VALUE" (SetCredentialEncrypted=).', creds),
];

