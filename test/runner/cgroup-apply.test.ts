// Resource limits through a unit's own cgroup (issue 13), with real processes: what the runner
// writes before the first process starts, read back from the kernel's files, and a changed
// limit applied to the running unit without a restart (systemctl set-property). On this
// machine's hybrid layout the limits live on the v1 hierarchies (as systemd's hybrid mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, subState } from '../support/units.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';

const LAYOUT = detectCgroups();
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})`
  : LAYOUT.mode === 'v2' ? 'the v1 file names below are this hybrid machine\'s; v2 writes are unit-tested in cgroup-resources.test.ts' : false;
const read = (dir: string | undefined, file: string): string => readFileSync(join(dir!, file), 'utf8').trim();

test('MemoryMax=, MemorySwapMax=, CPUQuota=, CPUQuotaPeriodSec=, CPUWeight=, AllowedCPUs=, AllowedMemoryNodes=, TasksMax= are written into the unit\'s cgroup before it starts, and a changed MemoryMax=/TasksMax= reaches the running unit without a restart', async (t) => {
  if (skip) { t.skip(skip); return; }
  const h = harness(t, { cgroups: true });
  const spec = { service: { execStart: ['/bin/sleep 1000'], memoryMax: '64M', memorySwapMax: '16M', cpuQuota: '20%', cpuQuotaPeriodSec: '50ms', cpuWeight: 200, allowedCPUs: '0', allowedMemoryNodes: '0', tasksMax: 7 } };
  const r = h.open('limited.service', spec);
  assert.deepEqual(r.notApplied.map((u) => u.name).filter((n) => /^(Memory|CPU|Allowed|Tasks)/.test(n)), [], 'nothing of these is reported as not applied on this node');
  r.start();
  await waitFor(r, 'running', subState('running'));
  const d = r.cgroup!.dirs;
  assert.equal(read(d['memory'], 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  if (existsSync(join(d['memory']!, 'memory.memsw.limit_in_bytes'))) assert.equal(read(d['memory'], 'memory.memsw.limit_in_bytes'), String(80 * 1024 * 1024), 'memsw = MemoryMax + MemorySwapMax');
  assert.equal(read(d['cpu'], 'cpu.cfs_period_us'), '50000');
  assert.equal(read(d['cpu'], 'cpu.cfs_quota_us'), '10000', '20% of a 50 ms period');
  assert.equal(read(d['cpu'], 'cpu.shares'), String(Math.round(200 * 1024 / 100)), 'cgroup_cpu_weight_to_shares()');
  if (d['cpuset']) { assert.equal(read(d['cpuset'], 'cpuset.cpus'), '0'); assert.equal(read(d['cpuset'], 'cpuset.mems'), '0'); }
  assert.equal(read(d['pids'], 'pids.max'), '7');
  const pid = r.props.MainPID;
  assert.ok(read(d['memory'], 'cgroup.procs').split('\n').includes(String(pid)), 'the main process is in the limited cgroup');

  r.updateSpec({ service: { ...spec.service, memoryMax: '128M', tasksMax: 9 } });
  assert.equal(read(d['memory'], 'memory.limit_in_bytes'), String(128 * 1024 * 1024), 'set-property: the new limit is written at once');
  assert.equal(read(d['pids'], 'pids.max'), '9');
  assert.equal(r.props.MainPID, pid, 'without a restart');
  assert.ok(h.logs.some((l) => /Applied .*MemoryMax.*TasksMax|Applied .*TasksMax.*MemoryMax/.test(l)), h.logs.join('\n'));
});

// realize.ts: a live change that needs a hierarchy the running unit's cgroup is not made in
// (DevicePolicy= on a plain unit): made there, the processes moved in (a child forked before the
// change too), the policy written, no restart; the directive removed again: the cgroup stays for
// the invocation, unrestricted, and the next invocation (a start) is made without it
test('DevicePolicy=closed set on a running unit with no device directive: its cgroup is made in the devices hierarchy, its processes moved in and restricted without a restart; once removed, the next invocation is not made there', async (t) => {
  if (skip) { t.skip(skip); return; }
  const devices = LAYOUT.hierarchies.find((x) => x.version === 1 && x.controllers.includes('devices'));
  if (!devices) { t.skip('no v1 devices hierarchy here'); return; }
  const h = harness(t, { cgroups: true });
  const spec = { service: { type: 'exec', execStart: ["/bin/sh -c '/bin/sleep 1000 & exec /bin/sleep 1001'"] } };
  const r = h.open('widened.service', spec);
  r.start();
  await waitFor(r, 'running with its child', (x) => x.props.SubState === 'running' && x.unitProcesses().length === 2);
  const pid = r.props.MainPID, rel = r.cgroup!.rel, both = r.unitProcesses();
  const devLine = (p: number): string | undefined => readFileSync(`/proc/${p}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('devices'))?.replace(/^[0-9]+:[^:]*:/, '');
  assert.equal(existsSync(`${devices.mount}/${rel}`), false, 'no cgroup of its own in devices before');
  for (const p of both) assert.equal(devLine(p), `/${h.cgroups!.base}`);
  r.updateSpec({ service: { ...spec.service, devicePolicy: 'closed' } });
  assert.deepEqual(r.refused, []);
  assert.equal(r.props.MainPID, pid, 'no restart');
  for (const p of both) assert.equal(devLine(p), `/${rel}`, `PID ${p} moved into its new devices cgroup`);
  assert.doesNotMatch(read(`${devices.mount}/${rel}`, 'devices.list'), /^a \*:\* rwm$/m, 'restricted');
  assert.equal(r.cgroup!.dirs['devices'], `${devices.mount}/${rel}`);
  r.updateSpec(spec);
  assert.equal(read(`${devices.mount}/${rel}`, 'devices.list'), 'a *:* rwm', 'unrestricted again while the invocation keeps its devices cgroup');
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  assert.equal(existsSync(`${devices.mount}/${rel}`), false, 'removed with the rest at the stop');
  r.start();
  await waitFor(r, 'running again', (x) => x.props.SubState === 'running' && x.props.MainPID !== pid && x.props.MainPID > 0);
  assert.equal(devLine(r.props.MainPID), `/${h.cgroups!.base}`, 'the next invocation is made without devices');
  assert.equal(existsSync(`${devices.mount}/${rel}`), false);
});

