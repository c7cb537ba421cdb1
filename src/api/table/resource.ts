// systemd.resource-control(5): a cgroup per unit (issue 13). Limits (MemoryMax=, TasksMax=,
// CPUQuota=, IO*Max=) and access (DeviceAllow=, IPAddressDeny=, …) protect the host and fail
// closed while not applied; weights, protections and accounting only shape sharing and are
// reported, not refused.

import { row, STR, LIST, LINES, BOOL, SPAN, SIZE, boolOr, enumOf, intRange, honours, PERCENT_PATTERN, type Directive, type Kind, type NotApplied } from './kinds.ts';

const CG = 'resource control needs a cgroup per unit (issue 13)';
const ACCESS = 'device and network access control is not applied yet (sandbox, issue 15)';
const limit: NotApplied = { applier: 'cgroup', reason: CG, protects: true };
const share: NotApplied = { applier: 'cgroup', reason: CG, protects: false };
const access: NotApplied = { applier: 'sandbox', reason: ACCESS, protects: true };
const WEIGHT: Kind = { t: 'intOrString', pattern: '^(idle|[0-9]+)$', min: 1, max: 10000 };
const TASKS: Kind = { t: 'intOrString', pattern: '^(infinity|[0-9]+|[0-9]+(\\.[0-9]+)?%)$', min: 0 };
const PERCENT: Kind = { t: 'string', pattern: PERCENT_PATTERN };
const CPUSET: Kind = { t: 'string', pattern: '^[0-9 ,-]*$' };
const OOMD = ['auto', 'kill'];

/**
 * The rows the cgroup core can apply: written into each unit's cgroup by src/runner/cgroup/limits.ts
 * (issue 13); a value the node cannot express (MemoryLow= on v1, IOWeight= without a weight file) is
 * a per-node gap, reported by resources.ts unappliable(). The core rows shape the cgroup itself:
 * Slice= where it is made, Delegate=/DelegateSubgroup= (src/runner/cgroup/delegate.ts) whom it is
 * handed to and where each command runs in it; a node without systemd's own hierarchy (v1 without
 * name=systemd) or a DelegateSubgroup= systemd ignores is a per-node gap (apply.ts resourceGaps()).
 */
export const CGROUP_LIMIT_ROWS = ['MemoryMin', 'MemoryLow', 'MemoryHigh', 'MemoryMax', 'MemorySwapMax', 'CPUQuota', 'CPUQuotaPeriodSec',
  'CPUWeight', 'AllowedCPUs', 'AllowedMemoryNodes', 'TasksMax', 'IOWeight'] as const;
export const CGROUP_CORE_ROWS = ['Slice', 'Delegate', 'DelegateSubgroup'] as const;

