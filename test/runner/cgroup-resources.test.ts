// Resource control as data (issue 13): the directives read from a spec, the cgroup file writes
// on v2 and on v1, and what a node cannot express. The mappings are systemd 257's
// src/core/cgroup.c (cgroup_context_apply() and its helpers), named in each title.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseResources, limitWrites, unappliable, cpuWeightToShares, ioWeightToBlkio, bfqWeight, cpuPeriod, parseBytes, parsePermyriad,
  normalizeCpuSet, type HostFacts, type LimitWrite, type Available,
} from '../../src/runner/cgroup/resources.ts';
import { runtimeHash, liveResourceFields } from '../../src/agent/host.ts';
import { resourceTable, CGROUP_LIMIT_ROWS, APPLIED_LIMIT_ROWS, RESOURCE } from '../../src/api/table/resource.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';
import { oomKillCount, oomKilled, parseKeyed } from '../../src/runner/cgroup/oom.ts';
import { realizedControllers, realizeFor } from '../../src/runner/cgroup/realize.ts';
import { unitResources } from '../../src/runner/cgroup/apply.ts';
import { unitCgroup } from '../../src/runner/cgroup/naming.ts';
import type { CgroupLayout, Hierarchy } from '../../src/runner/cgroup/layout.ts';

/** This machine's figures, fixed: 24 GiB, 4 KiB pages, pid_max 32768 (32767 tasks). */
const HOST: HostFacts = { physicalMemory: 24 * 2 ** 30, pageSize: 4096, tasksMax: 32767 };
const res = (service: Record<string, unknown>) => parseResources({ service: { execStart: ['x'], ...service } }, HOST);
const files = (ws: LimitWrite[]): string[] => ws.filter((w) => !w.optional || w.directive !== '').map((w) => `${w.controller}/${w.file}=${w.value}`);
const all = (ws: LimitWrite[]): string[] => ws.map((w) => `${w.file}=${w.value}`);

test('MemoryMax=/MemoryHigh=/MemorySwapMax=: bytes with K/M/G/T (base 1024), fractions, percentages of physical memory (physical_memory_scale(), whole pages), infinity', () => {
  assert.equal(parseBytes('512M'), 512 * 2 ** 20);
  assert.equal(parseBytes('1.5G'), 1.5 * 2 ** 30);
  assert.equal(parseBytes('4096'), 4096);
  assert.equal(parseBytes('2T'), 2 * 2 ** 40);
  assert.equal(parseBytes('12x'), undefined);
  const r = res({ memoryMax: '512M', memoryHigh: '50%', memorySwapMax: 'infinity', memoryLow: 1048576 });
  assert.equal(r.memoryMax, 512 * 2 ** 20);
  assert.equal(r.memoryHigh, 12 * 2 ** 30);
  assert.equal(r.memorySwapMax, Infinity);
  assert.equal(r.memoryLow, 2 ** 20);
  assert.equal(r.memoryMin, 0);
  // 33.33% of 24 GiB: 6291456 pages × 3333 / 10000, rounded down to pages
  assert.equal(res({ memoryMax: '33.33%' }).memoryMax, Math.floor(6291456 * 3333 / 10000) * 4096);
  assert.equal(parsePermyriad('12.5%'), 1250);
  assert.equal(parsePermyriad('5‰'), 50);
  assert.deepEqual(res({ memoryMax: '150%' }).invalid.map((x) => x.directive), ['MemoryMax']);
});

test('TasksMax=: a number, a percentage of system_tasks_max() (min of threads-max, pid_max − 1, root pids.max), infinity; unset DefaultTasksMax=15% (systemd 257 DEFAULT_TASKS_MAX {15, 100})', () => {
  assert.equal(res({}).tasksMax, Math.floor(32767 * 15 / 100));
  assert.equal(res({}).tasksMax, 4915);
  assert.equal(res({}).tasksMaxSet, false);
  assert.equal(res({ tasksMax: 5 }).tasksMax, 5);
  assert.equal(res({ tasksMax: '5' }).tasksMax, 5);
  assert.equal(res({ tasksMax: '50%' }).tasksMax, Math.floor(32767 * 5000 / 10000));
  assert.equal(res({ tasksMax: '100%' }).tasksMax, 32767);
  assert.equal(res({ tasksMax: 'infinity' }).tasksMax, Infinity);
  assert.deepEqual(res({ tasksMax: '0' }).invalid.map((x) => x.directive), ['TasksMax'], 'config_parse_tasks_max() refuses 0');
});

