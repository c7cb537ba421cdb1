// The state file and the event logs it points at (issue 19's fewer writes per restart): a spawn's
// folder, whose event log is the durable record of its exit, is removed only once a state file
// that no longer follows it is on disk — an agent that dies before that write reads the exit
// again, with its real status, and does not take the holder for vanished.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, subState } from '../support/units.ts';
import { until } from '../support/wait.ts';

test('a spawn folder outlives a state write that failed: the restarted agent reads the exit there (exit-code 7), not a vanished holder (signal 9)', async (t) => {
  const h = harness(t);
  const r = h.open('order.service', { service: { execStart: ["/bin/sh -c 'sleep 0.4; exit 7'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const folder = r.spawns[0]!.dir;
  // every write of the state file fails from here on (the temporary file's name is a folder)
  const planted = join(r.dir, 'state.json.tmp');
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
