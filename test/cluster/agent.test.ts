// Cluster mode on a real API server: two agents as two nodes, one controller.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clusterState, ensureCrd, kubectl, kubectlOk } from '../support/cluster.ts';
import { ClusterProcs, getSU, entry, cond, type Proc, type SU } from '../support/clusterprocs.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { until } from '../support/wait.ts';
import { manifestYaml } from '../support/builders.ts';
import { isAlive } from '../../src/runner/procfs.ts';

const NS = 'cluster-mode';
const cp = new ClusterProcs();
let agentA: Proc;
let agentB: Proc;

const su = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): string => manifestYaml(name, NS, spec, annotations);
const apply = (yaml: string): string => kubectlOk(['apply', '-f', '-'], yaml);
const cmdline = (pid: number): string => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(); } catch { return ''; } };

before(async () => {
  ensureCrd();
  cp.ensureNamespace();
  if (kubectl(['get', 'ns', NS]).status !== 0) kubectlOk(['create', 'ns', NS]);
  cp.node('node-a', { role: 'web' });
  cp.node('node-b', { role: 'db' });
  agentA = cp.agent('node-a');
  agentB = cp.agent('node-b');
  cp.controller('c1');
});
after(async () => { await cp.cleanup(); });

test('apply → the process runs on exactly the targeted node, status active/running, Ready=True, kubectl wait returns', async () => {
  apply(su('web', { nodeName: 'node-a', service: { execStart: ['/bin/sleep 1001'] } }));
  const r = kubectl(['wait', '--for=condition=Ready', 'su/web', '-n', NS, '--timeout=30s']);
  assert.equal(r.status, 0, `kubectl wait: ${r.stderr}\n${agentA.logs.join('')}`);
  // a simple service is running as soon as it is forked (as in systemd); its PID follows in ms
  const obj = await until('the main PID reported', () => { const o = getSU(NS, 'web'); return ((entry(o, 'node-a')?.['mainPID'] as number | undefined) ?? 0) > 0 ? o : undefined; });
  const a = entry(obj, 'node-a')!;
  assert.deepEqual([a['activeState'], a['subState'], a['result'], a['nRestarts']], ['active', 'running', 'success', 0]);
  assert.match(cmdline(a['mainPID'] as number), /^\/bin\/sleep 1001$/);
  assert.equal(entry(obj, 'node-b'), undefined, 'nothing on node-b');
  assert.equal(obj.status?.summary?.['nodes'], '1/1');
  assert.match(kubectlOk(['get', 'su', 'web', '-n', NS]), /web\s+1\/1\s+1\/1\s+active\s+running\s+success\s+0/);
  assert.deepEqual(obj.metadata.finalizers, ['node.unit-operator.dev/node-a']);
});

test('a new unit on a node with a live agent: the controller writes nothing (finalizer, ControllerRevision-granted status, conditions) before the agent\'s first report, then the finalizer and Ready', async () => {
  // controller.ts FIRST_REPORT_WAIT_MS: its writes before the report would be rewritten at once,
  // and in a burst of new units they took the API server from the creates and the reports
  const client = KubeClient.load(clusterState().kubeconfig);
  const path = `/apis/unit-operator.dev/v1alpha1/namespaces/${NS}/serviceunits`;
  const from = (await client.request<{ metadata: { resourceVersion: string } }>(path)).metadata.resourceVersion;
  const seen: Array<{ reported: boolean; byController: boolean; ready: boolean }> = [];
  const abort = new AbortController();
  const watching = client.watchStream(path, { resourceVersion: from, fieldSelector: 'metadata.name=first-report' }, (ev) => {
    const o = ev.object as SU & { status?: { observedGeneration?: number } };
    seen.push({
      reported: (o.status?.nodes ?? []).length > 0,
      byController: (o.metadata.finalizers ?? []).length > 0 || (o.status?.conditions ?? []).length > 0 || o.status?.observedGeneration !== undefined,
      ready: o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && (o.metadata.finalizers ?? []).length > 0,
    });
  }, abort.signal).catch(() => undefined);
  try {
    apply(su('first-report', { nodeName: 'node-a', service: { execStart: ['/bin/sleep 1009'] } }));
    await until('the watch to see it Ready, with its finalizer', () => seen.some((x) => x.ready));
  } finally { abort.abort(); await watching; }
  const report = seen.findIndex((x) => x.reported);
  assert.ok(report > 0, `the agent reported it: ${JSON.stringify(seen)}`);
  assert.deepEqual(seen.slice(0, report).filter((x) => x.byController), [], `the controller wrote nothing before the report: ${JSON.stringify(seen)}`);
  kubectlOk(['delete', 'su', 'first-report', '-n', NS, '--wait=true', '--timeout=30s']);
});