test('CPUQuota= and DevicePolicy= added while the unit waits to restart (its cgroup removed): the next invocation is made in the cpu and devices hierarchies and limited; nothing is refused', async (t) => {
  if (skip) { t.skip(skip); return; }
  const cpu = LAYOUT.hierarchies.find((x) => x.version === 1 && x.controllers.includes('cpu'));
  const devices = LAYOUT.hierarchies.find((x) => x.version === 1 && x.controllers.includes('devices'));
  if (!cpu || !devices) { t.skip('no v1 cpu or devices hierarchy here'); return; }
  const h = harness(t, { cgroups: true });
  const spec = { unit: { startLimitIntervalSec: 0 }, service: { type: 'exec', execStart: ['/bin/sleep 0.3'], restart: 'always', restartSec: '1s' } };
  const r = h.open('waiting.service', spec);
  r.start();
  await waitFor(r, 'auto-restart', subState('auto-restart'), 3000);
  const rel = r.cgroup!.rel;
  r.updateSpec({ ...spec, service: { ...spec.service, execStart: ['/bin/sleep 1000'], cpuQuota: '30%', devicePolicy: 'closed' } });
  assert.deepEqual(r.refused, [], 'nothing refused');
  await waitFor(r, 'restarted and running', (x) => x.props.NRestarts === 1 && x.props.SubState === 'running' && x.props.MainPID > 0, 3000);
  const lines = readFileSync(`/proc/${r.props.MainPID}/cgroup`, 'utf8');
  for (const c of ['cpu', 'devices']) assert.match(lines, new RegExp(`^[0-9]+:([^:]*,)?${c}(,[^:]*)?:/${rel.replaceAll('.', '\\.')}$`, 'm'), lines);
  assert.equal(read(`${cpu.mount}/${rel}`, 'cpu.cfs_quota_us'), '30000');
  assert.doesNotMatch(read(`${devices.mount}/${rel}`, 'devices.list'), /^a \*:\* rwm$/m, 'its device list is restricted');
  assert.ok(!h.logs.some((l) => /Failed to set/.test(l)), h.logs.join('\n'));
});

test('without a cgroup hierarchy the agent can write, MemoryMax= is reported as not applied and refused (it protects the host)', async (t) => {
  const h = harness(t); // no cgroups for this runner
  const r = h.open('nocg.service', { service: { execStart: ['/bin/sleep 1000'], memoryMax: '64M', cpuWeight: 50 } });
  const mem = r.notApplied.find((u) => u.name === 'MemoryMax');
  assert.ok(mem && /no cgroup hierarchy/.test(mem.reason), JSON.stringify(r.notApplied));
  assert.match(r.start() ?? '', /MemoryMax= is not applied on this node/);
});

