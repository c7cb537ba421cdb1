// The directives a ServiceUnit expresses: the one table from which the CRD schema, the offline
// validator, the converter and the renderer are all derived. Names and docs follow
// systemd.unit(5), systemd.service(5), systemd.exec(5) and systemd.kill(5) of systemd 257.

import { TIMESPAN_PATTERN } from './timespan.ts';
import { SIGNAL_PATTERN, EXIT_STATUS_PATTERN } from './signals.ts';

export type Section = 'Unit' | 'Service' | 'Install';

/** How a directive's value is read, stored in the spec and written back. */
export type Kind =
  | { readonly t: 'string'; readonly pattern?: string }
  | { readonly t: 'list' }
  | { readonly t: 'bool' }
  | { readonly t: 'timespan' }
  | { readonly t: 'int'; readonly min?: number; readonly max?: number }
  | { readonly t: 'enum'; readonly values: readonly string[] }
  | { readonly t: 'commands' }
  | { readonly t: 'environment' }
  | { readonly t: 'lines' }
  | { readonly t: 'exitStatus' }
  | { readonly t: 'signal' }
  | { readonly t: 'limit' }
  | { readonly t: 'condition' };

export interface Directive {
  readonly section: Section;
  /** The systemd name, e.g. "ExecStart". */
  readonly name: string;
  /** The spec field, e.g. "execStart". */
  readonly field: string;
  readonly kind: Kind;
  readonly doc: string;
}

export const SERVICE_TYPES = ['simple', 'exec', 'forking', 'oneshot', 'dbus', 'notify', 'notify-reload', 'idle'] as const;
export const RESTART_VALUES = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always'] as const;
export const RESTART_MODES = ['normal', 'direct', 'debug'] as const;
export const KILL_MODES = ['control-group', 'mixed', 'process', 'none'] as const;
export const NOTIFY_ACCESS = ['none', 'main', 'exec', 'all'] as const;
export const EMERGENCY_ACTIONS = ['none', 'reboot', 'reboot-force', 'reboot-immediate', 'poweroff', 'poweroff-force',
  'poweroff-immediate', 'exit', 'exit-force', 'soft-reboot', 'soft-reboot-force', 'kexec', 'kexec-force', 'halt',
  'halt-force', 'halt-immediate'] as const;
export const OUTPUT_PATTERN = '^(inherit|null|tty|journal|kmsg|journal\\+console|kmsg\\+console|socket|(file|append|truncate):/.*|fd(:.+)?)$';
export const INPUT_PATTERN = '^(null|tty|tty-force|tty-fail|data|socket|file:/.*|fd(:.+)?)$';
export const LIMIT_PATTERN = '^(infinity|[0-9]+(\\.[0-9]+)?[KMGTPE]?|[0-9]+(us|ms|s|min|h|d|w)?)(:(infinity|[0-9]+(\\.[0-9]+)?[KMGTPE]?|[0-9]+(us|ms|s|min|h|d|w)?))?$';
export const UMASK_PATTERN = '^0?[0-7]{1,4}$';
export const FILE_MODE_PATTERN = '^0?[0-7]{1,4}$';

/** Condition*= / Assert*= checks we carry (systemd.unit(5), "Conditions and Asserts"). */
export const CONDITION_TYPES = ['PathExists', 'PathExistsGlob', 'PathIsDirectory', 'PathIsSymbolicLink',
  'PathIsMountPoint', 'PathIsReadWrite', 'PathIsEncrypted', 'DirectoryNotEmpty', 'FileNotEmpty', 'FileIsExecutable',
  'User', 'Group', 'Host', 'KernelCommandLine', 'KernelVersion', 'Virtualization', 'Security', 'Capability',
  'ACPower', 'NeedsUpdate', 'FirstBoot', 'Architecture', 'Firmware', 'CPUs', 'CPUFeature', 'Environment',
  'Memory', 'ControlGroupController', 'OSRelease', 'Credential'] as const;

