// Limit*= with units and IgnoreSIGPIPE=: the conversion as systemd's rlimit_parse() does it
// (values checked with systemd 257 in the oracle: `systemctl show -p LimitCORE,LimitCORESoft…`),
// then real processes through the runner and the shim, read back from /proc/PID/limits and
// /proc/PID/status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatRlimit, parseRlimit, rlimitProblem } from '../../src/api/rlimit.ts';
import { gapOf } from '../../src/api/applied.ts';
import { DIRECTIVES } from '../../src/api/directives.ts';
import { executionContext } from '../../src/runner/context.ts';
import { encodeShimEnv } from '../../src/runner/shimproto.ts';
import { harness, waitFor, subState, shimPath } from '../support/units.ts';

const conv = (resource: string, value: string | number): string => formatRlimit(parseRlimit(resource, value));

test('sizes take binary suffixes, fractions and summed parts (LimitCORE=, LimitFSIZE=, LimitSTACK=, LimitDATA=…)', () => {
  // systemd 257: LimitCORE=64K → 65536, LimitFSIZE=1.5M:2G → 1572864:2147483648, LimitCORE=1K 512 → 1536
  assert.equal(conv('CORE', '64K'), '65536');
  assert.equal(conv('FSIZE', '1.5M:2G'), '1572864:2147483648');
  assert.equal(conv('STACK', '8M:infinity'), '8388608:infinity');
  assert.equal(conv('DATA', '1E'), '1152921504606846976', 'beyond 2^53: exact');
  assert.equal(conv('MEMLOCK', '1T'), '1099511627776');
  assert.equal(conv('CORE', '1K 512'), '1536');
  assert.equal(conv('CORE', '2B'), '2');
  assert.equal(conv('MSGQUEUE', '100'), '100');
  assert.equal(conv('AS', 'infinity'), 'infinity');
  assert.equal(conv('RSS', 3221225472), '3221225472', 'a YAML number is bytes');
});

test('LimitCPU= is seconds or a time span, rounded up; LimitRTTIME= is µs or a time span', () => {
  // systemd 257: LimitCPU=1min → 60, 0.5 → 1, 1us → 1, "1.5s:1h 30s" → 2:3630; LimitRTTIME=500ms → 500000, 100 → 100
  assert.equal(conv('CPU', '1min'), '60');
  assert.equal(conv('CPU', '0.5'), '1');
  assert.equal(conv('CPU', '1us'), '1');
  assert.equal(conv('CPU', '0'), '0');
  assert.equal(conv('CPU', '1.5s:1h 30s'), '2:3630');
  assert.equal(conv('CPU', '2h:infinity'), '7200:infinity');
  assert.equal(conv('CPU', 90), '90');
  assert.equal(conv('RTTIME', '500ms'), '500000');
  assert.equal(conv('RTTIME', '100'), '100', 'a bare number is microseconds');
  assert.equal(conv('RTTIME', '2s:1h'), '2000000:3600000000');
  assert.equal(conv('RTTIME', '1min 2s'), '62000000');
});

test('LimitNICE= takes +N/-N nice levels (stored as 20 - N) or the raw 0…40', () => {
  // systemd 257: +5 → 15, -3 → 23, 40 → 40; 41, +25 and -20:+19 (soft 40 above hard 1) are ignored
  assert.equal(conv('NICE', '+5'), '15');
  assert.equal(conv('NICE', '-3'), '23');
  assert.equal(conv('NICE', '40'), '40');
  assert.equal(conv('NICE', '-20:-20'), '40');
  for (const bad of ['41', '+25', '-20:+19']) assert.throws(() => parseRlimit('NICE', bad), /range|above/, bad);
});

test('values systemd ignores are refused: a suffix on a count, soft above hard, a lower-case suffix', () => {
  // systemd 257 ignores LimitNOFILE=1K, LimitSTACK=10k, LimitCORE=4G:1G, LimitNPROC=infinity:100 (default kept)
  assert.equal(conv('NOFILE', '1024:4096'), '1024:4096');
  for (const [r, v] of [['NOFILE', '1K'], ['STACK', '10k'], ['CORE', '4G:1G'], ['NPROC', 'infinity:100'], ['RTPRIO', '5s']] as const) {
    assert.notEqual(rlimitProblem(r, v), undefined, `Limit${r}=${v}`);
  }
});

test('the directive table reports only the values systemd ignores (suffixed values are applied)', () => {
  const row = (name: string) => DIRECTIVES.find((d) => d.name === name)!;
  assert.equal(row('LimitCORE').applier, 'shim');
  assert.equal(gapOf(row('LimitCORE'), '64K'), undefined);
  assert.equal(gapOf(row('LimitCPU'), '1min'), undefined);
  assert.equal(gapOf(row('LimitNICE'), '+5'), undefined);
  assert.match(gapOf(row('LimitNOFILE'), '1K') ?? '', /LimitNOFILE=1K is not valid .*systemd ignores it/);
  assert.equal(row('IgnoreSIGPIPE').applier, 'shim');
  assert.equal(gapOf(row('IgnoreSIGPIPE'), false), undefined);
});