test('Slice=: the unit\'s cgroup nests as systemd nests slices (web-front.slice → web.slice/web-front.slice) inside the agent\'s slice, in each hierarchy it is made in (the agent\'s slice in the others)', async (t) => {
  if (LAYOUT.mode === 'none') { t.skip(`no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})`); return; }
  const h = harness(t, { cgroups: true });
  const r = h.open('sliced.service', { service: { type: 'exec', execStart: ['/bin/sleep 1000'], slice: 'web-front.slice' } }); // exec: placed before exec
  assert.deepEqual(r.notApplied.filter((u) => u.name === 'Slice'), [], 'Slice= is applied');
  r.start();
  await waitFor(r, 'running', subState('running'));
  const want = `/${h.cgroups!.base}/web.slice/web-front.slice/sliced.service`;
  const lines = readFileSync(`/proc/${r.props.MainPID}/cgroup`, 'utf8').trim().split('\n');
  const made = new Set(r.cgroup!.hierarchies.map((x) => x.mount));
  assert.ok(made.size >= 1 && made.size <= LAYOUT.hierarchies.length, [...made].join(' '));
  for (const hier of LAYOUT.hierarchies) {
    const line = lines.find((l) => hier.version === 2 ? l.startsWith('0::') : l.split(':')[1]!.split(',').some((c) => hier.controllers.includes(c)));
    assert.equal(line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1), made.has(hier.mount) ? want : `/${h.cgroups!.base}`, `${hier.mount}: ${lines.join(' | ')}`);
  }
});

test('MemoryHigh=, MemoryLow=, MemoryMin= and IOWeight= are written where the node has their files (v2: memory.high/.low/.min, io.weight); where it does not they are reported with the reason, and MemoryHigh= (a limit) keeps the unit from starting', async (t) => {
  if (LAYOUT.mode === 'none') { t.skip(`no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})`); return; }
  const h = harness(t, { cgroups: true });
  const spec = { service: { execStart: ['/bin/sleep 1000'], memoryHigh: '48M', memoryLow: '8M', memoryMin: '4M', ioWeight: 300 } };
  const r = h.open('soft.service', spec);
  const gaps = new Map(r.notApplied.map((u) => [u.name, u]));
  if (LAYOUT.mode === 'v2') {
    assert.equal(gaps.has('MemoryHigh') || gaps.has('MemoryLow') || gaps.has('MemoryMin'), false, JSON.stringify(r.notApplied));
    r.start();
    await waitFor(r, 'running', subState('running'));
    const d = r.cgroup!.dirs['unified'];
    assert.equal(read(d, 'memory.high'), String(48 * 2 ** 20));
    assert.equal(read(d, 'memory.low'), String(8 * 2 ** 20));
    assert.equal(read(d, 'memory.min'), String(4 * 2 ** 20));
    if (!gaps.has('IOWeight')) assert.match(read(d, existsSync(join(d!, 'io.bfq.weight')) ? 'io.bfq.weight' : 'io.weight'), /default (300|[0-9]+)/);
    return;
  }
  // this hybrid machine: limits live on v1, which has no memory.high/.low/.min
  for (const n of ['MemoryHigh', 'MemoryLow', 'MemoryMin']) assert.match(gaps.get(n)?.reason ?? '', /has no cgroup v1 equivalent/, n);
  assert.equal(gaps.get('MemoryHigh')!.protects, true);
  assert.equal(gaps.get('MemoryLow')!.protects, false, 'a protection from reclaim is reported, not refused');
  const hasBlkioWeight = existsSync('/sys/fs/cgroup/blkio/blkio.weight') || existsSync('/sys/fs/cgroup/blkio/blkio.bfq.weight');
  if (!hasBlkioWeight) assert.match(gaps.get('IOWeight')?.reason ?? '', /no blkio.weight or blkio.bfq.weight on this node/);
  assert.match(r.start() ?? '', /MemoryHigh= is not applied on this node/);
  assert.equal(r.props.MainPID, 0, 'nothing ran');
  // without MemoryHigh= the rest is reported and the unit runs
  r.updateSpec({ service: { execStart: ['/bin/sleep 1000'], memoryLow: '8M', memoryMin: '4M', ioWeight: 300 } });
  assert.equal(r.start(), undefined);
  await waitFor(r, 'running', subState('running'));
  assert.ok(h.logs.length >= 0);
});
