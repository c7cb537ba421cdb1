// The protocol between the agent and uo-shim (shim/uo-shim.c), both directions in one place:
// what the shim is told (its argv and UO_SHIM_* environment variables) and what it answers
// (one line per happening in its event log).
//
// A shim outlives the agent that started it, so the decoder reads the lines of every shim
// version that may still run after an agent upgrade:
//   version 1: shim PID | spawn PID | exec PID | exec-failed PID ERRNO STATUS
//              | exit PID exited|killed|dumped STATUS | notify PID MESSAGE | empty
//   version 2: exec-failed may carry the failed set-up step: exec-failed PID ERRNO STATUS STEP;
//              note PID STEP ERRNO [VALUE] for a refused step that was skipped (OOM_ADJUST, NICE)
//   version 3 (issue 12): sd_notify datagrams with the sender's credentials (SCM_CREDENTIALS),
//              the message escaped so that no byte of it can pass for a separator:
//                notify2 PID UID GID MESSAGE   MESSAGE: the rest of the line, '\' and bytes
//                                              < 0x20 or 0x7f as \xHH (a newline is \x0a);
//                                              UID/GID -1: the kernel gave none
//                notify-dropped PID UID GID REASON BYTES
//                                              a datagram the shim did not pass on: oversized
//                                              (> 4096 bytes), nul (embedded NUL), long
//              The version-1 line "notify PID MESSAGE" (newlines as \x1e, no uid) is still
//              read: its sender's uid is unknown (undefined), which the runner trusts no more
//              than an unprivileged sender. An agent older than version 3 skips the new kinds.
//   issue 13 (no new line kind): the agent passes UO_SHIM_CGROUPS (the unit's cgroup, one
//              absolute directory a line, every hierarchy) and UO_SHIM_HOLDER_CGROUPS (the
//              holders' cgroup the shim joins at start). A command that cannot join fails with
//              exec-failed ... 219 CGROUP, after the file that refused it:
//                note PID CGROUP ERRNO DIR/cgroup.procs
//              (an older agent logs that as a step ignored; the exec-failed line still fails
//              it); a shim that cannot join writes
//                note SHIMPID CGROUP ERRNO DIR
//   issue 17 (no new line kind): UO_SHIM_NAMESPACES=PID:TYPE,... (TYPE: cgroup, ipc, uts, net,
//              mnt) — the shim enters /proc/PID/ns/TYPE (the host's, PID 1 with hostPID) after
//              opening what is the agent's (event log, log folder, cgroup folders) and before
//              it places itself and forks; the command inherits them. A namespace that cannot
//              be entered fails the command at its first step, systemd's EXIT_NAMESPACE:
//                exec-failed PID ERRNO 226 NAMESPACE
//              never a silent fallback. A shim that predates the variable would ignore it, so
//              the agent asks `uo-shim --features` for "namespaces" before it relies on it
//              (launch.ts).
//   issue 14 (no new line kind): UO_SHIM_SANDBOX, the command's private mount namespace
//              (ProtectSystem=, PrivateTmp=..., planned by sandbox.ts, format in shim/sandbox.h);
//              a namespace that cannot be set up fails the command with
//                exec-failed PID ERRNO 226 NAMESPACE
//              `uo-shim --features` lists "sandbox".
//   issue 15 (no new line kind): UO_SHIM_PRIVATE_NETWORK, UO_SHIM_CAPBSET, UO_SHIM_AMBIENT,
//              UO_SHIM_NNP, UO_SHIM_SECCOMP_AF, UO_SHIM_SECCOMP (privs.ts, seccomp.ts); a step
//              that fails is exec-failed PID ERRNO STATUS STEP with systemd's NETWORK 225,
//              CAPABILITIES 218, SECUREBITS 213, NO_NEW_PRIVILEGES 227, ADDRESS_FAMILIES 232,
//              SECCOMP 228. `uo-shim --features` lists "privs".
//              Then UO_SHIM_SECCOMP_MDWE (MemoryDenyWriteExecute=: PR_SET_MDWE, these programs
//              when the kernel refuses it), UO_SHIM_PROTECT_HOSTNAME (ProtectHostname=: a UTS
//              namespace and these programs, after the mount namespace), UO_SHIM_RTPRIO_ZERO
//              (RestrictRealtime=: RLIMIT_RTPRIO 0, LIMITS 205), and up to 64 programs a variable
//              (an older shim refuses more than 16: SECCOMP 228).
//              Then UO_SHIM_SECUREBITS (SecureBits=, SECUREBITS 213) and UO_SHIM_KEYRING
//              (KeyringMode=, KEYRING 237): `uo-shim --features` lists "privs3".
//   finding 6 (no new line kind): the service's own UO_SHIM_* variables are passed as
//              UO_SHIM_SERVICE_ENV_<n>=NAME=VALUE and put back just before execve(), never read as
//              settings (SERVICE_ENV_PREFIX).
//   issues 14/15 (no new line kind): UO_SHIM_JOIN_NS=PID:START:TYPES (the exec runtime's network and
//              IPC namespaces, held by `uo-shim --ns-hold`), UO_SHIM_NETNS_PATH, UO_SHIM_IPCNS_PATH,
//              UO_SHIM_PRIVATE_USERS (nsruntime.ts, shim/nsrt.h); NETWORK 225, NAMESPACE 226, USER 217.
//              `uo-shim --features` lists "nsrt".
//   issue 19 (no new line kind): UO_SHIM_NOT_BEFORE=NS, CLOCK_MONOTONIC: the command waits before its
//              execve() (a restart prepared ahead of its RestartSec= deadline). `uo-shim --features`
//              lists "not-before"; without it the agent prepares nothing ahead.
//              A trailing field, which an older agent ignores: exit PID CODE STATUS AT and empty AT
//              (AT: CLOCK_MONOTONIC µs when the holder reaped it: RestartSec= counts from there),
//              exec PID SLACK for a held command (µs it reached its hold before the deadline;
//              negative: late), by which the agent sizes its restart lead (restartlead.ts).
// Unknown line kinds are skipped, so a newer shim's additions do not stop an older agent.

