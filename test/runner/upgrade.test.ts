// An agent of this version adopts what the previous version left (state.json version 1 and the
// event logs of its shims: test/fixtures/state/v1, taken from a real run), and redoes a spawn
// that an agent crash interrupted with the environment the engine decided.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UnitHost } from '../../src/agent/host.ts';
import { killLeftovers } from '../../src/runner/leftovers.ts';
import { UnitRunner, monotonicUs } from '../../src/runner/unit.ts';
import { readUnitState, legacyStatePath, slotPath, writeUnitState, newSpawnRecord } from '../../src/runner/store.ts';
import { loadSlots } from '../../src/runner/stateslot.ts';
import { harness, shimPath, subState, waitFor } from '../support/units.ts';
import { until } from '../support/wait.ts';

const V1 = fileURLToPath(new URL('../fixtures/state/v1/units', import.meta.url));

test('an agent of this version adopts units saved by the previous version (state.json version 1)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-upgrade-'));
  const unitsDir = join(dir, 'units');
  cpSync(V1, unitsDir, { recursive: true });
  const logs: string[] = [];
  const host = new UnitHost({ unitsDir, shimPath, log: (l, m) => logs.push(`${l}: ${m}`) });
  t.after(async () => { host.closeAll(); await killLeftovers(unitsDir); rmSync(dir, { recursive: true, force: true }); });
  assert.deepEqual(host.adoptAll().sort(), ['demo/flappy', 'done.service', 'exits.service']);
  const unit = (id: string) => host.units.get(id)!.runner;

  // its process exited with 7 while no agent watched: the old shim's event log says so
  const exits = unit('exits.service');
  assert.deepEqual([exits.props.ActiveState, exits.props.Result, exits.machine.mainExec?.code, exits.machine.mainExec?.status], ['failed', 'exit-code', 'exited', 7]);
  assert.deepEqual([exits.spec.service?.['environment'], exits.mainCommandLine, exits.invocationId], [['GREETING=hello'], '/bin/sh -c sleep 1; exit 7', '081777b4db2b4ca0ac845357b9f9eae0']);
  assert.equal(existsSync(join(unitsDir, 'exits.service', 'run', '1-start-0')), false, 'the finished spawn is cleaned up');
  assert.equal(readUnitState(join(unitsDir, 'exits.service'))!.spawns.length, 0);
  const saved = loadSlots(join(unitsDir, 'exits.service'), 1 << 20).newest;
  assert.equal(saved && JSON.parse(saved.payload).version, 3, 'saved again in the new format (slots)');
  assert.equal(existsSync(legacyStatePath(join(unitsDir, 'exits.service'))), false, 'state.json removed once a slot holds the state');
  assert.ok(existsSync(slotPath(join(unitsDir, 'exits.service'), 0)));

  const done = unit('done.service');
  assert.deepEqual([done.props.ActiveState, done.props.SubState, done.machine.mainExec?.status, done.id], ['inactive', 'dead', 0, 'done.service']);

  // waiting in auto-restart (RestartSec=1h) with its timer re-armed for the saved deadline
  const flappy = unit('demo/flappy');
  assert.deepEqual([flappy.id, flappy.unitName, flappy.spec.service?.['workingDirectory']], ['demo/flappy', 'flappy.service', '/tmp']);
  assert.deepEqual([flappy.props.SubState, flappy.props.Result, flappy.machine.timer], ['auto-restart', 'exit-code', { deadline: 1796408555485164, gen: 3 }]);

  // the adopted units go on as any other: the same spec applied again keeps them as they are
  assert.equal(host.apply('done.service', 'done.service', done.spec, 'done.service.yaml'), done);
  assert.equal(done.props.SubState, 'dead');
  assert.ok(!logs.some((l) => /restarting/.test(l)), logs.join('\n'));
});

test('a version-1 unit in auto-restart restarts when its saved timer fires, with its saved spec', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-upgrade-'));
  cpSync(join(V1, 'demo_flappy'), join(dir, 'demo_flappy'), { recursive: true });
  const spec = readUnitState(join(dir, 'demo_flappy'))!.spec!;
  // two hours on: the deadline (an hour after the fixture was taken) has passed
  const r = UnitRunner.open({ unitName: 'flappy.service', spec, dir: join(dir, 'demo_flappy'), shimPath, pollMs: 50, clock: () => monotonicUs() + 7_200_000_000 });
  t.after(async () => { r.close(); await killLeftovers(dir); rmSync(dir, { recursive: true, force: true }); });
  await until('flappy restarted and failed again', () => r.props.NRestarts === 1 && r.props.SubState === 'auto-restart', { timeoutMs: 5000, everyMs: 10 });
  assert.deepEqual([r.props.Result, r.machine.mainExec?.status, r.mainCommandLine], ['exit-code', 3, '/bin/sh -c exit 3']);
});

test('a spawn an agent crash interrupted is redone with the environment the engine decided', async (t) => {
  const h = harness(t);
  const out = join(h.dir, 'stoppost.txt');
  const spec = { service: { execStart: ["/bin/sh -c 'exit 3'"], execStopPost: [`/bin/sh -c 'echo "$SERVICE_RESULT $EXIT_CODE $EXIT_STATUS" > ${out}'`] } };
  const r = h.open('crash.service', spec);
  r.start();
  await waitFor(r, 'failed', subState('failed'));
  assert.equal(readFileSync(out, 'utf8'), 'exit-code exited 3\n');
  rmSync(out);
  // as the agent left it had it died between saving the stop-post spawn and starting it
  const saved = readUnitState(r.dir)!;
  const command = r.cfg.exec.stopPost[0]!;
  const effect = { t: 'spawn' as const, role: 'control' as const, kind: 'stopPost' as const, index: 0, command, env: { SERVICE_RESULT: 'exit-code', EXIT_CODE: 'exited', EXIT_STATUS: '3' } };
  r.close();
  writeUnitState(r.dir, { ...saved, seq: saved.seq + 1, machine: { ...saved.machine, state: 'stop-post', controlPid: -1, controlCommand: { kind: 'stopPost', index: 0 }, groupEmpty: false }, spawns: [newSpawnRecord(r.dir, saved.seq + 1, effect)] });
  const again = h.reopen(r);
  await waitFor(again, 'failed again', (x) => x.props.SubState === 'failed' && existsSync(out));
  assert.equal(readFileSync(out, 'utf8'), 'exit-code exited 3\n');
});
