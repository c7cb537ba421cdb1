// RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory=
// (issue 14) on real processes, compared line by line with systemd 257: each probe unit of
// probes.ts runs under a UnitRunner with a unique name (uo-test-<random>-<id>) and prints what
// it sees (variables, owner and mode of its folders, whether it can write them); after the stop
// the probe runs again as root. test/fixtures/execdirs/oracle.json holds what the same units
// printed under systemd-oracle (re-record: node test/fixtures/execdirs/record.ts). Every folder
// a probe makes is removed afterwards, whatever happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { harness, waitFor, type Harness } from '../support/units.ts';
import { until } from '../support/wait.ts';
import { FIXTURES } from '../support/paths.ts';
import { convertText } from '../../src/unitfile/convert.ts';
import { PROBES, fill, normalize, unitText, type Probe, type Recorded } from './probes.ts';
import type { UnitRunner } from '../../src/runner/unit.ts';

const ORACLE = JSON.parse(readFileSync(join(FIXTURES, 'execdirs', 'oracle.json'), 'utf8')) as Record<string, Recorded>;
const PROBE_SRC = join(FIXTURES, 'execdirs', 'probe.sh');
// these tests run as root (they make folders in /run, /var/lib, /etc) with Debian's nobody:nogroup

/**
 * Where the agent departs from systemd 257 on purpose. systemd follows a link the unit's user
 * planted in its own StateDirectory= (StateDirectory=a a/d, a/d → /etc/x: /etc/x becomes the
 * user's); the agent never follows a link below the prefix, so the command fails with 238
 * STATE_DIRECTORY and root's folder stays root's.
 */
const DELIBERATE: Record<string, Recorded> = {
  symlink: {
    lines: ['after stat /etc/NAME-victim regular file root:root 600', 'after stat /etc/NAME-vdir directory root:root 700',
      'after stat /var/lib/NAME/sub symbolic link nobody:nogroup 777', 'after stat /var/lib/NAME/d symbolic link nobody:nogroup 777'],
    state: { ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: 238 },
  },
};

export interface ProbeRun { readonly recorded: Recorded; readonly runner: UnitRunner; readonly logs: readonly string[] }

/** Runs one probe under a UnitRunner: set-up, start, settle, stop, the "after" probe as root; cleans up after the test. */
export async function runProbe(t: Parameters<typeof harness>[0], h: Harness, probe: Probe): Promise<ProbeRun> {
  const work = mkdtempSync(join(tmpdir(), 'uo-execdirs-'));
  chmodSync(work, 0o777);
  const p = { name: `uo-test-${randomBytes(4).toString('hex')}-${probe.id}`, probe: join(work, 'probe.sh'), out: join(work, 'out') };
  spawnSync('cp', [PROBE_SRC, p.probe]);
  chmodSync(p.probe, 0o755);
  const unitName = `${p.name}.service`;
  t.after(() => {
    for (const c of [...probe.cleanup, '/run/credentials/@N@.service']) rmSync(fill(c, p), { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });
  if (probe.setup) {
    const r = spawnSync('sh', ['-c', fill(probe.setup, p)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `set-up: ${r.stderr}`);
  }
  const spec = convertText(unitText(probe, p), unitName).object.spec;
  let started = false;
  const r = h.open(unitName, spec, (props) => { if (props.ActiveState === 'activating') started = true; });
  assert.equal(r.start(), undefined, `started: ${h.logs.join('\n')}`);
  const out = (): string => (existsSync(p.out) ? readFileSync(p.out, 'utf8') : '');
  let state: Recorded['state'];
  if (probe.settle === 'inactive') {
    await waitFor(r, 'the unit ended', (x) => started && (x.activeState === 'inactive' || x.activeState === 'failed') && x.spawns.length === 0, 10_000);
    state = { ActiveState: r.props.ActiveState, Result: r.props.Result, ExecMainStatus: r.props.ExecMainStatus };
  } else {
    await until('the second run printed', () => /^second /m.test(out()) && r.activeState === 'active', { timeoutMs: 10_000, everyMs: 20, detail: () => `${out()} ${JSON.stringify(r.props)}` });
    state = { ActiveState: r.props.ActiveState, Result: r.props.Result, ExecMainStatus: r.props.ExecMainStatus };
    r.stop();
    await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' && x.spawns.length === 0, 10_000);
  }
  if (probe.after.length > 0) {
    const a = spawnSync(p.probe, [p.out, 'after', ...probe.after.map((x) => fill(x, p))], { encoding: 'utf8' });
    assert.equal(a.status, 0, a.stderr);
  }
  return { recorded: { lines: normalize(out(), p), state }, runner: r, logs: h.logs };
}

async function agrees(t: Parameters<typeof harness>[0], h: Harness, id: string): Promise<void> {
  const probe = PROBES.find((x) => x.id === id)!;
  const want = DELIBERATE[id] ?? ORACLE[id];
  assert.ok(want, `the fixture has probe ${id}`);
  const { recorded, logs } = await runProbe(t, h, probe);
  assert.deepEqual(recorded, want, `ours vs ${DELIBERATE[id] ? 'the deliberate difference' : 'systemd 257'}:\n${logs.join('\n')}`);
}

test('RuntimeDirectory=, StateDirectory=, StateDirectoryMode=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory=, ConfigurationDirectoryMode= with User=: made before ExecStartPre=, owned by the user, variables set, RuntimeDirectory= removed at the stop, the others kept (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'basic');
});

test('RuntimeDirectoryMode=, CacheDirectoryMode=, LogsDirectoryMode=, nested StateDirectory= a/b without User=: root\'s, parents 0755 (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'root');
});

test('RuntimeDirectoryPreserve=restart keeps the folder across an automatic restart and removes it at the stop (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'preserve-restart');
});

