// Every command of a unit runs in its exec runtime's network and IPC namespaces (systemd 257: the
// runtime is the unit's from its first command to its stop; the oracle fixture shows ExecStartPre=
// and ExecStart= sharing them, test/ns/probe.test.ts), also when the agent that started the unit
// is gone: a restarted agent takes the runtime over from the unit's live processes, so ExecStop=
// joins the namespaces the main process runs in. Real processes, as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';

test('PrivateNetwork=, PrivateIPC=: ExecStop= joins the main process\'s namespaces, also after the agent was killed and restarted', { timeout: 60_000 }, async (t) => {
  const rec = mkdtempSync('/run/uo-nsj-restart-');
  t.after(() => rmSync(rec, { recursive: true, force: true }));
  chmodSync(rec, 0o755);
  const save = (name: string): string => `readlink /proc/self/ns/net > ${rec}/${name}.net; readlink /proc/self/ns/ipc > ${rec}/${name}.ipc`;
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'nsj-restart.service'), [
    '[Service]', 'PrivateNetwork=yes', 'PrivateIPC=yes',
    `ExecStart=/bin/sh -c '${save('main')}; exec sleep 60'`,
    `ExecStop=/bin/sh -c '${save('stop')}'`, '',
  ].join('\n'));
  await a.start();
  await until('the main process recorded its namespaces', () => existsSync(join(rec, 'main.ipc')), { timeoutMs: 15_000 });
  await a.kill9();
  await a.start();
  const stopped = a.unitctl('stop', 'nsj-restart');
  assert.equal(stopped.status, 0, stopped.stderr);
  await until('ExecStop= recorded its namespaces', () => existsSync(join(rec, 'stop.ipc')), { timeoutMs: 15_000 });
  const ns = (name: string, kind: string): string => readFileSync(join(rec, `${name}.${kind}`), 'utf8').trim();
  assert.notEqual(ns('main', 'net'), readlinkSync('/proc/self/ns/net'), 'the main process has a network namespace of its own');
  assert.notEqual(ns('main', 'ipc'), readlinkSync('/proc/self/ns/ipc'), 'and an IPC namespace of its own');
  assert.equal(ns('stop', 'net'), ns('main', 'net'), 'ExecStop= runs in the main process\'s network namespace');
  assert.equal(ns('stop', 'ipc'), ns('main', 'ipc'), 'and in its IPC namespace');
});

/** nsk-a and nsk-b (JoinsNamespaceOf=nsk-a, started after it), both PrivateTmp=yes, markers in /tmp; what they saw goes to rec. */
async function joinedPair(t: Parameters<typeof agentFixture>[0]): Promise<{ a: ReturnType<typeof agentFixture>; rec: string; said: (name: string) => string }> {
  const rec = mkdtempSync('/run/uo-nsk-restart-');
  t.after(() => rmSync(rec, { recursive: true, force: true }));
  chmodSync(rec, 0o755);
  const seen = (file: string, name: string): string => `if [ -e /tmp/${file} ]; then echo yes; else echo no; fi > ${rec}/${name}.tmp && mv ${rec}/${name}.tmp ${rec}/${name}`;
  // whatever PrivateTmp= folders the units left (a test that fails half-way)
  t.after(() => {
    for (const d of ['/tmp', '/var/tmp']) for (const n of readdirSync(d)) if (/^uo-private-nsk-[ab]\.service-/.test(n)) rmSync(join(d, n), { recursive: true, force: true });
  });
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'nsk-a.service'), [
    '[Service]', 'PrivateTmp=yes',
    `ExecStart=/bin/sh -c 'echo a > /tmp/a-marker; : > ${rec}/a-started; exec sleep 60'`,
    `ExecStop=/bin/sh -c '${seen('b-later', 'a-stop-sees-b-later')}'`, '',
  ].join('\n'));
  writeFileSync(join(a.manifests, 'nsk-b.service'), [
    '[Unit]', 'JoinsNamespaceOf=nsk-a.service', 'After=nsk-a.service',
    '[Service]', 'PrivateTmp=yes',
    // After= a Type=simple unit orders b after a's fork, not after a's shell wrote its marker: b
    // waits for it (5 s at most; without a's /tmp it never comes and b says no)
    `ExecStart=/bin/sh -c 'timeout 5 sh -c "until [ -e /tmp/a-marker ]; do sleep 0.1; done"; ${seen('a-marker', 'b-start-sees-a')}; echo b > /tmp/b-marker; : > ${rec}/b-started; exec sleep 60'`,
    `ExecStop=/bin/sh -c '${seen('b-marker', 'b-stop-sees-b')}; echo later > /tmp/b-later'`, '',
  ].join('\n'));
  await a.start();
  await until('both units wrote their markers', () => existsSync(join(rec, 'a-started')) && existsSync(join(rec, 'b-started')), { timeoutMs: 20_000 });
  const said = (name: string): string => readFileSync(join(rec, name), 'utf8').trim();
  assert.equal(said('b-start-sees-a'), 'yes', 'b runs in a\'s runtime: it sees a\'s /tmp');
  return { a, rec, said };
}

