// The pure evaluator (src/conditions) with fake facts: systemd's list semantics ("|", "!", the
// order of evaluation, the failing check it reports, undetermined results) and each check's
// rules from condition.c, and the version comparison against systemd 257's own answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checksFromSpec, evaluateList, startChecks, compareVersions, type Facts } from '../../src/conditions/index.ts';
import { fnmatch, expandBraces } from '../../src/conditions/fnmatch.ts';
import { parseSize, parsePermyriad } from '../../src/conditions/words.ts';
import { slicePath } from '../../src/conditions/resources.ts';
import { FIXTURES } from '../support/paths.ts';
import type { FileStat } from '../../src/conditions/types.ts';

/** A node made of a few files and facts. */
function fake(o: { files?: Record<string, Partial<FileStat> & { text?: string; entries?: string[] }>; kernel?: Record<string, string>; env?: Record<string, string>;
  host?: string; release?: string; machine?: string; cpus?: number; mem?: number; virt?: Facts['virtualization'] extends () => infer V ? V : never; uid?: number; groups?: number[]; cg?: { unified: boolean; controllers: string[] } } = {}): Facts {
  const files = o.files ?? {};
  const kernel = o.kernel ?? {};
  const st = (path: string): FileStat | { errno: string } => {
    const f = files[path.replace(/(.)\/+$/, '$1')];
    return f ? { kind: f.kind ?? 'file', size: f.size ?? (f.text?.length ?? 0), mode: f.mode ?? 0o644, mtimeNs: f.mtimeNs ?? 0n } : { errno: 'ENOENT' };
  };
  return {
    stat: (p) => st(p),
    dirHasEntry: (p, accept) => { const f = files[p]; if (!f) return { errno: 'ENOENT' }; if (f.kind !== 'dir') return { errno: 'ENOTDIR' }; return (f.entries ?? []).some(accept); },
    globExists: (pat) => Object.keys(files).some((k) => fnmatch(pat, k)),
    isMountPoint: (p) => p === '/' || p === '/proc',
    isReadOnly: (p) => (files[p] ? p.startsWith('/usr') : { errno: 'ENOENT' }),
    isEncrypted: (p) => p === '/secret',
    readHostFile: (p) => files[p]?.text,
    readKernelFile: (p) => kernel[p],
    listKernelDir: (p) => { const ks = Object.keys(kernel).filter((k) => k.startsWith(`${p}/`)); return ks.length > 0 ? [...new Set(ks.map((k) => k.slice(p.length + 1).split('/')[0]!))] : undefined; },
    uname: () => ({ release: o.release ?? '6.8.0-31-generic', machine: o.machine ?? 'x86_64' }),
    hostname: () => o.host ?? 'node-7.example',
    environment: () => o.env ?? { PATH: '/bin', LANG: 'C.UTF-8' },
    identity: () => ({ uid: o.uid ?? 0, euid: o.uid ?? 0, gid: 0, egid: 0, groups: o.groups ?? [0, 4], systemManager: (o.uid ?? 0) === 0 }),
    lookupUser: (n) => ({ root: 0, daemon: 1, alice: 1000 } as Record<string, number>)[n],
    lookupGroup: (n) => ({ root: 0, adm: 4, users: 100 } as Record<string, number>)[n],
    cpus: () => o.cpus ?? 4,
    memoryBytes: () => o.mem ?? 8 * 1024 ** 3,
    virtualization: () => o.virt ?? { kind: 'none', id: 'none' },
    cgroupControllers: () => (o.cg ? { unified: o.cg.unified, controllers: new Set(o.cg.controllers) } : undefined),
  };
}

const run = (unit: Record<string, string[]>, f: Facts) => {
  const p = checksFromSpec(unit);
  return evaluateList([...p.conditions], f);
};
const holds = (field: string, value: string, f: Facts): boolean => run({ [field]: [value] }, f).ok;

