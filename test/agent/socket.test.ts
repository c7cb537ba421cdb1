// The agent's control socket (src/agent/socket.ts): fixed modes whatever the umask, paths past
// the kernel's 107 bytes bound and reached through /proc/self/fd, and a clear message (the
// length, the limit, what to do) when that is not possible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { ControlSocketError, listenUnix, reachablePath, UNIX_PATH_MAX } from '../../src/agent/socket.ts';

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync('/tmp/uo-socket-');
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a socket path past 107 bytes is reached through /proc/self/fd; a short one as is', (t) => {
  const d = tmp(t);
  assert.deepEqual(reachablePath(join(d, 'agent.sock'), 'x').path, join(d, 'agent.sock'));
  const long = join(d, 'a'.repeat(120));
  mkdirSync(long);
  const via = reachablePath(join(long, 'agent.sock'), 'x');
  assert.match(via.path, /^\/proc\/self\/fd\/\d+\/agent\.sock$/);
  via.done();
  const missing = join(d, 'b'.repeat(120), 'agent.sock');
  assert.throws(() => reachablePath(missing, 'the control socket'), (e: Error) => e instanceof ControlSocketError
    && e.message.includes(`the control socket ${missing} is ${Buffer.byteLength(missing)} bytes, longer than the ${UNIX_PATH_MAX} the kernel allows`)
    && e.message.includes('give a shorter --state-dir'));
});

test('listenUnix: 0600 under umask 000, a long path works, the file goes on close', async (t) => {
  const d = tmp(t);
  const dir = join(d, 'c'.repeat(110));
  mkdirSync(dir);
  const path = join(dir, 'agent.sock');
  const old = process.umask(0);
  try {
    const l = await listenUnix(path, { mode: 0o600 }, (s) => { s.end('hello\n'); });
    assert.equal(process.umask(0), 0, 'the umask is given back');
    assert.equal(lstatSync(path).mode & 0o7777, 0o600);
    assert.ok(lstatSync(path).isSocket());
    const via = reachablePath(path, 'x');
    const got = await new Promise<string>((resolve, reject) => {
      const c = createConnection(via.path);
      let b = '';
      c.on('data', (x) => { b += x.toString(); });
      c.on('end', () => resolve(b));
      c.on('error', reject);
    });
    via.done();
    assert.equal(got, 'hello\n');
    await l.close();
    assert.equal(existsSync(path), false);
  } finally { process.umask(old); }
});

test('listenUnix names the path when it cannot bind', async (t) => {
  const d = tmp(t);
  const path = join(d, 'nope', 'agent.sock');
  await assert.rejects(listenUnix(path, { mode: 0o600 }, () => {}), (e: Error) => e instanceof ControlSocketError && e.message.startsWith(`cannot listen on ${path}: `) && /ENOENT|EACCES/.test(e.message));
});
