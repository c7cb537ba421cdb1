// uo-shim's mount namespace (shim/sandbox.c) run directly, as the runner runs it: a hostile or
// malformed UO_SHIM_SANDBOX fails the command at step NAMESPACE (226, EINVAL) before anything is
// mounted; a good one gives the command a mount namespace of its own, and nothing of it (mounts,
// staging folders) reaches the host's.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureShim } from '../../src/runner/shim.ts';
import { until } from '../support/wait.ts';
import { isEmptyLine } from '../../src/runner/shimproto.ts';

const buildEnv = { ...process.env };
delete buildEnv['UNIT_OPERATOR_SHIM']; // this shim, built from these sources
const SHIM = ensureShim(buildEnv);
const root = process.geteuid?.() === 0;
const mounts = (): string => readFileSync('/proc/self/mountinfo', 'utf8');
const staging = (): string[] => readdirSync('/run').filter((n) => n.startsWith('uo-sandbox-'));

/** Runs argv under the shim with UO_SHIM_SANDBOX=spec until it is done; its event lines and the command's output. */
async function run(t: TestContext, spec: string, argv: string[], extra: Record<string, string> = {}): Promise<{ lines: string[]; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-sbx-shim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events'), out = join(dir, 'out');
  const child = spawn(SHIM, [events, '--', ...argv], { env: { PATH: '/usr/bin:/bin', UO_SHIM_SANDBOX: spec, UO_SHIM_STDOUT: `o:${out}`, UO_SHIM_LOG: join(dir, 'log'), ...extra }, stdio: 'ignore', detached: true });
  t.after(() => { if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL'); });
  const lines = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : []);
  await until('the shim is done', () => lines().some(isEmptyLine), { timeoutMs: 10_000, detail: () => lines().join(' | ') });
  return { lines: lines(), out: existsSync(out) ? readFileSync(out, 'utf8') : '' };
}

const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  ['a relative path', 'ro\t.\tusr'],
  ['a ".." component', 'ro\t.\t/usr/../etc'],
  ['a "." component', 'ro\t.\t/usr/./lib'],
  ['a control character', 'ro\t.\t/usr\x01'],
  ['an unknown operation', 'mount\t.\t/usr'],
  ['an unknown flag', 'ro\tz\t/usr'],
  ['too many fields', 'ro\t.\t/usr\t/etc\t/x'],
  ['a bind without its source', 'bind\t.\t/mnt'],
  ['a relative bind source', 'bind\t.\t/mnt\tetc'],
  ['tmpfs options with a space', 'tmpfs\t.\t/mnt\tmode=0755 size=1'],
  ['a dev entry elsewhere than /dev', 'dev\t.\t/mnt'],
  ['procfs options it does not know', 'procfs\t.\t/proc\thidepid=invisible,gid=0'],
  ['a procfs elsewhere than /proc', 'procfs\t.\t/mnt\thidepid=invisible'],
  ['a capability out of range', 'dropcap\t.\t64'],
  ['a propagation it does not know', 'propagation\t.\tunbindable'],
  ['a path longer than PATH_MAX', `ro\t.\t/${'a'.repeat(4100)}`],
  ['more than 256 entries', Array.from({ length: 257 }, (_, i) => `ro\ti\t/sbx-${i}`).join('\n')],
];

for (const [what, spec] of HOSTILE) {
  test(`UO_SHIM_SANDBOX with ${what}: exec-failed EINVAL 226 NAMESPACE, the command never runs`, { skip: root ? false : 'needs root' }, async (t) => {
    const before = mounts();
    const r = await run(t, spec, ['/bin/echo', 'echo', 'ran']);
    const failed = r.lines.find((l) => l.startsWith('exec-failed '));
    assert.ok(failed, r.lines.join('\n'));
    assert.deepEqual(failed.split(' ').slice(2), ['22', '226', 'NAMESPACE']);
    assert.equal(r.out, '');
    assert.ok(r.lines.some((l) => / exited 226( \d+)?$/.test(l)), r.lines.join('\n'));
    assert.equal(mounts(), before, 'nothing was mounted in the host\'s namespace');
  });
}

