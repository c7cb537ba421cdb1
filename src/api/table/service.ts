// [Service] directives of systemd.service(5) and systemd.kill(5). Almost all are the engine's:
// src/engine/config.ts reads them into ServiceConfig and the state machine acts on them.

import { row, honours, STR, LIST, LINES, BOOL, SPAN, CMDS, SIG, EXIT, enumOf, intRange, type Directive, type Kind, type Applied, type NotApplied } from './kinds.ts';

export const SERVICE_TYPES = ['simple', 'exec', 'forking', 'oneshot', 'dbus', 'notify', 'notify-reload', 'idle'] as const;
export const RESTART_VALUES = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always'] as const;
export const RESTART_MODES = ['normal', 'direct', 'debug'] as const;
export const KILL_MODES = ['control-group', 'mixed', 'process', 'none'] as const;
export const NOTIFY_ACCESS = ['none', 'main', 'exec', 'all'] as const;
const FAILURE_MODES = ['terminate', 'abort', 'kill'];

const engine: Applied = { applier: 'engine' };
const NO_DBUS = 'nodes have no D-Bus for the agent to watch names on';
const NO_FDSTORE = 'the file descriptor store and socket activation are not implemented';
const d = (name: string, kind: Kind, doc: string, how: Applied | NotApplied): Directive => row('Service', name, kind, doc, how);