const STR = { t: 'string' } as const;
const LIST = { t: 'list' } as const;
const BOOL = { t: 'bool' } as const;
const SPAN = { t: 'timespan' } as const;
const CMDS = { t: 'commands' } as const;
const SIG = { t: 'signal' } as const;
const LIMIT = { t: 'limit' } as const;
const EXIT = { t: 'exitStatus' } as const;
const enumOf = (values: readonly string[]): Kind => ({ t: 'enum', values });

/** systemd's name to our camelCase field: ExecStart → execStart, PIDFile → pidFile. */
export function fieldName(name: string): string {
  const special: Record<string, string> = { UMask: 'umask', TTYPath: 'ttyPath' };
  if (special[name]) return special[name];
  const m = /^([A-Z]+)(?=[A-Z][a-z]|$)/.exec(name);
  if (m && m[1]!.length > 1) return m[1]!.toLowerCase() + name.slice(m[1]!.length);
  return name[0]!.toLowerCase() + name.slice(1);
}

const d = (section: Section, name: string, kind: Kind, doc: string): Directive => ({ section, name, field: fieldName(name), kind, doc });

const UNIT: Directive[] = [
  d('Unit', 'Description', STR, 'A short human readable title of the unit (Description=).'),
  d('Unit', 'Documentation', LIST, 'URIs referencing documentation for this unit (Documentation=): http(s)://, file:, info:, man:.'),
  d('Unit', 'Wants', LIST, 'Weak requirement dependencies on other units (Wants=).'),
  d('Unit', 'Requires', LIST, 'Requirement dependencies on other units (Requires=).'),
  d('Unit', 'Requisite', LIST, 'Like Requires=, but the units must already be active (Requisite=).'),
  d('Unit', 'BindsTo', LIST, 'Like Requires=, and stop when the other unit stops (BindsTo=).'),
  d('Unit', 'PartOf', LIST, 'Stop and restart with the listed units (PartOf=).'),
  d('Unit', 'Upholds', LIST, 'Keep the listed units running (Upholds=).'),
  d('Unit', 'Conflicts', LIST, 'Negative requirement dependencies (Conflicts=).'),
  d('Unit', 'Before', LIST, 'Ordering: start before the listed units (Before=).'),
  d('Unit', 'After', LIST, 'Ordering: start after the listed units (After=).'),
  d('Unit', 'OnFailure', LIST, 'Units activated when this unit enters the failed state (OnFailure=).'),
  d('Unit', 'OnSuccess', LIST, 'Units activated when this unit enters the inactive state (OnSuccess=).'),
  d('Unit', 'PropagatesReloadTo', LIST, 'Reloads propagated to the listed units (PropagatesReloadTo=).'),
  d('Unit', 'ReloadPropagatedFrom', LIST, 'Reload when the listed units reload (ReloadPropagatedFrom=).'),
  d('Unit', 'JoinsNamespaceOf', LIST, 'Share namespaces with the listed units (JoinsNamespaceOf=).'),
  d('Unit', 'RequiresMountsFor', LIST, 'Absolute paths whose mounts are required (RequiresMountsFor=).'),
  d('Unit', 'WantsMountsFor', LIST, 'Absolute paths whose mounts are wanted (WantsMountsFor=).'),
  d('Unit', 'DefaultDependencies', BOOL, 'Whether implicit default dependencies are added (DefaultDependencies=, default yes).'),
  d('Unit', 'StopWhenUnneeded', BOOL, 'Stop the unit when no longer used (StopWhenUnneeded=).'),
  d('Unit', 'RefuseManualStart', BOOL, 'Refuse manual start requests (RefuseManualStart=).'),
  d('Unit', 'RefuseManualStop', BOOL, 'Refuse manual stop requests (RefuseManualStop=).'),
  d('Unit', 'AllowIsolate', BOOL, 'Allow isolate requests (AllowIsolate=).'),
  d('Unit', 'IgnoreOnIsolate', BOOL, 'Do not stop on isolate (IgnoreOnIsolate=).'),
  d('Unit', 'JobTimeoutSec', SPAN, 'Timeout for a queued job (JobTimeoutSec=).'),
  d('Unit', 'StartLimitIntervalSec', SPAN, 'Start rate limiting interval (StartLimitIntervalSec=, default 10s); 0 disables rate limiting. Every start counts, automatic restarts included.'),
  d('Unit', 'StartLimitBurst', { t: 'int', min: 0 }, 'Starts allowed per StartLimitIntervalSec= (StartLimitBurst=, default 5).'),
  d('Unit', 'StartLimitAction', enumOf(EMERGENCY_ACTIONS), 'Action when the start limit is hit (StartLimitAction=, default none).'),
  d('Unit', 'FailureAction', enumOf(EMERGENCY_ACTIONS), 'Action when the unit fails (FailureAction=).'),
  d('Unit', 'SuccessAction', enumOf(EMERGENCY_ACTIONS), 'Action when the unit stops successfully (SuccessAction=).'),
  d('Unit', 'SourcePath', STR, 'The configuration file this unit was generated from (SourcePath=).'),
];

