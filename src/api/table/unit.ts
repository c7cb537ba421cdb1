// [Unit] (systemd.unit(5)) and [Install] directives. Dependencies and jobs belong to the
// dependency engine of issue 16 (src/deps, wired by src/agent/deps.ts): a row is applied once an
// oracle set run through the real standalone agent (test/deps/agent-sets.test.ts) shows it doing
// what systemd 257 does; the others are reported, never refused. Conditions
// and asserts are checked by the runner before a start (src/conditions).

import { row, honours, STR, LIST, BOOL, SPAN, enumOf, intRange, EMERGENCY_ACTIONS, type Directive, type NotApplied } from './kinds.ts';

const DEP = 'not applied as checked yet (dependency engine, issue 16): the agent\'s dependency engine reads it, but what it does here is not yet tested against systemd';
const JOB = 'jobs and transactions are not applied yet (issue 16)';
const dep: NotApplied = { applier: 'dependency', reason: DEP, protects: false };
const job: NotApplied = { applier: 'dependency', reason: JOB, protects: false };
/** Wired through the agent's dependency engine and checked against systemd 257 with real processes (test/deps/agent-sets.test.ts, agent.test.ts, agent-fixes.test.ts). */
const wired = { applier: 'runner' } as const;
const ACTION = 'emergency actions (reboot, poweroff, exit) are not taken on a node: the agent does not reboot its host';
const action: NotApplied = { applier: 'not-yet', reason: ACTION, protects: false, gap: honours(ACTION, 'none') };
/** The job modes the dependency engine runs (isolate and flush are not: a handler asked for with them is not started, and the agent logs why). */
const jobMode = { applier: 'runner', gap: honours('job modes isolate and flush are not supported by the agent\'s dependency engine (issue 16): the handler is not started, and the agent logs why', 'fail', 'replace', 'replace-irreversibly', 'ignore-dependencies', 'ignore-requirements') } as const;
const JOB_MODES = ['fail', 'replace', 'replace-irreversibly', 'isolate', 'flush', 'ignore-dependencies', 'ignore-requirements'];
const d = (name: string, kind: Parameters<typeof row>[2], doc: string, how: Parameters<typeof row>[4]): Directive => row('Unit', name, kind, doc, how);

