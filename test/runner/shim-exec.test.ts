// uo-shim's exec set-up with real processes: the shim is built by ensureShim() and run directly
// (EVENTS_FILE -- PATH ARGV0 ARGS…, settings in UO_SHIM_* variables, as the runner spawns it),
// and what the kernel reports for the command (/proc, ionice, chrt) is checked.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureShim } from '../../src/runner/shim.ts';
import { isEmptyLine } from '../../src/runner/shimproto.ts';

const buildEnv = { ...process.env };
delete buildEnv['UNIT_OPERATOR_SHIM']; // this shim, built from these sources
const SHIM = ensureShim(buildEnv);
const TIMEOUT = { timeout: 20_000 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const has = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;

function tempDir(t: TestContext, tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `uo-shim-${tag}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Run {
  readonly pid: number; // the command's, from "spawn PID"
  readonly lines: () => string[];
  readonly outcome: string; // the "exec …" or "exec-failed …" line
  readonly done: () => Promise<void>; // waits for "empty"
}

/** Runs argv (PATH ARGV0 ARGS…) under the shim with these settings; cleans up after the test. */
async function run(t: TestContext, argv: string[], settings: Record<string, string>, opts: { cwd?: string } = {}): Promise<Run> {
  const dir = tempDir(t, 'run');
  const events = join(dir, 'events');
  const child: ChildProcess = spawn(SHIM, [events, '--', ...argv], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...settings },
    cwd: opts.cwd ?? dir,
    detached: true,
    stdio: 'ignore',
  });
  const exited = new Promise<void>((r) => { if (child.exitCode !== null) r(); else child.once('exit', () => r()); });
  const lines = (): string[] => existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : [];
  const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; events:\n${lines().join('\n')}`);
      await sleep(10);
    }
  };
  let pid = 0;
  t.after(async () => {
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    const end = Date.now() + 3000;
    while (child.exitCode === null && child.signalCode === null && Date.now() < end) await sleep(10);
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    await Promise.race([exited, sleep(1000)]);
  });
  await until('spawn', () => lines().some((l) => l.startsWith('spawn ')));
  pid = Number(lines().find((l) => l.startsWith('spawn '))!.split(' ')[1]);
  await until('exec or exec-failed', () => lines().some((l) => l.startsWith('exec ') || l.startsWith('exec-failed ')));
  const outcome = lines().find((l) => l.startsWith('exec ') || l.startsWith('exec-failed '))!;
  return { pid, lines, outcome, done: () => until('empty', () => lines().some(isEmptyLine)) };
}

const SLEEP = ['/bin/sleep', 'sleep', '1000'];
const statField = (pid: number, n: number): string => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[n - 3]!; // fields 1 and 2 are before ')'
};
const hasCap = (bit: number): boolean => {
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  return ((BigInt(`0x${eff}`) >> BigInt(bit)) & 1n) === 1n;
};
const CAP_SYS_RESOURCE = 24;

/** Runs a set-up that must fail; returns the exec-failed fields and checks the child's exit. */
async function failure(t: TestContext, settings: Record<string, string>, argv = SLEEP): Promise<{ errno: number; status: number; step: string }> {
  const r = await run(t, argv, settings);
  await r.done();
  const [kind, pid, errno, status, step] = r.outcome.split(' ');
  assert.equal(kind, 'exec-failed', r.lines().join('\n'));
  assert.equal(Number(pid), r.pid);
  assert.ok(r.lines().some((l) => l.startsWith(`exit ${r.pid} exited ${status} `)), 'the child exits with the step\'s status');
  return { errno: Number(errno), status: Number(status), step: step! };
}

test('Nice= is the command\'s nice level (/proc/PID/stat field 19)', TIMEOUT, async (t) => {
  for (const nice of ['7', '-5']) {
    const r = await run(t, SLEEP, { UO_SHIM_NICE: nice });
    assert.equal(r.outcome, `exec ${r.pid}`);
    assert.equal(statField(r.pid, 19), nice);
  }
});

test('OOMScoreAdjust= positive is written to /proc/PID/oom_score_adj', TIMEOUT, async (t) => {
  const r = await run(t, SLEEP, { UO_SHIM_OOM_SCORE_ADJUST: '500' });
  assert.equal(r.outcome, `exec ${r.pid}`);
  assert.equal(readFileSync(`/proc/${r.pid}/oom_score_adj`, 'utf8').trim(), '500');
  assert.ok(!r.lines().some((l) => l.startsWith('note ')));
});

