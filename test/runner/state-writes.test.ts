// The state file and the event logs it points at (issue 19's fewer writes per restart). The event
// logs are the durable record of what the shims said; the state file, written ahead of every
// spawn, is the machine with the offset up to which each log was read. So: a spawn's folder is
// removed only once a state file that no longer follows it is on disk (an agent that dies before
// reads the exit again, with its real status); lines whose decisions change nothing a re-read
// would not change the same (a simple service's PID) wait for the next write; and a restart
// costs its spawn record and its exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { harness, waitFor, subState, alive } from '../support/units.ts';
import { readUnitState } from '../../src/runner/store.ts';
import { loadSlots, slotPath } from '../../src/runner/stateslot.ts';
import { until } from '../support/wait.ts';

test('a spawn folder outlives a state write that failed: the restarted agent reads the exit there (exit-code 7), not a vanished holder (signal 9)', async (t) => {
  const h = harness(t);
  const r = h.open('order.service', { service: { execStart: ["/bin/sh -c 'sleep 0.4; exit 7'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const folder = r.spawns[0]!.dir;
  // every write of the state fails from here on (the slot it goes to is a folder)
  const newest = loadSlots(r.dir, 1 << 20).newest!.path;
  const planted = slotPath(r.dir, newest === slotPath(r.dir, 0) ? 1 : 0);
  rmSync(planted, { force: true });
  mkdirSync(planted);
  t.after(() => { try { rmdirSync(planted); } catch { /* removed below */ } });
  await waitFor(r, 'failed (in memory)', subState('failed'), 3000);
  await until('the failed write is said', () => r.writeError !== undefined, { timeoutMs: 2000 });
  assert.ok(existsSync(folder), `${folder} is kept while the state file on disk still follows it`);
  // the agent dies (close() writes nothing); a new one reads the state file from before the exit
  rmdirSync(planted);
  const again = h.reopen(r);
  await waitFor(again, 'failed', subState('failed'), 3000);
  assert.deepEqual([again.props.Result, again.machine.mainExec?.code, again.machine.mainExec?.status], ['exit-code', 'exited', 7]);
  assert.ok(!h.logs.some((l) => /vanished/.test(l)), h.logs.join('\n'));
  await until('the folder removed once a state without it is written', () => !existsSync(folder), { timeoutMs: 2000 });
});

test('a simple service\'s PID lines wait for the next write (the event log keeps them): an agent killed before it reads them again — same MainPID, running, nothing started twice', async (t) => {
  const h = harness(t);
  const r = h.open('lazy.service', { service: { execStart: ['/bin/sleep 1000'] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const pid = r.props.MainPID;
  const seqs = r.spawns.map((s) => s.seq);
  // on disk: the spawn record (written ahead of the start), not yet the PID the shim reported
  const disk = readUnitState(r.dir)!;
  assert.deepEqual([disk.machine.state, disk.machine.mainPid, disk.spawns.map((s) => s.seq)], ['running', -1, seqs]);
  // kill -9: the state files stay as they were written (close() would write what waits)
  const files = [slotPath(r.dir, 0), slotPath(r.dir, 1)];
  const kept = files.map((f) => (existsSync(f) ? readFileSync(f) : undefined));
  r.close();
  files.forEach((f, i) => { const k = kept[i]; if (k) writeFileSync(f, k); else rmSync(f, { force: true }); });
  const again = h.reopen(r);
  await waitFor(again, 'running with its PID', (x) => x.props.SubState === 'running' && x.props.MainPID === pid, 2000);
  assert.deepEqual(again.spawns.map((s) => s.seq), seqs, 'nothing spawned again');
  again.stop();
  await waitFor(again, 'dead', subState('dead'));
  assert.equal(alive(pid), false);
});

/** State writes per restart of a unit that exits at once, over its first `n` restarts. */
async function writesPerRestart(t: Parameters<typeof harness>[0], restartSec: string, n: number): Promise<number> {
  const h = harness(t);
  const r = h.open(`loop${restartSec}.service`, { unit: { startLimitIntervalSec: 0 }, service: { execStart: ['/bin/true'], restart: 'always', restartSec } });
  r.start();
  await waitFor(r, 'one restart', (x) => x.props.NRestarts >= 1, 3000);
  const w0 = r.stateWrites, n0 = r.props.NRestarts;
  await waitFor(r, `${n} more restarts`, (x) => x.props.NRestarts >= n0 + n, 10_000);
  const per = (r.stateWrites - w0) / (r.props.NRestarts - n0);
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  return per;
}

test('a restart costs its spawn record and its exit (2 writes, not 4); at RestartSec=0 the exit is written with the next spawn record (1)', async (t) => {
  const slow = await writesPerRestart(t, '100ms', 10);
  assert.ok(slow < 3, `${slow} writes a restart at RestartSec=100ms`);
  const now = await writesPerRestart(t, '0', 20);
  assert.ok(now < 2, `${now} writes a restart at RestartSec=0`);
});
