// DESIGN "Reliability": kill -9 of the agent must not stop or restart a running service, must
// not start a second copy, and must not lose an exit status that happened while it was down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { sleep } from '../support/units.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';

type List = { units: UnitStatus[] };

test('20 running services survive 3 kill -9 restarts of the agent: 0 restarts, 0 duplicates, and an exit while down keeps its status', async (t) => {
  const a = agentFixture(t);
  // a token in the services' environment: the copies counted below are this test's, not another test's sleep 100000
  const token = `uo-survive-${process.pid}-${Date.now()}`;
  for (let i = 0; i < 20; i++) writeFileSync(join(a.manifests, `svc${String(i).padStart(2, '0')}.service`), `[Service]\nEnvironment=UO_SURVIVE_TOKEN=${token}\nExecStart=/bin/sleep 100000\nRestart=on-failure\n`);
  // exits with 7 while the agent is down (round 1), without restart policy
  writeFileSync(join(a.manifests, 'quitter.service'), `[Service]\nExecStart=/bin/sh -c 'while [ ! -e ${join(a.manifests, '..', 'go')} ]; do sleep 0.05; done; exit 7'\n`);
  await a.start();
  const running = async (): Promise<List> => {
    for (let i = 0; i < 200; i++) {
      const l = a.json<List>('list');
      if (l.units.filter((u) => u.Id.startsWith('svc')).every((u) => u.SubState === 'running' && u.MainPID > 0)) return l;
      await sleep(25);
    }
    throw new Error('services did not all start');
  };
  const before = await running();
  const pids = new Map(before.units.filter((u) => u.Id.startsWith('svc')).map((u) => [u.Id, u.MainPID]));
  const sleeps = (): number[] => readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8') === '/bin/sleep\x00100000\x00' && readFileSync(`/proc/${p}/environ`, 'utf8').split('\x00').includes(`UO_SURVIVE_TOKEN=${token}`); } catch { return false; } }).map(Number);
  const mine = new Set(pids.values());
  const countMine = (): number => sleeps().filter((p) => mine.has(p)).length;
  assert.equal(countMine(), 20);

  for (let round = 1; round <= 3; round++) {
    await a.kill9();
    for (const pid of mine) assert.ok(isAlive(pid), `round ${round}: service pid ${pid} survived the agent's death`);
    if (round === 1) { writeFileSync(join(a.manifests, '..', 'go'), ''); await sleep(300); }
    await a.start();
    const after = await running();
    for (const u of after.units.filter((x) => x.Id.startsWith('svc'))) {
      assert.equal(u.MainPID, pids.get(u.Id), `round ${round}: ${u.Id} has the same MainPID`);
      assert.equal(u.NRestarts, 0, `round ${round}: ${u.Id} was not restarted`);
    }
    const all = sleeps();
    assert.equal(all.filter((p) => !mine.has(p)).length, 0, `round ${round}: no second copy of any service`);
    assert.equal(countMine(), 20);
    const q = after.units.find((u) => u.Id === 'quitter.service')!;
    assert.deepEqual([q.ActiveState, q.Result, q.ExecMainCode, q.ExecMainStatus], ['failed', 'exit-code', 1, 7], `round ${round}: the exit while the agent was down is known with its real status`);
  }
});