test('a good UO_SHIM_SANDBOX: the command has a mount namespace of its own, the host sees none of it', { skip: root ? false : 'needs root' }, async (t) => {
  const base = `/tmp/uo-private-sbx-shimtest-${'0'.repeat(32)}`;
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const before = mounts();
  const spec = ['ro\t.\t/usr', 'inaccessible\ti\t/proc/kallsyms', `tmp\t.\t/tmp\t${base}`, 'dropcap\t.\t16'].join('\n');
  const r = await run(t, spec, ['/bin/sh', 'sh', '-c', 'readlink /proc/self/ns/mnt; touch /usr/.sbx-x 2>&1 | grep -c Read-only; stat -c %a /proc/kallsyms; ls -A /tmp | wc -l; grep CapBnd /proc/self/status']);
  assert.ok(r.lines.some((l) => l.startsWith('exec ')), r.lines.join('\n'));
  const [ns, rofs, kallsyms, tmpEntries, capbnd] = r.out.trim().split('\n');
  assert.notEqual(ns, readlinkSync('/proc/self/ns/mnt'), 'another mount namespace');
  assert.deepEqual([rofs, kallsyms, tmpEntries], ['1', '0', '0']);
  assert.equal((BigInt(`0x${capbnd!.split(/\s+/)[1]}`) >> 16n) & 1n, 0n, 'CAP_SYS_MODULE dropped');
  // the PrivateTmp= folder is the host's (shared by the invocation's processes), 0700 with a 01777 tmp inside
  assert.equal(statSync(base).mode & 0o7777, 0o700);
  assert.equal(statSync(join(base, 'tmp')).mode & 0o7777, 0o1777);
  assert.equal(mounts(), before, 'the host\'s mount table is unchanged');
  assert.deepEqual(staging(), [], 'no staging folder is left in /run');
});

test('a PrivateTmp= folder that is not the shim\'s (a link, another mode) is refused: EEXIST, 226', { skip: root ? false : 'needs root' }, async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'uo-private-sbx-planted-')); // 0700 but a mkdtemp: make it 0755, as someone else's would be
  t.after(() => rmSync(base, { recursive: true, force: true }));
  (await import('node:fs')).chmodSync(base, 0o755);
  const r = await run(t, `tmp\t.\t/tmp\t${base}`, ['/bin/echo', 'echo', 'ran']);
  assert.deepEqual(r.lines.find((l) => l.startsWith('exec-failed '))?.split(' ').slice(2), ['17', '226', 'NAMESPACE']);
  assert.equal(r.out, '');
});

const canUnshare = root && spawnSync('unshare', ['--mount', 'true']).status === 0;