const CONDITIONS: Directive[] = ['Condition', 'Assert'].flatMap((family) => CONDITION_TYPES.map((c) =>
  d('Unit', `${family}${c}`, { t: 'condition' },
    `${family}${c}= checks, in order; a leading "|" makes a check a triggering (OR) one, "!" negates it. ${family === 'Condition' ? 'A failed condition skips the start (the unit stays inactive, no error).' : 'A failed assertion fails the start.'}`)));

const SERVICE: Directive[] = [
  d('Service', 'Type', enumOf(SERVICE_TYPES), 'Process start-up type (Type=): simple (default when execStart is set), exec, forking, oneshot (default without execStart), notify, notify-reload, idle; dbus is accepted and treated like simple (no D-Bus on nodes).'),
  d('Service', 'ExitType', enumOf(['main', 'cgroup']), 'When the service is considered stopped (ExitType=, default main).'),
  d('Service', 'RemainAfterExit', BOOL, 'Consider the service active even when all its processes exited (RemainAfterExit=, default no).'),
  d('Service', 'GuessMainPID', BOOL, 'Guess the main PID of a forking service without PIDFile= (GuessMainPID=, default yes).'),
  d('Service', 'PIDFile', STR, 'Path of the PID file of a forking service (PIDFile=).'),
  d('Service', 'BusName', STR, 'The D-Bus name of a Type=dbus service (BusName=); carried, not acted on.'),
  d('Service', 'ExecCondition', CMDS, 'Commands run before ExecStartPre=; exit 1–254 skips the start without failing, 255 or a signal fails it (ExecCondition=).'),
  d('Service', 'ExecStartPre', CMDS, 'Commands run before ExecStart= (ExecStartPre=), systemd command-line syntax.'),
  d('Service', 'ExecStart', CMDS, 'The command line(s) to start the service (ExecStart=), systemd command-line syntax: prefixes -@:+!, quotes, C escapes, $VAR and ${VAR}. Exactly one unless type is oneshot.'),
  d('Service', 'ExecStartPost', CMDS, 'Commands run after the service became ready (ExecStartPost=).'),
  d('Service', 'ExecReload', CMDS, 'Commands to reload the service configuration (ExecReload=); $MAINPID is set.'),
  d('Service', 'ExecStop', CMDS, 'Commands to stop the service (ExecStop=); then the KillMode= procedure applies.'),
  d('Service', 'ExecStopPost', CMDS, 'Commands run after the service stopped (ExecStopPost=); $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS are set.'),
  d('Service', 'RestartSec', SPAN, 'Time to sleep before an automatic restart (RestartSec=, default 100ms).'),
  d('Service', 'RestartSteps', { t: 'int', min: 0 }, 'Number of steps to grow the restart delay from RestartSec= to RestartMaxDelaySec= (RestartSteps=, default 0).'),
  d('Service', 'RestartMaxDelaySec', SPAN, 'Longest restart delay when RestartSteps= is set (RestartMaxDelaySec=, default infinity).'),
  d('Service', 'TimeoutStartSec', SPAN, 'Time to wait for start-up (TimeoutStartSec=, default 90s); 0 or infinity disables.'),
  d('Service', 'TimeoutStopSec', SPAN, 'Time to wait for each stop phase (TimeoutStopSec=, default 90s).'),
  d('Service', 'TimeoutAbortSec', SPAN, 'Time to wait when aborting after a watchdog timeout (TimeoutAbortSec=, default TimeoutStopSec=).'),
  d('Service', 'TimeoutSec', SPAN, 'Shorthand setting both TimeoutStartSec= and TimeoutStopSec= (TimeoutSec=).'),
  d('Service', 'TimeoutStartFailureMode', enumOf(['terminate', 'abort', 'kill']), 'What to do when the start times out (TimeoutStartFailureMode=, default terminate).'),
  d('Service', 'TimeoutStopFailureMode', enumOf(['terminate', 'abort', 'kill']), 'What to do when the stop times out (TimeoutStopFailureMode=, default terminate).'),
  d('Service', 'RuntimeMaxSec', SPAN, 'Maximum time the service may run; then it is stopped with Result=timeout (RuntimeMaxSec=, default infinity).'),
  d('Service', 'RuntimeRandomizedExtraSec', SPAN, 'Random extra added to RuntimeMaxSec= (RuntimeRandomizedExtraSec=).'),
  d('Service', 'WatchdogSec', SPAN, 'Watchdog timeout: the service must send WATCHDOG=1 at least this often (WatchdogSec=, default 0 = off).'),
  d('Service', 'Restart', enumOf(RESTART_VALUES), 'When to restart the service automatically (Restart=, default no).'),
  d('Service', 'RestartMode', enumOf(RESTART_MODES), 'Whether dependencies see the failure on restart (RestartMode=, default normal).'),
  d('Service', 'SuccessExitStatus', EXIT, 'Additional exit codes and signals considered a clean exit (SuccessExitStatus=).'),
  d('Service', 'RestartPreventExitStatus', EXIT, 'Exit codes and signals that prevent an automatic restart (RestartPreventExitStatus=).'),
  d('Service', 'RestartForceExitStatus', EXIT, 'Exit codes and signals that force an automatic restart (RestartForceExitStatus=).'),
  d('Service', 'NotifyAccess', enumOf(NOTIFY_ACCESS), 'Who may send sd_notify messages (NotifyAccess=, default none; main for notify types).'),
  d('Service', 'OOMPolicy', enumOf(['continue', 'stop', 'kill']), 'What to do when the kernel OOM killer kills a process (OOMPolicy=).'),
  d('Service', 'FileDescriptorStoreMax', { t: 'int', min: 0 }, 'Size of the file descriptor store (FileDescriptorStoreMax=); carried, not acted on.'),
  d('Service', 'NonBlocking', BOOL, 'Set O_NONBLOCK on passed sockets (NonBlocking=); carried, not acted on.'),
  // systemd.kill(5)
  d('Service', 'KillMode', enumOf(KILL_MODES), 'How processes of the unit are killed on stop (KillMode=, default control-group).'),
  d('Service', 'KillSignal', SIG, 'First signal sent on stop (KillSignal=, default SIGTERM).'),
  d('Service', 'RestartKillSignal', SIG, 'Signal sent when stopping for a restart (RestartKillSignal=, default KillSignal=).'),
  d('Service', 'SendSIGHUP', BOOL, 'Send SIGHUP right after KillSignal= (SendSIGHUP=, default no).'),
  d('Service', 'SendSIGKILL', BOOL, 'Escalate to FinalKillSignal= when processes survive TimeoutStopSec= (SendSIGKILL=, default yes).'),
  d('Service', 'FinalKillSignal', SIG, 'Signal sent when escalating (FinalKillSignal=, default SIGKILL).'),
  d('Service', 'WatchdogSignal', SIG, 'Signal sent on a watchdog timeout (WatchdogSignal=, default SIGABRT).'),
  // systemd.exec(5)
  d('Service', 'WorkingDirectory', STR, 'Working directory of executed processes (WorkingDirectory=); "-" prefix ignores a missing one, "~" means the home directory.'),
  d('Service', 'RootDirectory', STR, 'Root directory for executed processes (RootDirectory=).'),
  d('Service', 'User', STR, 'User name or UID the processes run as (User=).'),
  d('Service', 'Group', STR, 'Group name or GID the processes run as (Group=).'),
  d('Service', 'SupplementaryGroups', LIST, 'Supplementary groups (SupplementaryGroups=).'),
  d('Service', 'UMask', { t: 'string', pattern: UMASK_PATTERN }, 'File mode creation mask, octal (UMask=, default 0022).'),
  d('Service', 'Nice', { t: 'int', min: -20, max: 19 }, 'Scheduling priority (Nice=).'),
  d('Service', 'OOMScoreAdjust', { t: 'int', min: -1000, max: 1000 }, 'OOM score adjustment (OOMScoreAdjust=).'),
  d('Service', 'Environment', { t: 'environment' }, 'Environment variables, each "NAME=value" (Environment=).'),
  d('Service', 'EnvironmentFile', { t: 'lines' }, 'Files to read environment variables from (EnvironmentFile=); a leading "-" ignores a missing file.'),
  d('Service', 'PassEnvironment', LIST, 'Variables passed from the agent\'s environment (PassEnvironment=).'),
  d('Service', 'UnsetEnvironment', LIST, 'Variables or assignments removed from the environment (UnsetEnvironment=).'),
  d('Service', 'StandardInput', { t: 'string', pattern: INPUT_PATTERN }, 'Standard input (StandardInput=, default null).'),
  d('Service', 'StandardOutput', { t: 'string', pattern: OUTPUT_PATTERN }, 'Standard output (StandardOutput=, default journal): journal (captured logs), null, inherit, file:PATH, append:PATH, truncate:PATH.'),
  d('Service', 'StandardError', { t: 'string', pattern: OUTPUT_PATTERN }, 'Standard error (StandardError=, default inherit: same as StandardOutput=).'),
  d('Service', 'SyslogIdentifier', STR, 'Identifier for logged lines (SyslogIdentifier=).'),
  d('Service', 'TTYPath', STR, 'Terminal device for tty standard I/O (TTYPath=).'),
  d('Service', 'RuntimeDirectory', LIST, 'Directories created below /run for the service (RuntimeDirectory=).'),
  d('Service', 'StateDirectory', LIST, 'Directories created below /var/lib for the service (StateDirectory=).'),
  d('Service', 'CacheDirectory', LIST, 'Directories created below /var/cache (CacheDirectory=).'),
  d('Service', 'LogsDirectory', LIST, 'Directories created below /var/log (LogsDirectory=).'),
  d('Service', 'ConfigurationDirectory', LIST, 'Directories created below /etc (ConfigurationDirectory=).'),
  d('Service', 'RuntimeDirectoryMode', { t: 'string', pattern: FILE_MODE_PATTERN }, 'Mode of RuntimeDirectory= (RuntimeDirectoryMode=, default 0755).'),
  d('Service', 'StateDirectoryMode', { t: 'string', pattern: FILE_MODE_PATTERN }, 'Mode of StateDirectory= (StateDirectoryMode=).'),
  d('Service', 'RuntimeDirectoryPreserve', enumOf(['no', 'yes', 'restart']), 'Keep RuntimeDirectory= when stopped (RuntimeDirectoryPreserve=).'),
  ...['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NOFILE', 'AS', 'NPROC', 'MEMLOCK', 'LOCKS', 'SIGPENDING',
    'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME'].map((l) => d('Service', `Limit${l}`, LIMIT,
    `Resource limit RLIMIT_${l} (Limit${l}=): "soft:hard" or one value for both; "infinity" for no limit.`)),
];

