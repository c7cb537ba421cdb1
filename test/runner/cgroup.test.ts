// A cgroup per unit (issue 13), with real processes and real cgroup files on this machine
// (hybrid: v1 controllers plus an empty cgroup2 "unified" mount; the v2 paths — membership,
// cgroup.kill, cgroup.events — run on that mount). Each test's units live under a private
// top slice (unit-operator.slice/uo-test-<hex>.slice) that is removed afterwards, its processes
// killed first, even when the test fails. Skipped with the reason where the node has no
// cgroup the test can write (non-root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { harness, waitFor, subState, alive, sleep, shimPath, testCgroups } from '../support/units.ts';
import { until } from '../support/wait.ts';
import {
  detectCgroups, describeLayout, unitCgroup, holdersCgroup, slicePath, escapeCgroupName, insideAgent, agentBase,
  ensureUnitCgroup, removeUnitCgroup, removeBaseTree, cgroupPids, isPopulated, killCgroup, readUsage, attachPid, freezeCgroup,
} from '../../src/runner/cgroup/index.ts';
import { unitStatus } from '../../src/agent/status.ts';

const LAYOUT = detectCgroups();
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})` : false;
if (skip) console.log(`# cgroup tests skipped: ${skip}`);

const procsOf = (dir: string): number[] => { try { return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; } };
/** /proc/PID/cgroup as hierarchy key → path ('unified' for the cgroup2 line). */
function cgroupsOf(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) { const x = /^[0-9]+:([^:]*):(.*)$/.exec(l); if (x) m.set(x[1] || 'unified', x[2]!); }
  return m;
}

// ---- pure: layout and names ------------------------------------------------------------------

