// The shim protocol: the lines of the previous release's shims (a real event log in the v1
// fixture) still decode; exec-failed takes an optional step; the encoding of the settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeShimArgs, encodeShimEnv, parseShimLine } from '../../src/runner/shimproto.ts';

const V1_EVENTS = fileURLToPath(new URL('../fixtures/state/v1/units/exits.service/run/1-start-0/events', import.meta.url));

test('version-1 event logs decode as before', () => {
  const lines = readFileSync(V1_EVENTS, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map(parseShimLine), [
    { t: 'shim', pid: 11458 }, { t: 'spawn', pid: 11460 }, { t: 'exec', pid: 11460 },
    { t: 'exit', pid: 11460, code: 'exited', status: 7 }, { t: 'empty' },
  ]);
  assert.deepEqual(parseShimLine('exec-failed 12 2 203'), { t: 'exec-failed', pid: 12, errno: 2, status: 203 });
  assert.deepEqual(parseShimLine('exit 5 dumped 6'), { t: 'exit', pid: 5, code: 'dumped', status: 6 });
  assert.deepEqual(parseShimLine('notify 9 READY=1\x1eSTATUS=up and running'), { t: 'notify', pid: 9, fields: { READY: '1', STATUS: 'up and running' } });
  assert.deepEqual(parseShimLine('notify 0 BARRIER=1'), { t: 'notify', pid: 0, fields: { BARRIER: '1' } });
});

test('exec-failed lines of newer shims carry the failed step; unknown lines are skipped', () => {
  assert.deepEqual(parseShimLine('exec-failed 12 2 200 CHDIR'), { t: 'exec-failed', pid: 12, errno: 2, status: 200, step: 'CHDIR' });
  assert.equal(parseShimLine('cgroup 12 /sys/fs/cgroup/x'), undefined);
  assert.equal(parseShimLine('exit 5 stopped 19'), undefined);
});

test('issue 19\'s trailing fields: exit and empty say when (CLOCK_MONOTONIC µs), a held exec how early; absent or garbled, left out', () => {
  assert.deepEqual(parseShimLine('exit 5 exited 1 86400123456'), { t: 'exit', pid: 5, code: 'exited', status: 1, at: 86400123456 });
  assert.deepEqual(parseShimLine('empty 86400123999'), { t: 'empty', at: 86400123999 });
  assert.deepEqual(parseShimLine('exec 7 -2500'), { t: 'exec', pid: 7, slack: -2500 });
  assert.deepEqual(parseShimLine('exec 7 12000'), { t: 'exec', pid: 7, slack: 12000 });
  for (const garbled of ['x', '1e9', '', '99999999999999999999', '9999999999999999', '0x10']) {
    assert.deepEqual(parseShimLine(`exit 5 killed 9 ${garbled}`), { t: 'exit', pid: 5, code: 'killed', status: 9 }, garbled);
    assert.deepEqual(parseShimLine(`exec 7 ${garbled}`), { t: 'exec', pid: 7 }, garbled);
  }
});

test('the settings become the shim\'s argv and UO_SHIM_* variables next to the service environment', () => {
  assert.deepEqual(encodeShimArgs('/u/run/1-start-0/events', '/bin/sh', ['sh', '-c', 'x']), ['/u/run/1-start-0/events', '--', '/bin/sh', 'sh', '-c', 'x']);
  const base = { env: { PATH: '/bin' }, rlimits: [], stdout: 'journal', stderr: 'journal', log: '/u/journal.log', logMaxBytes: 1024 };
  assert.deepEqual(encodeShimEnv(base), { PATH: '/bin', UO_SHIM_STDOUT: 'journal', UO_SHIM_STDERR: 'journal', UO_SHIM_LOG: '/u/journal.log', UO_SHIM_LOG_MAX: '1024' });
  assert.deepEqual(encodeShimEnv({ ...base, root: '/host', failStatus: 217, uid: 1000, gid: 100, groups: [], umask: '0027', cwd: '-/srv', rlimits: [['NOFILE', '512:1024']], stdout: 'a:/tmp/o', stderr: 'null', notifySocket: '/u/notify.sock' }), {
    PATH: '/bin', UO_SHIM_ROOT: '/host', UO_SHIM_FAIL: '217', UO_SHIM_UID: '1000', UO_SHIM_GID: '100', UO_SHIM_GROUPS: '', UO_SHIM_UMASK: '0027',
    UO_SHIM_CWD: '-/srv', UO_SHIM_RLIMIT_NOFILE: '512:1024', UO_SHIM_STDOUT: 'a:/tmp/o', UO_SHIM_STDERR: 'null', UO_SHIM_LOG: '/u/journal.log',
    UO_SHIM_LOG_MAX: '1024', UO_SHIM_NOTIFY_SOCKET: '/u/notify.sock',
  });
});