export const SERVICE: Directive[] = [
  d('Type', enumOf(SERVICE_TYPES), 'Process start-up type (Type=): simple (default when execStart is set), exec, forking, oneshot (default without execStart), notify, notify-reload, idle; dbus is accepted and treated like simple (no D-Bus on nodes).', { applier: 'engine', gap: (v) => (v === 'dbus' ? 'Type=dbus runs like Type=simple: there is no D-Bus on nodes, so BusName= is never waited for' : undefined) }),
  d('ExitType', enumOf(['main', 'cgroup']), 'When the service is considered stopped (ExitType=, default main).', { applier: 'cgroup', reason: 'ExitType=cgroup needs a cgroup per unit (issue 13); main is what the engine does', protects: false, gap: honours('ExitType=cgroup needs a cgroup per unit (issue 13)', 'main') }),
  d('RemainAfterExit', BOOL, 'Consider the service active even when all its processes exited (RemainAfterExit=, default no).', engine),
  d('GuessMainPID', BOOL, 'Guess the main PID of a forking service without PIDFile= (GuessMainPID=, default yes).', engine),
  d('PIDFile', STR, 'Path of the PID file of a forking service (PIDFile=); the runner reads it once the start command exited.', { applier: 'runner' }),
  d('BusName', STR, 'The D-Bus name of a Type=dbus service (BusName=); required by Type=dbus, not watched.', { applier: 'not-yet', reason: NO_DBUS, protects: false }),
  d('ExecCondition', CMDS, 'Commands run before ExecStartPre=; exit 1–254 skips the start without failing, 255 or a signal fails it (ExecCondition=).', engine),
  d('ExecStartPre', CMDS, 'Commands run before ExecStart= (ExecStartPre=), systemd command-line syntax.', engine),
  d('ExecStart', CMDS, 'The command line(s) to start the service (ExecStart=), systemd command-line syntax: prefixes -@:+!, quotes, C escapes, $VAR and ${VAR}. Exactly one unless type is oneshot.', engine),
  d('ExecStartPost', CMDS, 'Commands run after the service became ready (ExecStartPost=).', engine),
  d('ExecReload', CMDS, 'Commands to reload the service configuration (ExecReload=); $MAINPID is set.', engine),
  d('ExecStop', CMDS, 'Commands to stop the service (ExecStop=); then the KillMode= procedure applies.', engine),
  d('ExecStopPost', CMDS, 'Commands run after the service stopped (ExecStopPost=); $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS are set.', engine),
  d('RestartSec', SPAN, 'Time to sleep before an automatic restart (RestartSec=, default 100ms).', engine),
  d('RestartSteps', intRange(0), 'Number of steps to grow the restart delay from RestartSec= to RestartMaxDelaySec= (RestartSteps=, default 0).', engine),
  d('RestartMaxDelaySec', SPAN, 'Longest restart delay when RestartSteps= is set (RestartMaxDelaySec=, default infinity).', engine),
  d('TimeoutStartSec', SPAN, 'Time to wait for start-up (TimeoutStartSec=, default 90s); 0 or infinity disables.', engine),
  d('TimeoutStopSec', SPAN, 'Time to wait for each stop phase (TimeoutStopSec=, default 90s).', engine),
  d('TimeoutAbortSec', SPAN, 'Time to wait when aborting after a watchdog timeout (TimeoutAbortSec=, default TimeoutStopSec=).', engine),
  d('TimeoutSec', SPAN, 'Shorthand setting both TimeoutStartSec= and TimeoutStopSec= (TimeoutSec=).', engine),
  d('TimeoutStartFailureMode', enumOf(FAILURE_MODES), 'What to do when the start times out (TimeoutStartFailureMode=, default terminate): terminate sends KillSignal=, abort WatchdogSignal= (SIGABRT, then TimeoutAbortSec=), kill FinalKillSignal= at once; Result=timeout.', engine),
  d('TimeoutStopFailureMode', enumOf(FAILURE_MODES), 'What to do when the stop times out (TimeoutStopFailureMode=, default terminate): for ExecStop=, the SIGTERM phase and ExecStopPost=, abort sends WatchdogSignal= (SIGABRT, then TimeoutAbortSec=), kill FinalKillSignal= at once; Result=timeout.', engine),
  d('RuntimeMaxSec', SPAN, 'Maximum time the service may run; then it is stopped with Result=timeout (RuntimeMaxSec=, default infinity).', engine),
  d('RuntimeRandomizedExtraSec', SPAN, 'Random extra, up to this much, added to RuntimeMaxSec= each time the unit enters running (RuntimeRandomizedExtraSec=, default 0).', engine),
  d('WatchdogSec', SPAN, 'Watchdog timeout: the service must send WATCHDOG=1 at least this often (WatchdogSec=, default 0 = off).', engine),
  d('Restart', enumOf(RESTART_VALUES), 'When to restart the service automatically (Restart=, default no). Quote "no" in YAML: kubectl reads a bare no as the boolean false.', engine),
  d('RestartMode', enumOf(RESTART_MODES), 'Whether dependencies see the failure on restart (RestartMode=, default normal).', engine),
  d('SuccessExitStatus', EXIT, 'Additional exit codes and signals considered a clean exit (SuccessExitStatus=).', engine),
  d('RestartPreventExitStatus', EXIT, 'Exit codes and signals that prevent an automatic restart (RestartPreventExitStatus=).', engine),
  d('RestartForceExitStatus', EXIT, 'Exit codes and signals that force an automatic restart (RestartForceExitStatus=).', engine),
  d('NotifyAccess', enumOf(NOTIFY_ACCESS), 'Who may send sd_notify messages (NotifyAccess=, default none; main for notify types).', engine),
  d('ReloadSignal', SIG, 'Signal sent by a Type=notify-reload service\'s reload (ReloadSignal=, default SIGHUP).', engine),
  d('OOMPolicy', enumOf(['continue', 'stop', 'kill']), 'What to do when the kernel OOM killer kills a process (OOMPolicy=, default stop).', { applier: 'runner', protects: false }), // the runner reads the unit's cgroup's OOM kill counter (src/runner/cgroup/oom.ts); the engine acts
  d('FileDescriptorStoreMax', intRange(0), 'Size of the file descriptor store (FileDescriptorStoreMax=, default 0).', { applier: 'not-yet', reason: NO_FDSTORE, protects: false, gap: honours(NO_FDSTORE, 0) }),
  d('FileDescriptorStorePreserve', enumOf(['no', 'yes', 'restart']), 'Keep the file descriptor store while the unit is stopped (FileDescriptorStorePreserve=, default no).', { applier: 'not-yet', reason: NO_FDSTORE, protects: false, gap: honours(NO_FDSTORE, 'no') }),
  d('NonBlocking', BOOL, 'Set O_NONBLOCK on passed sockets (NonBlocking=, default no).', { applier: 'not-yet', reason: NO_FDSTORE, protects: false }),
  d('Sockets', LIST, 'Socket units whose file descriptors are passed (Sockets=).', { applier: 'not-yet', reason: NO_FDSTORE, protects: false }),
  d('OpenFile', LINES, 'Files opened by the manager and passed as file descriptors, "PATH[:NAME[:OPTIONS]]" (OpenFile=).', { applier: 'not-yet', reason: NO_FDSTORE, protects: false }),
  d('USBFunctionDescriptors', STR, 'USB FunctionFS descriptors written to ep0 (USBFunctionDescriptors=).', { applier: 'not-yet', reason: 'USB FunctionFS activation needs socket activation', protects: false }),
  d('USBFunctionStrings', STR, 'USB FunctionFS strings written to ep0 (USBFunctionStrings=).', { applier: 'not-yet', reason: 'USB FunctionFS activation needs socket activation', protects: false }),
  d('PermissionsStartOnly', BOOL, 'Deprecated: apply User=, Group= and the sandbox to ExecStart= only (PermissionsStartOnly=, default no); use the "+" prefix instead.', { applier: 'not-yet', reason: 'deprecated by systemd; the runner applies User= to every command: use the "+" prefix on the commands that need root', protects: false }),
  d('RootDirectoryStartOnly', BOOL, 'Apply RootDirectory= to ExecStart= only (RootDirectoryStartOnly=, default no).', { applier: 'not-yet', reason: 'RootDirectory= applies to every command', protects: false }),
  // systemd.kill(5)
  d('KillMode', enumOf(KILL_MODES), 'How processes of the unit are killed on stop (KillMode=, default control-group). Without a cgroup per unit (issue 13), control-group means the process group and the descendants the shim holds.', engine),
  d('KillSignal', SIG, 'First signal sent on stop (KillSignal=, default SIGTERM).', engine),
  d('RestartKillSignal', SIG, 'Signal sent when stopping for a restart (RestartKillSignal=, default KillSignal=).', engine),
  d('SendSIGHUP', BOOL, 'Send SIGHUP right after KillSignal= (SendSIGHUP=, default no).', engine),
  d('SendSIGKILL', BOOL, 'Escalate to FinalKillSignal= when processes survive TimeoutStopSec= (SendSIGKILL=, default yes).', engine),
  d('FinalKillSignal', SIG, 'Signal sent when escalating (FinalKillSignal=, default SIGKILL).', engine),
  d('WatchdogSignal', SIG, 'Signal sent on a watchdog timeout (WatchdogSignal=, default SIGABRT).', engine),
];