const MI = (lines: string[]): string => lines.map((l, i) => `${30 + i} 23 0:${28 + i} ${l}`).join('\n');
test('layout: hybrid, v2, v1 and none are told apart from mountinfo', () => {
  const hybrid = MI(['/ /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory', '/ /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct', '/ /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw']);
  const l = detectCgroups({ mountinfo: hybrid, selfCgroup: '0::/\n4:memory:/pod/x\n', uid: 0, writable: () => true });
  assert.equal(l.mode, 'hybrid');
  assert.deepEqual(l.hierarchies.map((h) => h.key), ['unified', 'memory', 'cpu,cpuacct']);
  assert.equal(l.hierarchies.find((h) => h.key === 'memory')!.agent, '/pod/x');
  assert.equal(detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate']), selfCgroup: '0::/x\n', uid: 0, writable: () => true }).mode, 'v2');
  assert.equal(detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids']), selfCgroup: '', uid: 0, writable: () => true }).mode, 'v1');
  const nonRoot = detectCgroups({ mountinfo: hybrid, selfCgroup: '', uid: 1000, writable: () => true });
  assert.equal(nonRoot.mode, 'none');
  assert.match(describeLayout(nonRoot).join('\n'), /uid 1000, not root/);
  const ro = detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup rw - cgroup2 cgroup2 ro']), selfCgroup: '', uid: 0, writable: () => true });
  assert.equal(ro.mode, 'none');
  assert.match(describeLayout(ro).join('\n'), /not writable/);
});

// favordynmods (a mount option, global in the kernel): without it the start-up log says what a
// start pays and which knob removes it; with it (on any cgroup mount) it says nothing, and the
// option is never taken for a v1 controller
test('layout: favordynmods on any cgroup mount is seen (and is not a v1 controller); without it the start-up log names the knob', () => {
  const off = detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids', '/ /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw']), selfCgroup: '', uid: 0, writable: () => true });
  assert.equal(off.favorDynMods, false);
  assert.match(describeLayout(off).join('\n'), /no cgroup mount has favordynmods: .*RCU grace period.*cgroup_favordynmods=1/);
  const v1 = detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids,favordynmods', '/ /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw']), selfCgroup: '', uid: 0, writable: () => true });
  assert.equal(v1.favorDynMods, true);
  assert.deepEqual(v1.hierarchies.map((h) => h.key), ['unified', 'pids']);
  assert.doesNotMatch(describeLayout(v1).join('\n'), /favordynmods/);
  const v2 = detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,favordynmods,memory_recursiveprot']), selfCgroup: '0::/x\n', uid: 0, writable: () => true });
  assert.equal(v2.favorDynMods, true);
  assert.equal(v2.mode, 'v2');
  // no usable hierarchy: nothing to say about migrations
  assert.doesNotMatch(describeLayout(detectCgroups({ mountinfo: '', selfCgroup: '', uid: 0, writable: () => true })).join('\n'), /favordynmods/);
});

test('names: systemd slice nesting, cg_escape, the holders beside the units, never inside the agent', () => {
  assert.equal(slicePath('foo-bar.slice'), 'foo.slice/foo-bar.slice');
  assert.equal(slicePath('a-b-c.slice'), 'a.slice/a-b.slice/a-b-c.slice');
  assert.equal(slicePath('-.slice'), '');
  assert.throws(() => slicePath('foo'), /not a valid slice name/);
  assert.throws(() => slicePath('-foo.slice'), /not a valid slice name/);
  assert.equal(escapeCgroupName('cpu.service'), '_cpu.service');
  assert.equal(escapeCgroupName('web.service'), 'web.service');
  assert.equal(escapeCgroupName('a b.service'), 'a\\x20b.service');
  const layout = detectCgroups({ mountinfo: MI(['/ /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw', '/ /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory']), selfCgroup: '0::/\n1:memory:/unit-operator.slice\n', uid: 0, writable: () => true });
  const ctx = { layout, base: 'unit-operator.slice' };
  const cg = unitCgroup(ctx, 'web.service', 'foo-bar.slice')!;
  assert.equal(cg.rel, 'unit-operator.slice/foo.slice/foo-bar.slice/web.service');
  assert.deepEqual(cg.dirs, { unified: '/sys/fs/cgroup/unified/unit-operator.slice/foo.slice/foo-bar.slice/web.service', memory: '/sys/fs/cgroup/memory/unit-operator.slice/foo.slice/foo-bar.slice/web.service' });
  assert.equal(cg.primary, cg.dirs['unified']);
  assert.equal(holdersCgroup(ctx)!.rel, 'unit-operator.slice/uo-holders.scope');
  assert.match(insideAgent(layout, cg.rel) ?? '', /inside the agent's own cgroup \/unit-operator.slice/);
  assert.equal(agentBase('/var/lib/unit-operator', '/var/lib/unit-operator', {}), 'unit-operator.slice');
  assert.match(agentBase('/tmp/x', '/var/lib/unit-operator', {}), /^unit-operator\.slice\/unit-operator-[0-9a-f]{12}\.slice$/);
  assert.equal(agentBase('/tmp/x', '/var/lib/unit-operator', { UNIT_OPERATOR_CGROUP_SLICE: 'my.slice' }), 'my.slice');
});

// ---- real processes --------------------------------------------------------------------------

test('the main PID is in <hierarchy>/<base>/<unit>.service in each hierarchy a plain service\'s cgroup is made in (realize.ts: cgroup2, name=systemd, memory, pids as systemd 257; cpu and blkio; freezer and cpuacct too without cgroup2), in <base> in the others, never in the agent\'s cgroup; its shim is in the holders\' cgroup', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('place.service', { service: { type: 'exec', execStart: ['/bin/sleep 1000'] } }); // exec: running once placed and exec'd
  r.start();
  await waitFor(r, 'running', subState('running'));
  const main = r.props.MainPID;
  const cg = r.cgroup!;
  assert.equal(cg.rel, `${h.cgroups!.base}/place.service`);
  for (const dir of cg.placement) assert.deepEqual(procsOf(dir), [main], `${dir}/cgroup.procs`);
  const plain = (x: { version: number; controllers: readonly string[] }): boolean => x.version === 2
    || x.controllers.some((c) => ['name=systemd', 'memory', 'pids', 'cpu', 'blkio', ...(LAYOUT.unified ? [] : ['freezer', 'cpuacct'])].includes(c));
  assert.deepEqual(cg.hierarchies.map((x) => x.mount), LAYOUT.hierarchies.filter(plain).map((x) => x.mount), 'made in these hierarchies alone');
  const mine = cgroupsOf(process.pid), its = cgroupsOf(main);
  for (const [k, path] of its) {
    const hier = LAYOUT.hierarchies.find((x) => (x.version === 2 ? k === 'unified' : x.key === k));
    if (!hier) continue; // a hierarchy the agent does not write (net_cls, perf_event, …)
    assert.equal(path, plain(hier) ? `/${cg.rel}` : `/${h.cgroups!.base}`, `hierarchy ${k}`);
    assert.notEqual(path, mine.get(k), `not the agent's cgroup in ${k}`);
  }
  for (const x of LAYOUT.hierarchies.filter((y) => !plain(y))) assert.equal(existsSync(`${x.mount}/${cg.rel}`), false, `no cgroup of its own in ${x.mount}`);
  const shim = r.spawns[0]!.shimPid;
  const holders = holdersCgroup(h.cgroups!)!;
  for (const dir of holders.placement) assert.ok(procsOf(dir).includes(shim), `the shim ${shim} is in ${dir}`);
  assert.ok(!r.unitProcesses().includes(shim), 'the shim is not a process of the unit');
  assert.deepEqual(r.unitProcesses(), [main]);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  await until('the cgroup removed after stop', () => cg.placement.every((d) => !existsSync(d)), { timeoutMs: 3000 });
});

test('an agent before realize.ts made every unit\'s cgroup in every hierarchy: empty folders it left where the cgroup is no longer made go at the unit\'s first start; one with a process stays', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('older.service', { service: { type: 'exec', execStart: ['/bin/sleep 1000'] } });
  const others = LAYOUT.hierarchies.filter((x) => !r.cgroup!.hierarchies.some((y) => y.mount === x.mount));
  if (others.length < 2) { t.skip('every hierarchy of this node is one a plain unit\'s cgroup is made in'); return; }
  const left = others.map((x) => `${x.mount}/${r.cgroup!.rel}`);
  for (const d of left) mkdirSync(d, { recursive: true });
  // a process of a previous invocation still in one of them (KillMode=process): that folder stays
  const busy = left[0]!;
  const stray = spawn('/bin/sleep', ['1000'], { stdio: 'ignore' });
  t.after(() => { stray.kill('SIGKILL'); });
  writeFileSync(`${busy}/cgroup.procs`, String(stray.pid));
  r.start();
  await waitFor(r, 'running', subState('running'));
  for (const d of left.slice(1)) assert.equal(existsSync(d), false, `${d} removed`);
  assert.equal(existsSync(busy), true, `${busy} keeps its process`);
  // the stray moved out again, to its hierarchy's root (not the test's slice, which the clean-up removes)
  writeFileSync(`${others[0]!.mount}/cgroup.procs`, String(stray.pid));
  rmdirSync(busy);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
});

test('KillMode=control-group: a stop reaches a double-forked, setsid-ed grandchild through the cgroup; the cgroup is removed', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('daemon.service', { service: { execStart: ["/bin/sh -c '(setsid sh -c \"sleep 1000 & exec sleep 1001\" &) ; exec sleep 1002'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  // the three sleeps (before their exec, a forked shell may not have called setsid() yet)
  const comm = (p: number): string => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  await waitFor(r, 'three sleeps', (x) => { const p = cgroupPids(x.cgroup!); return p.length >= 3 && p.every((q) => comm(q) === 'sleep'); });
  const pids = cgroupPids(r.cgroup!);
  const escaped = pids.filter((p) => p !== r.props.MainPID);
  for (const p of escaped) {
    const sid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]);
    assert.notEqual(sid, r.props.MainPID, `PID ${p} left the main process's session`);
  }
  assert.deepEqual([...r.unitProcesses()].sort(), [...pids].sort(), 'membership is the cgroup');
  const dirs = r.cgroup!.placement;
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  await sleep(50);
  assert.deepEqual(pids.filter(alive), [], 'no process left behind');
  await until('the cgroup removed', () => dirs.every((d) => !existsSync(d)), { timeoutMs: 3000 });
});

test('a unit\'s cgroup, its slice and the holders\' cgroup removed behind the agent\'s back while it waits to restart are made again in every hierarchy before the next process starts', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('again.service', { unit: { startLimitIntervalSec: 0 }, service: { type: 'exec', execStart: ['/bin/sleep 0.2'], restart: 'always', restartSec: '1s', slice: 'uo-x-y.slice' } });
  r.start();
  await waitFor(r, 'auto-restart', subState('auto-restart'), 3000);
  const cg = r.cgroup!;
  const holders = holdersCgroup(h.cgroups!)!;
  assert.equal(cg.rel, `${h.cgroups!.base}/uo.slice/uo-x.slice/uo-x-y.slice/again.service`);
  // everything below the test's base, in every hierarchy: the unit's cgroup, its two slices, the holders' cgroup
  assert.deepEqual(removeBaseTree(h.cgroups!.layout, h.cgroups!.base), []);
  for (const d of [...cg.placement, ...holders.placement]) assert.equal(existsSync(d), false, d);
  await waitFor(r, 'restarted and running', (x) => x.props.NRestarts === 1 && x.props.SubState === 'running' && x.props.MainPID > 0, 3000);
  const main = r.props.MainPID;
  for (const dir of cg.placement) assert.deepEqual(procsOf(dir), [main], `${dir}/cgroup.procs`);
  const shim = r.spawns.find((s) => !s.done)!.shimPid;
  for (const dir of holders.placement) assert.ok(procsOf(dir).includes(shim), `the shim ${shim} is in ${dir}`);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
});

// A wait to restart removes the unit's leaf alone (its slices stay for the restart); a stop during
// the wait removes the slices too: the leaf already gone is no reason to skip them (issue 19 cut:
// a cgroup removed is not removed again — except for what its first removal left)
test('a unit stopped while it waits to restart: its leaf went as the wait began, its Slice= slices go at the stop, in every hierarchy', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('waits.service', { unit: { startLimitIntervalSec: 0 }, service: { type: 'exec', execStart: ['/bin/sleep 0.1'], restart: 'always', restartSec: '5s', slice: 'uo-w-v.slice' } });
  r.start();
  await waitFor(r, 'auto-restart', subState('auto-restart'), 3000);
  const cg = r.cgroup!;
  const slices = cg.placement.map((d) => dirname(d));
  await until('the leaf removed in every hierarchy', () => { r.pollTick(); return cg.placement.every((d) => !existsSync(d)); }, { timeoutMs: 3000 });
  for (const d of slices) assert.equal(existsSync(d), true, `${d} stays while a restart follows`);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  for (const d of slices) assert.equal(existsSync(d), false, `${d} removed at the stop`);
  for (const d of slices.map((x) => dirname(x))) assert.equal(existsSync(d), false, `${d} removed at the stop`);
});