const INSTALL: Directive[] = [
  d('Install', 'WantedBy', LIST, '[Install] WantedBy=; kept so the unit renders back unchanged, not acted on.'),
  d('Install', 'RequiredBy', LIST, '[Install] RequiredBy=; kept, not acted on.'),
  d('Install', 'UpheldBy', LIST, '[Install] UpheldBy=; kept, not acted on.'),
  d('Install', 'Alias', LIST, '[Install] Alias=; kept, not acted on.'),
  d('Install', 'Also', LIST, '[Install] Also=; kept, not acted on.'),
  d('Install', 'DefaultInstance', STR, '[Install] DefaultInstance=; kept, not acted on.'),
];

export const DIRECTIVES: readonly Directive[] = [...UNIT, ...CONDITIONS, ...SERVICE, ...INSTALL];

/** Older names systemd still reads, mapped to where they land. */
export const ALIASES: Readonly<Record<string, { readonly section: Section; readonly name: string }>> = {
  'Unit.StartLimitInterval': { section: 'Unit', name: 'StartLimitIntervalSec' },
  'Service.StartLimitInterval': { section: 'Unit', name: 'StartLimitIntervalSec' },
  'Service.StartLimitIntervalSec': { section: 'Unit', name: 'StartLimitIntervalSec' },
  'Service.StartLimitBurst': { section: 'Unit', name: 'StartLimitBurst' },
  'Service.StartLimitAction': { section: 'Unit', name: 'StartLimitAction' },
  'Service.FailureAction': { section: 'Unit', name: 'FailureAction' },
  'Service.SuccessAction': { section: 'Unit', name: 'SuccessAction' },
  'Unit.PropagateReloadTo': { section: 'Unit', name: 'PropagatesReloadTo' },
  'Unit.PropagateReloadFrom': { section: 'Unit', name: 'ReloadPropagatedFrom' },
  'Unit.BindTo': { section: 'Unit', name: 'BindsTo' },
};

