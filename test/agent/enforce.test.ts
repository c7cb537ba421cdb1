// Fail closed: a unit that asks for a protection this agent does not apply (RootImage=,
// a disk image as the root, not mounted yet) does not start; status, unitctl
// status and the log say which and why; --allow-unenforced=RootImage runs it and status
// still lists it as not applied.
// Report-only directives (SurviveFinalKillSignal=, IOWeight=) never keep a unit from starting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { sleep, until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';

const SANDBOXED = '[Unit]\nDescription=sandboxed\nSurviveFinalKillSignal=yes\n[Service]\nExecStart=/bin/sleep 1000\nRootImage=/srv/root.raw\nIOWeight=50\n';
const PLAIN = '[Service]\nExecStart=/bin/sleep 1000\nIOWeight=50\n';

test('RootImage=: the unit does not start, status and unitctl status say why; report-only directives do not refuse', async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'sandboxed.service'), SANDBOXED);
  writeFileSync(join(a.manifests, 'plain.service'), PLAIN);
  await a.start();
  const plain = await until('plain running', () => { const s = a.json<UnitStatus>('status', 'plain'); return s.SubState === 'running' ? s : undefined; });
  assert.equal(plain.LoadState, 'loaded');
  assert.deepEqual(plain.NotApplied.map((e) => [e.directive, e.enforcement]), [['IOWeight=', 'reported']]);

  await sleep(300); // the sandboxed unit had as long as the plain one
  const s = a.json<UnitStatus>('status', 'sandboxed');
  assert.deepEqual([s.LoadState, s.ActiveState, s.SubState, s.MainPID], ['bad-setting', 'inactive', 'dead', 0]);
  assert.deepEqual(s.NotApplied.map((e) => [e.directive, e.applier, e.enforcement]),
    [['SurviveFinalKillSignal=', 'not-yet', 'reported'], ['RootImage=', 'not-yet', 'refused'], ['IOWeight=', 'cgroup', 'reported']]);
  const view = a.unitctl('status', 'sandboxed');
  assert.match(view.stdout, /Loaded: bad-setting \(/);
  assert.match(view.stdout, /Not applied: SurviveFinalKillSignal= — .*reported, not refused/);
  assert.match(view.stdout, /RootImage= — .*refused: the unit does not start \(--allow-unenforced=RootImage runs it without\)/);
  const log = a.stderr.join('');
  assert.match(log, /sandboxed\.service: RootImage=: .*does not start unless the agent runs with --allow-unenforced=RootImage/);
  assert.match(log, /Refusing to start sandboxed\.service: RootImage= is not applied on this node/);

  const start = a.unitctl('start', 'sandboxed');
  assert.equal(start.status, 6, 'unitctl start fails as systemctl start of a unit with a bad setting does (EXIT_NOTCONFIGURED)');
  assert.match(start.stderr, /Failed to start sandboxed\.service: Unit sandboxed\.service has a bad unit file setting: RootImage= is not applied/);
  assert.equal(a.json<UnitStatus>('status', 'sandboxed').MainPID, 0, 'still not started');
});

test('--allow-unenforced=RootImage: the unit starts and status still lists RootImage= as not applied (allowed)', async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'sandboxed.service'), SANDBOXED);
  await a.start(['--allow-unenforced', 'RootImage']);
  const s = await until('sandboxed running', () => { const x = a.json<UnitStatus>('status', 'sandboxed'); return x.SubState === 'running' && x.MainPID > 0 ? x : undefined; });
  assert.equal(s.LoadState, 'loaded');
  assert.deepEqual(s.NotApplied.find((e) => e.directive === 'RootImage=')?.enforcement, 'allowed');
  assert.match(a.unitctl('status', 'sandboxed').stdout, /RootImage= — .*not enforced: allowed by --allow-unenforced/);
});

test('--allow-unenforced with a name that is no directive is a usage error naming it', async (t) => {
  const a = agentFixture(t);
  await assert.rejects(a.start(['--allow-unenforced', 'RootImage,RootImages']), /RootImages= is not a directive/);
});
