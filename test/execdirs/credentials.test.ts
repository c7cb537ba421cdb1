// LoadCredential=, SetCredential=, ImportCredential= (issue 14) on real processes: the unit reads
// its credentials from $CREDENTIALS_DIRECTORY (/run/credentials/<unit>, 0500, files 0400, the
// unit's user's), and the folder is gone once the unit stopped. The oracle's systemd 257 cannot
// mount its credentials file system inside its container (its units find no folder, checked
// by hand: /run/credentials/<unit> missing while $CREDENTIALS_DIRECTORY is set), so these tests
// hold the agent to systemd's exec-credential.c rather than to a fixture; the failure of a
// missing LoadCredential= source (243 CREDENTIALS) is compared with the oracle in oracle.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { harness, waitFor, type Harness } from '../support/units.ts';
import { credentialPlan, setupCredentials, CREDENTIAL_SIZE_MAX } from '../../src/runner/credentials.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

// these tests run as root (they write /run/credentials/<unit>) with Debian's nobody user

function workdir(t: { after: (fn: () => void) => void }): string {
  const w = mkdtempSync(join(tmpdir(), 'uo-creds-'));
  chmodSync(w, 0o777);
  t.after(() => rmSync(w, { recursive: true, force: true }));
  return w;
}

async function runOnce(t: Parameters<typeof harness>[0], h: Harness, service: Record<string, unknown>): Promise<{ unit: string; logs: string[]; props: Record<string, unknown> }> {
  const unit = `uo-test-${randomBytes(4).toString('hex')}.service`;
  t.after(() => rmSync(`/run/credentials/${unit}`, { recursive: true, force: true }));
  let started = false;
  const r = h.open(unit, { service: { type: 'oneshot', ...service } } as ServiceUnitSpec, (p) => { if (p.ActiveState === 'activating') started = true; });
  assert.equal(r.start(), undefined);
  await waitFor(r, 'the unit ended', (x) => started && (x.activeState === 'inactive' || x.activeState === 'failed') && x.spawns.length === 0, 10_000);
  return { unit, logs: h.logs, props: { ...r.props } };
}

test('credentials: content, folder 0500 and files 0400 of the unit\'s user, $CREDENTIALS_DIRECTORY, removed at the stop', async (t) => {
  const w = workdir(t);
  const src = join(w, 'pw.secret');
  writeFileSync(src, 'from-file\n', { mode: 0o600 }); // root's, unreadable by the unit's user: the agent reads it
  const out = join(w, 'out');
  const { unit, logs, props } = await runOnce(t, harness(t), {
    user: 'nobody', loadCredential: [`pw:${src}`], setCredential: ['inline:hello\\x21 world', 'pw:fallback-unused'],
    execStart: [`/bin/sh -c 'exec > ${out} 2>&1; echo "dir=$CREDENTIALS_DIRECTORY"; stat -c "%%a %%U" "$CREDENTIALS_DIRECTORY" "$CREDENTIALS_DIRECTORY/pw" "$CREDENTIALS_DIRECTORY/inline"; cat "$CREDENTIALS_DIRECTORY/pw" "$CREDENTIALS_DIRECTORY/inline"; echo; touch "$CREDENTIALS_DIRECTORY/new" 2>/dev/null && echo writable || echo read-only'`],
  });
  assert.equal(props['Result'], 'success', logs.join('\n'));
  assert.equal(readFileSync(out, 'utf8'), `dir=/run/credentials/${unit}\n500 nobody\n400 nobody\n400 nobody\nfrom-file\nhello! world\nread-only\n`);
  assert.equal(existsSync(`/run/credentials/${unit}`), false, 'removed when the unit stopped');
});

