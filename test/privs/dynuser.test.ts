// DynamicUser=, SecureBits=, KeyringMode= and RemoveIPC= (issue 15) with real processes through
// a standalone agent, compared with systemd 257: every probe unit of
// test/fixtures/dynuser/cases.ts runs under our agent (`runs` times), and what the probe
// (test/fixtures/privs/probe.c) prints, how the unit ends and the host facts read after it (its
// private folders below /var/lib/private, the IPC objects it left) must be what systemd-oracle
// recorded (test/fixtures/dynuser/oracle.json; re-record with test/fixtures/dynuser/record.ts).
//
// The dynamic ids are compared as "dynamic" (inside 61184–65519): systemd picks them by hashing
// the unit's name and probing for a free one, we pick ours the same way against this host's
// accounts, which differ from the oracle's root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { FIXTURES } from '../support/paths.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';
import { ALLOW_UNENFORCED, CASES, idName, sysvKey, unitText, type Outcome } from '../fixtures/dynuser/cases.ts';

const DIR = join(FIXTURES, 'dynuser');
const ORACLE = JSON.parse(readFileSync(join(DIR, 'oracle.json'), 'utf8')) as { recordedWith: string; cases: Record<string, Outcome> };
const root = process.geteuid?.() === 0;
const LEFT = ['/var/lib/private/dyn-basic', '/var/lib/dyn-basic', '/var/cache/private/dyn-basic', '/var/cache/dyn-basic', '/var/log/private/dyn-basic', '/var/log/dyn-basic', '/run/dyn-basic'];

/** A host fact of cases.ts, read here as record.ts reads it in the oracle. */
function hostFact(f: string): string {
  const at = f.indexOf(':');
  const kind = f.slice(0, at), arg = f.slice(at + 1);
  if (kind === 'stat') {
    let st;
    try { st = lstatSync(arg); } catch { return `${f}=ENOENT`; }
    const t = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
    return `${f}=${t} ${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${idName(st.uid)}:${idName(st.gid)}${t === 'link' ? ` -> ${readlinkSync(arg)}` : ''}`;
  }
  const key = String(sysvKey(arg));
  const shm = readFileSync('/proc/sysvipc/shm', 'utf8').split('\n').slice(1).some((l) => l.trim().split(/\s+/)[0] === key);
  return `${f}=shm:${shm ? 'present' : 'absent'} posix:${existsSync(`/dev/shm/prv-${arg}`) ? 'present' : 'absent'}`;
}

function cleanHost(): void {
  for (const c of CASES) for (const p of c.probes.filter((x) => x.startsWith('ipc:'))) {
    spawnSync('ipcrm', ['-M', String(sysvKey(p.slice(4)))], { stdio: 'ignore' });
    rmSync(`/dev/shm/prv-${p.slice(4)}`, { force: true });
  }
  for (const p of LEFT) rmSync(p, { recursive: true, force: true });
}

