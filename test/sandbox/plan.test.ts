// The mount namespace's plan (src/runner/sandbox.ts) as systemd 257's setup_namespace() makes
// it: entries sorted parents first, one per path (the more restrictive mode wins, read-only
// spreads), nothing below an inaccessible path, no entry that changes nothing; and the
// PrivateTmp= folders' names and removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateTmpDirs, removePrivateTmp, sandboxGuard, sandboxPlan } from '../../src/runner/sandbox.ts';
import { encodeShimEnv } from '../../src/runner/shimproto.ts';
import { ensureShim } from '../../src/runner/shim.ts';

const INV = 'f'.repeat(32);
const plan = (service: Record<string, unknown>) => sandboxPlan({ service, unitName: 'x.service', invocationId: INV, expand: (s) => s.replace('%N', 'x') });
const lines = (service: Record<string, unknown>): string[] => plan(service).spec?.split('\n') ?? [];

test('no sandbox directive: no mount namespace (and "no" values ask for none)', () => {
  assert.equal(plan({}).spec, undefined);
  assert.equal(plan({ protectSystem: 'false', privateTmp: 'false', protectHome: 'false', privateDevices: false, mountFlags: 'shared' }).spec, undefined);
});

test('ProtectSystem=strict with ReadWritePaths=: / read-only, the API file systems and the home folders implicitly writable, the path writable', () => {
  assert.deepEqual(lines({ protectSystem: 'strict', readWritePaths: ['/var/lib/%N', '-/srv/missing'] }), [
    'ro\t.\t/', 'rwi\t.\t/dev', 'rwi\ti\t/home', 'rwi\t.\t/proc', 'rwi\ti\t/root', 'rwi\ti\t/run/user', 'rw\ti\t/srv/missing', 'rwi\t.\t/sys', 'rw\t.\t/var/lib/x',
  ]);
});

test('one entry per path: the more restrictive mode wins (ReadWritePaths=/usr stays read-only under ProtectSystem=yes)', () => {
  assert.deepEqual(lines({ protectSystem: 'true', readWritePaths: ['/usr'] }), ['ro\ti\t/boot', 'ro\ti\t/efi', 'ro\t.\t/usr']);
});

test('an entry that changes nothing is dropped; so is what is below an inaccessible path', () => {
  assert.deepEqual(lines({ protectSystem: 'full', readOnlyPaths: ['/usr/share', '/etc/ssl/'] }), ['ro\ti\t/boot', 'ro\ti\t/efi', 'ro\t.\t/etc', 'ro\t.\t/usr']);
  assert.deepEqual(lines({ inaccessiblePaths: ['/srv'], readWritePaths: ['/srv/data'], bindPaths: ['/a:/srv/b'] }), ['inaccessible\t.\t/srv']);
});

test('PrivateTmp=, PrivateDevices=, the kernel protections: their entries and capability drops', () => {
  const l = lines({ privateTmp: 'true', privateDevices: true, protectKernelModules: true, protectKernelTunables: true, protectControlGroups: 'true' });
  assert.ok(l.includes(`tmp\t.\t/tmp\t/tmp/uo-private-x.service-${INV}`), l.join('\n'));
  assert.ok(l.includes(`tmp\t.\t/var/tmp\t/var/tmp/uo-private-x.service-${INV}`));
  assert.ok(l.includes('dev\t.\t/dev'));
  assert.ok(l.includes('ro\t.\t/sys') && l.includes('ro\ti\t/proc/sys') && l.includes('inaccessible\ti\t/proc/kallsyms'));
  // ProtectControlGroups='s read-only wins over ProtectKernelTunables='s implicit entry, then goes as a no-op: /sys is read-only, recursively
  assert.ok(!l.some((x) => x.endsWith('\t/sys/fs/cgroup')), l.join('\n'));
  assert.ok(lines({ protectKernelTunables: true }).includes('rwi\t.\t/sys/fs/cgroup'));
  assert.ok(lines({ protectControlGroups: 'true' }).includes('ro\t.\t/sys/fs/cgroup'));
  assert.ok(l.includes('inaccessible\ti\t/usr/lib/modules'));
  assert.equal(l.at(-1), 'dropcap\t.\t16,17,27');
});

test('BindPaths=, TemporaryFileSystem=, MountFlags=, and what is refused in words', () => {
  const p = plan({ bindPaths: ['-/a:/b:norbind', '/c'], bindReadOnlyPaths: ['/d:/e'], temporaryFileSystem: ['/f:ro,size=1M', '/g:huge=always'], mountFlags: 'private', readOnlyPaths: ['relative', '/h/../i'] });
  assert.deepEqual(p.spec?.split('\n'), ['bind\ti\t/b\t/a', 'bind\tr\t/c\t/c', 'bind\tro\t/e\t/d', 'tmpfs\to\t/f\tmode=0755,size=1M', 'tmpfs\t.\t/g\tmode=0755', 'propagation\t.\tprivate']);
  assert.deepEqual(p.problems, [
    'ReadOnlyPaths=relative is not an absolute, normalized path; ignored',
    'ReadOnlyPaths=/h/../i is not an absolute, normalized path; ignored',
    'TemporaryFileSystem=/g:huge=always: the mount option "huge=always" is not applied',
  ]);
});

