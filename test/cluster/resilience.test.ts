// The API server goes away for 30 s; the leading controller dies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureCrd, kubectl, kubectlOk, clusterState } from '../support/cluster.ts';
import { ClusterProcs, getSU, entry, cond, SYSTEM_NS } from '../support/clusterprocs.ts';
import { sleep, until } from '../support/wait.ts';
import { manifestYaml } from '../support/builders.ts';
import { CONTROLLER_LEASE } from '../../src/api/contract.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import { readUnitState } from '../../src/runner/store.ts';

const NS = 'resilience';
const cp = new ClusterProcs();

const su = (name: string, spec: Record<string, unknown>): string => manifestYaml(name, NS, spec);

before(() => {
  ensureCrd();
  cp.ensureNamespace();
  if (kubectl(['get', 'ns', NS]).status !== 0) kubectlOk(['create', 'ns', NS]);
  cp.node('node-r', {});
});
after(async () => { await cp.cleanup(); });

test('kube-apiserver unreachable for 30 s: services keep running, crashes still restart, and every restart shows in NRestarts afterwards', async () => {
  const agent = cp.agent('node-r');
  cp.controller('r1');
  kubectlOk(['apply', '-f', '-'], su('steady', { nodeName: 'node-r', service: { execStart: ['/bin/sleep 1010'] } }) + '---\n' + su('flappy', { nodeName: 'node-r', unit: { startLimitIntervalSec: 0 }, service: { execStart: ["/bin/sh -c 'sleep 2; exit 1'"], restart: 'always', restartSec: '1s' } }));
  const steadyPid = await until('steady running', () => { const e = entry(getSU(NS, 'steady'), 'node-r'); return e?.['subState'] === 'running' && (e['mainPID'] as number) > 0 ? (e['mainPID'] as number) : undefined; });
  await until('flappy running', () => entry(getSU(NS, 'flappy'), 'node-r')?.['subState'] === 'running');
  const localRestarts = (): number => readUnitState(join(agent.stateDir!, 'units', `${NS}_flappy`))!.machine.nRestarts;
  const before = localRestarts();
  const api = clusterState().apiserver.pid;
  process.kill(api, 'SIGSTOP');
  try {
    await sleep(30_000);
    assert.ok(isAlive(steadyPid), 'the steady service kept running');
    assert.ok(localRestarts() >= before + 8, `the crashing service kept restarting by its policy (${before} → ${localRestarts()})`);
  } finally {
    process.kill(api, 'SIGCONT');
  }
  const target = localRestarts();
  const seen = await until('NRestarts caught up', () => { const n = entry(getSU(NS, 'flappy'), 'node-r')?.['nRestarts'] as number | undefined; return n !== undefined && n >= target ? n : undefined; }, 60_000);
  assert.ok(seen >= target, `status shows ${seen} restarts, the node counted ${target}`);
  assert.equal(entry(getSU(NS, 'steady'), 'node-r')!['mainPID'], steadyPid);
});

test('two controllers: only the leader acts; kill it and the other takes over within the lease duration', async () => {
  const c2 = cp.controller('r2');
  const holder = (): string | undefined => { const r = kubectl(['get', 'lease', CONTROLLER_LEASE, '-n', SYSTEM_NS, '-o', 'jsonpath={.spec.holderIdentity}']); return r.status === 0 ? r.stdout : undefined; };
  await until('a leader', () => holder() === 'r1');
  await sleep(3000);
  assert.equal(holder(), 'r1', 'r1 keeps the lease while it renews');
  assert.doesNotMatch(c2.logs.join(''), /became leader/, 'r2 waits');
  const leader = cp.procs.find((p) => p.name === 'controller/r1')!;
  const killedAt = Date.now();
  await cp.kill(leader);
  await until('r2 leads', () => holder() === 'r2', 20_000);
  const took = Date.now() - killedAt;
  assert.ok(took < 6000 + 3000, `took over in ${took} ms (lease 6 s)`);
  kubectlOk(['apply', '-f', '-'], su('after-failover', { nodeName: 'node-r', service: { execStart: ['/bin/sleep 1011'] } }));
  await until('Ready under the new leader', () => cond(getSU(NS, 'after-failover'), 'Ready') === 'True', 20_000);
  // its log arrives through a pipe, asynchronously
  await until('r2 logged its leadership', () => /became leader \(r2\)/.test(c2.logs.join('')), 10_000);
});