test('DynamicUser=, SecureBits=, KeyringMode=, RemoveIPC=: every probe unit ends, prints and leaves the host as under systemd 257 (oracle fixture)', { timeout: 240_000 }, async (t) => {
  if (!root) { t.skip('needs root (users, keyrings, IPC of other users)'); return; }
  assert.deepEqual(Object.keys(ORACLE.cases).sort(), CASES.map((c) => c.name).sort(), 'oracle.json holds every case of cases.ts (re-record it)');
  cleanHost();
  t.after(cleanHost);
  // the private folders DynamicUser= makes, removed again when this test made them and they are empty
  const privates = ['/var/lib/private', '/var/cache/private', '/var/log/private'].filter((p) => !existsSync(p));
  t.after(() => { for (const p of privates) { try { rmdirSync(p); } catch { /* not empty: another unit's */ } } });
  // the probe outside /tmp and /var/tmp, which PrivateTmp= (implied by DynamicUser=) replaces
  const work = mkdtempSync('/var/lib/uo-dyn-probe-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  chmodSync(work, 0o755);
  const probe = join(work, 'prv-probe');
  const cc = spawnSync('cc', ['-O2', '-static', '-o', probe, join(FIXTURES, 'privs', 'probe.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `cc: ${cc.stderr}`);
  // below /var/tmp as in the oracle: PrivateTmp= (implied by DynamicUser=) hides /tmp's files
  const out = mkdtempSync('/var/tmp/uo-dyn-out-');
  t.after(() => rmSync(out, { recursive: true, force: true }));
  chmodSync(out, 0o777);

  const a = agentFixture(t);
  for (const c of CASES) writeFileSync(join(a.manifests, `${c.name}.service`), unitText(c, probe, join(out, `${c.name}.out`)));
  await a.start(ALLOW_UNENFORCED.length > 0 ? ['--allow-unenforced', ALLOW_UNENFORCED.join(',')] : []);
  const runs = (name: string): number => { try { return readFileSync(join(out, `${name}.out`), 'utf8').split('\n').filter((l) => l.startsWith('probe ')).length; } catch { return 0; } };
  const ended = new Map<string, UnitStatus>();
  const started = new Map<string, number>(CASES.map((c) => [c.name, 1]));
  await until('every probe unit ended its runs', () => {
    for (const c of CASES) {
      if (ended.has(c.name)) continue;
      const s = a.json<UnitStatus>('status', c.name);
      if (!((s.ActiveState === 'inactive' || s.ActiveState === 'failed') && s.ExecMainCode !== 0 && runs(c.name) >= started.get(c.name)!)) continue;
      if (started.get(c.name)! < c.runs) {
        const r = a.unitctl('start', c.name);
        assert.equal(r.status, 0, `unitctl start ${c.name}: ${r.stderr}`);
        started.set(c.name, started.get(c.name)! + 1);
      } else ended.set(c.name, s);
    }
    return ended.size === CASES.length;
  }, { timeoutMs: 120_000, everyMs: 50, detail: () => `still running: ${CASES.filter((c) => !ended.has(c.name)).map((c) => c.name).join(', ')}; agent: ${a.stderr.join('').slice(-2000)}` });

  const ours: Record<string, Outcome> = {};
  const theirs: Record<string, Outcome> = {};
  for (const c of CASES) {
    const s = ended.get(c.name)!;
    const lines = readFileSync(join(out, `${c.name}.out`), 'utf8').split('\n').filter(Boolean);
    ours[c.name] = { ActiveState: s.ActiveState, Result: s.Result, ExecMainStatus: s.ExecMainStatus, lines, host: c.host.map(hostFact) };
    const o = ORACLE.cases[c.name]!;
    theirs[c.name] = { ActiveState: o.ActiveState, Result: o.Result, ExecMainStatus: o.ExecMainStatus, lines: o.lines, host: o.host };
  }
  for (const c of CASES) assert.deepEqual(ours[c.name], theirs[c.name], `${c.name}: our agent differs from ${ORACLE.recordedWith}`);
  // the units' dynamic users do not share an id (each name its own), none is an id of /etc/passwd
  const ids = ['dyn-basic', 'dyn-named', 'dyn-derived', 'dyn-tmp'].map((n) => (JSON.parse(readFileSync(join(a.state, 'units', `${n}.service`, 'dynamic-user.json'), 'utf8')) as { uid: number }).uid);
  assert.equal(new Set(ids).size, ids.length, `distinct ids: ${ids.join(' ')}`);
  const passwdIds = new Set(readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
  assert.ok(ids.every((id) => !passwdIds.has(id)), 'no id of /etc/passwd');
  // the same id after an agent restart (systemd's is the name's hash; ours is recorded in the unit's state folder)
  const recorded = JSON.parse(readFileSync(join(a.state, 'units', 'dyn-basic.service', 'dynamic-user.json'), 'utf8')) as { uid: number };
  assert.equal(lstatSync('/var/lib/private/dyn-basic').uid, recorded.uid, 'the state folder belongs to the recorded id');
  const before = runs('dyn-basic');
  await a.kill9();
  await a.start(ALLOW_UNENFORCED.length > 0 ? ['--allow-unenforced', ALLOW_UNENFORCED.join(',')] : []);
  const r = a.unitctl('start', 'dyn-basic');
  assert.equal(r.status, 0, `unitctl start dyn-basic: ${r.stderr}`);
  await until('dyn-basic ran once more after the agent restart', () => {
    const st = a.json<UnitStatus>('status', 'dyn-basic');
    return runs('dyn-basic') > before && (st.ActiveState === 'inactive' || st.ActiveState === 'failed');
  }, { timeoutMs: 60_000, everyMs: 50 });
  const after = readFileSync(join(out, 'dyn-basic.out'), 'utf8').split('\n').filter((l) => l.startsWith('stable:'));
  assert.deepEqual(after.slice(1), after.slice(1).map(() => 'stable:/var/lib/dyn-basic/uid=same'), 'the same dynamic id on every run, across the agent restart');
  assert.ok(after.length > 2);
  // what the fixture says, spelled out
  const has = (c: string, line: string): void => assert.ok(ORACLE.cases[c]!.lines.includes(line) || ORACLE.cases[c]!.host.includes(line), `${c}: ${line}`);
  has('dyn-basic', 'ids=dynamic:dynamic'); has('dyn-basic', 'stable:/var/lib/dyn-basic/uid=same'); has('dyn-basic', 'NoNewPrivs=1');
  has('dyn-basic', 'write:/etc=EROFS'); has('dyn-basic', 'stat:/var/lib/private=dir 0700 0:0');
  has('dyn-basic', 'stat:/var/lib/dyn-basic=link 0777 0:0 -> private/dyn-basic'); has('dyn-basic', 'ipc:64796e01=shm:absent posix:absent');
  has('dyn-static', 'ids=65534:65534'); has('dyn-ipc-root', 'ipc:64796e02=shm:present posix:present');
  has('dyn-secure-noroot', 'securebits=0x9'); has('dyn-secure-noroot', 'CapEff=-'); has('dyn-secure-lines', 'securebits=0x2');
  has('dyn-keyring', 'keyring=_ses owner=self keys=invocation_id(match)'); has('dyn-keyring-shared', 'keyring=_ses owner=self keys=_uid.self,invocation_id(match)');
});