test('CPUQuota= (may exceed 100%) and CPUQuotaPeriodSec= (default 100ms, clamped to 1ms…1s with at least 1ms of quota: cgroup_cpu_adjust_period())', () => {
  assert.equal(res({ cpuQuota: '20%' }).cpuQuotaPerSecUSec, 200_000);
  assert.equal(res({ cpuQuota: '250%' }).cpuQuotaPerSecUSec, 2_500_000);
  assert.deepEqual(res({ cpuQuota: '0%' }).invalid.map((x) => x.directive), ['CPUQuota']);
  assert.equal(cpuPeriod(200_000, Infinity), 100_000);
  assert.equal(cpuPeriod(Infinity, 10_000), 100_000, 'no quota: the default period');
  assert.equal(cpuPeriod(200_000, 500), 5_000, '1ms of quota needs 5ms at 20%');
  assert.equal(cpuPeriod(2_000_000, 100), 1_000, 'at least 1ms');
  assert.equal(cpuPeriod(200_000, 5_000_000), 1_000_000, 'at most 1s');
  assert.equal(res({ cpuQuota: '20%', cpuQuotaPeriodSec: '50ms' }).cpuQuotaPeriodUSec, 50_000);
});

test('CPUWeight= → cpu.shares on v1 by cgroup_cpu_weight_to_shares(): weight × 1024 / 100 within 2…262144, idle → 2', () => {
  assert.equal(cpuWeightToShares(100), 1024);
  assert.equal(cpuWeightToShares(1), 10);
  assert.equal(cpuWeightToShares(50), 512);
  assert.equal(cpuWeightToShares(10000), 102400);
  assert.equal(cpuWeightToShares('idle'), 2);
  assert.equal(res({ cpuWeight: 'idle' }).cpuWeight, 'idle');
  assert.equal(res({ cpuWeight: 200 }).cpuWeight, 200);
  assert.deepEqual(res({ cpuWeight: 0 }).invalid.map((x) => x.directive), ['CPUWeight']);
});

test('IOWeight= → blkio.weight on v1 by cgroup_weight_io_to_blkio() (× 500 / 100 within 10…1000), and io/blkio.bfq.weight by BFQ_WEIGHT()', () => {
  assert.equal(ioWeightToBlkio(100), 500);
  assert.equal(ioWeightToBlkio(1), 10);
  assert.equal(ioWeightToBlkio(10000), 1000);
  assert.equal(ioWeightToBlkio(50), 250);
  assert.equal(bfqWeight(100), 100);
  assert.equal(bfqWeight(1), 1);
  assert.equal(bfqWeight(10000), 1000);
  assert.equal(bfqWeight(500), 136);
});

test('AllowedCPUs=/AllowedMemoryNodes= are written as cpu_set_to_range_string() writes them', () => {
  assert.equal(normalizeCpuSet('0-3 6'), '0-3,6');
  assert.equal(normalizeCpuSet('3,1,2 0'), '0-3');
  assert.equal(normalizeCpuSet('0'), '0');
  assert.equal(normalizeCpuSet('a'), undefined);
  assert.equal(res({ allowedCPUs: '1 0', allowedMemoryNodes: '0' }).allowedCPUs, '0-1');
});

const REPRESENTATIVE = { memoryMax: '512M', memoryHigh: '256M', memorySwapMax: '64M', memoryLow: '16M', cpuQuota: '20%', cpuWeight: 50, allowedCPUs: '0', tasksMax: 5, ioWeight: 200, oomPolicy: 'kill' };