test('the list: the last written is checked first, a failing non-triggering check ends it, one "|" check must hold', () => {
  const f = fake({ files: { '/etc': { kind: 'dir' } } });
  const r = run({ conditionPathExists: ['/nonexistent-a', '/nonexistent-b'], conditionHost: ['!foo'] }, f);
  assert.equal(r.ok, false);
  // systemd 257 reported /nonexistent-b (written last) and left /nonexistent-a untested
  assert.equal(r.failed?.parameter, '/nonexistent-b');
  assert.deepEqual(r.states.map((s) => `${s.type}=${s.negate ? '!' : ''}${s.parameter}:${s.state}`),
    ['ConditionHost=!foo:1', 'ConditionPathExists=/nonexistent-b:-1', 'ConditionPathExists=/nonexistent-a:0']);
  assert.equal(run({ conditionPathExists: ['|/nonexistent-a', '|/etc'] }, f).ok, true, 'one triggering check holds');
  const none = run({ conditionPathExists: ['|/nonexistent-a', '|/nonexistent-b'] }, f);
  assert.equal(none.ok, false);
  assert.equal(none.failed, undefined);
  assert.equal(none.failedTrigger?.parameter, '/nonexistent-b');
  assert.equal(run({ conditionPathExists: ['|/nonexistent-a', '/etc'], conditionHost: ['|node-*'] }, f).ok, true, 'triggering and not, of different types');
  assert.equal(run({ conditionPathExists: ['|/etc', '/nonexistent'] }, f).ok, false, 'a non-triggering failure wins over a met trigger');
  assert.equal(run({}, f).ok, true, 'no checks: the list holds');
  assert.equal(run({ conditionPathExists: ['| ! /nonexistent'] }, f).states[0]!.negate, true, 'blanks after | and ! are skipped');
});

test('a relative path is ignored as systemd ignores it at load; an empty list entry is nothing', () => {
  const p = checksFromSpec({ conditionPathExists: ['relative', '', '//etc/./x/'] });
  assert.deepEqual(p.ignored, ['ConditionPathExists= path is not absolute, ignoring: relative']);
  assert.deepEqual(p.conditions.map((c) => c.parameter), ['/etc/x']);
});

test('an undetermined result fails the check, negated or not, with systemd\'s warning', () => {
  const r = run({ conditionCapability: ['!CAP_BOGUS'] }, fake());
  assert.equal(r.ok, false);
  assert.deepEqual(r.warnings, ['Couldn\'t determine result for ConditionCapability=!CAP_BOGUS, assuming failed: Invalid argument']);
  const o = startChecks('t5.service', { conditionCapability: ['CAP_BOGUS'] }, fake(), 1_000_000, undefined);
  assert.deepEqual(o.logs.map((l) => l.message), ['t5.service: Couldn\'t determine result for ConditionCapability=CAP_BOGUS, assuming failed: Invalid argument',
    't5.service skipped, unmet condition check ConditionCapability=CAP_BOGUS']);
});

test('conditions come before asserts; an unmet condition leaves the previous assert record; a failed assert fails the start', () => {
  const f = fake({ files: { '/etc': { kind: 'dir' } } });
  const first = startChecks('u.service', { conditionPathExists: ['/etc'], assertPathExists: ['/nonexistent'] }, f, 5_000_000, undefined);
  assert.equal(first.verdict, 'assert');
  assert.equal(first.reason, 'Assertion failed for u.service (AssertPathExists=/nonexistent)');
  assert.deepEqual(first.logs.map((l) => [l.level, l.message]), [['notice', 'u.service: Starting requested but asserts failed.'], ['warning', 'Assertion failed for u.service.']]);
  assert.equal(first.checks.condition?.result, true);
  assert.equal(first.checks.assert?.result, false);
  const second = startChecks('u.service', { conditionPathExists: ['/nope'], assertPathExists: ['/nonexistent'] }, f, 6_000_000, first.checks);
  assert.equal(second.verdict, 'condition');
  assert.equal(second.checks.assert, first.checks.assert, 'the assert is not evaluated again');
  assert.equal(second.checks.condition?.timestampUs, 6_000_000);
  const trig = startChecks('u.service', { assertPathExists: ['|/a', '|/b'] }, f, 7_000_000, undefined);
  assert.equal(trig.reason, 'Assertion failed for u.service (none of the trigger assertions were met)');
});

