// uo-shim's privilege steps with hostile or broken settings (shim/privs.c, shim/seccomp.c): the
// shim is run directly, as the runner spawns it, and a malformed UO_SHIM_* value fails the
// command at its step with systemd's exit status and step name, never runs it half-configured.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureShim } from '../../src/runner/shim.ts';
import { privsPlan } from '../../src/runner/privs.ts';

const buildEnv = { ...process.env };
delete buildEnv['UNIT_OPERATOR_SHIM'];
const SHIM = ensureShim(buildEnv);
const root = process.geteuid?.() === 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs /bin/sh -c SCRIPT under the shim; the event lines once it wrote "exit" (bounded wait). */
async function run(t: TestContext, script: string, settings: Record<string, string>): Promise<{ lines: string[]; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-prv-shim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events'), out = join(dir, 'out');
  const child = spawn(SHIM, [events, '--', '/bin/sh', 'sh', '-c', script], {
    env: { PATH: '/usr/bin:/bin', UO_SHIM_STDOUT: `o:${out}`, UO_SHIM_STDERR: `o:${out}`, UO_SHIM_LOG: join(dir, 'log'), UO_SHIM_LOG_MAX: '100000', ...settings },
    detached: true, stdio: 'ignore',
  });
  const lines = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : []);
  for (let i = 0; i < 500 && !lines().some((l) => l.startsWith('exit ')); i++) await sleep(10);
  for (let i = 0; i < 300 && child.exitCode === null && child.signalCode === null; i++) await sleep(10);
  if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  return { lines: lines(), out: existsSync(out) ? readFileSync(out, 'utf8') : '' };
}

const failed = (lines: string[]): string | undefined => lines.find((l) => l.startsWith('exec-failed '))?.split(' ').slice(3).join(' ');

test('malformed privilege settings fail the command at their step, with systemd\'s status', { skip: root ? false : 'needs root', timeout: 60_000 }, async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ UO_SHIM_CAPBSET: '00000000000000zz' }, '218 CAPABILITIES'],
    [{ UO_SHIM_CAPBSET: '1' }, '218 CAPABILITIES'],
    [{ UO_SHIM_AMBIENT: '0000000000000000000' }, '218 CAPABILITIES'],
    [{ UO_SHIM_NNP: 'maybe' }, '227 NO_NEW_PRIVILEGES'],
    [{ UO_SHIM_SECCOMP_AF: 'zz' }, '232 ADDRESS_FAMILIES'],
    [{ UO_SHIM_SECCOMP: '0600000000007f' }, '228 SECCOMP'], // not a whole instruction
    [{ UO_SHIM_SECCOMP: '0600000000007fff,' }, '228 SECCOMP'], // an empty program
    [{ UO_SHIM_SECCOMP: `${'0600000000007fff'.repeat(4097)}` }, '228 SECCOMP'], // over 4096 instructions
    // a well-formed program the kernel refuses (a jump out of the program)
    [{ UO_SHIM_SECCOMP: '15000a0000000000' }, '228 SECCOMP'],
    [{ UO_SHIM_PRIVATE_NETWORK: 'yes' }, '225 NETWORK'],
    [{ UO_SHIM_SECCOMP: Array(65).fill('0600000000007fff').join(',') }, '228 SECCOMP'], // over 64 programs
    [{ UO_SHIM_SECCOMP_MDWE: 'zz' }, '228 SECCOMP'],
    [{ UO_SHIM_PROTECT_HOSTNAME: '0600000000007f' }, '228 SECCOMP'],
    [{ UO_SHIM_RTPRIO_ZERO: 'yes' }, '205 LIMITS'],
  ];
  for (const [settings, want] of cases) {
    const r = await run(t, 'echo ran', settings);
    assert.match(failed(r.lines) ?? '', new RegExp(`^${want}$`), `${JSON.stringify(settings).slice(0, 80)}: ${r.lines.join(' | ')}`);
    assert.ok(!r.out.includes('ran'), 'the command did not run');
  }
});

test('the planned settings run the command with them applied (NoNewPrivs, CapBnd, a seccomp errno)', { skip: root ? false : 'needs root', timeout: 60_000 }, async (t) => {
  const plan = privsPlan({ noNewPrivileges: true, capabilityBoundingSet: ['CAP_KILL'], systemCallFilter: ['~umount2 mkdir'], systemCallErrorNumber: 'EPERM' }, true);
  const dir = mkdtempSync(join(tmpdir(), 'uo-prv-mk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await run(t, `grep -E "^(NoNewPrivs|CapBnd)" /proc/self/status; mkdir ${dir}/x 2>&1 | sed 's/.*: //'`, plan.env);
  assert.ok(r.lines.some((l) => l.startsWith('exec ')), r.lines.join(' | '));
  assert.match(r.out, /NoNewPrivs:\s*1/);
  assert.match(r.out, /CapBnd:\s*0000000000000020/);
  assert.match(r.out, /Operation not permitted/, r.out);
  assert.equal(existsSync(join(dir, 'x')), false);
});

test('ProtectHostname=, MemoryDenyWriteExecute=, RestrictRealtime=, LockPersonality= as planned: a UTS namespace of its own and the calls refused', { skip: root ? false : 'needs root', timeout: 60_000 }, async (t) => {
  const plan = privsPlan({ protectHostname: true, memoryDenyWriteExecute: true, restrictRealtime: true, lockPersonality: true, restrictNamespaces: 'true' }, true);
  assert.deepEqual(Object.keys(plan.env).sort(), ['UO_SHIM_NNP', 'UO_SHIM_PROTECT_HOSTNAME', 'UO_SHIM_RTPRIO_ZERO', 'UO_SHIM_SECCOMP', 'UO_SHIM_SECCOMP_MDWE']);
  const script = [
    'readlink /proc/self/ns/uts', 'readlink /proc/$PPID/ns/uts',
    'hostname "$(hostname)" 2>/dev/null && echo host=ok || echo host=refused',
    'grep -E "^(NoNewPrivs)" /proc/self/status',
    'grep "Max realtime priority" /proc/self/limits',
    'unshare -n true 2>/dev/null && echo unshare=ok || echo unshare=refused',
    'setarch i686 true 2>/dev/null && echo setarch=ok || echo setarch=refused',
  ].join('; ');
  const r = await run(t, script, plan.env);
  assert.ok(r.lines.some((l) => l.startsWith('exec ')), r.lines.join(' | '));
  const out = r.out.split('\n');
  assert.notEqual(out[0], out[1], `a UTS namespace of its own: ${r.out}`);
  assert.match(r.out, /^host=refused$/m, 'sethostname() refused');
  assert.match(r.out, /NoNewPrivs:\s*0/, 'root with CAP_SYS_ADMIN: NoNewPrivileges= not implied');
  assert.match(r.out, /Max realtime priority\s+0\s+0/);
  assert.match(r.out, /^unshare=refused$/m, `unshare(CLONE_NEWNET) refused: ${r.out}`);
  assert.match(r.out, /^setarch=refused$/m, `personality(PER_LINUX32) refused: ${r.out}`);
  // and without the settings, the same script does all of it (the test can fail)
  const free = await run(t, script, {});
  assert.match(free.out, /^unshare=ok$/m, free.out);
  assert.match(free.out, /^setarch=ok$/m, free.out);
});