test('accounting: Tasks, Memory (peak) and CPU equal the cgroup files; status and -o json carry them', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('busy.service', { service: { execStart: ["/bin/sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000 & exec sleep 1000'"] } });
  r.start();
  await waitFor(r, 'two tasks', (x) => x.unitProcesses().length >= 2);
  const cg = r.cgroup!;
  const u = r.cgroupUsage()!;
  const file = (d: string | undefined, f: string): number => Number(readFileSync(`${d}/${f}`, 'utf8').trim());
  assert.equal(u.tasks, cg.dirs['pids'] ? file(cg.dirs['pids'], 'pids.current') : cgroupPids(cg).length);
  assert.equal(u.tasks, 2);
  if (cg.dirs['memory'] && !LAYOUT.unified?.controllers.includes('memory')) {
    assert.ok(Math.abs(u.memoryBytes! - file(cg.dirs['memory'], 'memory.usage_in_bytes')) < 1024 * 1024, 'memory.usage_in_bytes');
    assert.ok(u.memoryPeak! >= u.memoryBytes! - 1024 * 1024);
  }
  if (cg.dirs['cpuacct']) {
    const before = file(cg.dirs['cpuacct'], 'cpuacct.usage');
    assert.ok(u.cpuNs! > 0 && u.cpuNs! <= before, `cpuacct.usage ${before} ≥ ${u.cpuNs}`);
  }
  const s = unitStatus(r, 'busy.service', true);
  assert.equal(s.TasksCurrent, 2);
  assert.ok(s.MemoryCurrent !== undefined && s.CPUUsageNSec !== undefined && s.CPUUsageNSec > 0);
  assert.ok(s.MemoryPeak !== undefined);
});