export const UNIT: Directive[] = [
  d('Description', STR, 'A short human readable title of the unit (Description=); shown by unitctl status and kubectl get su -o wide.', { applier: 'status' }),
  d('Documentation', LIST, 'URIs referencing documentation for this unit (Documentation=): http(s)://, file:, info:, man:.', { applier: 'carried', reason: 'documentation links are kept for render, nothing to apply', protects: false }),
  d('Wants', LIST, 'Weak requirement dependencies on other units (Wants=). Applied by the agent\'s dependency engine (src/agent/deps.ts): jobs pulled in and ordered as systemd\'s transactions, among the units of one folder or namespace.', wired),
  d('Requires', LIST, 'Requirement dependencies on other units (Requires=). Applied by the agent\'s dependency engine (src/agent/deps.ts): jobs pulled in and ordered as systemd\'s transactions, among the units of one folder or namespace.', wired),
  d('Requisite', LIST, 'Like Requires=, but the units must already be active (Requisite=): the job fails with result dependency when one is not; stopping one stops this unit. Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 11, 23).', wired),
  d('BindsTo', LIST, 'Like Requires=, and stop when the other unit stops (BindsTo=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 09, 19).', wired),
  d('PartOf', LIST, 'Stop and restart with the listed units (PartOf=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 10, 19, 22).', wired),
  d('Upholds', LIST, 'Keep the listed units running (Upholds=): started again whenever they stop while this unit is active. Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 17).', wired),
  d('Conflicts', LIST, 'Negative requirement dependencies (Conflicts=). Applied by the agent\'s dependency engine (src/agent/deps.ts): jobs pulled in and ordered as systemd\'s transactions, among the units of one folder or namespace.', wired),
  d('Before', LIST, 'Ordering: start before the listed units, stop after them (Before=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 16, 22).', wired),
  d('After', LIST, 'Ordering: start after the listed units (After=). Applied by the agent\'s dependency engine (src/agent/deps.ts): jobs pulled in and ordered as systemd\'s transactions, among the units of one folder or namespace.', wired),
  d('OnFailure', LIST, 'Units activated when this unit enters the failed state, or its start job fails with timeout or dependency (OnFailure=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 06, 20, 26, 27).', wired),
  d('OnSuccess', LIST, 'Units activated when this unit enters the inactive state after it ran (OnSuccess=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 13, 29).', wired),
  d('PropagatesReloadTo', LIST, 'Reloads propagated to the listed units when they are active (PropagatesReloadTo=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 18).', wired),
  d('ReloadPropagatedFrom', LIST, 'Reload when the listed units reload, if active (ReloadPropagatedFrom=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 25).', wired),
  d('PropagatesStopTo', LIST, 'Stops propagated to the listed units; starts are not (PropagatesStopTo=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 24).', wired),
  d('StopPropagatedFrom', LIST, 'Stop when the listed units stop; starts are not propagated (StopPropagatedFrom=). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 24).', wired),
  d('JoinsNamespaceOf', LIST, 'Share the /tmp and /var/tmp (PrivateTmp=yes), network (PrivateNetwork=) and IPC (PrivateIPC=) namespaces with the listed units (JoinsNamespaceOf=, both ways): the first of them that runs makes the runtime, which ends with the last one to stop. Applied by the agent among the units of one folder or namespace (src/runner/nsruntime.ts), as systemd 257 with real processes (test/ns/probe.test.ts).', { applier: 'runner' }),
  d('RequiresMountsFor', LIST, 'Absolute paths whose mounts are required (RequiresMountsFor=).', dep),
  d('WantsMountsFor', LIST, 'Absolute paths whose mounts are wanted (WantsMountsFor=).', dep),
  d('DefaultDependencies', BOOL, 'Whether implicit default dependencies are added (DefaultDependencies=, default yes): a service gets Requires= and After= sysinit.target, After= basic.target, Conflicts= and Before= shutdown.target, as systemd 257 adds them (checked with systemctl show against the oracle); DefaultDependencies=no adds none. Applied by the agent\'s dependency engine (src/deps/graph.ts): the node\'s targets are active, shutdown.target inactive, so the edges order against them and unitctl list-dependencies shows sysinit.target (a leaf: the host\'s boot units are not expanded) (test/deps/default-deps.test.ts).', wired),
  d('StopWhenUnneeded', BOOL, 'Stop the unit when no active unit wants or requires it any more (StopWhenUnneeded=, default no). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 14).', wired),
  d('RefuseManualStart', BOOL, 'Refuse manual start requests (RefuseManualStart=, default no). Applied by the agent\'s dependency engine: unitctl start/restart of the unit is refused (exit 4), a start pulled in by a dependency or the agent\'s own runs (test/deps/agent-fixes.test.ts).', wired),
  d('RefuseManualStop', BOOL, 'Refuse manual stop requests (RefuseManualStop=, default no). Applied by the agent\'s dependency engine: unitctl stop of the unit is refused (exit 4); a stop pulled in by a dependency, a removed unit and --stop-on-exit stop it (test/deps/agent-fixes.test.ts).', wired),
  d('AllowIsolate', BOOL, 'Allow isolate requests (AllowIsolate=, default no).', job),
  d('IgnoreOnIsolate', BOOL, 'Do not stop on isolate (IgnoreOnIsolate=, default no).', job),
  d('SurviveFinalKillSignal', BOOL, 'Do not kill the unit\'s processes in the final killing spree at shutdown (SurviveFinalKillSignal=, default no).', { applier: 'not-yet', reason: 'the node\'s shutdown is not the agent\'s', protects: false }),
  d('CollectMode', enumOf(['inactive', 'inactive-or-failed']), 'When the unit is garbage-collected (CollectMode=, default inactive).', { applier: 'not-yet', reason: 'units are kept while their ServiceUnit exists', protects: false, gap: honours('units are kept while their ServiceUnit exists', 'inactive') }),
  d('OnSuccessJobMode', enumOf(JOB_MODES), 'Job mode of the OnSuccess= units (OnSuccessJobMode=, default replace). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 29: fail); isolate and flush are not supported: the handler is not started and the agent logs why.', jobMode),
  d('OnFailureJobMode', enumOf(JOB_MODES), 'Job mode of the OnFailure= units (OnFailureJobMode=, default replace). Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle sets 26: fail, 27: replace); isolate and flush are not supported: the handler is not started and the agent logs why.', jobMode),
  d('JobTimeoutSec', SPAN, 'Timeout for a queued job, from the moment it is queued (JobTimeoutSec=, default infinity): the job ends with result timeout ("Timed out starting X."), which triggers OnFailure=. Applied by the agent\'s dependency engine (src/agent/deps.ts) as systemd\'s jobs and transactions, among the units of one folder or namespace; the same final states, job results and order as systemd 257 with real processes through the standalone agent (test/deps/agent-sets.test.ts, oracle set 28). JobTimeoutAction= is reported, not taken.', wired),
  d('JobRunningTimeoutSec', SPAN, 'Timeout for a running job (JobRunningTimeoutSec=, default infinity).', { applier: 'dependency', reason: 'not applied yet (issue 16): the dependency engine times a job from the moment it is queued (JobTimeoutSec=) only', protects: false }),
  d('JobTimeoutAction', enumOf(EMERGENCY_ACTIONS), 'Action when a job times out (JobTimeoutAction=, default none).', action),
  d('JobTimeoutRebootArgument', STR, 'Argument to reboot(2) for JobTimeoutAction= (JobTimeoutRebootArgument=).', action),
  d('StartLimitIntervalSec', SPAN, 'Start rate limiting interval (StartLimitIntervalSec=, default 10s); 0 disables rate limiting. Every start counts, automatic restarts included.', { applier: 'engine' }),
  d('StartLimitBurst', intRange(0), 'Starts allowed per StartLimitIntervalSec= (StartLimitBurst=, default 5).', { applier: 'engine' }),
  d('StartLimitAction', enumOf(EMERGENCY_ACTIONS), 'Action when the start limit is hit (StartLimitAction=, default none).', action),
  d('FailureAction', enumOf(EMERGENCY_ACTIONS), 'Action when the unit fails (FailureAction=, default none).', action),
  d('SuccessAction', enumOf(EMERGENCY_ACTIONS), 'Action when the unit stops successfully (SuccessAction=, default none).', action),
  d('FailureActionExitStatus', intRange(0, 255), 'Exit status of the manager for FailureAction=exit (FailureActionExitStatus=, default: the unit\'s own).', action),
  d('SuccessActionExitStatus', intRange(0, 255), 'Exit status of the manager for SuccessAction=exit (SuccessActionExitStatus=, default: the unit\'s own).', action),
  d('RebootArgument', STR, 'Argument to reboot(2) for the emergency actions (RebootArgument=).', action),
  d('SourcePath', STR, 'The configuration file this unit was generated from (SourcePath=).', { applier: 'carried', reason: 'informative, kept for render', protects: false }),
];

