// The exec runtime's namespaces (issues 14, 15) with real processes through a standalone agent,
// compared with systemd 257: the probe units of test/fixtures/ns/cases.ts (JoinsNamespaceOf=,
// PrivateTmp=, PrivateNetwork=, PrivateIPC=, NetworkNamespacePath=, IPCNamespacePath=,
// PrivateUsers=) start together under our agent, and what probe.sh prints (and how each unit
// ends) must be what systemd-oracle printed (test/fixtures/ns/oracle.json; re-record with
// test/fixtures/ns/run.sh). PrivateUsers=yes/self/identity, which the oracle cannot run (its
// root is a chroot), print what systemd 257's setup_private_users() writes (cases.ts).
// Also: the namespace holders and the PrivateTmp= folders are gone once the units stopped.
// Runs as root, as the runner's other real-process tests do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { FIXTURES } from '../support/paths.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';
import { ALLOW_UNENFORCED, CASES, CLEANUP, SOURCE_CASES, setup, unitText, type Outcome } from '../fixtures/ns/cases.ts';

const DIR = join(FIXTURES, 'ns');
const ORACLE = JSON.parse(readFileSync(join(DIR, 'oracle.json'), 'utf8')) as { recordedWith: string; cases: Record<string, Outcome> };
const privateTmp = (): string[] => ['/tmp', '/var/tmp'].flatMap((d) => readdirSync(d).filter((n) => n.startsWith('uo-private-nsj-')).map((n) => join(d, n)));
/** The agent's namespace holders still running (uo-shim --ns-hold), as `ps` lists them. */
const holders = (agentPid: number): string[] => spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes('--ns-hold') && l.trim().endsWith(` ${agentPid}`));

test('JoinsNamespaceOf=, PrivateTmp=, PrivateNetwork=, PrivateIPC=, NetworkNamespacePath=, IPCNamespacePath=, PrivateUsers=: every probe unit prints under our agent what it prints under systemd 257 (oracle fixture; PrivateUsers= maps from its source)', { timeout: 120_000 }, async (t) => {
  const all = [...CASES, ...SOURCE_CASES];
  assert.deepEqual(Object.keys(ORACLE.cases).sort(), CASES.map((c) => c.name).sort(), 'oracle.json holds every case of cases.ts (re-record it)');
  assert.deepEqual(privateTmp(), [], 'no PrivateTmp= folder of an earlier run is left');
  spawnSync('sh', ['-c', CLEANUP]);
  t.after(() => { spawnSync('sh', ['-c', CLEANUP]); });
  // the service manager's namespaces: the agent's, which it inherits from this process
  const made = spawnSync('sh', ['-c', setup('/proc/self/ns')], { encoding: 'utf8' });
  assert.equal(made.status, 0, `the namespaces for the *NamespacePath= case made: ${made.stderr}`);
  const out = mkdtempSync(join(tmpdir(), 'uo-nsj-out-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  chmodSync(out, 0o755);
  // the probe from a folder every case sees (a checkout under /tmp is hidden by PrivateTmp=)
  const bin = mkdtempSync('/run/uo-nsj-probe-');
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  chmodSync(bin, 0o755);
  copyFileSync(join(DIR, 'probe.sh'), join(bin, 'probe.sh'));
  chmodSync(join(bin, 'probe.sh'), 0o755);

  const a = agentFixture(t);
  for (const c of all) writeFileSync(join(a.manifests, `${c.name}.service`), unitText(c, join(bin, 'probe.sh'), join(out, `${c.name}.out`)));
  await a.start(['--allow-unenforced', ALLOW_UNENFORCED.join(',')]);
  const ended = new Map<string, UnitStatus>();
  let holdersSeen = 0;
  await until('every probe unit ended', () => {
    holdersSeen = Math.max(holdersSeen, a.proc?.pid ? holders(a.proc.pid).length : 0);
    for (const c of all) {
      if (ended.has(c.name)) continue;
      const s = a.json<UnitStatus>('status', c.name);
      if ((s.ActiveState === 'inactive' || s.ActiveState === 'failed') && s.ExecMainCode !== 0) ended.set(c.name, s);
    }
    return ended.size === all.length;
  }, { timeoutMs: 60_000, everyMs: 50, detail: () => `still running: ${all.filter((c) => !ended.has(c.name)).map((c) => c.name).join(', ')}` });

  const lines = (name: string): string[] => { const f = join(out, `${name}.out`); return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []; };
  const ours: Record<string, Outcome> = {};
  for (const c of CASES) ours[c.name] = { ActiveState: ended.get(c.name)!.ActiveState, Result: ended.get(c.name)!.Result, lines: lines(c.name) };
  const failed = CASES.filter((c) => ended.get(c.name)!.Result !== ORACLE.cases[c.name]!.Result).map((c) => a.unitctl('status', `${c.name}.service`).stdout).join('\n');
  assert.deepEqual(ours, ORACLE.cases, `our agent differs from ${ORACLE.recordedWith}${failed ? `\n${failed}` : ''}`);
  for (const c of SOURCE_CASES) {
    assert.deepEqual({ result: ended.get(c.name)!.Result, lines: lines(c.name) }, { result: 'success', lines: c.expect }, c.name);
  }
  // what a joined runtime lacks is said (systemd 257 is silent)
  assert.match(a.unitctl('status', 'nsj-d.service').stdout, /PrivateNetwork=yes is not applied: the unit runs in the runtime of nsj-c/);
  // PrivateUsers=full is refused without --allow-unenforced: the agent says why
  assert.match(a.unitctl('status', 'nsj-users-full.service').stdout, /PrivateUsers=full is not known to systemd 257/);

  // the namespaces were held while the units ran, and nothing is left once they stopped
  t.diagnostic(`namespace holders seen at once while the units ran: ${holdersSeen}`);
  const agentPid = a.proc!.pid!;
  await until('the namespace holders ended', () => holders(agentPid).length === 0, { timeoutMs: 10_000, detail: () => holders(agentPid).join('; ') });
  await until('the PrivateTmp= folders removed', () => privateTmp().length === 0, { timeoutMs: 10_000, detail: () => privateTmp().join(', ') });
});