test('a crashing unit restarts after RestartSec, the start limit ends it Stalled, and the reset-failed annotation brings it back', async () => {
  const flag = join(cp.root, 'crash-ok');
  apply(su('crash', { nodeName: 'node-b', unit: { startLimitBurst: 3, startLimitIntervalSec: '1min' }, service: { execStart: [`/bin/sh -c 'test -e ${flag} && exec sleep 1002; exit 1'`], restart: 'on-failure', restartSec: '200ms' } }));
  const stalled = await until('Stalled', () => { const o = getSU(NS, 'crash'); return cond(o, 'Stalled') === 'True' ? o : undefined; });
  const b = entry(stalled, 'node-b')!;
  assert.deepEqual([b['activeState'], b['result'], b['nRestarts'], b['execMainStatus']], ['failed', 'exit-code', 3, 1]);
  assert.equal(cond(stalled, 'Ready'), 'False');
  const events = kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=crash', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
  for (const reason of ['Exited', 'Restarting', 'StartLimitHit', 'Failed']) assert.match(events, new RegExp(`^${reason}$`, 'm'), `event ${reason} in ${events}`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(flag, '');
  kubectlOk(['annotate', 'su', 'crash', '-n', NS, '--overwrite', `unit-operator.dev/reset-failed=${Date.now()}`]);
  const ok = await until('Ready after reset-failed', () => { const o = getSU(NS, 'crash'); return cond(o, 'Ready') === 'True' ? o : undefined; });
  assert.equal(entry(ok, 'node-b')!['subState'], 'running');
  assert.equal(cond(ok, 'Stalled'), 'False');
});

test('a nodeSelector unit follows the node labels', async () => {
  apply(su('sel', { nodeSelector: { role: 'web' }, service: { execStart: ['/bin/sleep 1003'] } }));
  await until('on node-a', () => entry(getSU(NS, 'sel'), 'node-a')?.['subState'] === 'running');
  assert.equal(entry(getSU(NS, 'sel'), 'node-b'), undefined);
  kubectlOk(['label', 'node', 'node-b', 'role=web', '--overwrite']);
  await until('also on node-b', () => entry(getSU(NS, 'sel'), 'node-b')?.['subState'] === 'running');
  const pidA = entry(getSU(NS, 'sel'), 'node-a')!['mainPID'] as number;
  kubectlOk(['label', 'node', 'node-a', 'role=other', '--overwrite']);
  await until('gone from node-a', () => entry(getSU(NS, 'sel'), 'node-a') === undefined);
  assert.equal(isAlive(pidA), false, 'the process on node-a stopped');
  assert.equal(getSU(NS, 'sel')!.status?.summary?.['nodes'], '1/1');
  kubectlOk(['label', 'node', 'node-a', 'role=web', '--overwrite']);
  kubectlOk(['label', 'node', 'node-b', 'role=db', '--overwrite']);
});

test('re-pinning a unit (spec.nodeName a → b): node-a stops it and drops its entry, node-b runs it', async () => {
  apply(su('pinned', { nodeName: 'node-a', service: { execStart: ['/bin/sleep 1012'] } }));
  const pidA = await until('running on node-a', () => { const e = entry(getSU(NS, 'pinned'), 'node-a'); return e?.['subState'] === 'running' && (e['mainPID'] as number) > 0 ? (e['mainPID'] as number) : undefined; });
  // the unit leaves node-a's watch (fieldSelector spec.nodeName=node-a) and enters node-b's
  apply(su('pinned', { nodeName: 'node-b', service: { execStart: ['/bin/sleep 1012'] } }));
  await until('running on node-b, entry of node-a gone', () => { const o = getSU(NS, 'pinned'); return entry(o, 'node-b')?.['subState'] === 'running' && entry(o, 'node-a') === undefined; });
  assert.equal(isAlive(pidA), false, 'the process on node-a stopped');
  // the agent's log reaches the test through a pipe: read until the line arrives
  await until('node-a logged why it stopped the unit', () => /pinned\.service: its ServiceUnit is gone or now pinned to another node; stopping it/.test(agentA.logs.join('')) || undefined);
  await until('Ready on node-b alone', () => cond(getSU(NS, 'pinned'), 'Ready') === 'True' && getSU(NS, 'pinned')!.status?.summary?.['nodes'] === '1/1');
  kubectlOk(['delete', 'su', 'pinned', '-n', NS, '--wait=true', '--timeout=30s']);
});

test('a spec change restarts, a description change does not; state: stopped runs ExecStop; delete stops and the object goes', async () => {
  const stopMark = join(cp.root, 'stopped-marker');
  const base = { nodeName: 'node-a', unit: { description: 'v1' }, service: { execStart: ['/bin/sleep 1004'], execStop: [`/bin/sh -c 'echo $MAINPID > ${stopMark}; kill $MAINPID'`] } };
  apply(su('life', base));
  const p1 = await until('running', () => { const e = entry(getSU(NS, 'life'), 'node-a'); return e?.['subState'] === 'running' && (e['mainPID'] as number) > 0 ? (e['mainPID'] as number) : undefined; });
  apply(su('life', { ...base, unit: { description: 'v2' } }));
  await until('observed generation 2', () => entry(getSU(NS, 'life'), 'node-a')?.['observedGeneration'] === 2);
  assert.equal(entry(getSU(NS, 'life'), 'node-a')!['mainPID'], p1, 'a description change does not restart');
  apply(su('life', { ...base, service: { ...base.service, execStart: ['/bin/sleep 1005'] } }));
  const p2 = await until('restarted with the new command', () => { const e = entry(getSU(NS, 'life'), 'node-a'); return e?.['subState'] === 'running' && e['mainPID'] !== p1 && (e['mainPID'] as number) > 0 ? (e['mainPID'] as number) : undefined; });
  assert.match(cmdline(p2), /sleep 1005/);
  assert.equal(isAlive(p1), false);
  apply(su('life', { ...base, state: 'stopped', service: { ...base.service, execStart: ['/bin/sleep 1005'] } }));
  await until('stopped', () => entry(getSU(NS, 'life'), 'node-a')?.['subState'] === 'dead');
  assert.equal(readFileSync(stopMark, 'utf8').trim(), String(p2), 'ExecStop ran with $MAINPID');
  assert.equal(cond(getSU(NS, 'life'), 'Ready'), 'True', 'stopped as declared');
  apply(su('life', { ...base, service: { ...base.service, execStart: ['/bin/sleep 1005'] } }));
  const p3 = await until('running again', () => { const e = entry(getSU(NS, 'life'), 'node-a'); return e?.['subState'] === 'running' && (e['mainPID'] as number) > 0 ? (e['mainPID'] as number) : undefined; });
  kubectlOk(['delete', 'su', 'life', '-n', NS, '--wait=false']);
  await until('object gone', () => getSU(NS, 'life') === undefined, 30_000);
  assert.equal(isAlive(p3), false, 'deleting stopped the process before the object went');
});

test('agent kill -9 and restart: services keep running (0 restarts, same PID), status resumes', async () => {
  apply(su('steady', { nodeName: 'node-a', service: { execStart: ['/bin/sleep 1006'] } }));
  const pid = await until('running', () => { const e = entry(getSU(NS, 'steady'), 'node-a'); return e?.['subState'] === 'running' && (e['mainPID'] as number) > 0 ? (e['mainPID'] as number) : undefined; });
  await cp.kill(agentA);
  assert.ok(isAlive(pid));
  agentA = cp.agent('node-a');
  apply(su('steady', { nodeName: 'node-a', unit: { description: 'seen by the new agent' }, service: { execStart: ['/bin/sleep 1006'] } }));
  await until('status resumed with the new generation', () => entry(getSU(NS, 'steady'), 'node-a')?.['observedGeneration'] === 2);
  const e = entry(getSU(NS, 'steady'), 'node-a')!;
  assert.deepEqual([e['mainPID'], e['nRestarts'], e['subState']], [pid, 0, 'running']);
});

test('deleting a unit whose node is gone does not hang', async () => {
  cp.node('node-c', {});
  const agentC = cp.agent('node-c');
  apply(su('orphan', { nodeName: 'node-c', service: { execStart: ['/bin/sleep 1007'] } }));
  await until('finalizer for node-c', () => (getSU(NS, 'orphan')?.metadata.finalizers ?? []).includes('node.unit-operator.dev/node-c'));
  const pid = await until('running', () => { const e = entry(getSU(NS, 'orphan'), 'node-c'); return (e?.['mainPID'] as number) > 0 ? (e!['mainPID'] as number) : undefined; });
  await cp.kill(agentC);
  process.kill(pid, 9); // the node "died" with its agent
  kubectlOk(['delete', 'node', 'node-c']);
  kubectlOk(['delete', 'su', 'orphan', '-n', NS, '--wait=false']);
  await until('object gone', () => getSU(NS, 'orphan') === undefined, 30_000);
  assert.ok(!existsSync('/nonexistent'));
});

test('unitctl status NAME --namespace prints the systemctl-like view per node from the cluster', async () => {
  const { spawnSync } = await import('node:child_process');
  const { UNITCTL } = await import('../support/paths.ts');
  const { clusterState } = await import('../support/cluster.ts');
  apply(su('shown', { nodeSelector: { role: 'web' }, unit: { description: 'status demo' }, service: { execStart: ['/bin/sleep 1008'] } }));
  await until('Ready', () => cond(getSU(NS, 'shown'), 'Ready') === 'True');
  const r = spawnSync(process.execPath, [UNITCTL, 'status', 'shown', '--namespace', NS, '--kubeconfig', clusterState().kubeconfig], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^shown\.service - status demo$/m);
  assert.match(r.stdout, /Ready: True \(Active: active on 1\/1 node\(s\)\)/);
  assert.match(r.stdout, /● node node-a\n\s+Active: active \(running\) since .* ago\n\s+Main PID: \d+/);
  const missing = spawnSync(process.execPath, [UNITCTL, 'status', 'nope', '--namespace', NS, '--kubeconfig', clusterState().kubeconfig], { encoding: 'utf8' });
  assert.equal(missing.status, 4);
});

test('RootImage= on a node that does not apply it: not started, status.nodes[] lists it refused with the reason, a StartRefused event', async () => {
  apply(su('sandboxed', { nodeName: 'node-a', unit: { collectMode: 'inactive-or-failed' }, service: { execStart: ['/bin/sleep 1009'], rootImage: '/srv/root.raw' } }));
  const obj = await until('node-a reported the refusal', () => { const o = getSU(NS, 'sandboxed'); return entry(o, 'node-a')?.['notApplied'] ? o : undefined; });
  const a = entry(obj, 'node-a')!;
  assert.deepEqual([a['activeState'], a['subState'], a['mainPID'] ?? 0], ['inactive', 'dead', 0]);
  const notApplied = a['notApplied'] as Array<{ directive: string; enforcement: string; reason: string }>;
  assert.deepEqual(notApplied.map((e) => [e.directive, e.enforcement]), [['CollectMode=', 'reported'], ['RootImage=', 'refused']]);
  assert.match(String(a['message']), /not started: RootImage= is not applied on this node .*--allow-unenforced=RootImage/);
  assert.equal(a['notStarted'], 'StartRefused');
  await until('Stalled (StartRefused)', () => { const o = getSU(NS, 'sandboxed'); return cond(o, 'Stalled') === 'True' && o?.status?.conditions?.find((c) => c.type === 'Stalled')?.reason === 'StartRefused' ? true : undefined; });
  const events = await until('StartRefused event', () => { const e = kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=sandboxed', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']); return /^StartRefused$/m.test(e) ? e : undefined; });
  assert.match(events, /^NotApplied$/m);
  const { spawnSync } = await import('node:child_process');
  const { UNITCTL } = await import('../support/paths.ts');
  const { clusterState } = await import('../support/cluster.ts');
  const view = spawnSync(process.execPath, [UNITCTL, 'status', 'sandboxed', '--namespace', NS, '--kubeconfig', clusterState().kubeconfig], { encoding: 'utf8' });
  assert.match(view.stdout, /node node-a\n(.*\n)*\s+Not applied: CollectMode= — .*reported, not refused\n\s+RootImage= — .*refused: the unit does not start/);
  kubectlOk(['delete', 'su', 'sandboxed', '-n', NS, '--wait=false']);
});

