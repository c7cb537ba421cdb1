// A descriptor the agent inherits (a launcher's pipe, a file: `unitctl agent ... 200</root/secret`)
// reached every service through the fork server and the shims — a User=nobody service read a
// root-only file through it (a hostile probe, issue 19's session 32). systemd passes a service
// only what it means to; the shim and the fork server now close everything from 3 up (shim/fds.c).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SKIP, agentDirs, running, scope, startAgent, tempRoot, token } from './support.ts';
import { forkServerPids } from '../../src/runner/forkserver.ts';

const AT = 57; // where the agent gets the secret: a number no one else uses

const fdsOf = (pid: number): string[] => { try { return readdirSync(`/proc/${pid}/fd`).map((f) => { try { return readlinkSync(`/proc/${pid}/fd/${f}`); } catch { return ''; } }); } catch { return []; } };

test('a descriptor the agent inherited reaches neither its fork server, nor the holders, nor a User=nobody service', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  const secret = join(root, 'secret');
  writeFileSync(secret, `root only ${tok}\n`, { mode: 0o600 });
  // where nobody can write (the test's root is 0700)
  const pub = mkdtempSync(join(tmpdir(), 'uo-peek-'));
  s.defer(() => rmSync(pub, { recursive: true, force: true }));
  chmodSync(pub, 0o755);
  const out = join(pub, 'seen');
  writeFileSync(out, '');
  chmodSync(out, 0o666);
  // the service says whether the descriptor is open in it, and tries to read it
  writeFileSync(join(manifests, 'peek.service'), `[Service]\nUser=nobody\nExecStart=/bin/sh -c 'if [ -e /proc/self/fd/${AT} ]; then echo "open: $(cat <&${AT})" >> ${out}; else echo closed >> ${out}; fi; exec sleep 100000'\n`);
  const fd = openSync(secret, 'r');
  let a;
  try { a = await startAgent(s, { manifests, state, inherit: { fd, at: AT } }); } finally { closeSync(fd); }
  const peek = await running(a, 'peek');
  assert.ok(fdsOf(a.pid).includes(secret), 'the agent itself has it (the test passed it)');
  for (let i = 0; i < 50 && readFileSync(out, 'utf8') === ''; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(readFileSync(out, 'utf8').trim(), 'closed', `the service saw the agent's descriptor: ${readFileSync(out, 'utf8')}`);
  const holders = readFileSync(`/proc/${peek.MainPID}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]!;
  for (const [what, pid] of [['the main process', peek.MainPID], ['its holder', Number(holders)], ...forkServerPids(state).map((p) => ['the fork server', p] as const)] as Array<[string, number]>) {
    assert.ok(!fdsOf(pid).includes(secret), `${what} (${pid}) holds the agent's inherited descriptor: ${fdsOf(pid).join(', ')}`);
  }
  assert.ok(forkServerPids(state).length > 0, 'a fork server ran');
});
