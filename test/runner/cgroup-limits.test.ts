// applyLimits() against real cgroups (issue 13): on this machine's v1 memory, cpu and pids
// hierarchies, a cgroup per test run (uo-test-limits-XXXX) is made, limits are written and read
// back, and processes placed in it meet them: TasksMax=5 refuses the 6th task, CPUQuota=20%
// throttles a busy loop, MemoryMax= OOM-kills a memory hog and the v1 oom_kill counter rises.
// The cgroups are removed afterwards, their processes killed first, even when a test fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { applyLimits, reapplyLimits, availableIn, readHostFacts, type CgroupDirs } from '../../src/runner/cgroup/limits.ts';
import { parseResources, unappliable } from '../../src/runner/cgroup/resources.ts';
import { readOomKills } from '../../src/runner/cgroup/oom.ts';

const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
const v1 = CONTROLLERS.every((c) => existsSync(join(ROOT, c, 'cgroup.procs')));
const skip = process.getuid?.() !== 0 ? 'needs root (cgroup writes)' : !v1 ? 'needs the v1 memory, cpu and pids hierarchies (this machine\'s layout)' : false;
if (skip) process.stdout.write(`# cgroup-limits: skipped: ${skip}\n`);

const made: string[] = [];
const children: ChildProcess[] = [];

/** A fresh cgroup in each of the v1 hierarchies: uo-test-limits-XXXX/<name>. */
function cgroup(name: string): CgroupDirs {
  const dirs: Record<string, string> = {};
  for (const c of CONTROLLERS) {
    const base = join(ROOT, c, `uo-test-limits-${RUN}`);
    if (!existsSync(base)) { mkdirSync(base); made.push(base); }
    const dir = join(base, name);
    mkdirSync(dir);
    made.push(dir);
    dirs[c] = dir;
  }
  return dirs;
}
const RUN = randomBytes(4).toString('hex');

const procs = (dir: string): number[] => readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);

after(async () => {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
  for (const dir of [...made].reverse()) {
    for (let i = 0; i < 100 && existsSync(dir); i++) {
      try { for (const pid of procs(dir)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } rmdirSync(dir); } catch { await new Promise((r) => setTimeout(r, 20)); }
    }
    if (existsSync(dir)) process.stdout.write(`# cgroup-limits: could not remove ${dir}\n`);
  }
});

/**
 * Starts `script` under dash, places it in `dirs` (echo pid > cgroup.procs, in every hierarchy),
 * then lets it go: the script begins with `read go`, so nothing runs before the placement.
 */