/** Condition*= / Assert*= checks (systemd.unit(5), "Conditions and Asserts"). */
export const CONDITION_TYPES = ['PathExists', 'PathExistsGlob', 'PathIsDirectory', 'PathIsSymbolicLink',
  'PathIsMountPoint', 'PathIsReadWrite', 'PathIsEncrypted', 'DirectoryNotEmpty', 'FileNotEmpty', 'FileIsExecutable',
  'User', 'Group', 'Host', 'KernelCommandLine', 'KernelVersion', 'Virtualization', 'Security', 'Capability',
  'ACPower', 'NeedsUpdate', 'FirstBoot', 'Architecture', 'Firmware', 'CPUs', 'CPUFeature', 'Environment',
  'Memory', 'ControlGroupController', 'OSRelease', 'Credential', 'MemoryPressure', 'CPUPressure', 'IOPressure'] as const;

export const CONDITIONS: Directive[] = ['Condition', 'Assert'].flatMap((family) => CONDITION_TYPES.map((c) =>
  d(`${family}${c}`, { t: 'condition' },
    `${family}${c}= checks, evaluated on the node in the host's view before a start (src/conditions); a leading "|" makes a check a triggering (OR) one, "!" negates it. ${family === 'Condition' ? 'A failed condition skips the start (the unit stays inactive, Result=success, no error).' : 'A failed assertion fails the start job (job result assert).'}`,
    { applier: 'runner' })));

const INSTALL_REASON = '[Install] is read by systemctl enable; where a ServiceUnit runs is spec.nodeName/nodeSelector and spec.state';
const install: NotApplied = { applier: 'carried', reason: INSTALL_REASON, protects: false };
const i = (name: string, kind: Parameters<typeof row>[2], doc: string): Directive => row('Install', name, kind, doc, install);

export const INSTALL: Directive[] = [
  i('WantedBy', LIST, '[Install] WantedBy=; kept so the unit renders back unchanged, not acted on.'),
  i('RequiredBy', LIST, '[Install] RequiredBy=; kept, not acted on.'),
  i('UpheldBy', LIST, '[Install] UpheldBy=; kept, not acted on.'),
  i('Alias', LIST, '[Install] Alias=; kept, not acted on.'),
  i('Also', LIST, '[Install] Also=; kept, not acted on.'),
  i('DefaultInstance', STR, '[Install] DefaultInstance=; kept, not acted on.'),
];
