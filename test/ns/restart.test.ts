// Every command of a unit runs in its exec runtime's network and IPC namespaces (systemd 257: the
// runtime is the unit's from its first command to its stop; the oracle fixture shows ExecStartPre=
// and ExecStart= sharing them, test/ns/probe.test.ts), also when the agent that started the unit
// is gone: a restarted agent takes the runtime over from the unit's live processes, so ExecStop=
// joins the namespaces the main process runs in. Real processes, as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
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
