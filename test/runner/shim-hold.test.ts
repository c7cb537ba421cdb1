// uo-shim's hold mode (issue 19, shim/hold.c): once the command runs, the holder re-executes
// itself into a fresh image that keeps only what the reaping loop needs — and everything the
// agent relies on stays: the PID, argv (how the agent knows a live holder), the executable,
// the event log's lines, the log pipes, the notify socket, the exit status.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureShim } from '../../src/runner/shim.ts';
import { startTime } from '../../src/runner/procfs.ts';
import { isEmptyLine } from '../../src/runner/shimproto.ts';

const buildEnv = { ...process.env };
delete buildEnv['UNIT_OPERATOR_SHIM']; // this shim, built from these sources
const SHIM = ensureShim(buildEnv);
const TIMEOUT = { timeout: 30_000 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
const procEnv = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Starts the shim on argv with env; its event log's lines; cleans up (by PID) after the test. */
function start(t: TestContext, argv: string[], env: Record<string, string>): { pid: number; dir: string; events: string; lines: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'uo-hold-'));
  const run = join(dir, 'u.service', 'run', '1-start-0');
  mkdirSync(run, { recursive: true });
  const events = join(run, 'events');
  const child = spawn(SHIM, [events, '--', ...argv], { env: { PATH: '/usr/bin:/bin', ...env }, detached: true, stdio: 'ignore' });
  child.unref();
  const lines = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : []);
  t.after(async () => {
    // the command, by PID, only while its holder has not reaped it (a reaped PID may be reused)
    const spawned = Number(lines().find((l) => l.startsWith('spawn '))?.split(' ')[1] ?? 0);
    if (spawned > 0 && !lines().some((l) => l.startsWith(`exit ${spawned} `))) { try { process.kill(spawned, 'SIGKILL'); } catch { /* gone */ } }
    await until('the holder to end', () => !alive(child.pid!) || /^State:\s+Z/m.test(readFileSync(`/proc/${child.pid}/status`, 'utf8')), 5000).catch(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } });
    rmSync(dir, { recursive: true, force: true });
  });
  return { pid: child.pid!, dir, events, lines };
}

test('the holder re-executes itself into hold mode: same PID, argv, executable and start time; only the loop\'s settings in its environment', TIMEOUT, async (t) => {
  const h = start(t, ['/bin/sleep', 'sleep', '1000'], { UO_SHIM_STDOUT: 'journal', UO_SHIM_STDERR: 'journal', UO_SHIM_STDIN: 'null', UO_SHIM_LOG: '/dev/null', UO_SHIM_RLIMIT_NOFILE: '512' });
  const started = startTime(h.pid);
  await until('exec', () => h.lines().some((l) => l.startsWith('exec ')));
  await until('hold mode', () => procEnv(h.pid).some((e) => e.startsWith('UO_SHIM_HOLD=')));
  assert.deepEqual(argvOf(h.pid), [SHIM, h.events, '--', '/bin/sleep', 'sleep', '1000'], 'argv, by which the agent knows its holders (store.ts isShimOf)');
  assert.equal(readlinkSync(`/proc/${h.pid}/exe`), SHIM);
  assert.equal(startTime(h.pid), started, 'the same process');
  assert.ok(!procEnv(h.pid).some((e) => e.startsWith('UO_SHIM_RLIMIT_')), 'the set-up\'s settings are dropped');
  assert.equal(readFileSync(`/proc/${h.pid}/comm`, 'utf8').trim(), 'uo-shim');
  // SIGTERM, SIGINT, SIGHUP are still ignored (the unit's signals must not reach the holder)
  const sigIgn = BigInt(`0x${/^SigIgn:\s+([0-9a-f]+)$/m.exec(readFileSync(`/proc/${h.pid}/status`, 'utf8'))![1]}`);
  for (const sig of [1, 2, 15]) assert.ok((sigIgn >> BigInt(sig - 1)) & 1n, `signal ${sig} ignored`);
});

test('in hold mode the exit status, the log lines and the notify datagrams are still recorded, and the socket removed at the end', TIMEOUT, async (t) => {
  if (spawnSync('systemd-notify', ['--version'], { stdio: 'ignore' }).error) { t.skip('no systemd-notify'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'uo-hold-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'journal.log');
  const sock = join(dir, 'notify.sock');
  const script = 'echo before; while [ ! -e "$0" ]; do sleep 0.05; done; echo after; echo oops >&2; systemd-notify --ready --status=held; exit 7';
  const go = join(dir, 'go');
  const h = start(t, ['/bin/sh', 'sh', '-c', script, go], { UO_SHIM_STDOUT: 'journal', UO_SHIM_STDERR: 'journal', UO_SHIM_LOG: log, UO_SHIM_NOTIFY_SOCKET: sock });
  await until('hold mode', () => alive(h.pid) && procEnv(h.pid).some((e) => e.startsWith('UO_SHIM_HOLD=')));
  spawnSync('touch', [go]); // the command goes on only once its holder holds in the new image
  await until('empty', () => h.lines().some(isEmptyLine));
  const lines = h.lines();
  const pid = Number(lines.find((l) => l.startsWith('spawn '))!.split(' ')[1]);
  assert.ok(lines.some((l) => l.startsWith(`exit ${pid} exited 7 `)), lines.join('\n'));
  assert.ok(lines.some((l) => /^notify2 \d+ 0 0 READY=1\\x0aSTATUS=held/.test(l)), lines.join('\n'));
  const text = readFileSync(log, 'utf8');
  for (const want of [/ stdout before$/m, / stdout after$/m, / stderr oops$/m]) assert.match(text, want);
  assert.ok(!existsSync(sock), 'the notify socket is removed when the holder ends');
});

test('UO_SHIM_HOLD in the environment the agent passes (a unit\'s Environment=) does not make a new shim skip its set-up', TIMEOUT, async (t) => {
  const h = start(t, ['/bin/sh', 'sh', '-c', 'exit 3'], { UO_SHIM_HOLD: '0,-1,-1,-1,-100', UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null', UO_SHIM_LOG: '/dev/null' });
  await until('empty', () => h.lines().some(isEmptyLine));
  const lines = h.lines();
  assert.equal(lines[0], `shim ${h.pid}`);
  assert.ok(lines.some((l) => /^exit \d+ exited 3( \d+)?$/.test(l)), lines.join('\n'));
});

test('with musl-gcc on the machine the shim is built statically linked (no program interpreter)', TIMEOUT, (t) => {
  const onPath = (process.env['PATH'] ?? '').split(':').some((d) => d && existsSync(join(d, 'musl-gcc')));
  if (!onPath) { t.skip('no musl-gcc here (apt-get install musl-tools): the shim is built with glibc'); return; }
  if (process.env['UNIT_OPERATOR_SHIM']) { t.skip('UNIT_OPERATOR_SHIM is set'); return; }
  const elf = readFileSync(SHIM);
  const phoff = Number(elf.readBigUInt64LE(0x20)), phentsize = elf.readUInt16LE(0x36), phnum = elf.readUInt16LE(0x38);
  const types = Array.from({ length: phnum }, (_, i) => elf.readUInt32LE(phoff + i * phentsize));
  assert.ok(!types.includes(3), 'no PT_INTERP: statically linked');
});