test('the execution context passes numbers to the shim (UO_SHIM_RLIMIT_*) and IgnoreSIGPIPE= (UO_SHIM_IGNORE_SIGPIPE)', () => {
  const c = executionContext({ service: { limitCORE: '64K', limitCPU: '1min', limitNOFILE: '1K', limitRTTIME: '500ms:1s' } });
  assert.deepEqual(c.limits, [['CORE', '65536'], ['CPU', '60'], ['RTTIME', '500000:1000000']], 'LimitNOFILE=1K is left out, as systemd ignores it');
  assert.equal(c.ignoreSigpipe, true, 'systemd\'s default');
  assert.equal(executionContext({ service: { ignoreSIGPIPE: false } }).ignoreSigpipe, false);
  const env = encodeShimEnv({ env: {}, rlimits: c.limits, stdout: 'journal', stderr: 'journal', log: '/x', logMaxBytes: 1, ignoreSigpipe: false });
  assert.equal(env['UO_SHIM_RLIMIT_CORE'], '65536');
  assert.equal(env['UO_SHIM_RLIMIT_RTTIME'], '500000:1000000');
  assert.equal(env['UO_SHIM_IGNORE_SIGPIPE'], '0');
});

/** /proc/PID/limits → { "Max cpu time": [soft, hard] … }. */
function procLimits(pid: number): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const line of readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').slice(1)) {
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = [m[2]!, m[3]!];
  }
  return out;
}
const sigIgnored = (pid: number, sig: number): boolean => {
  const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return ((BigInt(`0x${mask}`) >> BigInt(sig - 1)) & 1n) === 1n;
};
const SIGPIPE = 13;

test('LimitCORE=, LimitCPU=, LimitRTTIME=, LimitFSIZE=, LimitNOFILE= with units reach the command: /proc/PID/limits', async (t) => {
  const h = harness(t);
  const r = h.open('limits.service', { service: { type: 'exec', execStart: ['/bin/sleep 30'],
    limitCORE: '64K', limitCPU: '1min', limitRTTIME: '500ms:1s', limitFSIZE: '1.5M:2G', limitNOFILE: '1024:4096' } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const l = procLimits(r.props.MainPID);
  assert.deepEqual(l['Max core file size'], ['65536', '65536']);
  assert.deepEqual(l['Max cpu time'], ['60', '60']);
  assert.deepEqual(l['Max realtime timeout'], ['500000', '1000000']);
  assert.deepEqual(l['Max file size'], ['1572864', '2147483648']);
  assert.deepEqual(l['Max open files'], ['1024', '4096']);
});

test('IgnoreSIGPIPE= (default yes): the command starts with SIGPIPE ignored; IgnoreSIGPIPE=no leaves it at its default (/proc/PID/status SigIgn bit 13)', async (t) => {
  const h = harness(t);
  const yes = h.open('sigpipe-default.service', { service: { type: 'exec', execStart: ['/bin/sleep 30'] } });
  const no = h.open('sigpipe-no.service', { service: { type: 'exec', execStart: ['/bin/sleep 30'], ignoreSIGPIPE: false } });
  yes.start();
  no.start();
  await waitFor(yes, 'running', subState('running'));
  await waitFor(no, 'running', subState('running'));
  assert.equal(sigIgnored(yes.props.MainPID, SIGPIPE), true, 'systemd\'s default: ignored');
  assert.equal(sigIgnored(no.props.MainPID, SIGPIPE), false, 'IgnoreSIGPIPE=no');
});

test('a limit above the hard limit the shim may raise is set as close as it can, as systemd\'s setrlimit_closest() (LimitMEMLOCK=1T under 8M → 8M)', { timeout: 20_000 }, async (t) => {
  const has = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;
  if (!has('setpriv') || !has('prlimit')) { t.skip('needs setpriv and prlimit (util-linux)'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'uo-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events');
  const out = join(dir, 'limits');
  // without CAP_SYS_RESOURCE and with a hard limit of 8M, as in systemd-oracle's container
  const r = spawnSync('setpriv', ['--bounding-set=-sys_resource', 'prlimit', '--memlock=8388608:8388608', shimPath, events, '--', '/bin/sh', 'sh', '-c', `cat /proc/$$/limits > ${out}`], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...encodeShimEnv({ env: {}, rlimits: executionContext({ service: { limitMEMLOCK: '1T' } }).limits, stdout: 'null', stderr: 'null', log: join(dir, 'log'), logMaxBytes: 1 << 20 }) },
    encoding: 'utf8', timeout: 10_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(events, 'utf8');
  assert.doesNotMatch(lines, /exec-failed/, lines);
  assert.match(readFileSync(out, 'utf8'), /^Max locked memory\s+8388608\s+8388608\s+bytes/m);
});