test('the restart annotation is a restart job: the units that Requires= it restart with it (issue 16)', async () => {
  apply(su('dep-db', { nodeName: 'node-a', service: { execStart: ['/bin/sleep 1003'] } }));
  apply(su('dep-web', { nodeName: 'node-a', unit: { requires: ['dep-db.service'], after: ['dep-db.service'] }, service: { execStart: ['/bin/sleep 1004'] } }));
  const pid = (name: string): number => (entry(getSU(NS, name), 'node-a')?.['mainPID'] as number | undefined) ?? 0;
  const [db1, web1] = await until('both running', () => { const d = pid('dep-db'), w = pid('dep-web'); return d > 0 && w > 0 ? [d, w] : undefined; });
  kubectlOk(['annotate', 'su', 'dep-db', '-n', NS, '--overwrite', `unit-operator.dev/restart=${Date.now()}`]);
  await until('db and web restarted', () => { const d = pid('dep-db'), w = pid('dep-web'); return d > 0 && w > 0 && d !== db1 && w !== web1 ? true : undefined; });
  assert.equal(isAlive(web1), false, `dep-web's old PID ${web1} still runs`);
});

test('two ServiceUnits of a namespace naming one unit on a node: one runs it, the other is not started and says by whom; it takes over once the first is deleted', async () => {
  // both would share the unit's cgroup (and the namespace's dependency graph): a stop of one
  // would kill the other's processes. The older object (creation time, then name) runs it.
  apply(su('dup-a', { nodeName: 'node-a', unitName: 'dup.service', service: { execStart: ['/bin/sleep 1011'] } }));
  await until('dup-a running', () => ((entry(getSU(NS, 'dup-a'), 'node-a')?.['mainPID'] as number | undefined) ?? 0) > 0 ? true : undefined);
  apply(su('dup-b', { nodeName: 'node-a', unitName: 'dup.service', service: { execStart: ['/bin/sleep 1012'] } }));
  const b = await until('dup-b reported', () => entry(getSU(NS, 'dup-b'), 'node-a'));
  assert.deepEqual([b['activeState'], b['subState'], b['mainPID'] ?? 0], ['inactive', 'dead', 0], JSON.stringify(b));
  assert.match(String(b['message']), /not started: dup\.service is run on this node by ServiceUnit cluster-mode\/dup-a/);
  assert.equal(b['notStarted'], 'UnitNameConflict');
  await until('dup-b Stalled (UnitNameConflict)', () => { const o = getSU(NS, 'dup-b'); return cond(o, 'Stalled') === 'True' && o?.status?.conditions?.find((c) => c.type === 'Stalled')?.reason === 'UnitNameConflict' ? true : undefined; });
  const sleeps = (arg: string): number => readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(Number(p)) === `/bin/sleep ${arg}`).length;
  assert.equal(sleeps('1012'), 0, 'dup-b\'s command never ran');
  assert.equal(sleeps('1011'), 1, 'dup-a\'s command runs once');
  const events = await until('the event', () => { const e = kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=dup-b', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']); return /^UnitNameConflict$/m.test(e) ? e : undefined; });
  assert.match(events, /UnitNameConflict/);
  // dup-a goes: dup-b takes the unit over
  kubectlOk(['delete', 'su', 'dup-a', '-n', NS, '--wait=true', '--timeout=30s']);
  const pid = await until('dup-b running', () => { const p = (entry(getSU(NS, 'dup-b'), 'node-a')?.['mainPID'] as number | undefined) ?? 0; return p > 0 ? p : undefined; }, 20_000);
  assert.equal(cmdline(pid), '/bin/sleep 1012');
  assert.equal(sleeps('1011'), 0, 'dup-a\'s command is gone');
  kubectlOk(['delete', 'su', 'dup-b', '-n', NS, '--wait=true', '--timeout=30s']);
});