test('limitWrites v2 (cgroup_context_apply() on the unified hierarchy): memory.min/low/high/max/swap.max, memory.oom.group for OOMPolicy=kill, cpu.idle/weight/max, cpuset, io.bfq.weight/io.weight, pids.max', () => {
  assert.deepEqual(files(limitWrites(res(REPRESENTATIVE), 'v2')), [
    'memory/memory.low=16777216',
    'memory/memory.high=268435456',
    'memory/memory.max=536870912',
    'memory/memory.swap.max=67108864',
    'memory/memory.oom.group=1',
    'cpu/cpu.weight=50',
    'cpu/cpu.max=20000 100000',
    'cpuset/cpuset.cpus=0',
    'io/io.bfq.weight=109',
    'io/io.weight=default 200',
    'pids/pids.max=5',
  ]);
  // nothing set: every knob back to the kernel default (set-property removing a directive), TasksMax= at 15%
  assert.deepEqual(all(limitWrites(res({}), 'v2')), [
    'memory.min=0', 'memory.low=0', 'memory.high=max', 'memory.max=max', 'memory.swap.max=max', 'memory.oom.group=0',
    'cpu.idle=0', 'cpu.weight=100', 'cpu.max=max 100000', 'cpuset.cpus=', 'cpuset.mems=', 'io.bfq.weight=100', 'io.weight=default 100', 'pids.max=4915',
  ]);
  assert.deepEqual(all(limitWrites(res({ cpuWeight: 'idle', tasksMax: 'infinity' }), 'v2')).filter((x) => /^(cpu\.|pids)/.test(x)),
    ['cpu.idle=1', 'cpu.max=max 100000', 'pids.max=max'], 'CPUWeight=idle: cpu.idle=1 and no cpu.weight (cgroup_apply_unified_cpu_weight())');
});

test('limitWrites v1 (cgroup_context_apply() on legacy hierarchies): MemoryMax= → memory.limit_in_bytes, CPUWeight= → cpu.shares, CPUQuota= → cpu.cfs_period_us then cfs_quota_us, IOWeight= → blkio.weight, TasksMax= → pids.max', () => {
  assert.deepEqual(all(limitWrites(res(REPRESENTATIVE), 'v1')), [
    'memory.memsw.limit_in_bytes=-1',
    'memory.limit_in_bytes=536870912',
    'memory.memsw.limit_in_bytes=603979776',
    'cpu.shares=512',
    'cpu.cfs_period_us=100000',
    'cpu.cfs_quota_us=20000',
    'cpuset.cpus=0',
    'blkio.bfq.weight=181',
    'blkio.weight=1000',
    'pids.max=5',
  ]);
  assert.deepEqual(all(limitWrites(res({}), 'v1')), [
    'memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1', 'cpu.shares=1024', 'cpu.cfs_period_us=100000', 'cpu.cfs_quota_us=-1',
    'blkio.bfq.weight=136', 'blkio.weight=500', 'pids.max=4915',
  ]);
  const w = limitWrites(res({ memoryMax: '1G' }), 'v1');
  assert.deepEqual(w.filter((x) => x.controller === 'memory').map((x) => [x.file, x.optional]), [
    ['memory.memsw.limit_in_bytes', true], ['memory.limit_in_bytes', false],
  ], 'memsw opened before the limit is lowered or raised: the kernel keeps limit <= memsw at each write');
  assert.equal(all(limitWrites(res({ cpuQuota: '250%' }), 'v1')).find((x) => x.startsWith('cpu.cfs_quota_us')), 'cpu.cfs_quota_us=250000');
});

const node = (layout: 'v1' | 'v2', missing: string[] = []): Available => ({ layout, has: (_c, f) => !missing.includes(f) });

test('unappliable on v1: MemoryLow=/MemoryMin=/MemoryHigh= have no v1 file (systemd writes only memory.limit_in_bytes there); MemorySwapMax= needs MemoryMax= and swap accounting; IOWeight= needs a blkio weight file', () => {
  const r = res({ memoryLow: '1M', memoryMin: '1M', memoryHigh: '1G', memorySwapMax: '1G', ioWeight: 200, cpuWeight: 'idle' });
  const u = unappliable(r, node('v1', ['blkio.weight', 'blkio.bfq.weight']));
  assert.deepEqual(u.map((x) => [x.name, x.protects]), [
    ['MemoryMin', false], ['MemoryLow', false], ['MemoryHigh', true], ['MemorySwapMax', true], ['CPUWeight', false], ['IOWeight', false],
  ]);
  assert.match(u.find((x) => x.name === 'MemorySwapMax')!.reason, /set MemoryMax=/);
  assert.equal(u[0]!.path, 'spec.service.memoryMin');
  assert.deepEqual(unappliable(res({ memoryMax: '1G', memorySwapMax: '0' }), node('v1', ['memory.memsw.limit_in_bytes'])).map((x) => x.name), ['MemorySwapMax']);
  assert.deepEqual(unappliable(res({ memoryMax: '1G', memorySwapMax: '0', cpuQuota: '20%', tasksMax: 5 }), node('v1')), []);
  assert.deepEqual(unappliable(res({}), node('v1', ['pids.max', 'blkio.weight'])), [], 'defaults missing their file ask for nothing');
});