test('paths: existence, globs, kinds, emptiness (hidden and backup files do not count), executables, mounts, read-write, encryption', () => {
  const f = fake({ files: {
    '/etc': { kind: 'dir', entries: ['passwd'] }, '/hid': { kind: 'dir', entries: ['.x', 'y~', 'z.bak', 'lost+found', 'a.dpkg-new'] },
    '/hid2': { kind: 'dir', entries: ['a.dpkg-new.x'] }, '/l': { kind: 'symlink' }, '/fifo': { kind: 'fifo', size: 0 },
    '/data': { kind: 'file', size: 10 }, '/empty': { kind: 'file', size: 0 }, '/bin/sh': { kind: 'file', size: 5, mode: 0o755 }, '/usr': { kind: 'dir' },
    '/etc/a.conf': { kind: 'file' },
  } });
  assert.equal(holds('conditionPathExists', '/etc', f), true);
  assert.equal(holds('conditionPathExistsGlob', '/etc/*.conf', f), true);
  assert.equal(holds('conditionPathExistsGlob', '/etc/*.nope', f), false);
  assert.equal(holds('conditionPathIsDirectory', '/etc', f), true);
  assert.equal(holds('conditionPathIsDirectory', '/data', f), false);
  assert.equal(holds('conditionPathIsSymbolicLink', '/l', f), true);
  assert.equal(holds('conditionPathIsMountPoint', '/proc', f), true);
  assert.equal(holds('conditionPathIsMountPoint', '/etc', f), false);
  assert.equal(holds('conditionPathIsReadWrite', '/etc', f), true);
  assert.equal(holds('conditionPathIsReadWrite', '/usr', f), false);
  assert.equal(holds('conditionPathIsReadWrite', '/nonexistent', f), false, 'ENOENT is not read-write');
  assert.equal(holds('conditionPathIsEncrypted', '/secret', f), true);
  assert.equal(holds('conditionDirectoryNotEmpty', '/etc', f), true);
  assert.equal(holds('conditionDirectoryNotEmpty', '/hid', f), false, 'systemd 257: only hidden/backup files');
  assert.equal(holds('conditionDirectoryNotEmpty', '/hid2', f), true);
  assert.equal(holds('conditionDirectoryNotEmpty', '/data', f), false, 'ENOTDIR');
  assert.equal(holds('conditionFileNotEmpty', '/data', f), true);
  assert.equal(holds('conditionFileNotEmpty', '/empty', f), false);
  assert.equal(holds('conditionFileNotEmpty', '/fifo', f), false);
  assert.equal(holds('conditionFileIsExecutable', '/bin/sh', f), true);
  assert.equal(holds('conditionFileIsExecutable', '/data', f), false);
  assert.equal(holds('conditionFirstBoot', 'no', f), true);
  assert.equal(holds('conditionFirstBoot', 'maybe', f), false);
});

test('ConditionNeedsUpdate: /usr newer than .updated, the kernel command line first, never read-only', () => {
  const base = { '/usr': { kind: 'dir' as const, mtimeNs: 2_000_000_000n }, '/etc': { kind: 'dir' as const } };
  assert.equal(holds('conditionNeedsUpdate', '/etc', fake({ files: base })), true, 'no .updated');
  assert.equal(holds('conditionNeedsUpdate', '/etc', fake({ files: { ...base, '/etc/.updated': { mtimeNs: 3_000_000_000n } } })), false);
  assert.equal(holds('conditionNeedsUpdate', '/etc', fake({ files: { ...base, '/etc/.updated': { mtimeNs: 1_000_000_000n } } })), true);
  assert.equal(holds('conditionNeedsUpdate', '/etc', fake({ files: base, kernel: { '/proc/cmdline': 'quiet systemd.condition_needs_update=0' } })), false);
  assert.equal(holds('conditionNeedsUpdate', '/usr', fake({ files: base })), false, 'read-only');
});

