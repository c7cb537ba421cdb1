// Operating unit-operator on a real API server: /metrics, /healthz, /readyz and JSON logs of the
// agent and the controller, and the kubectl plugin run by the real kubectl (`kubectl unit ...`
// found on PATH as kubectl-unit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { ensureCrd, kubectl, kubectlOk, clusterState } from '../support/cluster.ts';
import { ClusterProcs, getSU, entry, cond, SYSTEM_NS, type Proc } from '../support/clusterprocs.ts';
import { sleep, until } from '../support/wait.ts';
import { manifestYaml } from '../support/builders.ts';
import { UNITCTL } from '../support/paths.ts';

const NS = 'operate';
const NODE = 'node-o';
const cp = new ClusterProcs();
let agent: Proc;
let controller: Proc;
let agentUrl: string;
let controllerUrl: string;

const su = (name: string, spec: Record<string, unknown>): string => manifestYaml(name, NS, { nodeName: NODE, ...spec });

/** `kubectl unit ARGS` through the real kubectl's plugin discovery. */
function kubectlUnit(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const bin = join(cp.root, 'plugin-bin');
  mkdirSync(bin, { recursive: true });
  try { symlinkSync(UNITCTL, join(bin, 'kubectl-unit')); } catch { /* made by an earlier call */ }
  const s = clusterState();
  return spawnSync(s.kubectl, ['unit', ...args], {
    encoding: 'utf8', timeout: 90_000,
    env: { ...process.env, KUBECONFIG: s.kubeconfig, KUBECTL: s.kubectl, PATH: `${bin}:${dirname(process.execPath)}:${process.env['PATH']}`, NO_COLOR: '1' },
  });
}

async function scrape(url: string, path = '/metrics'): Promise<{ status: number; text: string }> {
  // a kept-alive connection the server closes just as fetch reuses it fails once; ask again
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await fetch(url + path);
      return { status: r.status, text: await r.text() };
    } catch (e) { if (attempt >= 3) throw e; }
  }
}