import type { ExitCode } from '../engine/states.ts';

/** The newest version of the event-log lines this decoder knows. */
export const SHIM_PROTOCOL_VERSION = 3;

// ---- agent → shim ----------------------------------------------------------------------------

/** The namespaces a shim can enter (hostns.c), in the order it enters them. */
export const NAMESPACE_TYPES = ['cgroup', 'ipc', 'uts', 'net', 'mnt'] as const;
export type NamespaceType = typeof NAMESPACE_TYPES[number];

/** The execution settings a shim applies before exec() (all already resolved to numbers and paths). */
export interface ShimSettings {
  /** The service's own environment; the UO_SHIM_* settings are added next to it (its own UO_SHIM_* variables are passed apart: SERVICE_ENV_PREFIX). */
  readonly env: Readonly<Record<string, string>>;
  /** chroot() into this directory first (the host's root when the agent runs in a container: --host-root). */
  readonly root?: string | undefined;
  /** Enter these namespaces of process `pid` (the host's: PID 1) before placing and forking (--host-namespaces). */
  readonly namespaces?: { readonly pid: number; readonly types: readonly NamespaceType[] } | undefined;
  /** Fail the set-up with this exit status (systemd.exec(5) codes: 216 GROUP, 217 USER). */
  readonly failStatus?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  /** Supplementary groups; undefined leaves them alone, [] clears them. */
  readonly groups?: readonly number[] | undefined;
  readonly umask?: string | undefined;
  /** A leading '-' ignores a missing directory. */
  readonly cwd?: string | undefined;
  /** RLIMIT name (NOFILE, CORE...) → "soft:hard" or one value, numbers or "infinity" (context.ts converts units). */
  readonly rlimits: ReadonlyArray<readonly [string, string]>;
  /** "null", "journal", "o:PATH", "a:PATH", "w:PATH". */
  readonly stdout: string;
  readonly stderr: string;
  readonly log: string;
  readonly logMaxBytes: number;
  /** A datagram socket for sd_notify that the shim binds and reports as notify lines. */
  readonly notifySocket?: string | undefined;
  /** RootDirectory=, Nice=, OOMScoreAdjust=, I/O and CPU scheduling, CPUAffinity=, StandardInput= (see context.ts). */
  readonly rootDirectory?: string | undefined;
  readonly nice?: number | undefined;
  readonly oomScoreAdjust?: number | undefined;
  readonly ioScheduling?: string | undefined;
  readonly cpuScheduling?: string | undefined;
  readonly cpuAffinity?: string | undefined;
  readonly stdin?: string | undefined;
  /** IgnoreSIGPIPE=: false starts the command with SIGPIPE at its default action; a shim told
   *  nothing ignores it, systemd's default. */
  readonly ignoreSigpipe?: boolean | undefined;
  /** The unit's cgroup in every hierarchy (absolute directories): the command joins them before any other set-up step. */
  readonly cgroups?: readonly string[] | undefined;
  /** The holders' cgroup in every hierarchy: the shim moves itself there at start. */
  readonly holderCgroups?: readonly string[] | undefined;
  /** The private mount namespace's entries (sandbox.ts: UO_SHIM_SANDBOX, shim/sandbox.h). */
  readonly sandbox?: string | undefined;
  /** Privileges and seccomp programs (privs.ts, seccomp.ts; shim/privs.h, shim/seccomp.h): UO_SHIM_* name → value. */
  readonly privs?: Readonly<Record<string, string>> | undefined;
}