test('unappliable on v2: a controller the unit\'s cgroup lacks (here cpu, io) is reported for the directives that need it; Startup*= is reported, not applied', () => {
  const r = res({ memoryLow: '1M', memoryHigh: '1G', cpuQuota: '20%', ioWeight: 10, startupCPUWeight: 10 });
  assert.deepEqual(unappliable(r, node('v2')).map((x) => x.name), ['StartupCPUWeight']);
  const u = unappliable(r, node('v2', ['cpu.max', 'cpu.weight', 'io.weight', 'io.bfq.weight']));
  assert.deepEqual(u.map((x) => x.name), ['IOWeight', 'CPUQuota', 'StartupCPUWeight']);
  assert.equal(u[1]!.protects, true);
});

test('runtimeHash: a limit applied live (set-property) does not restart the unit once its table row is applied; the command still counts', () => {
  const spec = (memoryMax: string): ServiceUnitSpec => ({ service: { execStart: ['/bin/sleep 1'], memoryMax, cpuQuota: '20%' } });
  assert.deepEqual([...liveResourceFields()].sort(), ['allowedCPUs', 'allowedMemoryNodes', 'cpuQuota', 'cpuQuotaPeriodSec', 'cpuWeight', 'ioWeight', 'ipAddressAllow', 'ipAddressDeny', 'memoryHigh', 'memoryLow', 'memoryMax', 'memoryMin', 'memorySwapMax', 'socketBindAllow', 'socketBindDeny', 'tasksMax']);
  assert.equal(runtimeHash(spec('1G')), runtimeHash(spec('2G')), 'MemoryMax= is applied live');
  assert.equal(runtimeHash({ service: { execStart: ['/bin/sleep 1'], memoryHigh: '1G' } }), runtimeHash({ service: { execStart: ['/bin/sleep 1'], memoryHigh: '2G' } }), 'MemoryHigh= is applied live too');
  assert.notEqual(runtimeHash({ service: { execStart: ['/bin/sleep 1'], memoryHigh: '1G' } }), runtimeHash({ service: { execStart: ['/bin/sleep 2'], memoryHigh: '1G' } }));
  const live = new Set(['memoryMax', 'cpuQuota']);
  assert.equal(runtimeHash(spec('1G'), live), runtimeHash(spec('2G'), live));
  assert.equal(runtimeHash({ service: { execStart: ['/bin/sleep 1'] } }, live), runtimeHash(spec('2G'), live));
  assert.notEqual(runtimeHash({ service: { execStart: ['/bin/sleep 2'], memoryMax: '1G' } }, live), runtimeHash(spec('1G'), live), 'the command still counts');
});

test('resourceTable(): the cgroup rows flip to applied (by the runner, protection kept) only when named; RESOURCE flips those the runner writes (APPLIED_LIMIT_ROWS)', () => {
  const flipped = resourceTable(new Set(CGROUP_LIMIT_ROWS));
  for (const name of CGROUP_LIMIT_ROWS) {
    const row = flipped.find((d) => d.name === name)!;
    assert.equal(row.applier, 'runner', name);
    assert.equal(row.reason, undefined, name);
    assert.equal(RESOURCE.find((d) => d.name === name)!.applier, (APPLIED_LIMIT_ROWS as readonly string[]).includes(name) ? 'runner' : 'cgroup', name);
  }
  assert.equal(flipped.find((d) => d.name === 'MemoryMax')!.protects, true);
  assert.equal(flipped.find((d) => d.name === 'CPUWeight')!.protects, false);
  assert.equal(flipped.length, RESOURCE.length);
});