test('with UO_SHIM_NAMESPACES the command enters the host\'s mount namespace first, then gets its own on top of it', { skip: canUnshare ? false : 'needs root and unshare --mount' }, async (t) => {
  // "the host": a process in a mount namespace of its own, with a tmpfs only it sees
  const dir = mkdtempSync(join(tmpdir(), 'uo-sbx-host-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', `mount -t tmpfs none ${dir} && touch ${dir}/host-only && echo ready && exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => { if (host.exitCode === null) host.kill('SIGKILL'); });
  let ready = '';
  host.stdout!.on('data', (d: Buffer) => { ready += d.toString(); });
  await until('the host namespace is ready', () => ready.includes('ready'), 5000);
  const hostNs = readlinkSync(`/proc/${host.pid}/ns/mnt`);
  const r = await run(t, 'ro\t.\t/usr', ['/bin/sh', 'sh', '-c', `readlink /proc/self/ns/mnt; ls ${dir}; touch /usr/.sbx-x 2>&1 | grep -c Read-only`], { UO_SHIM_NAMESPACES: `${host.pid}:mnt` });
  assert.ok(r.lines.some((l) => l.startsWith('exec ')), r.lines.join('\n'));
  const [ns, seen, rofs] = r.out.trim().split('\n');
  assert.notEqual(ns, hostNs, 'a namespace of its own…');
  assert.equal(seen, 'host-only', '…made from the host\'s (its tmpfs is there)');
  assert.equal(rofs, '1');
  assert.equal(readdirSync(dir).length, 0, 'the agent\'s own namespace never saw the host\'s tmpfs');
});

test('a read-only path reached through a symbolic link: the mount it leads to is made read-only, not left writable', { skip: root ? false : 'needs root' }, async (t) => {
  const d = mkdtempSync(join('/var/tmp', 'uo-sbx-link-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  (await import('node:fs')).mkdirSync(join(d, 'real'));
  (await import('node:fs')).symlinkSync(join(d, 'real'), join(d, 'link'));
  const r = await run(t, `ro\t.\t${d}/link`, ['/bin/sh', 'sh', '-c', `touch ${d}/real/x 2>&1 | grep -c Read-only; touch ${d}/y && echo parent-writable`]);
  assert.ok(r.lines.some((l) => l.startsWith('exec ')), r.lines.join('\n'));
  assert.equal(r.out, '1\nparent-writable\n');
});

const UNIFIED = '/sys/fs/cgroup/unified'; // a hybrid host's cgroup2 mount (a v2 host's is /sys/fs/cgroup itself)
const hybrid = canUnshare && existsSync(join(UNIFIED, 'cgroup.procs'));

test('ProtectControlGroups=private|strict (a cgroup2 entry) on a cgroup v2 host: a cgroup namespace rooted at the unit\'s cgroup, a cgroup2 of its own on /sys/fs/cgroup, read-write or read-only', { skip: hybrid ? false : 'needs root, unshare --mount and a hybrid host\'s cgroup2 mount to play a v2 host with' }, async (t) => {
  // "a v2 host": a mount namespace with the cgroup2 hierarchy on /sys/fs/cgroup, entered through UO_SHIM_NAMESPACES
  const host = spawn('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && echo ready && exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => { if (host.exitCode === null) host.kill('SIGKILL'); });
  let ready = '';
  host.stdout!.on('data', (d: Buffer) => { ready += d.toString(); });
  await until('the v2 host namespace is ready', () => ready.includes('ready'), 5000);
  const unit = mkdtempSync(join(UNIFIED, 'uo-sbx-cgns-')), sibling = mkdtempSync(join(UNIFIED, 'uo-sbx-cgns-sibling-'));
  t.after(() => { for (const d of [unit, sibling]) try { rmdirSync(d); } catch { /* still populated: the test failed earlier */ } });
  for (const [flag, mode] of [['.', 'rw'], ['o', 'ro']] as const) {
    const r = await run(t, `cgroup2\t${flag}\t/sys/fs/cgroup`, ['/bin/sh', 'sh', '-c',
      'readlink /proc/self/ns/cgroup; sed -n "s/^0:://p" /proc/self/cgroup; awk \'$5 == "/sys/fs/cgroup" { print $4, $6, $(NF-2) }\' /proc/self/mountinfo | tail -1; ls /sys/fs/cgroup | grep -c uo-sbx-cgns; grep -c . /sys/fs/cgroup/cgroup.procs'],
    { UO_SHIM_NAMESPACES: `${host.pid}:mnt`, UO_SHIM_CGROUPS: unit });
    assert.ok(r.lines.some((l) => l.startsWith('exec ')), r.lines.join('\n'));
    const [ns, cgroup, mount, siblings, procs] = r.out.trim().split('\n');
    assert.notEqual(ns, readlinkSync('/proc/self/ns/cgroup'), 'a cgroup namespace of its own');
    assert.equal(cgroup, '/', 'its cgroup is the namespace\'s root');
    const [mroot, opts, fstype] = mount!.split(' ');
    assert.deepEqual([mroot, fstype, opts!.split(',')[0], opts!.split(',').includes('noexec')], ['/', 'cgroup2', mode, true], mount);
    assert.equal(siblings, '0', 'the unit\'s cgroup is /sys/fs/cgroup: the cgroups beside it are out of sight');
    assert.ok(Number(procs) >= 1 && Number(procs) <= 3, `only the command's processes are in its root cgroup (${procs})`);
  }
});