/** Up to 64 seccomp programs (shim/seccomp.h: MAX_PROGRAMS). */
const PROGRAMS = /^(?:[0-9a-f]{16})+(?:,(?:[0-9a-f]{16})+){0,63}$/;
/** The issue-15 variables and the shape of their values (shim/privs.h, shim/seccomp.h). */
const PRIVS_VARS: Readonly<Record<string, RegExp>> = {
  UO_SHIM_CAPBSET: /^[0-9a-f]{16}$/, UO_SHIM_AMBIENT: /^[0-9a-f]{16}$/, UO_SHIM_NNP: /^(1|implied)$/,
  UO_SHIM_PRIVATE_NETWORK: /^1$/,
  UO_SHIM_SECCOMP: PROGRAMS, UO_SHIM_SECCOMP_AF: PROGRAMS, UO_SHIM_SECCOMP_MDWE: PROGRAMS, UO_SHIM_PROTECT_HOSTNAME: PROGRAMS,
  UO_SHIM_RTPRIO_ZERO: /^1$/,
  // the exec runtime's namespaces and PrivateUsers= (nsruntime.ts, shim/nsrt.h)
  UO_SHIM_JOIN_NS: /^[1-9][0-9]{0,6}:[0-9]{1,20}:(net|ipc|net,ipc)$/, UO_SHIM_NETNS_PATH: /^\/[^\n]{0,4094}$/, UO_SHIM_IPCNS_PATH: /^\/[^\n]{0,4094}$/,
  UO_SHIM_PRIVATE_USERS: /^(self|identity)$/,
  UO_SHIM_SECUREBITS: /^[0-3][0-9a-f]$/, UO_SHIM_KEYRING: /^(private|shared):[0-9]{0,10}:[0-9]{0,10}:(?:[0-9a-f]{32})?$/,
};

/**
 * The prefix under which the service's own UO_SHIM_* variables reach the shim: its settings are
 * read from the environment, so a service variable under one of their names (Environment=,
 * EnvironmentFile=, PassEnvironment=) would be taken for one — a notify socket bound and
 * unlinked by root at the unit's path, a namespace entered, a cgroup joined. The service's
 * UO_SHIM_NAME=VALUE travels as UO_SHIM_SERVICE_ENV_<n>=UO_SHIM_NAME=VALUE, which no setting
 * reads; the shim puts it back as UO_SHIM_NAME=VALUE after removing its own settings, just
 * before execve() (exec.c clean_environment()), so the service gets it as systemd would give it.
 * A shim older than this removes it with its settings (the service does not get it).
 */
export const SERVICE_ENV_PREFIX = 'UO_SHIM_SERVICE_ENV_';

/** The names of the service's variables that a shim environment passes under SERVICE_ENV_PREFIX. */
export function serviceShimNames(shimEnv: Readonly<Record<string, string>>): string[] {
  return Object.entries(shimEnv).filter(([k]) => k.startsWith(SERVICE_ENV_PREFIX)).map(([, v]) => v.slice(0, v.indexOf('=')));
}

