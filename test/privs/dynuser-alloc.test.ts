// DynamicUser='s allocation (src/runner/dynuser.ts) and what it implies (src/api/dynamicuser.ts),
// on temporary account files and state folders: the hostile cases — an /etc/passwd entry on the
// id a name hashes to, two units asking for different names, a recorded id that a static
// account took since, a static account of the name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DYNAMIC_UID_MAX, DYNAMIC_UID_MIN, dynamicUserName, withDynamicUser } from '../../src/api/dynamicuser.ts';
import { DYNAMIC_USER_FILE, hashedCandidate, resolveDynamicUser } from '../../src/runner/dynuser.ts';

function world(t: { after: (fn: () => void) => void }, passwd: string, group: string): { dir: string; unit: (n: string) => string; passwd: string; groupFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'uo-dynalloc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'units'));
  writeFileSync(join(dir, 'passwd'), passwd);
  writeFileSync(join(dir, 'group'), group);
  return { dir, passwd: join(dir, 'passwd'), groupFile: join(dir, 'group'), unit: (n) => { const d = join(dir, 'units', n); mkdirSync(d, { recursive: true }); return d; } };
}

const ok = (r: ReturnType<typeof resolveDynamicUser>): { uid: number; gid: number; dynamic: boolean } => {
  if ('error' in r) throw new Error(r.error);
  return { uid: r.account.uid, gid: r.gid, dynamic: r.dynamic };
};

test('an id in 61184–65519, the same for the name on every call, recorded in the unit folder; user and group of one name share it', (t) => {
  const w = world(t, 'root:x:0:0::/root:/bin/sh\n', 'root:x:0:\n');
  const a = ok(resolveDynamicUser({ unitDir: w.unit('a.service'), user: 'a', group: 'a', passwd: w.passwd, groupFile: w.groupFile }));
  assert.ok(a.uid >= DYNAMIC_UID_MIN && a.uid <= DYNAMIC_UID_MAX && a.dynamic);
  assert.equal(a.uid, hashedCandidate('a'));
  assert.equal(a.gid, a.uid);
  assert.deepEqual(JSON.parse(readFileSync(join(w.dir, 'units', 'a.service', DYNAMIC_USER_FILE), 'utf8')), { user: 'a', uid: a.uid, group: 'a', gid: a.uid });
  assert.deepEqual(ok(resolveDynamicUser({ unitDir: w.unit('a.service'), user: 'a', group: 'a', passwd: w.passwd, groupFile: w.groupFile })), a);
});

test('hostile: a passwd entry and a group on the hashed id, and another unit holding the next one: the next free id', (t) => {
  const h = hashedCandidate('dyn-x');
  const next = h === DYNAMIC_UID_MAX ? DYNAMIC_UID_MIN : h + 1;
  const after = next === DYNAMIC_UID_MAX ? DYNAMIC_UID_MIN : next + 1;
  const w = world(t, `intruder:x:${h}:${h}::/:/bin/sh\n`, `g:x:${after}:\n`);
  // another unit already holds `next` under another name
  writeFileSync(join(w.unit('other.service'), DYNAMIC_USER_FILE), JSON.stringify({ user: 'other', uid: next, group: 'other', gid: next }));
  const r = ok(resolveDynamicUser({ unitDir: w.unit('dyn-x.service'), user: 'dyn-x', group: 'dyn-x', passwd: w.passwd, groupFile: w.groupFile }));
  assert.notEqual(r.uid, h, 'not a passwd uid');
  assert.notEqual(r.uid, next, "not another unit's id");
  assert.notEqual(r.uid, after, 'not a gid of /etc/group (user and group share the number)');
  assert.ok(r.uid >= DYNAMIC_UID_MIN && r.uid <= DYNAMIC_UID_MAX);
  // a second unit of the same name shares it; a third name gets another
  assert.equal(ok(resolveDynamicUser({ unitDir: w.unit('dyn-x2.service'), user: 'dyn-x', group: 'dyn-x', passwd: w.passwd, groupFile: w.groupFile })).uid, r.uid);
  assert.notEqual(ok(resolveDynamicUser({ unitDir: w.unit('y.service'), user: 'dyn-y', group: 'dyn-y', passwd: w.passwd, groupFile: w.groupFile })).uid, r.uid);
});

test('a recorded id that a static account took since is given up; a static account of the name is used as it is', (t) => {
  const w = world(t, 'nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n', 'nogroup:x:65534:\n');
  const first = ok(resolveDynamicUser({ unitDir: w.unit('s.service'), user: 's', group: 's', passwd: w.passwd, groupFile: w.groupFile }));
  writeFileSync(w.passwd, `nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\nlate:x:${first.uid}:${first.uid}::/:/bin/sh\n`);
  const again = ok(resolveDynamicUser({ unitDir: w.unit('s.service'), user: 's', group: 's', passwd: w.passwd, groupFile: w.groupFile }));
  assert.notEqual(again.uid, first.uid);
  assert.deepEqual(ok(resolveDynamicUser({ unitDir: w.unit('n.service'), user: 'nobody', group: 'nogroup', passwd: w.passwd, groupFile: w.groupFile })), { uid: 65534, gid: 65534, dynamic: false });
  // a number is refused, not taken as an id (User=0 would be root)
  assert.ok('error' in resolveDynamicUser({ unitDir: w.unit('z.service'), user: '0', group: '0', passwd: w.passwd, groupFile: w.groupFile }));
});

test('what DynamicUser= implies at load (systemd 257: systemctl show in the oracle)', () => {
  assert.equal(dynamicUserName('web@1.service'), 'web');
  const s = withDynamicUser({ dynamicUser: true, protectHome: 'tmpfs' }, 'dyn-t1.service') as Record<string, unknown>;
  assert.deepEqual(s, { dynamicUser: true, user: 'dyn-t1', group: 'dyn-t1', protectSystem: 'strict', protectHome: 'tmpfs', privateTmp: 'disconnected', removeIPC: true, noNewPrivileges: true, restrictSUIDSGID: true });
  const plain = { user: 'x' };
  assert.equal(withDynamicUser(plain, 'x.service'), plain);
});