test('spec.unitName changed: the unit of the old name stops and the one of the new name starts (as a unit file renamed and daemon-reload\'ed)', async () => {
  apply(su('renamed', { nodeName: 'node-a', unitName: 'old-name.service', service: { execStart: ['/bin/sleep 1013'] } }));
  const pid = (): number => (entry(getSU(NS, 'renamed'), 'node-a')?.['mainPID'] as number | undefined) ?? 0;
  const first = await until('running under the old name', () => (pid() > 0 ? pid() : undefined));
  apply(su('renamed', { nodeName: 'node-a', unitName: 'new-name.service', service: { execStart: ['/bin/sleep 1013'] } }));
  const second = await until('running under the new name', () => { const p = pid(); return p > 0 && p !== first ? p : undefined; }, 20_000);
  assert.equal(isAlive(first), false, `the old unit's PID ${first} still runs`);
  assert.equal(cmdline(second), '/bin/sleep 1013');
  const log = agentA.logs.join('');
  assert.match(log, /old-name\.service: its ServiceUnit now names the unit new-name\.service; stopping it/);
  assert.match(log, /Starting new-name\.service/);
  // the new name's cgroup holds it (the unit's cgroup is named after the unit)
  assert.match(readFileSync(`/proc/${second}/cgroup`, 'utf8'), /new-name\.service/);
  kubectlOk(['delete', 'su', 'renamed', '-n', NS, '--wait=true', '--timeout=30s']);
});