test('ProtectHome=: inaccessible, read-only or tmpfs over /home, /run/user, /root', () => {
  assert.deepEqual(lines({ protectHome: 'true' }), ['inaccessible\ti\t/home', 'inaccessible\ti\t/root', 'inaccessible\ti\t/run/user']);
  assert.deepEqual(lines({ protectHome: 'tmpfs' }), ['tmpfs\tio\t/home\tmode=0755', 'tmpfs\tio\t/root\tmode=0700', 'tmpfs\tio\t/run/user\tmode=0755']);
});

test('the encoded setting refuses a NUL', () => {
  assert.throws(() => encodeShimEnv({ env: {}, rlimits: [], stdout: 'null', stderr: 'null', log: '/x', logMaxBytes: 1, sandbox: 'ro\t.\t/a\0' }), /NUL/);
});

test('removePrivateTmp() removes the ended invocations\' folders of this unit only, and only folders the shim made', () => {
  const host = mkdtempSync(join(tmpdir(), 'uo-sbx-host-'));
  try {
    for (const d of ['tmp', 'var/tmp']) mkdirSync(join(host, d), { recursive: true });
    const mine = privateTmpDirs('x.service', INV), kept = privateTmpDirs('x.service', 'a'.repeat(32)), other = privateTmpDirs('x.service.more', INV);
    for (const p of [mine.tmp, mine.varTmp, kept.tmp, other.tmp]) { mkdirSync(join(host, p, 'tmp'), { recursive: true, mode: 0o700 }); chmodSync(join(host, p), 0o700); writeFileSync(join(host, p, 'tmp', 'f'), ''); }
    const planted = join(host, 'tmp', `uo-private-x.service-${'b'.repeat(32)}`);
    mkdirSync(planted, { mode: 0o755 });
    chmodSync(planted, 0o755);
    const r = removePrivateTmp('x.service', 'a'.repeat(32), host);
    assert.deepEqual(r.removed.sort(), [join(host, mine.tmp), join(host, mine.varTmp)].sort());
    assert.deepEqual(r.failed, [`${planted}: not a private folder made by uo-shim (left alone)`]);
    assert.ok(existsSync(join(host, kept.tmp)) && existsSync(join(host, other.tmp)) && existsSync(planted));
    assert.throws(() => privateTmpDirs('x', '../../etc'), /not an invocation ID/);
  } finally { rmSync(host, { recursive: true, force: true }); }
});

test('the exec directories are bound read-write into a namespace (writable under ProtectSystem=strict), and ask for none alone', () => {
  assert.equal(plan({ stateDirectory: ['a'] }).spec, undefined);
  assert.deepEqual(lines({ protectSystem: 'strict', stateDirectory: ['a/b', '../x', '/abs'], configurationDirectory: ['c:link'], runtimeDirectory: ['%N'] }).filter((l) => l.startsWith('bind')),
    ['bind\tr\t/etc/c\t/etc/c', 'bind\tr\t/run/x\t/run/x', 'bind\tr\t/var/lib/a/b\t/var/lib/a/b']);
});