test('OOMScoreAdjust= negative: applied with CAP_SYS_RESOURCE, else noted and the command runs anyway (as systemd)', TIMEOUT, async (t) => {
  const before = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
  const r = await run(t, SLEEP, { UO_SHIM_OOM_SCORE_ADJUST: '-500' });
  assert.equal(r.outcome, `exec ${r.pid}`, 'the command runs');
  const now = readFileSync(`/proc/${r.pid}/oom_score_adj`, 'utf8').trim();
  if (hasCap(CAP_SYS_RESOURCE)) {
    assert.equal(now, '-500');
  } else {
    // this VM: the bounding set lacks CAP_SYS_RESOURCE, the kernel says EACCES
    const note = r.lines().find((l) => l.startsWith('note '));
    assert.match(note ?? '', new RegExp(`^note ${r.pid} OOM_ADJUST (1|13)$`));
    assert.ok(r.lines().indexOf(note!) < r.lines().indexOf(r.outcome), 'the note comes before "exec"');
    assert.equal(now, before, 'left as inherited');
  }
});

test('RootDirectory= chroots the command; the executable and WorkingDirectory= are found inside', TIMEOUT, async (t) => {
  const root = tempDir(t, 'root');
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'data'));
  const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
  const hold = join(root, 'bin', 'hold');
  if (busybox && spawnSync('sh', ['-c', `ldd ${busybox} 2>&1 | grep -q 'not a dynamic'`]).status === 0) {
    spawnSync('cp', [busybox, join(root, 'bin', 'busybox')]);
    writeFileSync(hold, '#!/bin/busybox sh\nexec /bin/busybox sleep 1000\n', { mode: 0o755 });
  } else {
    writeFileSync(join(root, 'hold.c'), '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n');
    const cc = spawnSync('gcc', ['-static', '-O1', '-o', hold, join(root, 'hold.c')], { encoding: 'utf8' });
    if (cc.status !== 0) { t.skip(`no static busybox and gcc -static failed: ${cc.stderr ?? cc.error}`); return; }
  }
  const r = await run(t, ['/bin/hold', 'hold'], { UO_SHIM_ROOT_DIRECTORY: root });
  assert.equal(r.outcome, `exec ${r.pid}`);
  assert.equal(readlinkSync(`/proc/${r.pid}/root`), root);
  assert.equal(readlinkSync(`/proc/${r.pid}/cwd`), root, 'WorkingDirectory= defaults to the new root');
  const w = await run(t, ['/bin/hold', 'hold'], { UO_SHIM_ROOT_DIRECTORY: root, UO_SHIM_CWD: '/data' });
  assert.equal(readlinkSync(`/proc/${w.pid}/cwd`), join(root, 'data'), 'WorkingDirectory= is inside the root');
  // /bin/sleep exists on the host, not in the root
  const missing = await failure(t, { UO_SHIM_ROOT_DIRECTORY: root });
  assert.deepEqual(missing, { errno: 2, status: 203, step: 'EXEC' });
  const noRoot = await failure(t, { UO_SHIM_ROOT_DIRECTORY: join(root, 'absent') });
  assert.deepEqual(noRoot, { errno: 2, status: 210, step: 'CHROOT' });
});

test('the default WorkingDirectory= is "/", not the agent\'s own', TIMEOUT, async (t) => {
  const elsewhere = tempDir(t, 'cwd');
  const r = await run(t, SLEEP, {}, { cwd: elsewhere });
  assert.equal(readlinkSync(`/proc/${r.pid}/cwd`), '/');
  const optional = await run(t, SLEEP, { UO_SHIM_CWD: '-/absent/dir' }, { cwd: elsewhere });
  assert.equal(optional.outcome, `exec ${optional.pid}`, 'a "-" directory that is missing is ignored');
  assert.equal(readlinkSync(`/proc/${optional.pid}/cwd`), '/');
  const given = await run(t, SLEEP, { UO_SHIM_CWD: elsewhere });
  assert.equal(readlinkSync(`/proc/${given.pid}/cwd`), elsewhere);
});