function placed(dirs: CgroupDirs, script: string): { child: ChildProcess; out: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn('/bin/sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  for (const dir of Object.values(dirs)) writeFileSync(join(dir, 'cgroup.procs'), String(child.pid));
  child.stdin!.write('go\n');
  return { child, out: () => out, exited };
}

const HOST = readHostFacts({ memoryRoot: join(ROOT, 'memory'), pidsRoot: join(ROOT, 'pids') });
const res = (service: Record<string, unknown>) => parseResources({ service: { execStart: ['x'], ...service } }, HOST);
const read = (dirs: CgroupDirs, c: string, f: string): string => readFileSync(join(dirs[c]!, f), 'utf8').trim();
const keyed = (text: string): Record<string, number> => Object.fromEntries(text.split('\n').map((l) => l.split(' ')).map(([k, v]) => [k, Number(v)]));

test('applyLimits on v1: MemoryMax= → memory.limit_in_bytes, CPUWeight= → cpu.shares, CPUQuota= → cpu.cfs_quota_us/cfs_period_us, TasksMax= → pids.max read back; a changed spec is applied live (set-property)', { skip }, () => {
  const dirs = cgroup('readback');
  const r = res({ memoryMax: '64M', memorySwapMax: '0', cpuWeight: 50, cpuQuota: '20%', tasksMax: 5 });
  assert.deepEqual(unappliable(r, availableIn(dirs, 'v1')), []);
  assert.deepEqual(applyLimits(dirs, r, 'v1'), []);
  assert.equal(read(dirs, 'memory', 'memory.limit_in_bytes'), String(64 * 2 ** 20));
  assert.equal(read(dirs, 'memory', 'memory.memsw.limit_in_bytes'), String(64 * 2 ** 20), 'MemorySwapMax=0: memsw = MemoryMax= + 0');
  assert.equal(read(dirs, 'cpu', 'cpu.shares'), '512');
  assert.equal(read(dirs, 'cpu', 'cpu.cfs_period_us'), '100000');
  assert.equal(read(dirs, 'cpu', 'cpu.cfs_quota_us'), '20000');
  assert.equal(read(dirs, 'pids', 'pids.max'), '5');

  // raising the limit above the old memsw works only in the written order (memsw opened first)
  const next = res({ memoryMax: '128M', memorySwapMax: '0', cpuQuota: '150%', tasksMax: 'infinity' });
  const { changed, problems } = reapplyLimits(dirs, r, next, 'v1');
  assert.deepEqual(problems, []);
  assert.deepEqual(changed, ['MemoryMax', 'MemorySwapMax', 'cpu.shares', 'CPUQuota', 'TasksMax']);
  assert.equal(read(dirs, 'memory', 'memory.limit_in_bytes'), String(128 * 2 ** 20));
  assert.equal(read(dirs, 'memory', 'memory.memsw.limit_in_bytes'), String(128 * 2 ** 20));
  assert.equal(read(dirs, 'cpu', 'cpu.shares'), '1024', 'CPUWeight= removed: back to the default');
  assert.equal(read(dirs, 'cpu', 'cpu.cfs_quota_us'), '150000');
  assert.equal(read(dirs, 'pids', 'pids.max'), 'max');

  // and back down: limit lowered below the old memsw
  assert.deepEqual(applyLimits(dirs, res({ memoryMax: '32M' }), 'v1'), []);
  assert.equal(read(dirs, 'memory', 'memory.limit_in_bytes'), String(32 * 2 ** 20));
  assert.equal(read(dirs, 'memory', 'memory.memsw.limit_in_bytes'), '9223372036854771712', 'MemorySwapMax= removed: memsw unlimited');
  assert.equal(read(dirs, 'pids', 'pids.max'), String(Math.floor(HOST.tasksMax * 15 / 100)), 'TasksMax= removed: DefaultTasksMax=15%');
});

test('applyLimits reports a write the kernel refuses in systemd\'s words, and goes on with the next files', { skip }, () => {
  const dirs = cgroup('refused');
  const problems = applyLimits({ ...dirs, cpu: join(dirs['cpu']!, 'missing') }, res({ cpuQuota: '20%', tasksMax: 7 }), 'v1');
  assert.deepEqual(problems.map((p) => [p.directive, p.code]), [['CPUQuota', 'ENOENT'], ['CPUQuota', 'ENOENT']]);
  assert.match(problems[0]!.message, /^Failed to set 'cpu\.cfs_period_us' attribute on '.*\/missing' to '100000': No such file or directory$/);
  assert.equal(read(dirs, 'pids', 'pids.max'), '7');
});

test('TasksMax=5: a process placed in the cgroup cannot have a 6th task (pids.max; the fork fails with EAGAIN)', { skip }, async () => {
  const dirs = cgroup('forks');
  assert.deepEqual(applyLimits(dirs, res({ tasksMax: 5 }), 'v1'), []);
  // dash and its sleeps: 5 tasks fit, the 6th fork fails ("Cannot fork") and dash exits
  const p = placed(dirs, 'i=0; while [ $i -lt 8 ]; do sleep 30 & i=$((i+1)); echo started $i; done; echo done');
  const { code } = await p.exited;
  assert.notEqual(code, 0, p.out());
  assert.match(p.out(), /started 4\n/);
  assert.doesNotMatch(p.out(), /started 5\n|done/, p.out());
  assert.match(p.out(), /Cannot fork/i);
  assert.ok(keyed(read(dirs, 'pids', 'pids.events'))['max']! >= 1, read(dirs, 'pids', 'pids.events'));
  assert.ok(Number(read(dirs, 'pids', 'pids.current')) <= 5);
});

test('CPUQuota=20%: a busy loop placed in the cgroup is throttled in nearly every 100 ms period (cpu.stat nr_throttled, throttled_time)', { skip }, async () => {
  const dirs = cgroup('quota');
  assert.deepEqual(applyLimits(dirs, res({ cpuQuota: '20%' }), 'v1'), []);
  const before = keyed(read(dirs, 'cpu', 'cpu.stat'));
  const p = placed(dirs, 'while :; do :; done');
  await new Promise((r) => setTimeout(r, 1000));
  const stat = keyed(read(dirs, 'cpu', 'cpu.stat'));
  p.child.kill('SIGKILL');
  await p.exited;
  assert.ok(stat['nr_throttled']! - (before['nr_throttled'] ?? 0) >= 3, JSON.stringify(stat));
  assert.ok(stat['throttled_time']! > 0, JSON.stringify(stat));
  const periods = stat['nr_periods']!;
  // throttled in most 100 ms periods: a busy loop wants the whole period, gets 20 ms
  assert.ok(stat['nr_throttled']! >= periods - 2, JSON.stringify(stat));
});

test('MemoryMax=: a memory hog placed in the cgroup is OOM-killed (SIGKILL) and the v1 oom_kill counter of memory.oom_control rises (readOomKills)', { skip }, async () => {
  const dirs = cgroup('oom');
  const before = readOomKills(dirs, 'v1');
  assert.equal(before, 0, 'this kernel counts OOM kills per memory cgroup (memory.oom_control oom_kill, Linux 4.13+)');
  assert.deepEqual(applyLimits(dirs, res({ memoryMax: '32M', memorySwapMax: '0' }), 'v1'), []);
  const p = placed(dirs, 'exec tail /dev/zero');
  const { signal } = await Promise.race([p.exited, new Promise<never>((_, no) => setTimeout(() => no(new Error('the hog was not killed in 20 s')), 20_000).unref())]);
  assert.equal(signal, 'SIGKILL');
  assert.equal(readOomKills(dirs, 'v1'), 1);
  assert.ok(Number(read(dirs, 'memory', 'memory.max_usage_in_bytes')) <= 32 * 2 ** 20);
});