test('RuntimeDirectoryPreserve=no (the default) empties it at an automatic restart (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'preserve-no');
});

test('RuntimeDirectoryPreserve=yes keeps the folder and its files after the stop (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'preserve-yes');
});

test('StateDirectory= that exists: its mode fixed, its tree chowned to User=; ConfigurationDirectory= that exists is left as it is (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'existing');
});

test('StateDirectory= below a user\'s folder where the user planted links to root\'s files: nothing of root\'s is chowned, the start fails with 238 (systemd 257 chowns the target: a deliberate difference)', async (t) => {
  await agrees(t, harness(t), 'symlink');
});

test('LoadCredential= of a missing file: the command fails with 243/CREDENTIALS, Result=exit-code (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'cred-missing');
});

test('RuntimeDirectory= that cannot be made fails with 233/RUNTIME_DIRECTORY (as systemd 257)', async (t) => {
  await agrees(t, harness(t), 'fail');
});

test('every probe of probes.ts has a fixture line set and a test above', () => {
  assert.deepEqual(PROBES.map((p) => p.id).filter((id) => !ORACLE[id]), []);
  assert.deepEqual(Object.keys(ORACLE).sort(), PROBES.map((p) => p.id).sort());
});
test('the deliberate difference is real: systemd 257 chowned the folder a planted link points to', () => {
  assert.ok(ORACLE['symlink']!.lines.includes('after stat /etc/NAME-vdir directory nobody:nogroup 700'), JSON.stringify(ORACLE['symlink']));
});

test('RuntimeDirectory= that cannot be made: the agent logs systemd\'s words (Failed at step RUNTIME_DIRECTORY)', async (t) => {
  const { recorded, logs } = await runProbe(t, harness(t), PROBES.find((x) => x.id === 'fail')!);
  assert.equal(recorded.state.ExecMainStatus, 233);
  assert.ok(logs.some((l) => /Failed to set up special execution directory in \/run: Not a directory/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /Failed at step RUNTIME_DIRECTORY spawning .*probe\.sh: Not a directory/.test(l)), logs.join('\n'));
});

test('StateDirectory= with a planted link: the agent says why it refused (Failed at step STATE_DIRECTORY)', async (t) => {
  const { logs } = await runProbe(t, harness(t), PROBES.find((x) => x.id === 'symlink')!);
  assert.ok(logs.some((l) => /Failed at step STATE_DIRECTORY spawning .*: Too many levels of symbolic links/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /StateDirectory=uo-test-[0-9a-f]+-symlink\/d: a symbolic link is in the way/.test(l)), logs.join('\n'));
});