test('host, kernel command line and version, architecture, virtualization, firmware, security, capability, AC power', () => {
  const f = fake({
    files: { '/etc/machine-id': { text: '0123456789abcdef0123456789abcdef\n' } },
    kernel: {
      '/proc/cmdline': 'BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet "foo=a b" nosmt',
      '/proc/self/status': 'Name:\tx\nCapBnd:\t0000000000000001\n',
      '/sys/class/dmi/id/bios_version': '1.16.3-debian\n', '/sys/firmware/efi/x': '',
      '/sys/class/power_supply/BAT0/type': 'Battery\n', '/sys/class/power_supply/BAT0/status': 'Discharging\n',
      '/sys/class/power_supply/AC/type': 'Mains\n', '/sys/class/power_supply/AC/online': '0\n',
    },
    virt: { kind: 'vm', id: 'kvm' },
  });
  assert.equal(holds('conditionHost', 'NODE-?.*', f), true, 'a case-insensitive glob');
  assert.equal(holds('conditionHost', '0123456789ABCDEF0123456789ABCDEF', f), true, 'the machine ID');
  assert.equal(holds('conditionHost', '01234567-89ab-cdef-0123-456789abcdee', f), false);
  assert.equal(holds('conditionKernelCommandLine', 'quiet', f), true);
  assert.equal(holds('conditionKernelCommandLine', 'root', f), true, 'a word matches word=…');
  assert.equal(holds('conditionKernelCommandLine', 'ro=1', f), false);
  assert.equal(holds('conditionKernelCommandLine', 'foo=a b', f), true, 'quotes removed');
  assert.equal(holds('conditionKernelCommandLine', 'quie', f), false);
  assert.equal(holds('conditionKernelVersion', '>= 6.1', f), true, 'blanks after the first operator');
  assert.equal(holds('conditionKernelVersion', '>=6.1 <6.8', f), false, 'every expression must hold');
  assert.equal(holds('conditionKernelVersion', '6.8.*', f), true, 'a bare glob');
  assert.equal(holds('conditionKernelVersion', '!$=*rt*', f), true);
  assert.equal(holds('conditionKernelVersion', '< 6.8 6.9', f), false);
  assert.equal(run({ conditionKernelVersion: ['>=6.1 >='] }, f).warnings.length, 1, 'an operator without a version');
  assert.equal(holds('conditionArchitecture', 'x86-64', f), true);
  assert.equal(holds('conditionArchitecture', 'native', f), true);
  assert.equal(holds('conditionArchitecture', 'arm64', f), false);
  assert.equal(holds('conditionArchitecture', 'bogus', f), false);
  assert.equal(holds('conditionVirtualization', 'yes', f), true);
  assert.equal(holds('conditionVirtualization', 'vm', f), true);
  assert.equal(holds('conditionVirtualization', 'kvm', f), true);
  assert.equal(holds('conditionVirtualization', 'container', f), false);
  assert.equal(holds('conditionVirtualization', 'no', fake()), true);
  assert.equal(holds('conditionFirmware', 'uefi', f), true);
  assert.equal(holds('conditionFirmware', 'device-tree', f), false);
  assert.equal(holds('conditionFirmware', 'smbios-field(bios_version $= 1.16*)', f), true);
  assert.equal(holds('conditionFirmware', 'smbios-field(bios_version >= 1.17)', f), false);
  assert.equal(holds('conditionFirmware', 'bogus', f), false);
  assert.equal(holds('conditionSecurity', 'selinux', f), false);
  assert.equal(holds('conditionSecurity', 'bogus', f), false);
  assert.equal(holds('conditionCapability', 'CAP_CHOWN', f), true);
  assert.equal(holds('conditionCapability', 'cap_kill', f), false);
  assert.equal(holds('conditionACPower', 'false', f), true, 'an offline AC and a discharging battery');
  assert.equal(holds('conditionACPower', 'true', fake()), true, 'no power supply: AC');
  assert.equal(holds('conditionACPower', 'perhaps', f), false);
});

