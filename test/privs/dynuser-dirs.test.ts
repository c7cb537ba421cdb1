// DynamicUser='s exec directories on a temporary root (src/runner/directories.ts,
// src/runner/sandbox.ts): StateDirectory=/CacheDirectory=/LogsDirectory= below PREFIX/private
// (0700) behind a relative link, owned by the id; a folder left at the public path by an earlier
// run without DynamicUser= moved there with what it holds; the namespace's tmpfs over the private
// folder with only the unit's own folders bound in. (test/privs/dynuser.test.ts compares the
// result with systemd 257 on real units.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execDirectories, setupExecDirectories } from '../../src/runner/directories.ts';
import { sandboxPlan } from '../../src/runner/sandbox.ts';

const root = process.geteuid?.() === 0;

function tree(t: { after: (fn: () => void) => void }): string {
  const r = mkdtempSync(join(tmpdir(), 'uo-dyndirs-'));
  t.after(() => rmSync(r, { recursive: true, force: true }));
  for (const p of ['run', 'var/lib', 'var/cache', 'var/log', 'etc']) mkdirSync(join(r, p), { recursive: true });
  return r;
}

test('DynamicUser=: the private folders (0700), the links, the owner; a public folder of an earlier run moved below private; idempotent', (t) => {
  if (!root) { t.skip('needs root (chown)'); return; }
  const r = tree(t);
  mkdirSync(join(r, 'var/lib/app'));
  writeFileSync(join(r, 'var/lib/app/data'), 'kept');
  const d = execDirectories({ stateDirectory: ['app'], cacheDirectory: ['app/sub'], logsDirectory: ['app'], runtimeDirectory: ['app'] });
  for (let n = 0; n < 2; n++) assert.equal(setupExecDirectories(d, r, 61200, 61200, (s) => s, true), undefined);
  for (const prefix of ['var/lib', 'var/cache', 'var/log']) {
    const st = lstatSync(join(r, prefix, 'private'));
    assert.equal(st.mode & 0o7777, 0o700, `${prefix}/private is 0700`);
    assert.equal(st.uid, 0);
  }
  assert.equal(readlinkSync(join(r, 'var/lib/app')), 'private/app');
  assert.equal(readFileSync(join(r, 'var/lib/private/app/data'), 'utf8'), 'kept', 'the earlier folder moved, with what it holds');
  assert.equal(lstatSync(join(r, 'var/lib/private/app/data')).uid, 61200, 'chowned to the dynamic id');
  assert.equal(readlinkSync(join(r, 'var/cache/app/sub')), '../private/app/sub', 'a nested name: a relative link from its parent');
  assert.equal(lstatSync(join(r, 'var/cache/private/app/sub')).uid, 61200);
  assert.ok(lstatSync(join(r, 'run/app')).isDirectory(), 'RuntimeDirectory= is not private');
  assert.equal(lstatSync(join(r, 'run/app')).uid, 61200);
  // without DynamicUser=: the plain layout
  const plain = tree(t);
  assert.equal(setupExecDirectories(execDirectories({ stateDirectory: ['app'] }), plain, 0, 0), undefined);
  assert.ok(lstatSync(join(plain, 'var/lib/app')).isDirectory());
});

test('DynamicUser=: the namespace shows a 0755 tmpfs over PREFIX/private with the unit\'s folders bound in', () => {
  const plan = (service: Record<string, unknown>): string[] => sandboxPlan({ service, unitName: 'a.service', invocationId: '0'.repeat(32), expand: (s) => s }).spec!.split('\n');
  const lines = plan({ dynamicUser: true, protectSystem: 'strict', stateDirectory: ['app'], runtimeDirectory: ['app'], privateTmp: 'disconnected' });
  assert.ok(lines.includes('tmpfs\t.\t/var/lib/private\tmode=0755'), lines.join('\n'));
  assert.ok(lines.includes('bind\tr\t/var/lib/private/app\t/var/lib/private/app'));
  assert.ok(lines.includes('bind\tr\t/run/app\t/run/app'));
  assert.ok(!lines.some((l) => l.includes('/var/cache/private')), 'no tmpfs where the unit has no folder');
  assert.ok(lines.includes('tmpfs\tn\t/tmp\tmode=01777') && lines.includes('tmpfs\tn\t/var/tmp\tmode=01777'), 'PrivateTmp=disconnected: a tmpfs of its own');
  assert.ok(plan({ protectSystem: 'strict', stateDirectory: ['app'] }).includes('bind\tr\t/var/lib/app\t/var/lib/app'));
});