/** The resource-control rows, those named in `applied` applied by the runner (their protection kept), the rest not yet. */
export function resourceTable(applied: ReadonlySet<string> = new Set()): Directive[] {
  const d = (name: string, kind: Kind, doc: string, how: NotApplied): Directive =>
    row('Service', name, kind, doc, applied.has(name) ? { applier: 'runner', protects: how.protects } : how);
  const mem = (name: string, doc: string, how: NotApplied): Directive =>
    d(name, SIZE, `${doc} Bytes with a K, M, G, T suffix (base 1024), a percentage of physical memory, or "infinity".`, how);
  return [
    d('Slice', STR, 'The slice unit the unit\'s cgroup is placed in (Slice=), nested as systemd nests slices (a-b.slice → a.slice/a-b.slice) inside the agent\'s own unit-operator.slice, which is the default.', share),
    d('Delegate', boolOr(), 'Delegate the cgroup subtree to the service (Delegate=): "true", "false" or controller names.', share),
    d('DelegateSubgroup', STR, 'Subgroup of a delegated cgroup the processes start in (DelegateSubgroup=).', share),
    d('DisableControllers', LIST, 'Controllers disabled for the unit\'s children (DisableControllers=).', share),
    // CPU
    d('CPUAccounting', BOOL, 'Account CPU time (CPUAccounting=).', share),
    d('CPUWeight', WEIGHT, 'CPU share relative to other units, 1–10000 or idle (CPUWeight=, default 100).', share),
    d('StartupCPUWeight', WEIGHT, 'CPUWeight= during start-up and shutdown (StartupCPUWeight=).', share),
    d('CPUShares', intRange(2, 262144), 'Deprecated cgroup v1 CPU shares (CPUShares=); use CPUWeight=.', share),
    d('StartupCPUShares', intRange(2, 262144), 'Deprecated cgroup v1 start-up CPU shares (StartupCPUShares=).', share),
    d('CPUQuota', PERCENT, 'CPU time limit relative to one CPU, e.g. "20%" or "200%" (CPUQuota=).', limit),
    d('CPUQuotaPeriodSec', SPAN, 'Period of CPUQuota= (CPUQuotaPeriodSec=, default 100ms).', limit),
    d('AllowedCPUs', CPUSET, 'CPUs the unit may use, cpuset (AllowedCPUs=), e.g. "0-3 6".', limit),
    d('StartupAllowedCPUs', CPUSET, 'AllowedCPUs= during start-up and shutdown (StartupAllowedCPUs=).', limit),
    d('AllowedMemoryNodes', CPUSET, 'NUMA nodes the unit may use (AllowedMemoryNodes=).', limit),
    d('StartupAllowedMemoryNodes', CPUSET, 'AllowedMemoryNodes= during start-up and shutdown (StartupAllowedMemoryNodes=).', limit),
    // Memory
    d('MemoryAccounting', BOOL, 'Account memory use (MemoryAccounting=).', share),
    mem('MemoryMin', 'Memory protected from reclaim, hard (MemoryMin=).', share),
    mem('MemoryLow', 'Memory protected from reclaim, best effort (MemoryLow=).', share),
    mem('StartupMemoryLow', 'MemoryLow= during start-up and shutdown (StartupMemoryLow=).', share),
    mem('DefaultMemoryMin', 'MemoryMin= of the unit\'s children (DefaultMemoryMin=).', share),
    mem('DefaultMemoryLow', 'MemoryLow= of the unit\'s children (DefaultMemoryLow=).', share),
    mem('DefaultStartupMemoryLow', 'StartupMemoryLow= of the unit\'s children (DefaultStartupMemoryLow=).', share),
    mem('MemoryHigh', 'Memory use above which the unit is throttled and reclaimed (MemoryHigh=).', limit),
    mem('StartupMemoryHigh', 'MemoryHigh= during start-up and shutdown (StartupMemoryHigh=).', limit),
    mem('MemoryMax', 'Hard memory limit: above it the OOM killer acts (MemoryMax=).', limit),
    mem('StartupMemoryMax', 'MemoryMax= during start-up and shutdown (StartupMemoryMax=).', limit),
    mem('MemorySwapMax', 'Swap limit (MemorySwapMax=).', limit),
    mem('StartupMemorySwapMax', 'MemorySwapMax= during start-up and shutdown (StartupMemorySwapMax=).', limit),
    mem('MemoryZSwapMax', 'Compressed swap (zswap) limit (MemoryZSwapMax=).', limit),
    mem('StartupMemoryZSwapMax', 'MemoryZSwapMax= during start-up and shutdown (StartupMemoryZSwapMax=).', limit),
    d('MemoryZSwapWriteback', BOOL, 'Write zswap pages back to swap (MemoryZSwapWriteback=, default yes).', { ...share, gap: honours(CG, true) }),
    d('MemoryPressureWatch', enumOf(['auto', 'on', 'off', 'skip']), 'Memory pressure notification for the service (MemoryPressureWatch=, default auto). Quote "on"/"off" in YAML.', share),
    d('MemoryPressureThresholdSec', SPAN, 'Memory pressure stall threshold (MemoryPressureThresholdSec=, default 200ms).', share),
    // Processes
    d('TasksAccounting', BOOL, 'Account tasks (TasksAccounting=).', share),
    d('TasksMax', TASKS, 'Maximum number of tasks (processes and threads), a number, a percentage of the system\'s limit, or "infinity" (TasksMax=, default 15% of pid_max).', limit),
    // IO
    d('IOAccounting', BOOL, 'Account block I/O (IOAccounting=).', share),
    d('IOWeight', intRange(1, 10000), 'Block I/O share relative to other units, 1–10000 (IOWeight=, default 100).', share),
    d('StartupIOWeight', intRange(1, 10000), 'IOWeight= during start-up and shutdown (StartupIOWeight=).', share),
    d('IODeviceWeight', LINES, 'Per-device I/O weight "DEVICE WEIGHT" (IODeviceWeight=).', share),
    d('IOReadBandwidthMax', LINES, 'Per-device read bandwidth limit "DEVICE BYTES" (IOReadBandwidthMax=).', limit),
    d('IOWriteBandwidthMax', LINES, 'Per-device write bandwidth limit "DEVICE BYTES" (IOWriteBandwidthMax=).', limit),
    d('IOReadIOPSMax', LINES, 'Per-device read IOPS limit "DEVICE IOPS" (IOReadIOPSMax=).', limit),
    d('IOWriteIOPSMax', LINES, 'Per-device write IOPS limit "DEVICE IOPS" (IOWriteIOPSMax=).', limit),
    d('IODeviceLatencyTargetSec', LINES, 'Per-device I/O latency target "DEVICE TIME" (IODeviceLatencyTargetSec=).', share),
    d('BlockIOAccounting', BOOL, 'Deprecated cgroup v1 block I/O accounting (BlockIOAccounting=); use IOAccounting=.', share),
    d('BlockIOWeight', intRange(10, 1000), 'Deprecated cgroup v1 block I/O weight (BlockIOWeight=); use IOWeight=.', share),
    d('StartupBlockIOWeight', intRange(10, 1000), 'Deprecated (StartupBlockIOWeight=); use StartupIOWeight=.', share),
    d('BlockIODeviceWeight', LINES, 'Deprecated (BlockIODeviceWeight=); use IODeviceWeight=.', share),
    d('BlockIOReadBandwidth', LINES, 'Deprecated (BlockIOReadBandwidth=); use IOReadBandwidthMax=.', limit),
    d('BlockIOWriteBandwidth', LINES, 'Deprecated (BlockIOWriteBandwidth=); use IOWriteBandwidthMax=.', limit),
    // Devices and network access
    // applied by the runner: v1 "devices" rules (src/runner/cgroup/devices.ts, test/runner/devices.test.ts), or on a cgroup2-only
    // node a BPF_CGROUP_DEVICE program of the same rules (devices-bpf.ts, uo-shim --cgroup-bpf; test/runner/devices-bpf.test.ts)
    d('DeviceAllow', LINES, 'Device access "DEVICE [rwm]" (DeviceAllow=); with any, DevicePolicy= becomes closed. Applied by the unit\'s cgroup: v1 devices rules, or a BPF device program on a cgroup2-only node.', access),
    d('DevicePolicy', enumOf(['auto', 'closed', 'strict']), 'Device access policy (DevicePolicy=, default auto). Applied as DeviceAllow=: v1 devices rules, or a BPF device program on a cgroup2-only node.', { ...access, gap: honours(ACCESS, 'auto') }),
    d('IPAccounting', BOOL, 'Account IP traffic (IPAccounting=).', share),
    // applied by the runner: two cgroup SKB programs on the unit's cgroup2 cgroup (src/runner/cgroup/ipaccess.ts,
    // cgroupbpf.ts, shim/cgroup-bpf.c), at start and on set-property; probes compared with systemd 257 in test/ipaccess/probe.test.ts
    d('IPAddressAllow', LIST, 'IP prefixes the unit may talk to, taking precedence over IPAddressDeny= (IPAddressAllow=): ADDRESS[/LENGTH], any, localhost, link-local, multicast. A packet whose remote address matches passes.', access),
    d('IPAddressDeny', LIST, 'IP prefixes the unit may not talk to unless IPAddressAllow= lets it (IPAddressDeny=), same words: a matching packet is dropped in both directions (a send fails with EPERM). Applied by a cgroup BPF filter on the unit\'s cgroup2 cgroup.', access),
    d('IPIngressFilterPath', LINES, 'Pinned BPF programs filtering ingress traffic (IPIngressFilterPath=).', access),
    d('IPEgressFilterPath', LINES, 'Pinned BPF programs filtering egress traffic (IPEgressFilterPath=).', access),
    // applied by the runner: cgroup bind4/bind6 programs (src/runner/cgroup/socketbind.ts, the same loader); test/ipaccess/probe.test.ts
    d('SocketBindAllow', LINES, 'Binds the unit may make, taking precedence over SocketBindDeny= (SocketBindAllow=): one rule a line, [ipv4:|ipv6:][tcp:|udp:]PORTS, PORTS "any", a port or a range N-M.', access),
    d('SocketBindDeny', LINES, 'Binds the unit may not make unless SocketBindAllow= lets it (SocketBindDeny=), same rules: bind(2) fails with EPERM. Applied by cgroup BPF programs on the unit\'s cgroup2 cgroup.', access),
    d('RestrictNetworkInterfaces', LIST, 'Network interfaces the unit may use, or with "~" not (RestrictNetworkInterfaces=).', access),
    d('BPFProgram', LINES, 'Pinned BPF programs attached to the unit\'s cgroup, "TYPE:PATH" (BPFProgram=).', access),
    d('NFTSet', LIST, 'NFT sets the unit\'s cgroup, user or group ID are added to (NFTSet=).', share),
    // OOM handling
    d('ManagedOOMSwap', enumOf(OOMD), 'systemd-oomd action on swap pressure (ManagedOOMSwap=, default auto).', { ...share, gap: honours(CG, 'auto') }),
    d('ManagedOOMMemoryPressure', enumOf(OOMD), 'systemd-oomd action on memory pressure (ManagedOOMMemoryPressure=, default auto).', { ...share, gap: honours(CG, 'auto') }),
    d('ManagedOOMMemoryPressureLimit', PERCENT, 'Memory pressure limit for systemd-oomd (ManagedOOMMemoryPressureLimit=).', share),
    d('ManagedOOMMemoryPressureDurationSec', SPAN, 'How long pressure must last for systemd-oomd (ManagedOOMMemoryPressureDurationSec=).', share),
    d('ManagedOOMPreference', enumOf(['none', 'avoid', 'omit']), 'systemd-oomd preference for killing the unit (ManagedOOMPreference=, default none).', { ...share, gap: honours(CG, 'none') }),
    d('CoredumpReceive', BOOL, 'Forward core dumps of processes in the unit\'s container to it (CoredumpReceive=, default no).', share),
  ];
}

/**
 * Applied through the unit's cgroup by the runner (src/runner/cgroup/apply.ts, delegate.ts, devices.ts: DeviceAllow=/DevicePolicy=
 * on a v1 devices hierarchy, devices-bpf.ts on a cgroup2-only node; ipaccess.ts, socketbind.ts: IPAddressAllow=/IPAddressDeny=, SocketBindAllow=/SocketBindDeny= as cgroup2 BPF
 * programs); per-node gaps are reported there.
 */
export const APPLIED_LIMIT_ROWS = ['MemoryMin', 'MemoryLow', 'MemoryHigh', 'MemoryMax', 'MemorySwapMax', 'CPUQuota', 'CPUQuotaPeriodSec', 'CPUWeight',
  'AllowedCPUs', 'AllowedMemoryNodes', 'TasksMax', 'IOWeight', 'Slice', 'Delegate', 'DelegateSubgroup', 'DeviceAllow', 'DevicePolicy',
  'IPAddressAllow', 'IPAddressDeny', 'SocketBindAllow', 'SocketBindDeny'] as const;
export const RESOURCE: Directive[] = resourceTable(new Set(APPLIED_LIMIT_ROWS));