// JoinsNamespaceOf= with PrivateTmp=yes: b joined a's runtime, so b's /tmp is a's runtime's
// folder. After kill -9 and a new agent, b's later commands (ExecStop=) still see what b wrote
// there, and a sees what b's ExecStop= wrote: which unit's runtime b holds (whose folders they
// are) is saved in b's folder (store.ts runtime.json), and the next agent rebuilds the runtime.
test('JoinsNamespaceOf=, PrivateTmp=yes: a joined unit\'s ExecStop= sees the same /tmp after the agent was killed and restarted, and so does its partner', { timeout: 90_000 }, async (t) => {
  const { a, rec, said } = await joinedPair(t);
  await a.kill9();
  await a.start();
  const b = a.unitctl('stop', 'nsk-b');
  assert.equal(b.status, 0, b.stderr);
  await until('b\'s ExecStop= ran', () => existsSync(join(rec, 'b-stop-sees-b')), { timeoutMs: 15_000 });
  assert.equal(said('b-stop-sees-b'), 'yes', 'b\'s ExecStop= sees the marker b\'s ExecStart= wrote in /tmp before the agent was killed');
  const s = a.unitctl('stop', 'nsk-a');
  assert.equal(s.status, 0, s.stderr);
  await until('a\'s ExecStop= ran', () => existsSync(join(rec, 'a-stop-sees-b-later')), { timeoutMs: 15_000 });
  assert.equal(said('a-stop-sees-b-later'), 'yes', 'a\'s ExecStop= sees what b\'s ExecStop= wrote after the restart');
});