test('adoption: a restarted agent finds the processes by the cgroup; a unit whose cgroup has processes but no record is never started twice', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('adopt.service', { service: { execStart: ["/bin/sh -c 'setsid sleep 1000 & exec sleep 1000'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  await waitFor(r, 'a main PID and two processes', (x) => x.props.MainPID > 0 && x.unitProcesses().length >= 2);
  const main = r.props.MainPID;
  const before = [...r.unitProcesses()].sort();
  const again = h.reopen(r);
  assert.deepEqual([again.props.SubState, again.props.MainPID], ['running', main]);
  assert.deepEqual([...again.unitProcesses()].sort(), before);
  // the state folder lost: the cgroup still says the unit runs
  again.close();
  rmSync(again.dir, { recursive: true, force: true });
  const fresh = h.open('adopt.service', { service: { execStart: ['/bin/sleep 1000'] } });
  const why = fresh.start();
  assert.match(why ?? '', /still run in its cgroup .*not started until they end/);
  assert.equal(fresh.props.SubState, 'dead');
  assert.deepEqual(cgroupPids(fresh.cgroup!).sort(), before, 'nothing new started beside them');
  for (const p of before) process.kill(p, 9);
  await until('the hold ends', () => { fresh.pollTick(); return fresh.stateError === undefined; }, { timeoutMs: 3000 });
  assert.equal(fresh.start(), undefined);
  await waitFor(fresh, 'running', subState('running'));
  fresh.stop();
  await waitFor(fresh, 'dead', subState('dead'));
});

test('v2 paths on the unified mount: membership from cgroup.procs, cgroup.kill, freeze, and the cgroup.events "empty" event ends a stop', { skip: skip || (!LAYOUT.unified ? 'no cgroup2 mount' : false) }, async (t) => {
  const ctx = testCgroups(t)!;
  // direct: a process attached to a cgroup, found, frozen, killed by cgroup.kill
  const cg = unitCgroup(ctx, 'direct.service')!;
  ensureUnitCgroup(cg);
  const child = spawn('/bin/sleep', ['1000'], { stdio: 'ignore', detached: true });
  t.after(() => { try { child.kill(9); } catch { /* gone */ } });
  attachPid(cg, child.pid!);
  assert.deepEqual(cgroupPids(cg), [child.pid]);
  assert.equal(isPopulated(cg), true);
  assert.match(readFileSync(`${cg.dirs['unified']}/cgroup.events`, 'utf8'), /populated 1/);
  assert.equal(freezeCgroup(cg, true), true);
  assert.match(readFileSync(`${cg.dirs['unified']}/cgroup.events`, 'utf8'), /frozen 1/);
  freezeCgroup(cg, false);
  const exited = new Promise((res) => child.once('exit', (_c, sig) => res(sig)));
  assert.deepEqual(killCgroup(cg, 9), [child.pid]);
  assert.equal(await exited, 'SIGKILL');
  await until('empty', () => !isPopulated(cg), { timeoutMs: 2000 });
  assert.deepEqual(removeUnitCgroup(cg), []);
  assert.equal(existsSync(cg.primary), false);

  // through a runner: the shim killed from outside leaves a process in the cgroup; the stop
  // waits for the cgroup to empty (cgroup.events watched), as systemd waits for "cgroup empty"
  const h = harness(t, { cgroups: true });
  const script = join(h.dir, 'stubborn.sh');
  writeFileSync(script, "#!/bin/sh\nsetsid sh -c 'sleep 0.3; trap \"\" TERM; while :; do sleep 0.05; done' &\nexec sleep 1000\n", { mode: 0o755 });
  const r = h.open('orphan.service', { service: { execStart: [script], timeoutStopSec: '1s' } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  // running with SIGTERM ignored (its trap set): a process of it found before that (the forked
  // subshell, setsid) would die of the stop's SIGTERM, and the cgroup empty at once
  const ignoresTerm = (pid: number): boolean => { try { return (BigInt('0x' + (/^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0')) & (1n << 14n)) !== 0n; } catch { return false; } };
  await until('the stubborn daemon runs, ignoring SIGTERM', () => r.unitProcesses().some((p) => p !== r.props.MainPID && ignoresTerm(p)), { timeoutMs: 3000 });
  process.kill(r.spawns[0]!.shimPid, 9); // the holder dies; its processes stay in the cgroup
  await until('the shim vanished', () => { r.pollTick(); return r.spawns.every((s) => s.done); }, { timeoutMs: 3000 });
  await sleep(300);
  // the engine's stop sent SIGTERM to the cgroup; the daemon ignores it: not dead while the cgroup has processes
  assert.equal(r.props.SubState, 'stop-sigterm', h.logs.join("\n"));
  assert.ok(isPopulated(r.cgroup!));
  const rest = cgroupPids(r.cgroup!);
  // after TimeoutStopSec=: SIGKILL through cgroup.kill; the cgroup's "populated 0" ends the stop
  await waitFor(r, 'dead or failed', (x) => x.props.ActiveState === 'inactive' || x.props.ActiveState === 'failed', 5000);
  assert.deepEqual(rest.filter(alive), []);
  assert.equal(r.props.Result, 'signal', 'the first failure (its main process reported killed) is kept, as systemd keeps it');
  assert.ok(h.logs.some((l) => /processes remain in its cgroup/.test(l)), h.logs.join('\n'));
});

test('a command that cannot join its cgroup fails at step CGROUP with status 219', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-cg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events');
  const p = spawn(shimPath, [events, '--', '/bin/true', 'true'], { stdio: 'ignore', env: { UO_SHIM_CGROUPS: `${dir}/no-such-cgroup`, UO_SHIM_LOG: join(dir, 'log'), UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null' } });
  await new Promise((res) => p.once('exit', res));
  const lines = readFileSync(events, 'utf8');
  assert.match(lines, /^exec-failed [0-9]+ 2 219 CGROUP$/m);
  assert.match(lines, /^exit [0-9]+ exited 219 [0-9]+$/m);
  // the file that refused it and the errno, before the failure
  assert.match(lines, new RegExp(`^note [0-9]+ CGROUP 2 ${dir}/no-such-cgroup/cgroup.procs\n(.*\n)?exec-failed`, 'm'));
});

// How uo-shim places a command (shim/cgroup.c), read from the system calls it makes (strace): born
// in its cgroup2 cgroup by clone3() with CLONE_INTO_CGROUP, then "0" written to tasks of each v1
// hierarchy; no cgroup.procs is written (the write that waits for an RCU grace period)
test('uo-shim places a command without cgroup.procs: clone3 CLONE_INTO_CGROUP into cgroup2, "0" to v1 tasks', { skip: skip || (!LAYOUT.unified || !LAYOUT.hierarchies.some((h) => h.version === 1) ? 'needs a cgroup2 mount and a v1 hierarchy (hybrid)' : spawnSync('strace', ['-V']).status !== 0 ? 'strace is not installed (.ci/run installs it)' : false) }, async (t) => {
  const v1 = LAYOUT.hierarchies.find((h) => h.version === 1)!;
  const dirs = [join(LAYOUT.unified!.mount, `uo-test-place-${process.pid}`), join(v1.mount, `uo-test-place-${process.pid}`)];
  for (const d of dirs) mkdirSync(d);
  const tmp = mkdtempSync(join(tmpdir(), 'uo-cg-'));
  t.after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    for (const d of dirs) await until(`${d} removed`, () => { try { rmdirSync(d); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'ENOENT' ? true : undefined; } }, { timeoutMs: 3000 });
  });
  const trace = join(tmp, 'trace'), events = join(tmp, 'events'), seen = join(tmp, 'cgroup');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=clone3,openat', '-o', trace, shimPath, events, '--', '/bin/sh', 'sh', '-c', `cat /proc/self/cgroup > ${seen}`],
    { encoding: 'utf8', timeout: 20_000, env: { UO_SHIM_CGROUPS: dirs.join('\n'), UO_SHIM_LOG: join(tmp, 'log'), UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null', PATH: '/usr/bin:/bin' } });
  assert.equal(r.status, 0, r.stderr);
  const text = readFileSync(trace, 'utf8');
  // (strace may split the call: "clone3(... <unfinished ...>" then "<... clone3 resumed>) = PID")
  assert.match(text, /clone3\(\{flags=CLONE_INTO_CGROUP\b[^}]*cgroup=\d+\}, 88(\) += [1-9]\d*$| <unfinished \.\.\.>\n[^]*<\.\.\. clone3 resumed>\) += [1-9]\d*$)/m, text);
  assert.match(text, new RegExp(`openat\\(\\d+, "tasks", O_WRONLY`), text);
  assert.doesNotMatch(text, /"cgroup\.procs"/, 'no cgroup.procs written');
  const mine = readFileSync(seen, 'utf8');
  assert.match(mine, new RegExp(`^0::/${dirs[0]!.slice(LAYOUT.unified!.mount.length + 1)}$`, 'm'), mine);
  assert.match(mine, new RegExp(`:/${dirs[1]!.slice(v1.mount.length + 1)}$`, 'm'), mine);
});

// On v1 the command joins by writing 0 to tasks (shim/cgroup.c: a thread move, without the
// kernel's global lock): a folder the kernel refuses it names that file — a v1 cpuset cgroup with
// no CPUs refuses every task (ENOSPC)
test('a v1 cgroup that refuses the command: the note names its tasks file and the errno (ENOSPC from an empty cpuset)', { skip: skip || (!LAYOUT.hierarchies.some((h) => h.key === 'cpuset') ? 'no v1 cpuset hierarchy' : false) }, async (t) => {
  const cpuset = LAYOUT.hierarchies.find((h) => h.key === 'cpuset')!.mount;
  const dir = mkdtempSync(join(tmpdir(), 'uo-cg-'));
  const empty = join(cpuset, `uo-test-nocpus-${process.pid}`);
  mkdirSync(empty);
  writeFileSync(join(empty, 'cpuset.cpus'), '\n'); // none, whatever the parent's clone_children says
  t.after(() => { rmSync(dir, { recursive: true, force: true }); try { rmdirSync(empty); } catch { /* gone */ } });
  const events = join(dir, 'events');
  const p = spawn(shimPath, [events, '--', '/bin/true', 'true'], { stdio: 'ignore', env: { UO_SHIM_CGROUPS: empty, UO_SHIM_LOG: join(dir, 'log'), UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null' } });
  await new Promise((res) => p.once('exit', res));
  const lines = readFileSync(events, 'utf8');
  assert.match(lines, new RegExp(`^note [0-9]+ CGROUP 28 ${empty}/tasks\n(.*\n)?exec-failed [0-9]+ 28 219 CGROUP$`, 'm'), lines);
});

test('a unit whose command cannot join its cgroup fails with 219/CGROUP, and its log and status name the cgroup file and the errno', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('nojoin.service', { service: { type: 'exec', execStart: ['/bin/sleep 1000'] } });
  // one more folder to join that is not there (a cgroup removed under the command): the shim's
  // open finds nothing (ENOENT), after the unit's real cgroup folders
  const gone = join(mkdtempSync(join(tmpdir(), 'uo-cg-gone-')), 'nojoin.service');
  t.after(() => rmSync(dirname(gone), { recursive: true, force: true }));
  r.cgroup = { ...r.cgroup!, joins: [...r.cgroup!.joins, gone] };
  r.start();
  await waitFor(r, 'failed', (x) => x.activeState === 'failed', 5000);
  assert.equal(r.props.ExecMainStatus, 219);
  const text = h.logs.join('\n');
  const said = `Failed to attach to cgroup ${gone}/cgroup.procs: No such file or directory`;
  assert.ok(text.includes(said), text);
  assert.match(text, /Failed at step CGROUP spawning \/bin\/sleep: No such file or directory/);
  assert.ok(r.problems.some((p) => p.includes(said)), r.problems.join('\n'));
});

test('status lines as systemctl: Tasks with its limit, Memory with high/max/peak in format_bytes units, CPU', async () => {
  const { statusLines, formatBytes } = await import('../../src/cli/format.ts');
  assert.deepEqual([formatBytes(512), formatBytes(241_664), formatBytes(12.34 * 1024 * 1024), formatBytes(3 * 1024 ** 3)], ['512B', '236.0K', '12.3M', '3.0G']);
  const lines = statusLines({
    ActiveState: 'active', SubState: 'running', Result: 'success', NRestarts: 0, MainPID: 42, ControlPID: 0, ExecMainCode: 0, ExecMainStatus: 0,
    TasksCurrent: 2, TasksMax: 4915, MemoryCurrent: 1.5 * 1024 * 1024, MemoryPeak: 2 * 1024 * 1024, MemoryMax: 64 * 1024 * 1024, CPUUsageNSec: 1_234_000_000,
  }, { color: false }, Date.now());
  assert.ok(lines.includes('      Tasks: 2 (limit: 4915)'), lines.join('\n'));
  assert.ok(lines.includes('     Memory: 1.5M (max: 64.0M, peak: 2.0M)'), lines.join('\n'));
  assert.ok(lines.includes('        CPU: 1.234s'), lines.join('\n'));
});

// A process that moved out of its unit's cgroup but is still under its holder (the child
// subreaper holds it) stays the unit's through the holder's tree: a stop reaches it and the holder
// then ends (the tree is walked only for holders that have not written "empty": unit.ts).
test('a process that moved out of its unit\'s cgroup while under its holder is still the unit\'s: a member, signalled by the stop', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const pidFile = join(h.dir, 'bg.pid');
  const r = h.open('leaver.service', { service: { execStart: [`/bin/sh -c 'sleep 1000 & echo $! > ${pidFile}; exec sleep 1001'`] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  await until('the background sleep', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeoutMs: 5000 });
  const bg = Number(readFileSync(pidFile, 'utf8'));
  t.after(() => { if (alive(bg)) process.kill(bg, 'SIGKILL'); });
  // out of the unit's cgroup into each hierarchy's root (as root may)
  for (const hier of LAYOUT.hierarchies) writeFileSync(join(hier.mount, 'cgroup.procs'), String(bg));
  assert.equal(r.membership.has(bg), true, 'under its holder: the unit\'s');
  assert.equal(r.membership.pids().includes(bg), true);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  await until('the moved process ended', () => !alive(bg), { timeoutMs: 3000 });
});
