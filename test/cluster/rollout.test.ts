// Rollout across nodes (issue 18) on a real API server: three agents as three nodes, one
// controller. A changed unit goes out one node at a time; a broken ExecStart= stops after the
// first node and says so; a fix resumes; a revert restores the failed node alone; maxUnavailable
// 100% updates all at once; a node added while the rollout is paused runs the revision last
// granted to all; kubectl unit rollout status|pause|resume. Orders are read from the start times
// the agents recorded, never from how long anything took.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCrd, kubectl, kubectlOk, clusterState } from '../support/cluster.ts';
import { ClusterProcs, getSU, entry, type SU } from '../support/clusterprocs.ts';
import { until } from '../support/wait.ts';
import { manifestYaml } from '../support/builders.ts';
import { UNITCTL } from '../support/paths.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import { revisionHash } from '../../src/api/revision.ts';

const NS = 'rollout';
const NODES = ['ro-1', 'ro-2', 'ro-3'];
const LABEL = { 'rollout-test': 'yes' };
const cp = new ClusterProcs();

type Spec = Record<string, unknown> & { service: Record<string, unknown> };
const spec = (cmd: string, extra: Record<string, unknown> = {}): Spec => ({ nodeSelector: LABEL, minReadySeconds: 1, unit: { description: 'rollout demo' }, service: { execStart: [cmd] }, ...extra });
const apply = (name: string, s: Record<string, unknown>): void => { kubectlOk(['apply', '-f', '-'], manifestYaml(name, NS, s)); };
const rev = (s: Record<string, unknown>): string => revisionHash(s as never);
const pidOf = (o: SU | undefined, n: string): number => (entry(o, n)?.['mainPID'] as number | undefined) ?? 0;
const startOf = (o: SU | undefined, n: string): number => Date.parse(String(entry(o, n)?.['execMainStartTimestamp'] ?? ''));
const condition = (o: SU | undefined, type: string): { status: string; reason?: string; message?: string } | undefined => o?.status?.conditions?.find((c) => c.type === type);
const unitctl = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [UNITCTL, ...args, '--namespace', NS, '--kubeconfig', clusterState().kubeconfig], { encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const logs = (): string => cp.procs.map((p) => `--- ${p.name}\n${p.logs.join('').split('\n').slice(-30).join('\n')}`).join('\n');

/** Every node runs revision `r`, active, with a main PID; returns the object. */
async function settled(name: string, r: string, nodes = NODES, ms = 60_000): Promise<SU> {
  return until(`${name}: revision ${r} active on ${nodes.join(', ')}`, () => {
    const o = getSU(NS, name);
    return nodes.every((n) => entry(o, n)?.['revision'] === r && entry(o, n)?.['activeState'] === 'active' && pidOf(o, n) > 0) && condition(o, 'Ready')?.status === 'True' ? o : undefined;
  }, { timeoutMs: ms, everyMs: 250 }).catch((e: Error) => { throw new Error(`${e.message}\n${JSON.stringify(getSU(NS, name)?.status, null, 1)}\n${logs()}`); });
}

before(() => {
  ensureCrd();
  cp.ensureNamespace();
  if (kubectl(['get', 'ns', NS]).status !== 0) kubectlOk(['create', 'ns', NS]);
  for (const n of NODES) { cp.node(n, LABEL); cp.agent(n); }
  cp.node('ro-4', {}); // joins later, by label
  cp.agent('ro-4');
  cp.controller('ro-c');
});
after(async () => { await cp.cleanup(); });

test('a good change goes out one node at a time: each node starts only after the one before was active minReadySeconds', async () => {
  const v1 = spec('/bin/sleep 3001');
  apply('good', v1);
  const o1 = await settled('good', rev(v1));
  const old = NODES.map((n) => pidOf(o1, n));
  assert.equal(o1.status?.summary?.['upToDate'], '3/3');
  const v2 = spec('/bin/sleep 3002');
  apply('good', v2);
  const o2 = await settled('good', rev(v2));
  for (const p of old) assert.equal(isAlive(p), false, `old main PID ${p} ended`);
  const starts = NODES.map((n) => ({ n, start: startOf(o2, n), enter: Date.parse(String(entry(o2, n)?.['activeEnterTimestamp'])) }));
  assert.deepEqual([...starts].sort((a, b) => a.start - b.start).map((s) => s.n), NODES, 'in name order');
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i]!.start >= starts[i - 1]!.enter + 1000, `${starts[i]!.n} started ${starts[i]!.start - starts[i - 1]!.enter} ms after ${starts[i - 1]!.n} became active: never two nodes restarting at once`);
  }
  assert.match(kubectlOk(['get', 'su', 'good', '-n', NS]), /good\s+3\/3\s+3\/3\s+active/);
  // the ControllerRevisions of both revisions, named as a DaemonSet's
  const crs = kubectlOk(['get', 'controllerrevisions', '-n', NS, '-l', 'unit-operator.dev/serviceunit=good', '-o', 'jsonpath={.items[*].metadata.name}']).split(' ').sort();
  assert.deepEqual(crs, [`good-${rev(v1)}`, `good-${rev(v2)}`].sort());
});