// The record is read defensively: one that is not the agent's own (here: world-writable, as a
// planted one would be) is an error naming the file, and it is not used: with both records
// refused, b's later commands get a runtime of their own (a fresh /tmp). (With only b's refused,
// b joins the runtime rebuilt from a's record: its JoinsNamespaceOf= partner's, which it asks for.)
test('JoinsNamespaceOf=: a runtime.json the next agent cannot trust is said, naming the file, and not used', { timeout: 90_000 }, async (t) => {
  const { a, rec, said } = await joinedPair(t);
  await a.kill9();
  const files = readdirSync(join(a.state, 'units'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('runtime.json')).map((f) => join(a.state, 'units', f));
  assert.equal(files.length, 2, `a and b saved their runtime (${files.join(', ')})`);
  for (const f of files) chmodSync(f, 0o666);
  await a.start();
  const b = a.unitctl('stop', 'nsk-b');
  assert.equal(b.status, 0, b.stderr);
  await until('b\'s ExecStop= ran', () => existsSync(join(rec, 'b-stop-sees-b')), { timeoutMs: 15_000 });
  assert.equal(said('b-stop-sees-b'), 'no', 'b\'s ExecStop= ran in a runtime of its own');
  const st = a.unitctl('status', 'nsk-a').stdout + a.unitctl('status', 'nsk-b').stdout;
  for (const f of files) assert.ok(st.includes(`${f}: refused`), `the unit's status says why ${f} was not used:\n${st}`);
  // and the refused file goes when its unit lets the runtime go
  await until('b\'s refused record removed', () => !existsSync(files.find((f) => f.includes('nsk-b'))!), { timeoutMs: 15_000 });
  const s = a.unitctl('stop', 'nsk-a');
  assert.equal(s.status, 0, s.stderr);
});

// A rebuilt runtime's network namespace comes from a process that runs in it: nsk-na made the
// runtime with PrivateNetwork=yes, nsk-nb joined it with PrivateTmp= only (so its processes run
// in the host's network namespace). After kill -9 and a new agent, nsk-nb's ExecReload= is the
// runtime's first command (nsk-nb keeps holding it): the namespace is taken from nsk-na's main
// process, not nsk-nb's, so nsk-na's ExecStop= still runs in its main process's network namespace.
test('JoinsNamespaceOf=: after a restart, a partner without PrivateNetwork= running a command first does not give the runtime its (the host\'s) network namespace', { timeout: 90_000 }, async (t) => {
  const rec = mkdtempSync('/run/uo-nsk-restart-');
  t.after(() => rmSync(rec, { recursive: true, force: true }));
  t.after(() => {
    for (const d of ['/tmp', '/var/tmp']) for (const n of readdirSync(d)) if (/^uo-private-nsk-n[ab]\.service-/.test(n)) rmSync(join(d, n), { recursive: true, force: true });
  });
  chmodSync(rec, 0o755);
  const save = (name: string): string => `readlink /proc/self/ns/net > ${rec}/${name}.tmp && mv ${rec}/${name}.tmp ${rec}/${name}`;
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'nsk-na.service'), [
    '[Service]', 'PrivateTmp=yes', 'PrivateNetwork=yes',
    `ExecStart=/bin/sh -c '${save('na-main')}; exec sleep 60'`,
    `ExecStop=/bin/sh -c '${save('na-stop')}'`, '',
  ].join('\n'));
  writeFileSync(join(a.manifests, 'nsk-nb.service'), [
    '[Unit]', 'JoinsNamespaceOf=nsk-na.service', 'After=nsk-na.service',
    '[Service]', 'PrivateTmp=yes',
    `ExecStart=/bin/sh -c '${save('nb-main')}; exec sleep 60'`,
    `ExecReload=/bin/sh -c '${save('nb-reload')}'`, '',
  ].join('\n'));
  await a.start();
  await until('both main processes recorded their namespace', () => existsSync(join(rec, 'na-main')) && existsSync(join(rec, 'nb-main')), { timeoutMs: 20_000 });
  await a.kill9();
  await a.start();
  const b = a.unitctl('reload', 'nsk-nb');
  assert.equal(b.status, 0, b.stderr);
  await until('nsk-nb\'s ExecReload= ran', () => existsSync(join(rec, 'nb-reload')), { timeoutMs: 15_000 });
  const s = a.unitctl('stop', 'nsk-na');
  assert.equal(s.status, 0, s.stderr);
  await until('nsk-na\'s ExecStop= ran', () => existsSync(join(rec, 'na-stop')), { timeoutMs: 15_000 });
  const ns = (name: string): string => readFileSync(join(rec, name), 'utf8').trim();
  const host = readlinkSync('/proc/self/ns/net');
  assert.notEqual(ns('na-main'), host, 'nsk-na runs in a network namespace of its own');
  assert.equal(ns('nb-main'), host, 'nsk-nb (PrivateTmp= only) in the host\'s');
  assert.equal(ns('nb-reload'), host, 'so does its ExecReload=');
  assert.equal(ns('na-stop'), ns('na-main'), 'nsk-na\'s ExecStop= runs in its main process\'s network namespace');
});