test('OOM kills are read from the unit\'s memory cgroup: v2 memory.events oom_kill (systemd\'s unit_check_oom()), v1 memory.oom_control oom_kill; a rise is a kill', () => {
  assert.equal(oomKillCount('low 0\nhigh 3\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n'), 1);
  assert.equal(oomKillCount('oom_kill_disable 0\nunder_oom 0\noom_kill 4\n'), 4);
  assert.equal(oomKillCount('oom_kill_disable 0\nunder_oom 0\n'), undefined, 'a kernel before 4.13 has no counter');
  assert.deepEqual(parseKeyed('a 1\nb x\n\nc 3'), { a: 1, c: 3 });
  assert.equal(oomKilled(0, 1), true);
  assert.equal(oomKilled(1, 1), false);
  assert.equal(oomKilled(undefined, 1), false, 'a first reading is a baseline');
});

test('realize.ts: the v1 hierarchies a unit\'s cgroup is made in (name=systemd, memory, pids as systemd 257 on a hybrid node; cpu and blkio for every unit, as systemd does for siblings of a unit with a weight; a controller each other directive writes; devices for a device policy; every one with Delegate=; freezer and cpuacct without cgroup2)', () => {
  const sets = (service: Record<string, unknown>, unified = true): string => {
    const spec = { service: { execStart: ['/bin/true'], ...service } } as ServiceUnitSpec;
    const want = realizedControllers(spec, unitResources(spec, undefined), unified);
    return want === 'all' ? 'all' : [...want].sort().join(' ');
  };
  assert.equal(sets({}), 'blkio cpu memory name=systemd pids');
  assert.equal(sets({}, false), 'blkio cpu cpuacct freezer memory name=systemd pids');
  assert.equal(sets({ cpuQuota: '20%' }), 'blkio cpu memory name=systemd pids');
  assert.equal(sets({ cpuWeight: 50 }), 'blkio cpu memory name=systemd pids');
  assert.equal(sets({ ioWeight: 300 }), 'blkio cpu memory name=systemd pids');
  assert.equal(sets({ allowedCPUs: '0' }), 'blkio cpu cpuset memory name=systemd pids');
  assert.equal(sets({ devicePolicy: 'closed' }), 'blkio cpu devices memory name=systemd pids');
  assert.equal(sets({ privateDevices: true }), 'blkio cpu devices memory name=systemd pids', 'PrivateDevices= implies DevicePolicy=closed');
  assert.equal(sets({ protectClock: true }), 'blkio cpu memory name=systemd pids', 'ProtectClock= alone restricts nothing (DevicePolicy=auto)');
  assert.equal(sets({ delegate: true }), 'all');
  assert.equal(sets({ delegate: 'no', cpuQuota: '20%' }), 'blkio cpu memory name=systemd pids');
  // naming.ts: cgroup2 and the primary hierarchy always; the others by the set; co-mounted controllers share one
  const hier = (key: string, version: 1 | 2 = 1): Hierarchy => ({ key, version, mount: `/cg/${key}`, controllers: version === 2 ? [] : key.split(','), root: '/', agent: undefined, writable: true });
  const layout: CgroupLayout = { mode: 'hybrid', hierarchies: [hier('unified', 2), hier('name=systemd'), hier('cpu,cpuacct'), hier('cpuset'), hier('memory'), hier('pids'), hier('freezer'), hier('devices')], unified: undefined, hasKill: true, favorDynMods: false, notes: [] };
  const spec = { service: { execStart: ['/bin/true'], allowedCPUs: '0' } } as ServiceUnitSpec;
  const cg = unitCgroup({ layout, base: 'b.slice' }, 'q.service', undefined, undefined, realizeFor(spec, unitResources(spec, undefined), true))!;
  assert.deepEqual(cg.placement, ['/cg/unified/b.slice/q.service', '/cg/name=systemd/b.slice/q.service', '/cg/cpu,cpuacct/b.slice/q.service', '/cg/cpuset/b.slice/q.service', '/cg/memory/b.slice/q.service', '/cg/pids/b.slice/q.service']);
  assert.deepEqual(cg.joins, [...cg.placement, '/cg/freezer/b.slice', '/cg/devices/b.slice'], 'a command joins the base slice where the cgroup is not made');
  assert.equal(cg.dirs['cpuacct'], '/cg/cpu,cpuacct/b.slice/q.service', 'co-mounted with cpu: made with it');
  assert.equal(cg.dirs['freezer'], undefined);
  // the primary hierarchy (here cgroup2) is made even when the set says nothing of it
  assert.deepEqual(unitCgroup({ layout, base: 'b.slice' }, 'n.service', undefined, undefined, () => false)!.placement, ['/cg/unified/b.slice/n.service']);
});