/** The value of one sample; labels given must all match. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

before(async () => {
  ensureCrd();
  cp.ensureNamespace();
  if (kubectl(['get', 'ns', NS]).status !== 0) kubectlOk(['create', 'ns', NS]);
  cp.node(NODE, {});
  agent = cp.agent(NODE, undefined, ['--metrics-bind-address', '127.0.0.1:0']);
  controller = cp.controller('o1', ['--metrics-bind-address', '127.0.0.1:0']);
  [agentUrl, controllerUrl] = await Promise.all([cp.endpoint(agent), cp.endpoint(controller)]);
});
after(async () => { await cp.cleanup(); });

test('after a crash loop, the agent\'s /metrics shows the restarts by result, the start-limit hit and the failed unit', async () => {
  kubectlOk(['apply', '-f', '-'], su('crashy', { unit: { startLimitBurst: 3, startLimitIntervalSec: '1min' }, service: { execStart: ["/bin/sh -c 'echo crashing; exit 3'"], restart: 'on-failure', restartSec: '100ms' } }));
  await until('crashy Stalled', () => cond(getSU(NS, 'crashy'), 'Stalled') === 'True', 30_000);
  const { status, text } = await scrape(agentUrl);
  assert.equal(status, 200);
  const unit = { namespace: NS, unit: 'crashy' };
  assert.equal(sample(text, 'unit_operator_unit_restarts_total', { ...unit, result: 'exit-code' }), 3, text.split('\n').filter((l) => l.includes('crashy')).join('\n'));
  assert.equal(sample(text, 'unit_operator_unit_start_limit_hits_total', unit), 1);
  assert.equal(sample(text, 'unit_operator_unit_main_exits_total', { ...unit, code: 'exited' }), 3, 'three runs exited: the third restart was refused by the start limit (NRestarts counts it, as systemd does)');
  assert.ok((sample(text, 'unit_operator_units', { active_state: 'failed', node: NODE }) ?? 0) >= 1);
  assert.ok((sample(text, 'unit_operator_api_request_duration_seconds_count', { verb: 'PATCH', resource: 'serviceunits/status', code: '200' }) ?? 0) > 0, 'status writes timed');
  assert.ok((sample(text, 'unit_operator_reconcile_duration_seconds_count', { controller: 'agent', result: 'success' }) ?? 0) > 0);
  assert.notEqual(sample(text, 'unit_operator_workqueue_depth', { name: 'agent' }), undefined);
  assert.ok((sample(text, 'unit_operator_status_writes_total') ?? 0) > 0);
  assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0, 'process metrics');
});

test('the controller\'s /metrics times reconciles and API requests; /healthz and /readyz answer on both', async () => {
  const { text } = await scrape(controllerUrl);
  assert.ok((sample(text, 'unit_operator_reconcile_duration_seconds_count', { controller: 'controller', result: 'success' }) ?? 0) > 0, text.slice(0, 2000));
  assert.ok((sample(text, 'unit_operator_api_request_duration_seconds_count', { verb: 'PATCH', resource: 'serviceunits/status' }) ?? 0) > 0);
  assert.ok((sample(text, 'unit_operator_status_writes_total', { component: 'controller' }) ?? 0) > 0);
  for (const url of [agentUrl, controllerUrl]) {
    assert.deepEqual(await scrape(url, '/healthz'), { status: 200, text: 'ok\n' });
    assert.deepEqual(await scrape(url, '/readyz'), { status: 200, text: 'ok\n' });
    assert.equal((await scrape(url, '/nope')).status, 404);
  }
});

test('logs are JSON lines with the component, node, namespace and unit as fields', () => {
  const lines = agent.logs.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const start = lines.find((l) => l['unit'] === 'crashy' && l['namespace'] === NS && /Start request repeated too quickly/.test(String(l['msg'])));
  assert.ok(start, 'the start-limit message carries namespace and unit');
  assert.deepEqual([start['level'], start['component'], start['node']], ['warn', 'agent', NODE]);
  const c = controller.logs.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(c.some((l) => l['component'] === 'controller' && /became leader \(o1\)/.test(String(l['msg']))));
});

test('kubectl unit status NAME prints the per-node systemctl-like view; exit 3 when not Ready, 4 when missing', () => {
  const r = kubectlUnit(['status', 'crashy', '-n', NS]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /^crashy\.service - crashy$/m);
  assert.match(r.stdout, new RegExp(`× node ${NODE}\\n\\s+Active: failed \\(Result: exit-code\\) since `));
  assert.match(r.stdout, /Restarts: 3/);
  assert.match(r.stdout, /Process: code=exited, status=3/);
  assert.match(r.stdout, /Stalled: True/);
  const missing = kubectlUnit(['status', 'nope', '-n', NS]);
  assert.equal(missing.status, 4);
  assert.match(missing.stderr, /ServiceUnit operate\/nope not found/);
});

test('kubectl unit restart --wait: the agent acts on the annotation once, with a new main PID; list shows it', async () => {
  kubectlOk(['apply', '-f', '-'], su('steady', { service: { execStart: ['/bin/sleep 1020'] } }));
  const pid = await until('steady running', () => { const e = entry(getSU(NS, 'steady'), NODE); return (e?.['mainPID'] as number) > 0 ? e!['mainPID'] as number : undefined; });
  const r = kubectlUnit(['restart', 'steady', '-n', NS, '--wait', '--timeout', '30s']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /serviceunit operate\/steady: restart requested \(unit-operator\.dev\/restart=/);
  assert.match(r.stdout, new RegExp(`node ${NODE}: done`));
  const after = await until('a new main PID', () => { const e = entry(getSU(NS, 'steady'), NODE); const p = e?.['mainPID'] as number; return p > 0 && p !== pid ? e : undefined; });
  assert.equal(after['nRestarts'], 0, 'a manual restart is not counted in NRestarts (as in systemd)');
  const list = kubectlUnit(['list', '-n', NS]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`steady\\.service\\s+${NODE}\\s+active\\s+running\\s+success\\s+0\\s+${after['mainPID']}`));
  assert.match(list.stdout, new RegExp(`crashy\\.service\\s+${NODE}\\s+failed\\s+failed\\s+exit-code\\s+3`));
});

test('kubectl unit reset-failed --wait brings a start-limited unit back; start/stop point to spec.state', async () => {
  const r = kubectlUnit(['reset-failed', 'crashy', '-n', NS, '--wait', '--timeout', '30s']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`node ${NODE}: done`));
  // the start limit is reset and the unit runs again (and crashes again: its command did not change)
  let exits = 0;
  for (let i = 0; i < 100 && exits <= 3; i++) {
    exits = sample((await scrape(agentUrl)).text, 'unit_operator_unit_main_exits_total', { namespace: NS, unit: 'crashy', code: 'exited' }) ?? 0;
    if (exits <= 3) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(exits > 3, `crashy ran again after reset-failed (${exits} exits)`);
  const stop = kubectlUnit(['stop', 'steady', '-n', NS]);
  assert.equal(stop.status, 2);
  assert.match(stop.stderr, /spec\.state: stopped/);
});

test('kubectl unit logs: the journal is read on the node; no agent pod on the node is a clear error', () => {
  const r = kubectlUnit(['logs', 'crashy', '-n', NS]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`no agent pod on node ${NODE} \\(kubectl get pods -n ${SYSTEM_NS} -l app\\.kubernetes\\.io/name=unit-operator-agent --field-selector spec\\.nodeName=${NODE}\\)`));
  // what the plugin runs inside the agent pod: unitctl logs NS/NAME over the agent's state folder
  const local = spawnSync(process.execPath, [UNITCTL, 'logs', `${NS}/crashy`, '--state-dir', agent.stateDir!, '-n', '2'], { encoding: 'utf8' });
  assert.equal(local.status, 0, local.stderr);
  assert.match(local.stdout, /^\S+ stdout crashing\n\S+ stdout crashing\n$/);
});

test('what the agent and the controller keep per unit falls back once the unit is deleted (cached_entries on /metrics)', async () => {
  const kept = async (): Promise<Record<string, number | undefined>> => {
    const [a, c] = await Promise.all([scrape(agentUrl), scrape(controllerUrl)]);
    const out: Record<string, number | undefined> = {};
    for (const cache of ['annotations', 'revisions', 'revs', 'deleting']) out[`agent ${cache}`] = sample(a.text, 'unit_operator_cached_entries', { cache, component: 'agent' });
    for (const cache of ['first-seen', 'applied', 'wrote', 'revisions']) out[`controller ${cache}`] = sample(c.text, 'unit_operator_cached_entries', { cache, component: 'controller' });
    return out;
  };
  const before = await kept();
  for (const [k, v] of Object.entries(before)) assert.equal(typeof v, 'number', `${k} exported`);
  kubectlOk(['apply', '-f', '-'], su('passing', { service: { execStart: ['/bin/sleep 1013'] } }));
  await until('passing Ready', () => cond(getSU(NS, 'passing'), 'Ready') === 'True', 30_000);
  const during = await kept();
  for (const k of ['agent annotations', 'agent revs', 'controller applied', 'controller wrote', 'controller revisions']) assert.ok(during[k]! > before[k]!, `${k}: ${during[k]} while it runs (before: ${before[k]})`);
  kubectlOk(['delete', 'su', 'passing', '-n', NS, '--wait=true', '--timeout=30s']);
  // what grew with this unit falls back (other units' entries, if a test made any, are not compared);
  // bounded: 150 scrapes 100 ms apart at most
  const grew = Object.keys(during).filter((k) => during[k]! > before[k]!);
  const pick = (o: Record<string, number | undefined>): Record<string, number | undefined> => Object.fromEntries(grew.map((k) => [k, o[k]]));
  let after = pick(await kept());
  for (let i = 0; i < 150 && JSON.stringify(after) !== JSON.stringify(pick(before)); i++) { await sleep(100); after = pick(await kept()); }
  assert.deepEqual(after, pick(before));
});