test('LoadCredential= of a missing file fails the start: exit status 243, "Failed at step CREDENTIALS"; a SetCredential= of the same ID is the fallback', async (t) => {
  const w = workdir(t);
  const marker = join(w, 'ran');
  const missing = await runOnce(t, harness(t), { loadCredential: ['x:/nonexistent/uo-test-cred'], execStart: [`/bin/touch ${marker}`] });
  assert.deepEqual([missing.props['ActiveState'], missing.props['Result'], missing.props['ExecMainStatus']], ['failed', 'exit-code', 243]);
  assert.equal(existsSync(marker), false, 'the command never ran');
  assert.ok(missing.logs.some((l) => l.includes('Failed to set up credentials: No such file or directory (LoadCredential=x:/nonexistent/uo-test-cred)')), missing.logs.join('\n'));
  assert.ok(missing.logs.some((l) => /Failed at step CREDENTIALS spawning \/bin\/touch: No such file or directory/.test(l)), missing.logs.join('\n'));
  assert.ok(missing.logs.some((l) => l.includes('status=243/CREDENTIALS')), missing.logs.join('\n'));
  const out = join(w, 'fallback');
  const fallback = await runOnce(t, harness(t), { loadCredential: ['x:/nonexistent/uo-test-cred'], setCredential: ['x:default'], execStart: [`/bin/sh -c 'cat $CREDENTIALS_DIRECTORY/x > ${out}'`] });
  assert.equal(fallback.props['Result'], 'success', fallback.logs.join('\n'));
  assert.equal(readFileSync(out, 'utf8'), 'default');
});

test('a credential larger than 1 MiB fails the start with E2BIG (243)', async (t) => {
  const w = workdir(t);
  const big = join(w, 'big');
  writeFileSync(big, Buffer.alloc(CREDENTIAL_SIZE_MAX + 1, 0x61));
  const r = await runOnce(t, harness(t), { loadCredential: [`big:${big}`], execStart: ['/bin/true'] });
  assert.deepEqual([r.props['Result'], r.props['ExecMainStatus']], ['exit-code', 243]);
  assert.ok(r.logs.some((l) => l.includes('Failed to set up credentials: Argument list too long')), r.logs.join('\n'));
});

test('ImportCredential= globs the agent\'s own $CREDENTIALS_DIRECTORY; LoadCredential=ID:NAME takes a name from it; nothing else leaks', async (t) => {
  const w = workdir(t);
  const received = join(w, 'agent-creds');
  mkdirSync(received);
  writeFileSync(join(received, 'db.user'), 'u');
  writeFileSync(join(received, 'db.pass'), 'p');
  writeFileSync(join(received, 'other'), 'o');
  const before = process.env['CREDENTIALS_DIRECTORY'];
  process.env['CREDENTIALS_DIRECTORY'] = received; // the agent's own credentials (the runner reads process.env)
  t.after(() => { if (before === undefined) delete process.env['CREDENTIALS_DIRECTORY']; else process.env['CREDENTIALS_DIRECTORY'] = before; });
  const out = join(w, 'out');
  const r = await runOnce(t, harness(t), { importCredential: ['db.*'], loadCredential: ['renamed:other', 'absent:not-there'],
    execStart: [`/bin/sh -c 'exec > ${out}; ls $CREDENTIALS_DIRECTORY; cat $CREDENTIALS_DIRECTORY/renamed'`] });
  assert.equal(r.props['Result'], 'success', r.logs.join('\n'));
  assert.equal(readFileSync(out, 'utf8'), 'db.pass\ndb.user\nrenamed\no');
  // the pure edge agrees, under a private root
  const root = join(w, 'root');
  mkdirSync(join(root, 'run'), { recursive: true });
  const { plan, problems } = credentialPlan({ importCredential: ['db.*'], loadCredential: ['renamed:other', 'absent:not-there'] });
  assert.deepEqual(problems, []);
  assert.equal(setupCredentials(plan, { root, received, unitName: 'x.service', uid: 0, gid: 0 }), undefined);
  assert.deepEqual(spawnSync('ls', [join(root, 'run/credentials/x.service')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean), ['db.pass', 'db.user', 'renamed']);
});

test('credential names and set-up refuse hostile input: "/" or ".." in an ID, a FIFO source never blocks', (t) => {
  const { plan, problems } = credentialPlan({ loadCredential: ['../x:/etc/hostname', 'a/b:/etc/hostname'], setCredential: ['..:v'] });
  assert.equal(plan.load.length + plan.set.length, 0);
  assert.equal(problems.length, 3, problems.join('\n'));
  const w = workdir(t);
  const fifo = join(w, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  mkdirSync(join(w, 'run'));
  const f = setupCredentials(credentialPlan({ loadCredential: [`f:${fifo}`] }).plan, { root: w, received: undefined, unitName: 'y.service', uid: 0, gid: 0 });
  assert.equal(f?.status, 243);
  assert.match(f!.message, /Invalid argument/);
  assert.equal(existsSync(join(w, 'run/credentials/y.service')), false);
});
