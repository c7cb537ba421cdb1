// Condition*= and Assert*= (systemd.unit(5), "Conditions and Asserts"): the shapes shared by
// the parser (spec → checks), the pure evaluator and the node's facts.

/** The check types this node evaluates, by their systemd suffix (ConditionPathExists= → PathExists). */
export const CHECK_TYPES = ['PathExists', 'PathExistsGlob', 'PathIsDirectory', 'PathIsSymbolicLink',
  'PathIsMountPoint', 'PathIsReadWrite', 'PathIsEncrypted', 'DirectoryNotEmpty', 'FileNotEmpty', 'FileIsExecutable',
  'User', 'Group', 'Host', 'KernelCommandLine', 'KernelVersion', 'Virtualization', 'Security', 'Capability',
  'ACPower', 'NeedsUpdate', 'FirstBoot', 'Architecture', 'Firmware', 'CPUs', 'CPUFeature', 'Environment',
  'Memory', 'ControlGroupController', 'OSRelease', 'Credential', 'MemoryPressure', 'CPUPressure', 'IOPressure'] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

/** The types whose parameter is a path (systemd's config_parse_unit_condition_path): a relative one is ignored at load. */
export const PATH_TYPES: ReadonlySet<CheckType> = new Set<CheckType>(['PathExists', 'PathExistsGlob', 'PathIsDirectory',
  'PathIsSymbolicLink', 'PathIsMountPoint', 'PathIsReadWrite', 'PathIsEncrypted', 'DirectoryNotEmpty', 'FileNotEmpty',
  'FileIsExecutable']);

export type Family = 'Condition' | 'Assert';

/** One check as systemd holds it: "|" made it triggering, "!" negated it. */
export interface Check {
  readonly family: Family;
  readonly type: CheckType;
  readonly trigger: boolean;
  readonly negate: boolean;
  readonly parameter: string;
}

/** "ConditionPathExists=|!/x": the check as systemd writes it in its messages. */
export const checkText = (c: Check): string => `${c.family}${c.type}=${c.trigger ? '|' : ''}${c.negate ? '!' : ''}${c.parameter}`;

/** A check's state after an evaluation (1 met, -1 not met or undetermined, 0 not tested): systemd's D-Bus Conditions= entry. */
export type { CheckState } from '../api/status.ts';

/** An errno-style failure of a fact ("ENOENT", "ELOOP", "EINVAL"…). */
export interface Errno { readonly errno: string }
export const isErrno = (x: unknown): x is Errno => typeof x === 'object' && x !== null && typeof (x as Errno).errno === 'string';

export type FileKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block' | 'other';

export interface FileStat {
  readonly kind: FileKind;
  readonly size: number;
  /** Permission bits (st_mode & 07777). */
  readonly mode: number;
  readonly mtimeNs: bigint;
}

/** The virtualization a node runs in (systemd-detect-virt): none, or a vm or container id. */
export interface Virtualization { readonly kind: 'none' | 'vm' | 'container'; readonly id: string }

/** The PSI averages of one line of a pressure file (avg10/avg60/avg300, percent). */
export interface PressureLine { readonly avg10: number; readonly avg60: number; readonly avg300: number }

/** Who the manager (the agent) is: what ConditionUser=/ConditionGroup= compare with. */
export interface Identity {
  readonly uid: number;
  readonly euid: number;
  readonly gid: number;
  readonly egid: number;
  readonly groups: readonly number[];
  /** The agent runs as the node's service manager (root): as systemd's PID 1, user and group names match only "root". */
  readonly systemManager: boolean;
}

/**
 * The facts a check needs, in the host's view (the agent may run in a container: its file
 * system is the host's mounted somewhere, its environment is the manager's). Every method is
 * synchronous and bounded; none blocks (no open of a FIFO, no unbounded read). Paths are
 * absolute, as the unit names them; the implementation resolves them under the host's root.
 */
export interface Facts {
  /** stat(2) (follow) or lstat(2) of a path of the host. */
  stat(path: string, follow: boolean): FileStat | Errno;
  /** Whether a directory has an entry `accept` takes (readdir, bounded), or why it could not be read. */
  dirHasEntry(path: string, accept: (name: string) => boolean): boolean | Errno;
  /** Whether a glob(3) pattern (with {a,b} braces) matches anything. */
  globExists(pattern: string): boolean;
  isMountPoint(path: string): boolean | Errno;
  /** Whether the path is on a read-only file system (statvfs ST_RDONLY / EROFS). */
  isReadOnly(path: string): boolean | Errno;
  /** Whether the path's block device is dm-crypt (or only on top of dm-crypt devices). */
  isEncrypted(path: string): boolean | Errno;
  /** A small text file of the host (/etc/os-release, /etc/machine-id…), bounded; undefined when absent or unreadable. */
  readHostFile(path: string): string | undefined;
  /** A kernel file (/proc/…, /sys/…), bounded; undefined when absent or unreadable. */
  readKernelFile(path: string): string | undefined;
  /** Names in a kernel directory (/sys/class/power_supply…), bounded; undefined when absent. */
  listKernelDir(path: string): readonly string[] | undefined;
  /** uname(2): release (KernelVersion=) and machine (Architecture=). */
  uname(): { readonly release: string; readonly machine: string };
  hostname(): string;
  /** The manager's environment (ConditionEnvironment=, $CREDENTIALS_DIRECTORY). */
  environment(): Readonly<Record<string, string | undefined>>;
  identity(): Identity;
  /** A user or group name in the host's /etc/passwd, /etc/group. */
  lookupUser(name: string): number | undefined;
  lookupGroup(name: string): number | undefined;
  /** CPUs in the manager's affinity mask. */
  cpus(): number;
  /** Physical memory, bytes. */
  memoryBytes(): number;
  virtualization(): Virtualization;
  /** The cgroup tree the manager's units live in: unified (v2), and its controllers. */
  cgroupControllers(): { readonly unified: boolean; readonly controllers: ReadonlySet<string> } | undefined;
}