test('StandardInput=null|data|file (/proc/PID/fd/0, what the command reads)', TIMEOUT, async (t) => {
  for (const settings of [{ UO_SHIM_STDIN: 'null' }, {}] as Record<string, string>[]) {
    const r = await run(t, SLEEP, settings);
    assert.equal(readlinkSync(`/proc/${r.pid}/fd/0`), '/dev/null');
  }
  const dir = tempDir(t, 'stdin');
  const out = join(dir, 'out');
  const data = await run(t, ['/bin/cat', 'cat'], { UO_SHIM_STDIN: `data:${Buffer.from('hello\nworld\n').toString('base64')}`, UO_SHIM_STDOUT: `w:${out}` });
  await data.done();
  assert.equal(readFileSync(out, 'utf8'), 'hello\nworld\n');
  writeFileSync(join(dir, 'in'), 'from a file\n');
  const file = await run(t, ['/bin/cat', 'cat'], { UO_SHIM_STDIN: `file:${join(dir, 'in')}`, UO_SHIM_STDOUT: `w:${out}` });
  await file.done();
  assert.equal(readFileSync(out, 'utf8'), 'from a file\n');
  assert.deepEqual(await failure(t, { UO_SHIM_STDIN: `file:${join(dir, 'absent')}` }), { errno: 2, status: 208, step: 'STDIN' });
  assert.deepEqual(await failure(t, { UO_SHIM_STDIN: 'data:@@@' }), { errno: 22, status: 208, step: 'STDIN' });
});

test('StandardInput=tty opens the terminal as controlling tty; stdout/stderr inherit it; tty-fail refuses a taken one', TIMEOUT, async (t) => {
  if (!has('python3')) { t.skip('python3 is needed to hold a pseudo-terminal open'); return; }
  const holder = spawn('python3', ['-c', 'import os,pty,sys,time\nm,s=pty.openpty()\nprint(os.ttyname(s),flush=True)\nos.close(s)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => { if (holder.exitCode === null) holder.kill('SIGKILL'); });
  const tty = await new Promise<string>((resolve, reject) => {
    let buf = '';
    holder.stdout!.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) resolve(buf.trim()); });
    holder.once('exit', () => reject(new Error('python3 could not open a pty')));
  });
  const r = await run(t, SLEEP, { UO_SHIM_STDIN: `tty:${tty}`, UO_SHIM_STDOUT: 'inherit', UO_SHIM_STDERR: 'inherit' });
  assert.equal(r.outcome, `exec ${r.pid}`);
  for (const fd of [0, 1, 2]) assert.equal(readlinkSync(`/proc/${r.pid}/fd/${fd}`), tty);
  assert.notEqual(statField(r.pid, 7), '0', 'tty_nr: it is the controlling terminal');
  assert.equal(statField(r.pid, 6), String(r.pid), 'its own session');
  assert.deepEqual(await failure(t, { UO_SHIM_STDIN: `tty-fail:${tty}` }), { errno: 1, status: 208, step: 'STDIN' });
});

test('CPUAffinity= (/proc/PID/status Cpus_allowed_list)', TIMEOUT, async (t) => {
  const allowed = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  const last = allowed.split(',').pop()!.split('-').pop()!;
  const r = await run(t, SLEEP, { UO_SHIM_CPU_AFFINITY: last });
  assert.equal(/^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync(`/proc/${r.pid}/status`, 'utf8'))![1], last);
  const list = await run(t, SLEEP, { UO_SHIM_CPU_AFFINITY: `0 ${last}` });
  const got = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync(`/proc/${list.pid}/status`, 'utf8'))![1];
  assert.equal(got, last === '0' ? '0' : last === '1' ? '0-1' : `0,${last}`);
  assert.deepEqual(await failure(t, { UO_SHIM_CPU_AFFINITY: '4095' }), { errno: 22, status: 215, step: 'CPUAFFINITY' });
});

test('IOSchedulingClass=/IOSchedulingPriority= (ionice -p)', TIMEOUT, async (t) => {
  if (!has('ionice')) { t.skip('ionice (util-linux) is not installed'); return; }
  const ionice = (pid: number): string => spawnSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  const be = await run(t, SLEEP, { UO_SHIM_IOSCHED: 'best-effort:6' });
  assert.equal(ionice(be.pid), 'best-effort: prio 6');
  const idle = await run(t, SLEEP, { UO_SHIM_IOSCHED: 'idle' });
  assert.equal(ionice(idle.pid), 'idle');
  const rt = await run(t, SLEEP, { UO_SHIM_IOSCHED: 'realtime:2' });
  assert.equal(ionice(rt.pid), 'realtime: prio 2');
  assert.deepEqual(await failure(t, { UO_SHIM_IOSCHED: 'fast:1' }), { errno: 22, status: 211, step: 'IOPRIO' });
});