test('environment, user, group, CPUs, CPU features, memory, cgroup controllers, os-release, credentials, pressure', () => {
  const f = fake({
    env: { PATH: '/bin', CREDENTIALS_DIRECTORY: '/run/credentials/@system' },
    files: { '/etc/os-release': { text: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' }, '/run/credentials/@system/token': {} },
    kernel: {
      '/proc/cpuinfo': 'processor\t: 0\nflags\t\t: fpu sse2 avx2 pclmulqdq\n', '/proc/pressure/cpu': 'some avg10=1.00 avg60=30.50 avg300=5.00 total=1\n',
      '/proc/pressure/io': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
      '/proc/pressure/memory': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=12.00 avg60=0.00 avg300=0.00 total=0\n',
      '/sys/fs/cgroup/system.slice/memory.pressure': 'some avg10=0.00 avg60=0.00 avg300=50.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=40.00 total=0\n',
    },
    cg: { unified: true, controllers: ['cpu', 'memory', 'io', 'pids'] },
  });
  assert.equal(holds('conditionEnvironment', 'PATH', f), true);
  assert.equal(holds('conditionEnvironment', 'PATH=/bin', f), true);
  assert.equal(holds('conditionEnvironment', 'PATH=/usr/bin', f), false);
  assert.equal(holds('conditionUser', 'root', f), true);
  assert.equal(holds('conditionUser', '0', f), true);
  assert.equal(holds('conditionUser', '@system', f), true);
  assert.equal(holds('conditionUser', 'alice', f), false, 'the system manager is root');
  assert.equal(holds('conditionUser', 'alice', fake({ uid: 1000 })), true, 'a non-root manager looks the name up');
  assert.equal(holds('conditionGroup', '4', f), true, 'a supplementary group');
  assert.equal(holds('conditionGroup', 'adm', f), false, 'the system manager matches root only, as PID 1');
  assert.equal(holds('conditionGroup', 'users', fake({ uid: 1000, groups: [100] })), true);
  assert.equal(holds('conditionCPUs', '>=4', f), true);
  assert.equal(holds('conditionCPUs', '8', f), false, '>= when no operator');
  assert.equal(holds('conditionCPUs', '!=4', f), false);
  assert.equal(holds('conditionCPUFeature', 'pclmul', f), true, 'systemd names it pclmul, the kernel pclmulqdq');
  assert.equal(holds('conditionCPUFeature', 'rdrand', f), false);
  assert.equal(holds('conditionCPUFeature', 'sse2', fake({ machine: 'aarch64', kernel: { '/proc/cpuinfo': 'flags : sse2' } })), false, 'x86 only');
  assert.equal(holds('conditionMemory', '>= 1.5G', f), true);
  assert.equal(holds('conditionMemory', '<8G', f), false);
  assert.equal(holds('conditionControlGroupController', 'cpu memory', f), true);
  assert.equal(holds('conditionControlGroupController', 'memory blkio', f), false);
  assert.equal(holds('conditionControlGroupController', 'bogus', f), true, 'no known controller: holds');
  assert.equal(holds('conditionControlGroupController', 'v2', f), true);
  assert.equal(holds('conditionOSRelease', 'ID=debian VERSION_ID>=11', f), true);
  assert.equal(holds('conditionOSRelease', 'ID$=deb* VERSION_ID<12', f), false);
  assert.equal(holds('conditionOSRelease', '"PRETTY_NAME=Debian GNU/Linux 12 (bookworm)"', f), true);
  assert.equal(run({ conditionOSRelease: ['ID= debian'] }, f).warnings.length, 1, 'no blank after the operator');
  assert.equal(holds('conditionCredential', 'token', f), true);
  assert.equal(holds('conditionCredential', '../token', f), false);
  assert.equal(holds('conditionCPUPressure', '20%/1min', f), false, 'cpu falls back to "some"');
  assert.equal(holds('conditionCPUPressure', '20%', f), true, 'the 5 min average by default');
  assert.equal(holds('conditionMemoryPressure', '10%/10sec', f), false);
  assert.equal(holds('conditionIOPressure', '0%', f), true);
  assert.equal(holds('conditionMemoryPressure', 'system.slice:30%', f), false, 'a slice\'s cgroup');
  assert.equal(holds('conditionMemoryPressure', 'gone.slice:30%', f), true, 'a slice that is not there is skipped');
  assert.equal(holds('conditionMemoryPressure', '10%', fake()), true, 'no PSI: holds');
  assert.equal(run({ conditionMemoryPressure: ['10%/2min'] }, f).warnings.length, 1);
});

test('fnmatch, braces, sizes, percentages, slice paths', () => {
  assert.equal(fnmatch('*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(4000)), false, 'no exponential backtracking');
  assert.equal(fnmatch('[!a-c]x', 'dx'), true);
  assert.equal(fnmatch('[[:digit:]]*', '7up'), true);
  assert.equal(fnmatch('[A-Z]*', 'node', { casefold: true }), true);
  assert.equal(fnmatch('*', '.hidden', { period: true }), false);
  assert.equal(fnmatch('.*', '.hidden', { period: true }), true);
  assert.deepEqual(expandBraces('/a{b,c{d,e}}f'), ['/abf', '/acdf', '/acef']);
  assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('12x'), undefined);
  assert.equal(parsePermyriad('12.34%'), 1234);
  assert.equal(slicePath('a-b-c.slice'), 'a.slice/a-b.slice/a-b-c.slice');
  assert.equal(slicePath('-.slice'), '');
  assert.equal(slicePath('bad'), undefined);
});

test('versions compare as systemd 257\'s systemd-analyze compare-versions does', () => {
  const lines = readFileSync(join(FIXTURES, 'oracle', 'versions.compare.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(lines.length >= 20);
  for (const l of lines) {
    const [a, b, rc] = l.split(' ');
    assert.equal(Math.sign(compareVersions(a!, b!)), rc === '0' ? 0 : rc === '11' ? 1 : -1, l);
  }
});