/** The environment a shim is started with. */
export function encodeShimEnv(s: ShimSettings): Record<string, string> {
  const e: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(s.env)) {
    if (k.startsWith('UO_SHIM_')) e[`${SERVICE_ENV_PREFIX}${n++}`] = `${k}=${v}`; // never a setting (above)
    else e[k] = v;
  }
  if (s.root !== undefined) e['UO_SHIM_ROOT'] = s.root;
  if (s.namespaces !== undefined) {
    const { pid, types } = s.namespaces;
    if (!Number.isSafeInteger(pid) || pid < 1 || pid > 9_999_999 || types.length === 0 || new Set(types).size !== types.length || types.some((t) => !NAMESPACE_TYPES.includes(t))) throw new Error(`not a namespace setting: ${pid}:${types.join(',')}`);
    e['UO_SHIM_NAMESPACES'] = `${pid}:${types.join(',')}`;
  }
  if (s.sandbox !== undefined) {
    if (s.sandbox.includes('\0') || s.sandbox.length > 65536) throw new Error('not a sandbox setting: it holds a NUL or is longer than 64 KiB');
    e['UO_SHIM_SANDBOX'] = s.sandbox;
  }
  for (const [k, v] of Object.entries(s.privs ?? {})) {
    const shape = PRIVS_VARS[k];
    if (!shape || v.length > 600_000 || !shape.test(v)) throw new Error(`not a privilege setting: ${k}`);
    e[k] = v;
  }
  if (s.failStatus !== undefined) e['UO_SHIM_FAIL'] = String(s.failStatus);
  if (s.uid !== undefined) e['UO_SHIM_UID'] = String(s.uid);
  if (s.gid !== undefined) e['UO_SHIM_GID'] = String(s.gid);
  if (s.groups !== undefined) e['UO_SHIM_GROUPS'] = s.groups.join(',');
  if (s.umask !== undefined) e['UO_SHIM_UMASK'] = s.umask;
  if (s.cwd !== undefined) e['UO_SHIM_CWD'] = s.cwd;
  for (const [name, value] of s.rlimits) e[`UO_SHIM_RLIMIT_${name}`] = value;
  e['UO_SHIM_STDOUT'] = s.stdout;
  e['UO_SHIM_STDERR'] = s.stderr;
  e['UO_SHIM_LOG'] = s.log;
  e['UO_SHIM_LOG_MAX'] = String(s.logMaxBytes);
  if (s.notifySocket !== undefined) e['UO_SHIM_NOTIFY_SOCKET'] = s.notifySocket;
  if (s.rootDirectory !== undefined) e['UO_SHIM_ROOT_DIRECTORY'] = s.rootDirectory;
  if (s.nice !== undefined) e['UO_SHIM_NICE'] = String(s.nice);
  if (s.oomScoreAdjust !== undefined) e['UO_SHIM_OOM_SCORE_ADJUST'] = String(s.oomScoreAdjust);
  if (s.ioScheduling !== undefined) e['UO_SHIM_IOSCHED'] = s.ioScheduling;
  if (s.cpuScheduling !== undefined) e['UO_SHIM_CPUSCHED'] = s.cpuScheduling;
  if (s.cpuAffinity !== undefined) e['UO_SHIM_CPU_AFFINITY'] = s.cpuAffinity;
  if (s.stdin !== undefined) e['UO_SHIM_STDIN'] = s.stdin;
  if (s.ignoreSigpipe !== undefined) e['UO_SHIM_IGNORE_SIGPIPE'] = s.ignoreSigpipe ? '1' : '0';
  if (s.cgroups !== undefined && s.cgroups.length > 0) e['UO_SHIM_CGROUPS'] = s.cgroups.join('\n');
  if (s.holderCgroups !== undefined && s.holderCgroups.length > 0) e['UO_SHIM_HOLDER_CGROUPS'] = s.holderCgroups.join('\n');
  return e;
}

/** The shim's arguments: its event log, then the command (path, argv[0], args). */
export function encodeShimArgs(eventsFile: string, path: string, argv: readonly string[]): string[] {
  return [eventsFile, '--', path, ...argv];
}

// ---- shim → agent ----------------------------------------------------------------------------

export type ShimEvent =
  | { readonly t: 'shim'; readonly pid: number }
  | { readonly t: 'spawn'; readonly pid: number }
  /** slack: a command held for UO_SHIM_NOT_BEFORE reached its hold this many µs before the deadline (negative: after). */
  | { readonly t: 'exec'; readonly pid: number; readonly slack?: number }
  /** step: the set-up step that failed (version 2 shims), systemd's name, e.g. "CHDIR". */
  | { readonly t: 'exec-failed'; readonly pid: number; readonly errno: number; readonly status: number; readonly step?: string }
  /** at: CLOCK_MONOTONIC µs when the holder reaped it (newer shims). */
  | { readonly t: 'exit'; readonly pid: number; readonly code: ExitCode; readonly status: number; readonly at?: number }
  /** An sd_notify datagram: its sender (uid/gid undefined from a version-1 shim), its fields in
   *  order of first appearance (a repeated key keeps its first value, as systemd's
   *  strv_find_startswith() finds it). */
  | { readonly t: 'notify'; readonly pid: number; readonly uid?: number; readonly gid?: number; readonly fields: Record<string, string> }
  /** A datagram the shim did not pass on (version 3): oversized, nul, long. */
  | { readonly t: 'notify-dropped'; readonly pid: number; readonly uid?: number; readonly gid?: number; readonly reason: string; readonly bytes: number }
  /** A set-up step the kernel refused and that was skipped as systemd skips it (version 2): OOM_ADJUST, NICE (value: the level applied instead). */
  | { readonly t: 'note'; readonly pid: number; readonly step: string; readonly errno: number; readonly value?: string }
  | { readonly t: 'empty'; readonly at?: number };