test('a description change is not a revision: every node takes it at once, no process restarts', async () => {
  const v = spec('/bin/sleep 3002');
  const o = await settled('good', rev(v));
  const pids = NODES.map((n) => pidOf(o, n));
  apply('good', { ...v, unit: { description: 'new words' } });
  const gen = (getSU(NS, 'good')!.metadata.generation)!;
  await until('every node observed the new generation', () => NODES.every((n) => entry(getSU(NS, 'good'), n)?.['observedGeneration'] === gen));
  assert.deepEqual(NODES.map((n) => pidOf(getSU(NS, 'good'), n)), pids);
});

test('a broken ExecStart= stops after the first node: Stalled/RolloutHalted names it, the others keep their main PIDs; a fix resumes and completes', async () => {
  const v1 = spec('/bin/sleep 3011', { unit: { description: 'halts' } });
  apply('halt', v1);
  const o1 = await settled('halt', rev(v1));
  const [p2, p3] = [pidOf(o1, 'ro-2'), pidOf(o1, 'ro-3')];
  const bad = spec('/bin/sh -c "exit 3"', { unit: { description: 'halts' } });
  apply('halt', bad);
  const halted = await until('Stalled=True RolloutHalted', () => { const o = getSU(NS, 'halt'); return condition(o, 'Stalled')?.reason === 'RolloutHalted' ? o : undefined; }, 60_000);
  const stalled = condition(halted, 'Stalled')!;
  assert.equal(stalled.status, 'True');
  assert.match(stalled.message!, /ro-1: revision \w+ failed with result 'exit-code' \(ExecMainStatus 3\)/);
  assert.equal(entry(halted, 'ro-1')?.['activeState'], 'failed');
  const events = await until('a RolloutHalted event', () => { const e = kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=halt,reason=RolloutHalted', '-o', 'jsonpath={.items[*].message}']); return e.includes('ro-1') ? e : undefined; });
  assert.match(events, /exit-code/);
  const st = unitctl('rollout', 'status', 'halt', '--timeout', '5s');
  assert.equal(st.status, 1, st.stdout + st.stderr);
  assert.match(st.stderr, /rollout of serviceunit "halt" halted: ro-1: .*exit-code/);
  // the others keep running the old revision, untouched, well past minReadySeconds
  const stillOld = (): void => {
    const o = getSU(NS, 'halt');
    assert.deepEqual([pidOf(o, 'ro-2'), pidOf(o, 'ro-3')], [p2, p3], 'ro-2 and ro-3 keep their main PIDs');
    assert.ok(isAlive(p2) && isAlive(p3));
    assert.deepEqual(o?.status?.rollout?.nodes?.map((g) => [g.node, g.revision]), [['ro-1', rev(bad)], ['ro-2', rev(v1)], ['ro-3', rev(v1)]]);
  };
  stillOld();
  await new Promise((r) => setTimeout(r, 3000));
  stillOld();
  // a fixed spec: ro-1 first, then the others one by one
  const fixed = spec('/bin/sleep 3012', { unit: { description: 'halts' } });
  apply('halt', fixed);
  const st2 = unitctl('rollout', 'status', 'halt', '--timeout', '60s');
  assert.equal(st2.status, 0, st2.stdout + st2.stderr);
  assert.match(st2.stdout, /successfully rolled out/);
  const done = await settled('halt', rev(fixed));
  assert.equal(condition(done, 'Stalled')?.status, 'False');
  assert.ok(!isAlive(p2) && !isAlive(p3));
  const order = NODES.map((n) => ({ n, start: startOf(done, n) })).sort((a, b) => a.start - b.start).map((s) => s.n);
  assert.deepEqual(order, NODES);
});

test('a revert to the old spec (GitOps) restores the failed node without touching the others', async () => {
  const good = spec('/bin/sleep 3021');
  apply('revert', good);
  const o1 = await settled('revert', rev(good));
  const [p2, p3] = [pidOf(o1, 'ro-2'), pidOf(o1, 'ro-3')];
  apply('revert', spec('/bin/sh -c "exit 4"'));
  await until('halted on ro-1', () => condition(getSU(NS, 'revert'), 'Stalled')?.reason === 'RolloutHalted', 60_000);
  apply('revert', good); // the generation goes up, the revision is the old one
  const o2 = await settled('revert', rev(good));
  assert.deepEqual([pidOf(o2, 'ro-2'), pidOf(o2, 'ro-3')], [p2, p3], 'ro-2 and ro-3 were never restarted');
  assert.ok(pidOf(o2, 'ro-1') !== pidOf(o1, 'ro-1'));
  assert.equal(o2.status?.rollout?.stableRevision, rev(good));
  assert.equal(condition(o2, 'Stalled')?.status, 'False');
});

test('maxUnavailable: 100% updates every node at once', async () => {
  const v1 = spec('/bin/sleep 3031', { minReadySeconds: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '100%' } } });
  apply('all', v1);
  await settled('all', rev(v1));
  const v2 = { ...v1, service: { execStart: ['/bin/sleep 3032'] } };
  apply('all', v2);
  const o = await settled('all', rev(v2));
  const starts = NODES.map((n) => startOf(o, n));
  const firstReady = Math.min(...NODES.map((n) => Date.parse(String(entry(o, n)?.['activeEnterTimestamp'])))) + 3000;
  for (const [i, s] of starts.entries()) assert.ok(s < firstReady, `${NODES[i]} started before any node had been active minReadySeconds: not one by one`);
});

