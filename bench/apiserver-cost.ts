// node bench/apiserver-cost.ts — kube-apiserver's CPU per ServiceUnit write, by CRD variant
// (issue 19, the burst): on a fresh local control plane per variant, N creates, N status applies
// (the agent's), N finalizer JSON patches (the controller's), N status merge patches, each
// 8 in parallel; the API server's CPU (utime + stime, /proc/PID/stat) over each phase / N.
// Variants: full (crds/serviceunit.yaml), nocel (the same without x-kubernetes-validations),
// nodesc (without descriptions), minimal (spec/status x-kubernetes-preserve-unknown-fields).
// APISERVER_COST_VARIANTS=full,minimal picks some; APISERVER_COST_N (default 200);
// APISERVER_COST_PPROF=DIR saves a 10 s CPU profile of each variant's status applies there
// (read with `go tool pprof -top kube-apiserver DIR/VARIANT.pprof`).
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as httpsRequest } from 'node:https';
import { load } from 'js-yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { ensureBinaries } from '../testenv/binaries.ts';
import { startControlPlane } from '../testenv/cluster.ts';
import { KubeClient } from '../src/kube/client.ts';
import { sleep } from './lib.ts';

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const N = Number(process.env['APISERVER_COST_N'] ?? 200);
const variants = (process.env['APISERVER_COST_VARIANTS'] ?? 'full,nocel,nodesc,minimal').split(',');
const pprofDir = process.env['APISERVER_COST_PPROF'];
const binaries = await ensureBinaries({ modulesDir: join(repo, 'control-plane'), progress: () => {} });
const full = load(readFileSync(join(repo, 'crds', 'serviceunit.yaml'), 'utf8')) as Record<string, any>;

const strip = (o: unknown, key: string): unknown => {
  if (Array.isArray(o)) return o.map((x) => strip(x, key));
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).filter(([k]) => k !== key).map(([k, v]) => [k, strip(v, key)]));
  return o;
};
function variant(name: string): unknown {
  const crd = structuredClone(full);
  if (name === 'full') return crd;
  if (name === 'nocel') return strip(crd, 'x-kubernetes-validations');
  if (name === 'nodesc') return strip(crd, 'description');
  if (name === 'minimal') {
    const loose = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    crd.spec.versions[0].schema.openAPIV3Schema = { type: 'object', properties: { spec: { type: 'object', properties: { nodeName: { type: 'string' } }, 'x-kubernetes-preserve-unknown-fields': true }, status: loose } };
    return crd;
  }
  throw new Error(`unknown variant ${name}`);
}

const cpuTicks = (pid: number): number => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
const pool = async (n: number, f: (i: number) => Promise<unknown>): Promise<void> => {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { for (let i = next++; i < n; i = next++) await f(i); }));
};

const rows: string[] = [];
for (const v of variants) {
  const cp = await startControlPlane({ binaries, apiserverArgs: ['--profiling=true'] });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const c = new KubeClient(kc);
    await c.request('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { method: 'POST', body: variant(v) });
    for (let i = 0; i < 100; i++) { try { await c.request('/apis/unit-operator.dev/v1alpha1/serviceunits'); break; } catch { await sleep(100); } }
    await c.request('/api/v1/namespaces', { method: 'POST', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } } });
    const base = '/apis/unit-operator.dev/v1alpha1/namespaces/bench/serviceunits';
    const su = (i: number): string => `${base}/u-${i}`;
    // warm up (the CRD's handlers are built lazily)
    for (let i = 0; i < 10; i++) await c.request(base, { method: 'POST', body: { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: `warm-${i}` }, spec: { nodeName: 'n', service: { execStart: ['/bin/sleep 1'] } } } });
    await sleep(2000);
    const pid = cp.apiserver.pid;
    const phase = async (name: string, f: (i: number) => Promise<unknown>): Promise<string> => {
      const idle0 = cpuTicks(pid); await sleep(1000); const idle = cpuTicks(pid) - idle0; // background ticks a second
      const t0 = cpuTicks(pid), w0 = performance.now();
      await pool(N, f);
      const wall = performance.now() - w0;
      const ms = ((cpuTicks(pid) - t0) * 10 - idle * 10 * wall / 1000) / N;
      return `${name} ${ms.toFixed(2)} ms`;
    };
    const entry = (i: number): Record<string, unknown> => ({
      node: 'n', activeState: 'active', subState: 'running', result: 'success', nRestarts: 0, mainPID: 1000 + i,
      execMainStartTimestamp: new Date().toISOString(), activeEnterTimestamp: new Date().toISOString(), stateChangeTimestamp: new Date().toISOString(),
      observedGeneration: 1, revision: 'abcdef0123', tasksCurrent: 1, memoryCurrent: 1 << 20, cpuUsageNSec: 1000,
    });
    const out = [v];
    out.push(await phase('create', (i) => c.request(base, { method: 'POST', body: { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: `u-${i}` }, spec: { nodeName: 'n', service: { execStart: ['/bin/sleep 100000'] } } } })));
    let prof: Promise<Buffer> | undefined;
    if (pprofDir) prof = new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(`${cp.server}/debug/pprof/profile?seconds=8`), { ca: readFileSync(cp.caCert), headers: { Authorization: `Bearer ${cp.token}` } }, (res) => { const b: Buffer[] = []; res.on('data', (x: Buffer) => b.push(x)); res.on('end', () => resolve(Buffer.concat(b))); });
      req.on('error', reject); req.end();
    });
    out.push(await phase('status-apply', (i) => c.apply(`${su(i)}/status`, { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: `u-${i}`, namespace: 'bench' }, status: { nodes: [entry(i)] } }, 'unit-operator-agent-n')));
    if (prof) { const p = await prof; writeFileSync(join(pprofDir!, `${v}.pprof`), p); }
    out.push(await phase('finalizer-jsonpatch', async (i) => {
      const o = await c.request<{ metadata: { resourceVersion: string } }>(su(i));
      return c.jsonPatch(su(i), [{ op: 'test', path: '/metadata/resourceVersion', value: o.metadata.resourceVersion }, { op: 'replace', path: '/metadata/finalizers', value: ['unit-operator.dev/node-n'] }], 'unit-operator-controller');
    }));
    out.push(await phase('get (subtracted from the row above: read it as GET)', (i) => c.request(su(i))));
    out.push(await phase('status-merge', (i) => c.mergePatch(`${su(i)}/status`, { status: { observedGeneration: 1, summary: { nodes: '1/1', activeState: 'active' } } }, 'probe')));
    rows.push(out.join(', '));
    process.stdout.write(`${rows.at(-1)}\n`);
  } finally {
    await cp.stop();
    rmSync(cp.dir, { recursive: true, force: true });
  }
}
process.stdout.write(`\nkube-apiserver ${binaries.kubernetesVersion}, CPU per request (utime+stime, idle subtracted), N=${N}, 8 in parallel:\n${rows.join('\n')}\n`);