/** The holder's last line, "empty" (with its AT field since issue 19: "empty 123456"). */
export const isEmptyLine = (line: string): boolean => line === 'empty' || line.startsWith('empty ');

/** One event-log line; undefined for a line this agent does not know. */
export function parseShimLine(line: string): ShimEvent | undefined {
  const [kind, a, b, c, ...rest] = line.split(' ');
  const n = (s: string | undefined): number => Number(s ?? NaN);
  switch (kind) {
    case 'shim': case 'spawn': return { t: kind, pid: n(a) };
    case 'exec': return { t: 'exec', pid: n(a), ...optionalInt('slack', b) };
    case 'exec-failed': return { t: 'exec-failed', pid: n(a), errno: n(b), status: n(c), ...(rest.length > 0 && rest.join(' ') !== '' ? { step: rest.join(' ') } : {}) };
    case 'exit': return b === 'exited' || b === 'killed' || b === 'dumped' ? { t: 'exit', pid: n(a), code: b, status: n(c), ...optionalInt('at', rest[0]) } : undefined;
    case 'notify': return { t: 'notify', pid: n(a), fields: notifyFields(line.slice(line.indexOf(' ', 7) + 1).split('\x1e')) };
    case 'notify2': {
      let at = -1;
      for (let i = 0; i < 4 && (at = line.indexOf(' ', at + 1)) >= 0; i++) { /* the space before MESSAGE */ }
      return { t: 'notify', pid: n(a), ...creds(b, c), fields: notifyFields(at < 0 ? [] : unescape(line.slice(at + 1)).split('\n')) };
    }
    case 'notify-dropped': return { t: 'notify-dropped', pid: n(a), ...creds(b, c), reason: rest[0] ?? '', bytes: n(rest[1]) };
    case 'note': return { t: 'note', pid: n(a), step: b ?? '', errno: n(c), ...(rest.length > 0 ? { value: rest.join(' ') } : {}) };
    case 'empty': return { t: 'empty', ...optionalInt('at', a) };
    default: return undefined;
  }
}

/** { [key]: the field } when it is a decimal integer (a safe one), else nothing: a trailing field that is absent or garbled is left out. */
function optionalInt<K extends string>(key: K, field: string | undefined): { [P in K]?: number } {
  if (field === undefined || !/^-?\d{1,16}$/.test(field) || !Number.isSafeInteger(Number(field))) return {};
  return { [key]: Number(field) } as { [P in K]?: number };
}

/** KEY=VALUE assignments; a repeated key keeps its first value (systemd: strv_find_startswith()). */
function notifyFields(assignments: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const kv of assignments) {
    const eq = kv.indexOf('=');
    if (eq > 0 && !Object.hasOwn(fields, kv.slice(0, eq))) fields[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { ...fields };
}

/** A uid or gid field: undefined for -1 (none given) or anything that is not one. */
function credId(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return undefined;
  const v = Number(s);
  return v <= 0xfffffffe ? v : undefined;
}

function creds(uid: string | undefined, gid: string | undefined): { uid?: number; gid?: number } {
  const u = credId(uid), g = credId(gid);
  return { ...(u !== undefined ? { uid: u } : {}), ...(g !== undefined ? { gid: g } : {}) };
}

/** Undoes the shim's escaping (\xHH); bytes ≥ 0x80 were written as they came (UTF-8). */
function unescape(s: string): string {
  return s.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The version-3 line of a datagram (what a shim writes; for tests and tools). */
export function encodeNotifyLine(pid: number, uid: number, gid: number, message: string): string {
  return `notify2 ${pid} ${uid} ${gid} ${message.replace(/[\x00-\x1f\x7f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}