test('a shim that does not list "sandbox" in --features fails the command at step NAMESPACE instead of running it unconfined', (t) => {
  const d = mkdtempSync(join(tmpdir(), 'uo-sbx-oldshim-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const old = join(d, 'uo-shim');
  writeFileSync(old, '#!/bin/sh\n[ "$1" = --features ] && echo namespaces\n', { mode: 0o755 });
  const warned: string[] = [];
  assert.deepEqual(sandboxGuard(old, { A: '1' }, (m) => warned.push(m)), { A: '1' }, 'nothing to guard without a sandbox');
  assert.deepEqual(sandboxGuard(old, { UO_SHIM_SANDBOX: 'ro\t.\t/usr' }, (m) => warned.push(m)), { UO_SHIM_SANDBOX: 'ro\t.\t/usr', UO_SHIM_FAIL: '226' });
  assert.match(warned.join('\n'), /does not list "sandbox"/);
  const env = { UO_SHIM_SANDBOX: 'ro\t.\t/usr' };
  assert.equal(sandboxGuard(ensureShim({ ...process.env, UNIT_OPERATOR_SHIM: '' }), env, (m) => warned.push(m)), env, 'the shim built from these sources applies it');
  // issue 15's settings too: an older shim that lists "sandbox" but not "privs"
  const mid = join(d, 'uo-shim-mid');
  writeFileSync(mid, '#!/bin/sh\n[ "$1" = --features ] && printf "namespaces\\nsandbox\\n"\n', { mode: 0o755 });
  assert.equal(sandboxGuard(mid, { UO_SHIM_NNP: '1' }, (m) => warned.push(m))['UO_SHIM_FAIL'], '227', 'NoNewPrivileges= fails closed (NO_NEW_PRIVILEGES)');
  assert.equal(sandboxGuard(mid, { UO_SHIM_SECCOMP: 'x' }, (m) => warned.push(m))['UO_SHIM_FAIL'], '228', 'SystemCallFilter= fails closed (SECCOMP)');
  assert.equal(sandboxGuard(mid, { UO_SHIM_SANDBOX: 'ro\t.\t/usr' }, (m) => warned.push(m))['UO_SHIM_FAIL'], undefined, 'its sandbox is applied');
  assert.match(warned.join('\n'), /does not list "privs"/);
  assert.equal(sandboxGuard(mid, { UO_SHIM_PROTECT_HOSTNAME: '1' }, () => {})['UO_SHIM_FAIL'], '226', 'ProtectHostname= needs "privs2"');
  const both = { UO_SHIM_CAPBSET: '0', UO_SHIM_SECCOMP: 'x', UO_SHIM_SECCOMP_MDWE: 'x', UO_SHIM_RTPRIO_ZERO: '1' };
  assert.equal(sandboxGuard(ensureShim({ ...process.env, UNIT_OPERATOR_SHIM: '' }), both, () => {}), both, 'the shim built from these sources lists "privs" and "privs2"');
});

test('ProtectProc=, ProcSubset=: a /proc of its own with hidepid= and subset=pid; "default" and "all" ask for nothing', () => {
  assert.deepEqual(lines({ protectProc: 'invisible', procSubset: 'pid' }), ['procfs\t.\t/proc\thidepid=invisible,subset=pid']);
  assert.deepEqual(lines({ protectProc: 'noaccess', protectSystem: 'strict' }).slice(0, 3), ['ro\t.\t/', 'rwi\t.\t/dev', 'rwi\ti\t/home'], 'the procfs entry wins over strict\'s implicit /proc');
  assert.ok(lines({ protectProc: 'noaccess', protectSystem: 'strict' }).includes('procfs\t.\t/proc\thidepid=noaccess'));
  assert.equal(plan({ protectProc: 'default', procSubset: 'all' }).spec, undefined);
});

test('RootDirectory=: MountAPIVFS= defaults to yes (a /proc, the host\'s /dev and /sys, a /run tmpfs, the journal\'s sockets), the entries are taken below the root; MountAPIVFS=no and nothing else: a plain chroot', () => {
  const rooted = (service: Record<string, unknown>) => sandboxPlan({ service, unitName: 'x.service', invocationId: INV, expand: (s) => s, rootDirectory: '/srv/root/' });
  const p = rooted({});
  assert.equal(p.rooted, true);
  const log = (f: string): string => `bind\tionx\t/run/systemd/journal/${f}\t/run/systemd/journal/${f}`;
  assert.deepEqual(p.spec?.split('\n'), ['binddev\t.\t/dev', 'procfs\t.\t/proc', 'run\t.\t/run', log('dev-log'), log('socket'), log('stdout'), 'bindsys\t.\t/sys', 'root\t.\t/srv/root']);
  assert.equal(rooted({ mountAPIVFS: false }).spec, undefined, 'no namespace: RootDirectory= alone is a chroot');
  assert.deepEqual(rooted({ mountAPIVFS: false, stateDirectory: ['s'] }).spec?.split('\n'), ['bind\tr\t/var/lib/s\t/var/lib/s', 'root\t.\t/srv/root'], 'the exec directories bound into the root from the host');
  // without RootDirectory=, MountAPIVFS=yes mounts /proc anew; /dev and /sys are the host's mounts already, /run is left alone
  assert.deepEqual(lines({ mountAPIVFS: true, privateMounts: true }).filter((l) => !l.startsWith('bind\t')), ['binddev\t.\t/dev', 'procfs\t.\t/proc', 'bindsys\t.\t/sys']);
  assert.equal(plan({ mountAPIVFS: true }).spec, undefined, 'MountAPIVFS= alone asks for no namespace (systemd: only with RootDirectory=)');
});

test('ProtectControlGroups=private|strict: a cgroup2 entry (read-only for strict) that wins over ProtectKernelTunables=\'s implicit one', () => {
  assert.deepEqual(lines({ protectControlGroups: 'private' }), ['cgroup2\t.\t/sys/fs/cgroup']);
  assert.deepEqual(lines({ protectControlGroups: 'strict' }), ['cgroup2\to\t/sys/fs/cgroup']);
  assert.ok(lines({ protectControlGroups: 'strict', protectKernelTunables: true }).includes('cgroup2\to\t/sys/fs/cgroup'));
  assert.deepEqual(plan({ protectControlGroups: 'private' }).problems, []);
});

test('PrivatePIDs=: for the main process only, a "pids" line and a /proc of the namespace (MountAPIVFS=\'s mounts)', () => {
  const pids = (mainProcess: boolean) => sandboxPlan({ service: { privatePIDs: true }, unitName: 'x.service', invocationId: INV, expand: (s) => s, mainProcess }).spec?.split('\n');
  assert.deepEqual(pids(true), ['binddev\t.\t/dev', 'procfs\t.\t/proc', 'bindsys\t.\t/sys', 'pids\t.\tprivate']);
  assert.equal(pids(false), undefined, 'a control process (ExecStartPre=...) gets none, as systemd\'s exec_needs_pid_namespace()');
});
