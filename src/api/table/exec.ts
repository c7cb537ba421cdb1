// systemd.exec(5), the execution environment of every command: paths, identity, process
// properties, environment, standard I/O, logging, resource limits. The runner resolves
// (users, environment); the shim applies between fork() and execve().

import { rlimitProblem, RLIMIT_KIND, type RlimitKind } from '../rlimit.ts';
import { row, honours, STR, LIST, LINES, BOOL, LIMIT, enumOf, intRange, type Directive, type Kind, type Applied, type NotApplied } from './kinds.ts';

export const OUTPUT_PATTERN = '^(inherit|null|tty|journal|kmsg|journal\\+console|kmsg\\+console|socket|(file|append|truncate):/.*|fd(:.+)?)$';
export const INPUT_PATTERN = '^(null|tty|tty-force|tty-fail|data|socket|file:/.*|fd(:.+)?)$';
export const UMASK_PATTERN = '^0?[0-7]{1,4}$';
/** The shape of a Limit*= value (soft[:hard]; sizes, time spans, +N/-N nice levels); src/api/rlimit.ts judges the value per resource. */
export const LIMIT_PATTERN = '^(infinity|[-+]?[0-9][0-9a-zA-Z. ]*)(:(infinity|[-+]?[0-9][0-9a-zA-Z. ]*))?$';
export const LIMITS = ['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NOFILE', 'AS', 'NPROC', 'MEMLOCK', 'LOCKS', 'SIGPENDING',
  'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME'] as const;
const SYSLOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const SYSLOG_FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

const runner: Applied = { applier: 'runner' };
const shim: Applied = { applier: 'shim' };
const LOGS = 'captured output goes to the unit\'s log file, which has no journal fields, levels or rate limits';
const logs: NotApplied = { applier: 'not-yet', reason: LOGS, protects: false };
const TTY = 'the shim opens TTYPath= but does not reset, hang up or size the terminal';
const OUT_APPLIED = /^(inherit|null|journal|(file|append|truncate):.*)$/;
const IN_APPLIED = /^(null|tty|tty-force|tty-fail|data|file:.*)$/;
/** What a Limit*= value is, by how systemd reads it (src/api/rlimit.ts converts it for the shim). */
const LIMIT_UNITS: Readonly<Record<RlimitKind, string>> = {
  size: 'bytes, with binary suffixes K, M, G, T, P, E ("64K", "1.5M")',
  sec: 'seconds, or a time span ("1min", "90s"), rounded up to whole seconds',
  usec: 'microseconds, or a time span ("500ms")',
  nice: '0–40, or a nice level "+N"/"-N" (-20…19, stored as 20 - N)',
  count: 'a plain number',
};
const d = (name: string, kind: Kind, doc: string, how: Applied | NotApplied): Directive => row('Service', name, kind, doc, how);

