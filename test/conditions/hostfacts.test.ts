// The real facts (src/conditions/hostfacts.ts, hostfs.ts) on real files: a host root in a
// temporary folder with hostile contents — links out of the root, link loops, a FIFO, a huge
// sparse file — and the agent's own /proc and mount table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, truncateSync, chmodSync, openSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFacts, checksFromSpec, evaluateList } from '../../src/conditions/index.ts';

function hostRoot(t: { after: (fn: () => void) => void }): { root: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), 'uo-cond-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'host'), outside = join(base, 'outside');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'inside'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'outside the root\n');
  writeFileSync(join(root, 'inside', 'secret'), 'inside\n');
  writeFileSync(join(root, 'etc', 'hostname'), '# the host\nhost-under-root\n');
  writeFileSync(join(root, 'etc', 'os-release'), 'ID=uo-test\nVERSION_ID="3.2"\n');
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:4242:4242::/home/alice:/bin/sh\n');
  writeFileSync(join(root, 'etc', 'machine-id'), 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
  symlinkSync('/inside', join(root, 'abs'));                 // absolute: re-rooted
  symlinkSync('../../../../../../inside', join(root, 'rel')); // climbs no higher than the root
  symlinkSync(outside, join(root, 'out'));                    // names a real folder outside: not followed there
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  mkdirSync(join(root, 'hidden'));
  for (const n of ['.dot', 'backup~', 'x.dpkg-old', 'x.rpmnew']) writeFileSync(join(root, 'hidden', n), 'x');
  assert.equal(spawnSync('mkfifo', [join(root, 'fifo')]).status, 0, 'mkfifo');
  closeSync(openSync(join(root, 'huge'), 'w'));
  truncateSync(join(root, 'huge'), 8 * 1024 ** 3); // 8 GiB, sparse
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(root, 'run.sh'), 0o755);
  return { root, outside };
}

const check = (f: HostFacts, unit: Record<string, string[]>): { ok: boolean; warnings: readonly string[] } => evaluateList([...checksFromSpec(unit).conditions], f);

test('paths resolve under the host root: links are followed inside it, never out of it; loops end in ELOOP', (t) => {
  const { root, outside } = hostRoot(t);
  const f = new HostFacts({ hostRoot: root });
  assert.equal(check(f, { conditionPathExists: ['/abs/secret'] }).ok, true, 'an absolute link, re-rooted');
  assert.equal(check(f, { conditionPathExists: ['/rel/secret'] }).ok, true, '".." stops at the root');
  assert.equal(f.readHostFile('/abs/secret'), 'inside\n');
  assert.equal(check(f, { conditionPathExists: ['/out/secret'] }).ok, false, `the link to ${outside} is resolved inside the root`);
  assert.equal(f.readHostFile('/out/secret'), undefined);
  assert.equal(check(f, { conditionPathExists: ['/../../outside/secret'] }).ok, false);
  assert.deepEqual(f.stat('/loop1', true), { errno: 'ELOOP' });
  assert.equal(check(f, { conditionPathExists: ['/loop1'] }).ok, false);
  assert.equal(check(f, { conditionPathIsSymbolicLink: ['/loop1'] }).ok, true, 'lstat does not follow');
  assert.equal(check(f, { conditionPathExistsGlob: ['/out/*'] }).ok, false, 'a glob does not leave the root either');
  assert.equal(check(f, { conditionPathExistsGlob: ['/{abs,nope}/sec*'] }).ok, true);
  assert.equal(check(f, { conditionPathExistsGlob: ['/hidden/*dot'] }).ok, false, 'a leading dot is matched only by a dot');
  assert.equal(check(f, { conditionPathExistsGlob: ['/hidden/.d?t'] }).ok, true);
  assert.equal(check(f, { conditionDirectoryNotEmpty: ['/hidden'] }).ok, false, 'hidden and backup files do not count');
  assert.equal(check(f, { conditionFileIsExecutable: ['/run.sh'] }).ok, true);
  assert.equal(check(f, { conditionPathIsDirectory: ['/abs'] }).ok, true);
});

test('a FIFO, a huge file and /proc files are read bounded and without blocking', { timeout: 10_000 }, (t) => {
  const { root } = hostRoot(t);
  const f = new HostFacts({ hostRoot: root });
  const t0 = Date.now();
  assert.equal(check(f, { conditionFileNotEmpty: ['/fifo'] }).ok, false, 'a FIFO is not a file with data (and is never opened)');
  assert.equal(f.readHostFile('/fifo'), undefined, 'a FIFO is not read');
  assert.equal(check(f, { conditionFileNotEmpty: ['/huge'] }).ok, true);
  const big = f.readHostFile('/huge');
  assert.ok(big !== undefined && big.length <= 1024 * 1024, `read at most 1 MiB (${big?.length})`);
  assert.equal(f.readKernelFile(join(root, 'fifo')), undefined, 'a kernel-file read of a FIFO returns at once');
  assert.match(f.readKernelFile('/proc/self/status') ?? '', /^CapBnd:/m);
  assert.ok(Date.now() - t0 < 5000, 'nothing blocked');
});

test('the host\'s names come from its root: hostname, os-release, machine ID, users', (t) => {
  const { root } = hostRoot(t);
  const f = new HostFacts({ hostRoot: root, env: { UO_X: '1' } });
  assert.equal(f.hostname(), 'host-under-root');
  assert.equal(check(f, { conditionHost: ['HOST-*'] }).ok, true);
  assert.equal(check(f, { conditionHost: ['aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa'] }).ok, true, 'the host\'s machine ID');
  assert.equal(check(f, { conditionOSRelease: ['ID=uo-test VERSION_ID>=3.1'] }).ok, true);
  assert.equal(f.lookupUser('alice'), 4242);
  assert.equal(check(f, { conditionEnvironment: ['UO_X=1'] }).ok, true, 'the manager\'s environment as given');
  assert.equal(check(f, { conditionEnvironment: ['PATH'] }).ok, false);
});

test('mount points and read-write paths in the agent\'s view and through /proc/self/root', (t) => {
  const { root } = hostRoot(t);
  for (const r of [undefined, '/proc/self/root']) {
    const f = new HostFacts({ hostRoot: r });
    assert.equal(check(f, { conditionPathIsMountPoint: ['/proc'] }).ok, true, `${r}: /proc`);
    assert.equal(check(f, { conditionPathIsMountPoint: ['/'] }).ok, true);
    assert.equal(check(f, { conditionPathIsMountPoint: [join(root, 'inside')] }).ok, false, `${r}: a plain folder`);
    assert.equal(check(f, { conditionPathIsReadWrite: [join(root, 'inside')] }).ok, true, `${r}: a temp folder is writable`);
    assert.equal(check(f, { conditionPathIsReadWrite: [join(root, 'nonexistent')] }).ok, false);
    assert.equal(check(f, { conditionPathIsEncrypted: [join(root, 'inside')] }).ok, false, 'not on dm-crypt here');
  }
});