test('CPUSchedulingPolicy=/Priority=/ResetOnFork= (/proc/PID/sched, chrt -p); Nice= survives the policy', TIMEOUT, async (t) => {
  const policy = (pid: number): number => Number(/^policy\s*:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/sched`, 'utf8'))![1]);
  const r = await run(t, SLEEP, { UO_SHIM_CPUSCHED: 'batch:0:1', UO_SHIM_NICE: '5' });
  assert.equal(policy(r.pid), 3, 'SCHED_BATCH');
  assert.equal(statField(r.pid, 19), '5');
  if (has('chrt')) assert.match(spawnSync('chrt', ['-p', String(r.pid)], { encoding: 'utf8' }).stdout, /SCHED_BATCH\|SCHED_RESET_ON_FORK/);
  const idle = await run(t, SLEEP, { UO_SHIM_CPUSCHED: 'idle' });
  assert.equal(policy(idle.pid), 5, 'SCHED_IDLE');
  // real-time needs CAP_SYS_NICE and RT bandwidth: applied, or failing at its own step
  const fifo = await run(t, SLEEP, { UO_SHIM_CPUSCHED: 'fifo:10' });
  if (fifo.outcome.startsWith('exec ')) assert.equal(policy(fifo.pid), 1, 'SCHED_FIFO');
  else assert.match(fifo.outcome, new RegExp(`^exec-failed ${fifo.pid} \\d+ 214 SETSCHEDULER$`));
  assert.deepEqual(await failure(t, { UO_SHIM_CPUSCHED: 'deadline:1:0' }), { errno: 22, status: 214, step: 'SETSCHEDULER' });
});

test('set-up failures say systemd\'s step and exit status: exec-failed PID ERRNO STATUS STEP', TIMEOUT, async (t) => {
  assert.deepEqual(await failure(t, { UO_SHIM_CWD: '/absent/dir' }), { errno: 2, status: 200, step: 'CHDIR' });
  assert.deepEqual(await failure(t, { UO_SHIM_NICE: '40' }), { errno: 22, status: 201, step: 'NICE' });
  assert.deepEqual(await failure(t, {}, ['/absent/binary', 'binary']), { errno: 2, status: 203, step: 'EXEC' });
  assert.deepEqual(await failure(t, {}, ['absent-binary', 'absent-binary']), { errno: 2, status: 203, step: 'EXEC' });
  assert.deepEqual(await failure(t, { UO_SHIM_STDOUT: 'a:/absent/dir/out' }), { errno: 2, status: 209, step: 'STDOUT' });
  assert.deepEqual(await failure(t, { UO_SHIM_STDERR: 'a:/absent/dir/err' }), { errno: 2, status: 222, step: 'STDERR' });
  assert.deepEqual(await failure(t, { UO_SHIM_OOM_SCORE_ADJUST: '2000' }), { errno: 22, status: 206, step: 'OOM_ADJUST' });
  assert.deepEqual(await failure(t, { UO_SHIM_RLIMIT_NOFILE: '100:10' }), { errno: 22, status: 205, step: 'LIMITS' });
  // User=/Group= are resolved by the agent, which passes a failure on
  assert.deepEqual(await failure(t, { UO_SHIM_FAIL: '217' }), { errno: 3, status: 217, step: 'USER' });
  assert.deepEqual(await failure(t, { UO_SHIM_FAIL: '216' }), { errno: 3, status: 216, step: 'GROUP' });
});

test('the steps run in systemd\'s order: stdio before scheduling, chroot before the working directory', TIMEOUT, async (t) => {
  const dir = tempDir(t, 'order');
  assert.equal((await failure(t, { UO_SHIM_STDIN: `file:${join(dir, 'absent')}`, UO_SHIM_NICE: '40', UO_SHIM_CWD: '/absent' })).step, 'STDIN');
  assert.equal((await failure(t, { UO_SHIM_OOM_SCORE_ADJUST: 'x', UO_SHIM_CPUSCHED: 'x' })).step, 'OOM_ADJUST');
  assert.equal((await failure(t, { UO_SHIM_CPUSCHED: 'x', UO_SHIM_NICE: '40' })).step, 'SETSCHEDULER');
  assert.equal((await failure(t, { UO_SHIM_NICE: '40', UO_SHIM_CPU_AFFINITY: 'x' })).step, 'NICE');
  assert.equal((await failure(t, { UO_SHIM_CPU_AFFINITY: 'x', UO_SHIM_IOSCHED: 'x' })).step, 'CPUAFFINITY');
  assert.equal((await failure(t, { UO_SHIM_IOSCHED: 'x', UO_SHIM_RLIMIT_NOFILE: '100:10' })).step, 'IOPRIO');
  assert.equal((await failure(t, { UO_SHIM_RLIMIT_NOFILE: '100:10', UO_SHIM_ROOT_DIRECTORY: join(dir, 'absent') })).step, 'LIMITS');
  assert.equal((await failure(t, { UO_SHIM_ROOT_DIRECTORY: join(dir, 'absent'), UO_SHIM_CWD: '/absent' })).step, 'CHROOT');
});

test('the command sees none of the UO_SHIM_* settings; its stderr shares stdout\'s file', TIMEOUT, async (t) => {
  const dir = tempDir(t, 'env');
  const out = join(dir, 'out');
  const r = await run(t, ['/bin/sh', 'sh', '-c', 'env; echo to-stderr >&2'], { UO_SHIM_NICE: '1', UO_SHIM_STDIN: 'null', UO_SHIM_STDOUT: `w:${out}`, UO_SHIM_STDERR: `w:${out}`, KEEP: 'me' });
  await r.done();
  const text = readFileSync(out, 'utf8');
  assert.match(text, /^KEEP=me$/m);
  assert.doesNotMatch(text, /UO_SHIM_/);
  assert.match(text, /to-stderr\n$/, 'one open file: stderr goes after stdout, not over it');
});

test('UO_SHIM_NOT_BEFORE (a restart prepared ahead of its RestartSec= deadline): the command execs no sooner than that CLOCK_MONOTONIC time, at most 1 s ahead; a SIGTERM while it waits ends it before its exec', TIMEOUT, async (t) => {
  const dir = tempDir(t, 'notbefore');
  // the set-up is done, the exec waits: "exec" is read no sooner than the time given
  const at = process.hrtime.bigint() + 300_000_000n;
  const r = await run(t, ['/bin/sh', 'sh', '-c', `echo ran > ${dir}/a; exec sleep 1000`], { UO_SHIM_NOT_BEFORE: String(at) });
  // it says how early it reached its hold (µs), by which the agent sizes its lead (restartlead.ts)
  const slack = Number(new RegExp(`^exec ${r.pid} (-?\\d+)$`).exec(r.outcome)?.[1] ?? NaN);
  assert.ok(slack > 0 && slack <= 300_000, `${r.outcome}: SLACK, the µs left before the time given, in (0, 300000]`);
  assert.ok(process.hrtime.bigint() >= at, '"exec" read before the time given');
  // a time further ahead than 1 s is cut to 1 s (a wrong value cannot hold a restart for long)
  const start = process.hrtime.bigint();
  const far = await run(t, SLEEP, { UO_SHIM_NOT_BEFORE: String(start + 3_600_000_000_000n) });
  assert.equal(far.outcome, `exec ${far.pid} 1000000000`, 'an hour ahead: the slack said is cut to 1000 s');
  const waited = Number(process.hrtime.bigint() - start) / 1e6;
  assert.ok(waited >= 1000 && waited < 4000, `held ${waited.toFixed(0)} ms for a time an hour ahead (1 s at most)`);
  // past, malformed: no wait at all beyond the set-up (the command runs)
  // (a time in the past is reached late: a negative slack, cut to -1000 s; a malformed one holds nothing and says nothing)
  const past = await run(t, SLEEP, { UO_SHIM_NOT_BEFORE: '1' });
  assert.equal(past.outcome, `exec ${past.pid} -1000000000`);
  for (const v of ['x12', '']) { const m = await run(t, SLEEP, { UO_SHIM_NOT_BEFORE: v }); assert.equal(m.outcome, `exec ${m.pid}`, v); }
  // stopped while it waits: the command never runs
  const child = spawn(SHIM, [join(dir, 'events'), '--', '/bin/sh', 'sh', '-c', `echo ran > ${dir}/b`], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', UO_SHIM_NOT_BEFORE: String(process.hrtime.bigint() + 900_000_000n) }, detached: true, stdio: 'ignore',
  });
  t.after(() => { if (child.exitCode === null && child.pid) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } } });
  const events = (): string[] => existsSync(join(dir, 'events')) ? readFileSync(join(dir, 'events'), 'utf8').split('\n').filter(Boolean) : [];
  for (const end = Date.now() + 5000; !events().some((l) => l.startsWith('spawn ')) && Date.now() < end;) await sleep(10);
  const pid = Number(events().find((l) => l.startsWith('spawn '))?.split(' ')[1]);
  assert.ok(pid > 0, events().join('\n'));
  process.kill(pid, 'SIGTERM');
  for (const end = Date.now() + 5000; !events().some(isEmptyLine) && Date.now() < end;) await sleep(10);
  assert.ok(events().some((l) => l.startsWith(`exit ${pid} killed 15 `)), events().join('\n'));
  await sleep(1000); // past the time it waited for
  assert.equal(existsSync(join(dir, 'b')), false, 'the command did not run');
});