test('paused: no node is granted the new revision; a node added meanwhile runs the revision last granted to all; resume completes', async () => {
  const v1 = spec('/bin/sleep 3041');
  apply('paused', v1);
  await settled('paused', rev(v1));
  const pause = unitctl('rollout', 'pause', 'paused');
  assert.equal(pause.status, 0, pause.stderr);
  const v2 = { ...spec('/bin/sleep 3042'), paused: true };
  apply('paused', v2);
  await until('the controller saw the paused revision', () => getSU(NS, 'paused')?.status?.rollout?.updatedRevision === rev(v2));
  const once = unitctl('rollout', 'status', 'paused', '--no-watch');
  assert.equal(once.status, 2, once.stdout + once.stderr);
  assert.match(once.stdout, /rollout is paused: 0 of 3 node\(s\) updated/);
  kubectlOk(['label', 'node', 'ro-4', 'rollout-test=yes', '--overwrite']);
  const all = [...NODES, 'ro-4'];
  const now = await until('ro-4 runs the old revision', () => { const x = getSU(NS, 'paused'); return entry(x, 'ro-4')?.['revision'] === rev(v1) && pidOf(x, 'ro-4') > 0 ? x : undefined; });
  assert.ok(/sleep 3041/.test(spawnSync('cat', [`/proc/${pidOf(now, 'ro-4')}/cmdline`], { encoding: 'utf8' }).stdout.replaceAll('\0', ' ')));
  assert.deepEqual(all.map((n) => entry(now, n)?.['revision']), all.map(() => rev(v1)), 'nobody runs the paused revision');
  const resume = unitctl('rollout', 'resume', 'paused');
  assert.equal(resume.status, 0, resume.stderr);
  const st = unitctl('rollout', 'status', 'paused', '--timeout', '60s');
  assert.equal(st.status, 0, `${st.stdout}${st.stderr}\n${JSON.stringify(getSU(NS, 'paused')?.status, null, 1)}\n${logs()}`);
  await settled('paused', rev(v2), all);
  kubectlOk(['label', 'node', 'ro-4', 'rollout-test-']);
});

