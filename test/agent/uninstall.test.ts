// Uninstall leaves nothing (issue 13 item 7): a real agent on this node's real cgroups. Stopped
// with --stop-on-exit, it removes its top slice (unit-operator.slice/unit-operator-<hash>.slice:
// a private state folder's), the Slice= slices and uo-holders.scope below it, in every
// hierarchy (a unit's cgroup is made in those realize.ts says). Without --stop-on-exit a running unit keeps its cgroup and the slices above it,
// for the next agent. Skipped where the node has no cgroup the test can write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture, type AgentFixture } from '../support/agent.ts';
import { sleep } from '../support/units.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import { agentBase, detectCgroups, HOLDERS_SCOPE, SYSTEM_STATE_DIR } from '../../src/runner/cgroup/index.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';

const LAYOUT = detectCgroups();
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy (${LAYOUT.notes.join('; ')})` : false;
/** A hierarchy a plain unit's cgroup is made in (realize.ts: cgroup2, name=systemd, memory, pids, cpu, blkio; freezer and cpuacct too without cgroup2). */
const plain = (h: { version: number; controllers: readonly string[] }): boolean => h.version === 2
  || h.controllers.some((c) => ['name=systemd', 'memory', 'pids', 'cpu', 'blkio', ...(LAYOUT.unified ? [] : ['freezer', 'cpuacct'])].includes(c));
const procs = (dir: string): number[] => { try { return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; } };

async function running(a: AgentFixture, ids: string[]): Promise<UnitStatus[]> {
  for (let i = 0; i < 400; i++) {
    const l = a.json<{ units: UnitStatus[] }>('list').units.filter((u) => ids.includes(u.Id));
    if (l.length === ids.length && l.every((u) => u.SubState === 'running' && u.MainPID > 0)) return l;
    await sleep(25);
  }
  throw new Error(`${ids.join(', ')} did not all start: ${a.stderr.join('')}`);
}

async function sigterm(a: AgentFixture): Promise<number | null> {
  const p = a.proc!;
  const gone = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  return gone;
}

test('--stop-on-exit: the agent removes its top slice, the Slice= slices and uo-holders.scope in every hierarchy', { skip, timeout: 60_000 }, async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'one.service'), '[Service]\nExecStart=/bin/sleep 100002\n');
  writeFileSync(join(a.manifests, 'two.service'), '[Service]\nExecStart=/bin/sleep 100002\nSlice=batch-low.slice\n');
  await a.start(['--stop-on-exit']);
  const units = await running(a, ['one.service', 'two.service']);
  const base = agentBase(a.state, SYSTEM_STATE_DIR);
  // the units' cgroups in the hierarchies a plain unit's is made in (realize.ts), the holders' in every one
  const made = [`${base}/one.service`, `${base}/batch.slice/batch-low.slice/two.service`];
  for (const h of LAYOUT.hierarchies.filter(plain)) for (const rel of made) assert.ok(existsSync(`${h.mount}/${rel}`), `${h.mount}/${rel} exists while the units run`);
  for (const h of LAYOUT.hierarchies) assert.ok(existsSync(`${h.mount}/${base}/${HOLDERS_SCOPE}`), `${h.mount}/${base}/${HOLDERS_SCOPE} exists while the units run`);
  assert.ok(procs(`${LAYOUT.hierarchies[0]!.mount}/${base}/one.service`).includes(units.find((u) => u.Id === 'one.service')!.MainPID));

  assert.equal(await sigterm(a), 0);
  for (const u of units) assert.equal(isAlive(u.MainPID), false, `${u.Id} (PID ${u.MainPID}) was stopped`);
  const left = LAYOUT.hierarchies.map((h) => `${h.mount}/${base}`).filter((d) => existsSync(d));
  assert.deepEqual(left, [], 'the agent\'s top slice is gone in every hierarchy');
  assert.match(a.stderr.join(''), new RegExp(`cgroups: no unit runs: removed ${base.replaceAll('.', '\\.')} in every hierarchy`));
});

test('without --stop-on-exit a running unit keeps its cgroup and the slices above it; a stopped one\'s cgroup is gone', { skip, timeout: 60_000 }, async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'keep.service'), '[Service]\nExecStart=/bin/sleep 100003\n');
  writeFileSync(join(a.manifests, 'done.service'), '[Service]\nExecStart=/bin/sleep 100003\n');
  await a.start();
  const [keep] = await running(a, ['keep.service']);
  await running(a, ['done.service']);
  const base = agentBase(a.state, SYSTEM_STATE_DIR);
  assert.equal(a.unitctl('stop', 'done.service').status, 0);
  for (let i = 0; i < 200 && LAYOUT.hierarchies.some((h) => existsSync(`${h.mount}/${base}/done.service`)); i++) await sleep(25);

  assert.equal(await sigterm(a), 0);
  assert.ok(isAlive(keep!.MainPID), 'the service outlives the agent');
  for (const h of LAYOUT.hierarchies) {
    if (plain(h)) assert.ok(existsSync(`${h.mount}/${base}/keep.service`), `${h.mount}/${base}/keep.service stays`);
    assert.ok(existsSync(`${h.mount}/${base}/${HOLDERS_SCOPE}`), `${h.mount}/${base}/${HOLDERS_SCOPE} stays (its uo-shim holds the service)`);
    assert.equal(existsSync(`${h.mount}/${base}/done.service`), false, `${h.mount}/${base}/done.service was removed when the unit stopped`);
  }
  assert.ok(procs(`${LAYOUT.hierarchies[0]!.mount}/${base}/keep.service`).includes(keep!.MainPID), 'the service is still in its cgroup');
  assert.doesNotMatch(a.stderr.join(''), /cgroups: no unit runs: removed/);
  // the fixture's clean-up kills the service by its cgroup and removes the tree (killLeftovers)
});