export const EXEC: Directive[] = [
  // Paths
  d('WorkingDirectory', STR, 'Working directory of executed processes (WorkingDirectory=, default /; the home directory with "~"); a "-" prefix ignores a missing one.', shim),
  d('RootDirectory', STR, 'Root directory for executed processes, chroot(2) (RootDirectory=).', { applier: 'shim', protects: true }),
  d('ExecSearchPath', LIST, 'Where to look for a command given without a "/" (ExecSearchPath=, default the manager\'s PATH).', { applier: 'not-yet', reason: 'the shim searches the default PATH', protects: false }),
  // Identity
  d('User', STR, 'User name or UID the processes run as (User=); looked up in the node\'s /etc/passwd.', { applier: 'runner', protects: true }),
  d('Group', STR, 'Group name or GID the processes run as (Group=, default the user\'s group).', { applier: 'runner', protects: true }),
  d('SupplementaryGroups', LIST, 'Supplementary groups (SupplementaryGroups=), added to the user\'s groups from /etc/group.', { applier: 'runner', protects: true }),
  d('SetLoginEnvironment', BOOL, 'Set $HOME, $LOGNAME, $SHELL for the user even without PAMName= (SetLoginEnvironment=).', { applier: 'not-yet', reason: 'the runner sets them whenever User= is set', protects: false }),
  d('PAMName', STR, 'Open a PAM session with this service name (PAMName=).', { applier: 'not-yet', reason: 'no PAM sessions', protects: false }),
  d('UMask', { t: 'string', pattern: UMASK_PATTERN }, 'File mode creation mask, octal (UMask=, default 0022).', { applier: 'shim', protects: true }),
  // Process properties
  d('Nice', intRange(-20, 19), 'Scheduling priority, setpriority(2) (Nice=, default 0).', shim),
  d('OOMScoreAdjust', intRange(-1000, 1000), 'OOM killer score adjustment, /proc/self/oom_score_adj (OOMScoreAdjust=); a value the kernel refuses is noted and skipped, as systemd does.', shim),
  d('CoredumpFilter', LIST, 'Memory mappings written to core dumps, /proc/self/coredump_filter (CoredumpFilter=): names such as private-anonymous, or a hex mask.', { applier: 'not-yet', reason: 'the shim does not write coredump_filter yet', protects: false }),
  d('IOSchedulingClass', enumOf(['realtime', 'best-effort', 'idle', 'none']), 'I/O scheduling class, ioprio_set(2) (IOSchedulingClass=, default none).', shim),
  d('IOSchedulingPriority', intRange(0, 7), 'I/O scheduling priority within the class, 0 highest (IOSchedulingPriority=, default 4).', shim),
  d('CPUSchedulingPolicy', enumOf(['other', 'batch', 'idle', 'fifo', 'rr']), 'CPU scheduling policy, sched_setscheduler(2) (CPUSchedulingPolicy=, default other).', shim),
  d('CPUSchedulingPriority', intRange(0, 99), 'Real-time priority for fifo and rr, 1–99 (CPUSchedulingPriority=).', shim),
  d('CPUSchedulingResetOnFork', BOOL, 'Children do not inherit a real-time policy (CPUSchedulingResetOnFork=, default no).', shim),
  d('CPUAffinity', { t: 'list', pattern: '^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$' }, 'CPUs the processes may run on, sched_setaffinity(2) (CPUAffinity=): indices and ranges like "0 2-3" or "0,2-3" ("numa" is not supported).', shim),
  d('NUMAPolicy', enumOf(['default', 'preferred', 'bind', 'interleave', 'local']), 'NUMA memory policy, set_mempolicy(2) (NUMAPolicy=, default default).', { applier: 'not-yet', reason: 'the shim does not set a NUMA policy yet', protects: false, gap: honours('the shim does not set a NUMA policy yet', 'default') }),
  d('NUMAMask', STR, 'NUMA nodes of NUMAPolicy= (NUMAMask=), like "0-1".', { applier: 'not-yet', reason: 'the shim does not set a NUMA policy yet', protects: false }),
  d('TimerSlackNSec', { t: 'string', pattern: '^[0-9]+(\\.[0-9]+)?\\s*(ns|nsec|us|usec|ms|msec|s|sec)?$' }, 'Timer slack, prctl(PR_SET_TIMERSLACK) (TimerSlackNSec=, nanoseconds unless a unit is given).', { applier: 'not-yet', reason: 'the shim does not set the timer slack yet', protects: false }),
  d('Personality', enumOf(['x86', 'x86-64', 'arm', 'arm64', 'arm-be', 'arm64-be', 'ppc', 'ppc-le', 'ppc64', 'ppc64-le', 's390', 's390x', 'mips', 'mips-le', 'mips64', 'mips64-le', 'loongarch64', 'riscv64', 'alpha', 'ia64', 'parisc', 'parisc64', 'sparc', 'sparc64', 'sh', 'sh64', 'm68k', 'tilegx', 'cris', 'arc', 'arc-be']), 'Execution domain, personality(2) (Personality=).', { applier: 'not-yet', reason: 'the shim does not set a personality yet', protects: false }),
  d('IgnoreSIGPIPE', BOOL, 'Ignore SIGPIPE in executed processes (IgnoreSIGPIPE=, default yes); no leaves it at its default action.', shim),
  d('MemoryKSM', BOOL, 'Let the kernel merge identical memory pages, prctl(PR_SET_MEMORY_MERGE) (MemoryKSM=).', { applier: 'not-yet', reason: 'the shim does not enable KSM yet', protects: false }),
  // Environment
  d('Environment', { t: 'environment' }, 'Environment variables, each "NAME=value" (Environment=).', runner),
  d('EnvironmentFile', LINES, 'Files to read environment variables from (EnvironmentFile=); a leading "-" ignores a missing file.', runner),
  d('PassEnvironment', LIST, 'Variables passed from the agent\'s environment (PassEnvironment=).', runner),
  d('UnsetEnvironment', LIST, 'Variables or assignments removed from the environment (UnsetEnvironment=).', runner),
  // Standard I/O
  d('StandardInput', { t: 'string', pattern: INPUT_PATTERN }, 'Standard input (StandardInput=, default null): null, tty, tty-force, tty-fail (TTYPath=), data (StandardInputText=/StandardInputData=), file:PATH; socket and fd need socket activation.', { applier: 'shim', gap: (v) => (IN_APPLIED.test(String(v)) ? undefined : `StandardInput=${String(v)} needs socket activation, which is not implemented`) }),
  d('StandardOutput', { t: 'string', pattern: OUTPUT_PATTERN }, 'Standard output (StandardOutput=, default journal): journal (the unit\'s captured log), null, inherit, file:PATH, append:PATH, truncate:PATH; tty, kmsg, +console, socket and fd are not applied.', { applier: 'shim', gap: (v) => (OUT_APPLIED.test(String(v)) ? undefined : `StandardOutput=${String(v)} is captured into the unit's log instead`) }),
  d('StandardError', { t: 'string', pattern: OUTPUT_PATTERN }, 'Standard error (StandardError=, default inherit: same as StandardOutput=).', { applier: 'shim', gap: (v) => (OUT_APPLIED.test(String(v)) ? undefined : `StandardError=${String(v)} is captured into the unit's log instead`) }),
  d('StandardInputText', LINES, 'Text passed on standard input with StandardInput=data, one line per assignment, C escapes and specifiers resolved (StandardInputText=).', shim),
  d('StandardInputData', LINES, 'Base64 data passed on standard input with StandardInput=data (StandardInputData=).', shim),
  d('TTYPath', STR, 'Terminal device for StandardInput=tty and friends (TTYPath=, default /dev/console).', shim),
  d('TTYReset', BOOL, 'Reset the terminal before and after use (TTYReset=, default no).', { applier: 'not-yet', reason: TTY, protects: false }),
  d('TTYVHangup', BOOL, 'Hang up the terminal before and after use (TTYVHangup=, default no).', { applier: 'not-yet', reason: TTY, protects: false }),
  d('TTYVTDisallocate', BOOL, 'Deallocate a virtual console after use (TTYVTDisallocate=, default no).', { applier: 'not-yet', reason: TTY, protects: false }),
  d('TTYRows', intRange(0, 65535), 'Terminal rows (TTYRows=).', { applier: 'not-yet', reason: TTY, protects: false }),
  d('TTYColumns', intRange(0, 65535), 'Terminal columns (TTYColumns=).', { applier: 'not-yet', reason: TTY, protects: false }),
  // Logging
  d('SyslogIdentifier', STR, 'Identifier for logged lines (SyslogIdentifier=, default the process name).', logs),
  d('SyslogFacility', enumOf(SYSLOG_FACILITIES), 'Syslog facility of logged lines (SyslogFacility=, default daemon).', logs),
  d('SyslogLevel', enumOf(SYSLOG_LEVELS), 'Default level of logged lines (SyslogLevel=, default info).', logs),
  d('SyslogLevelPrefix', BOOL, 'Read "<N>" level prefixes on logged lines (SyslogLevelPrefix=, default yes).', logs),
  d('LogLevelMax', enumOf(SYSLOG_LEVELS), 'Drop logged lines above this level (LogLevelMax=).', logs),
  d('LogRateLimitIntervalSec', { t: 'timespan' }, 'Log rate limiting interval (LogRateLimitIntervalSec=).', logs),
  d('LogRateLimitBurst', intRange(0), 'Lines allowed per LogRateLimitIntervalSec= (LogRateLimitBurst=).', logs),
  d('LogExtraFields', LINES, 'Journal fields added to logged lines, "FIELD=value" (LogExtraFields=).', logs),
  d('LogFilterPatterns', LINES, 'Regular expressions of lines to keep or, with "~", drop (LogFilterPatterns=).', logs),
  d('LogNamespace', STR, 'Journal namespace the unit logs to (LogNamespace=).', logs),
  d('UtmpIdentifier', STR, 'utmp/wtmp entry of a terminal service (UtmpIdentifier=).', { applier: 'not-yet', reason: 'no utmp records', protects: false }),
  d('UtmpMode', enumOf(['init', 'login', 'user']), 'Kind of utmp record (UtmpMode=, default init).', { applier: 'not-yet', reason: 'no utmp records', protects: false }),
  // Resource limits
  ...LIMITS.map((l) => d(`Limit${l}`, LIMIT,
    `Resource limit RLIMIT_${l}, setrlimit(2) (Limit${l}=): "soft:hard" or one value for both; "infinity" for no limit; ${LIMIT_UNITS[RLIMIT_KIND[l]!]}.`,
    { applier: 'shim', protects: true, gap: (v) => { const p = rlimitProblem(l, v); return p === undefined ? undefined : `Limit${l}=${String(v)} is not valid (${p}); systemd ignores it and keeps the default`; } })),
];