test('a node whose agent lease expired counts as unavailable, is named as waited for, and stops blocking after the progress deadline', async () => {
  const v1 = spec('/bin/sleep 3051', { progressDeadlineSeconds: 15 });
  apply('lost', v1);
  await settled('lost', rev(v1));
  // ro-5 matches the selector; its agent's lease expired a second ago and no agent runs there
  cp.node('ro-5', LABEL);
  const renew = new Date(Date.now() - 11_000).toISOString().replace('Z', '000Z').replace(/\.(\d{3})000Z$/, '.$1000Z');
  kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'unit-operator-agent-ro-5', namespace: 'unit-operator-system' }, spec: { holderIdentity: 'ro-5', leaseDurationSeconds: 10, renewTime: renew } }));
  try {
    const v2 = spec('/bin/sleep 3052', { progressDeadlineSeconds: 15 });
    apply('lost', v2);
    const waiting = await until('the rollout waits for ro-5', () => { const o = getSU(NS, 'lost'); return /ro-5 \(its agent's lease expired\)/.test(o?.status?.rollout?.message ?? '') && o?.status?.rollout?.updatedRevision === rev(v2) ? o : undefined; });
    assert.deepEqual(NODES.map((n) => waiting.status?.rollout?.nodes?.find((g) => g.node === n)?.revision), NODES.map(() => rev(v1)), 'no live node is granted while ro-5 fills maxUnavailable');
    assert.match(condition(waiting, 'Reconciling')?.message ?? '', /ro-5/);
    const done = await until('the three live nodes run the new revision', () => { const o = getSU(NS, 'lost'); return NODES.every((n) => entry(o, n)?.['revision'] === rev(v2) && entry(o, n)?.['activeState'] === 'active') && o?.status?.rollout?.updatedNodes === 3 ? o : undefined; }, { timeoutMs: 60_000, everyMs: 250 });
    assert.match(done.status?.rollout?.message ?? '', /not waited for: ro-5 \(its agent's lease expired\)/);
    const order = NODES.map((n) => ({ n, start: startOf(done, n) })).sort((a, b) => a.start - b.start).map((s) => s.n);
    assert.deepEqual(order, NODES, 'still one node at a time');
  } finally {
    kubectl(['label', 'node', 'ro-5', 'rollout-test-']);
  }
});

test('at most ten ControllerRevisions per unit: the oldest that no node is granted go', async () => {
  const specs = Array.from({ length: 12 }, (_, i) => spec(`/bin/sleep ${3100 + i}`, { state: 'stopped' }));
  for (const s of specs) {
    apply('history', s);
    await until(`the controller saw revision ${rev(s)}`, () => getSU(NS, 'history')?.status?.rollout?.updatedRevision === rev(s), { timeoutMs: 20_000, everyMs: 200 });
  }
  const names = kubectlOk(['get', 'controllerrevisions', '-n', NS, '-l', 'unit-operator.dev/serviceunit=history', '-o', 'jsonpath={.items[*].metadata.name}']).trim().split(' ');
  assert.equal(names.length, 10, names.join(' '));
  assert.ok(names.includes(`history-${rev(specs[11]!)}`) && names.includes(`history-${rev(specs[10]!)}`));
  assert.ok(!names.includes(`history-${rev(specs[0]!)}`) && !names.includes(`history-${rev(specs[1]!)}`));
});

test('a halt lifts by itself once the failed node recovers (Restart= brings the unit back once the host is fixed): the rollout goes on, with an Event', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-rollout-'));
  const marker = join(dir, 'fixed');
  try {
    const opts = { progressDeadlineSeconds: 5, unit: { description: 'recovers', startLimitIntervalSec: 0 } };
    const v1 = spec('/bin/sleep 3061', opts);
    apply('recover', v1);
    const o1 = await settled('recover', rev(v1));
    const [p2, p3] = [pidOf(o1, 'ro-2'), pidOf(o1, 'ro-3')];
    // the new revision needs something the host lacks; Restart= keeps trying (no start limit)
    const v2 = spec('', { ...opts, service: { execStart: [`/bin/sh -c "test -e ${marker} && exec /bin/sleep 3062; exit 5"`], restart: 'on-failure', restartSec: '1s' } });
    apply('recover', v2);
    const halted = await until('halted on ro-1 for the deadline', () => { const o = getSU(NS, 'recover'); return condition(o, 'Stalled')?.reason === 'RolloutHalted' ? o : undefined; }, 60_000);
    assert.match(condition(halted, 'Stalled')!.message!, /ro-1: revision \w+ not available within progressDeadlineSeconds 5/);
    assert.deepEqual([pidOf(halted, 'ro-2'), pidOf(halted, 'ro-3')], [p2, p3]);
    await new Promise((r) => setTimeout(r, 2000));
    const still = getSU(NS, 'recover');
    assert.equal(condition(still, 'Stalled')?.reason, 'RolloutHalted', 'the auto-restarts alone lift nothing');
    assert.deepEqual(still?.status?.rollout?.nodes?.map((g) => g.revision), [rev(v2), rev(v1), rev(v1)]);
    // the host is fixed: the next automatic restart succeeds, ro-1 is available, the halt lifts
    writeFileSync(marker, '');
    const fixedAt = Date.now();
    const done = await settled('recover', rev(v2));
    assert.equal(condition(done, 'Stalled')?.status, 'False');
    assert.equal(done.status?.rollout?.halted, undefined);
    assert.ok(!isAlive(p2) && !isAlive(p3));
    const order = NODES.map((n) => ({ n, start: startOf(done, n) })).sort((a, b) => a.start - b.start);
    assert.deepEqual(order.map((s) => s.n), NODES, 'then one node at a time, in name order');
    assert.ok(order[1]!.start >= fixedAt, 'ro-2 was granted only after ro-1 recovered');
    const ev = await until('a RolloutResumed event', () => { const e = kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=recover,reason=RolloutResumed', '-o', 'jsonpath={.items[*].message}']); return e.includes('ro-1') ? e : undefined; });
    assert.match(ev, /rollout resumed: ro-1 runs revision \w+ active again/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ControllerRevision already there under the new revision\'s name is checked: a foreign one with other data is a conflict that grants nothing; ours and unused is replaced', async () => {
  const v1 = spec('/bin/sleep 3071');
  apply('conflict', v1);
  await settled('conflict', rev(v1));
  const uid = (getSU(NS, 'conflict')!.metadata as { uid?: string }).uid!;
  const cr = (name: string, hash: string, owned: boolean): string => JSON.stringify({
    apiVersion: 'apps/v1', kind: 'ControllerRevision', revision: 1, data: { service: { execStart: ['/bin/sh -c "echo not this"'] } },
    metadata: { name, namespace: NS, labels: { 'unit-operator.dev/serviceunit': 'conflict', 'unit-operator.dev/revision-hash': hash }, ...(owned ? { ownerReferences: [{ apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', name: 'conflict', uid, controller: true }] } : {}) },
  });
  const crData = (name: string): Record<string, unknown> => (JSON.parse(kubectlOk(['get', 'controllerrevision', name, '-n', NS, '-o', 'json'])) as { data: Record<string, unknown> }).data;
  // a hand-made object under the name of the next revision, holding something else
  const v2 = spec('/bin/sleep 3072');
  kubectlOk(['apply', '-f', '-'], cr(`conflict-${rev(v2)}`, rev(v2), false));
  apply('conflict', v2);
  const stalled = await until('Stalled=True RevisionConflict', () => { const o = getSU(NS, 'conflict'); return condition(o, 'Stalled')?.reason === 'RevisionConflict' ? o : undefined; }, 30_000);
  assert.match(condition(stalled, 'Stalled')!.message!, new RegExp(`ControllerRevision rollout/conflict-${rev(v2)} holds data of revision \\w+, not ${rev(v2)}; it is not owned by this ServiceUnit`));
  const ev = await until('a RevisionConflict event', () => { const e = kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=conflict,reason=RevisionConflict', '-o', 'jsonpath={.items[*].message}']); return e.includes(`conflict-${rev(v2)}`) ? e : undefined; });
  assert.match(ev, /delete it/);
  await new Promise((r) => setTimeout(r, 3000));
  const held = getSU(NS, 'conflict');
  assert.deepEqual(held?.status?.rollout?.nodes?.map((g) => g.revision), NODES.map(() => rev(v1)), 'no node is granted the revision');
  assert.deepEqual(NODES.map((n) => entry(held, n)?.['revision']), NODES.map(() => rev(v1)));
  assert.equal(crData(`conflict-${rev(v2)}`)['service'] !== undefined && JSON.stringify(crData(`conflict-${rev(v2)}`)).includes('not this'), true, 'a foreign object is left alone');
  // its owner deletes it: the controller creates the right one and the rollout goes on
  kubectlOk(['delete', 'controllerrevision', `conflict-${rev(v2)}`, '-n', NS]);
  const o2 = await settled('conflict', rev(v2));
  assert.equal(condition(o2, 'Stalled')?.status, 'False');
  assert.deepEqual(crData(`conflict-${rev(v2)}`), JSON.parse(JSON.stringify({ service: { execStart: ['/bin/sleep 3072'] } })));
  // one of ours (owned by this unit) with other data, that no node is granted: replaced
  const v3 = spec('/bin/sleep 3073');
  kubectlOk(['apply', '-f', '-'], cr(`conflict-${rev(v3)}`, rev(v3), true));
  const before = kubectlOk(['get', 'controllerrevision', `conflict-${rev(v3)}`, '-n', NS, '-o', 'jsonpath={.metadata.uid}']);
  apply('conflict', v3);
  await settled('conflict', rev(v3));
  assert.notEqual(kubectlOk(['get', 'controllerrevision', `conflict-${rev(v3)}`, '-n', NS, '-o', 'jsonpath={.metadata.uid}']), before, 'a new object');
  assert.deepEqual(crData(`conflict-${rev(v3)}`), { service: { execStart: ['/bin/sleep 3073'] } });
});

test('a re-spelled spec (5 for "5s", "TERM" for "SIGTERM", a default written out) is the same revision: no rollout, no restart, no new ControllerRevision', async () => {
  const v1 = spec('/bin/sleep 3081', { service: { execStart: ['/bin/sleep 3081'], restartSec: '5s', killSignal: 'SIGINT' } });
  apply('spelling', v1);
  const o1 = await settled('spelling', rev(v1));
  const pids = NODES.map((n) => pidOf(o1, n));
  const v2 = { ...v1, service: { killSignal: 'INT', restart: 'no', restartSec: 5, execStart: ['/bin/sleep 3081'], sendSIGKILL: true } };
  assert.equal(rev(v2), rev(v1));
  apply('spelling', v2);
  const gen = getSU(NS, 'spelling')!.metadata.generation!;
  await until('every node observed the new generation', () => NODES.every((n) => entry(getSU(NS, 'spelling'), n)?.['observedGeneration'] === gen));
  await new Promise((r) => setTimeout(r, 2000));
  const o2 = getSU(NS, 'spelling');
  assert.deepEqual(NODES.map((n) => pidOf(o2, n)), pids, 'no node restarted');
  assert.equal(o2?.status?.rollout?.updatedRevision, rev(v1));
  assert.equal(kubectlOk(['get', 'controllerrevisions', '-n', NS, '-l', 'unit-operator.dev/serviceunit=spelling', '-o', 'jsonpath={.items[*].metadata.name}']).trim(), `spelling-${rev(v1)}`);
});

// A ServiceUnit deleted and made again under the same name and spec, in one controller's
// lifetime: the ControllerRevision is the new unit's (its owner reference), whether the old
// unit's is still there (this cluster runs no garbage collector: replaced) or went with it (as
// the garbage collector takes it: made again — the controller once remembered it by name alone,
// skipped the create, and a rollout relying on it had nothing to read).
test('a unit deleted and made again with the same spec: its ControllerRevision is the new unit\'s, replaced or made again', async () => {
  const v = spec('/bin/sleep 3011');
  const crName = `again-${rev(v)}`;
  const uidOf = (): string => kubectlOk(['get', 'su', 'again', '-n', NS, '-o', 'jsonpath={.metadata.uid}']).trim();
  const ownerOf = (): string | undefined => { const r = kubectl(['get', 'controllerrevision', crName, '-n', NS, '-o', 'jsonpath={.metadata.ownerReferences[0].uid}']); return r.status === 0 ? r.stdout.trim() : undefined; };
  apply('again', v);
  await settled('again', rev(v));
  const first = uidOf();
  assert.equal(ownerOf(), first);
  // deleted (its agents stop it, the finalizer goes): its revision stays here, no garbage collector
  kubectlOk(['delete', 'su', 'again', '-n', NS, '--wait=true', '--timeout=60s']);
  assert.equal(ownerOf(), first, 'the old unit\'s revision is still there');
  apply('again', v);
  await settled('again', rev(v));
  const second = uidOf();
  assert.notEqual(second, first);
  await until('the revision owned by the new unit', () => (ownerOf() === second ? true : undefined), { timeoutMs: 20_000 }).catch((e: Error) => { throw new Error(`${e.message}: owner ${ownerOf()}\n${logs()}`); });
  // deleted again, and its revision with it (as the garbage collector does); made again
  kubectlOk(['delete', 'su', 'again', '-n', NS, '--wait=true', '--timeout=60s']);
  kubectlOk(['delete', 'controllerrevision', crName, '-n', NS]);
  apply('again', v);
  await settled('again', rev(v));
  const third = uidOf();
  await until('the revision made again for the new unit', () => (ownerOf() === third ? true : undefined), { timeoutMs: 20_000 }).catch((e: Error) => { throw new Error(`${e.message}: owner ${ownerOf() ?? '(none: not made again)'}\n${logs()}`); });
  kubectlOk(['delete', 'su', 'again', '-n', NS, '--wait=true', '--timeout=60s']);
});