const BY_NAME = new Map(DIRECTIVES.map((x) => [`${x.section}.${x.name}`, x]));
const BY_FIELD = new Map(DIRECTIVES.map((x) => [`${x.section}.${x.field}`, x]));

/** Finds a directive by section and systemd name, following the compatibility aliases. */
export function lookupDirective(section: string, name: string): Directive | undefined {
  const direct = BY_NAME.get(`${section}.${name}`);
  if (direct) return direct;
  const alias = ALIASES[`${section}.${name}`];
  return alias ? BY_NAME.get(`${alias.section}.${alias.name}`) : undefined;
}

export function directiveByField(section: Section, field: string): Directive | undefined {
  return BY_FIELD.get(`${section}.${field}`);
}

export function directivesOf(section: Section): Directive[] {
  return DIRECTIVES.filter((x) => x.section === section);
}

/** The spec key holding each section. */
export const SECTION_FIELD: Readonly<Record<Section, 'unit' | 'service' | 'install'>> = { Unit: 'unit', Service: 'service', Install: 'install' };

export const PATTERNS = { TIMESPAN_PATTERN, SIGNAL_PATTERN, EXIT_STATUS_PATTERN, OUTPUT_PATTERN, LIMIT_PATTERN };

/** Edit distance, for "did you mean" hints on unknown directives. */
export function suggestDirective(section: string, name: string): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const x of DIRECTIVES) {
    if (x.section !== section) continue;
    const dist = levenshtein(x.name.toLowerCase(), name.toLowerCase());
    if (dist < bestDist) { bestDist = dist; best = x.name; }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
