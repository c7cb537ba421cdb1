// The control-plane harness itself: KUBEBUILDER_ASSETS is honoured, a second run reuses the
// cache, and stopping leaves no process, port or folder behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { spawnSync } from 'node:child_process';
import { ensureBinaries } from '../../testenv/binaries.ts';
import { startControlPlane } from '../../testenv/cluster.ts';
import { isAlive } from '../../testenv/processes.ts';
import { REPO } from '../support/paths.ts';

const modulesDir = join(REPO, 'control-plane');
const env = { ...process.env, KUBEBUILDER_ASSETS: undefined } as Record<string, string | undefined>;

const portOpen = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = createConnection({ host: '127.0.0.1', port });
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

test('a second ensureBinaries finds the cache and builds nothing', async () => {
  const started = Date.now();
  const b = await ensureBinaries({ modulesDir, env, progress: () => {} });
  assert.equal(b.source, 'cache');
  assert.ok(Date.now() - started < 5000);
  assert.equal(b.kubernetesVersion, 'v1.34.4');
  assert.match(spawnSync(b.kubeApiserver, ['--version'], { encoding: 'utf8' }).stdout, /Kubernetes v1\.34\.4/);
});

test('KUBEBUILDER_ASSETS (a folder of symlinks) is used as is; the control plane runs from it and stops without leftovers', async (t) => {
  const cached = await ensureBinaries({ modulesDir, env, progress: () => {} });
  const assets = mkdtempSync(join(tmpdir(), 'uo-assets-'));
  t.after(() => rmSync(assets, { recursive: true, force: true }));
  for (const b of ['kube-apiserver', 'etcd', 'kubectl'] as const) symlinkSync(join(cached.dir, b), join(assets, b));
  const progress: string[] = [];
  const b = await ensureBinaries({ modulesDir, env: { ...env, KUBEBUILDER_ASSETS: assets }, progress: (l) => progress.push(l) });
  assert.equal(b.source, 'KUBEBUILDER_ASSETS');
  assert.equal(b.kubeApiserver, join(assets, 'kube-apiserver'));
  assert.equal(b.kubernetesVersion, 'v1.34.4');
  assert.deepEqual(progress, [], 'nothing was built');

  const cp = await startControlPlane({ binaries: b });
  let stopped = false;
  t.after(async () => { if (!stopped) await cp.stop(); });
  const version = spawnSync(b.kubectl, ['--kubeconfig', cp.kubeconfig, 'version', '-o', 'json'], { encoding: 'utf8' });
  assert.equal(JSON.parse(version.stdout).serverVersion.gitVersion, 'v1.34.4');
  const apiPort = Number(new URL(cp.server).port);
  const etcdPort = Number(new URL(cp.etcd.url).port);
  assert.ok(await portOpen(apiPort));
  await cp.stop();
  stopped = true;
  assert.equal(isAlive(cp.apiserver.pid), false, 'kube-apiserver is gone');
  assert.equal(isAlive(cp.etcd.pid), false, 'etcd is gone');
  assert.equal(await portOpen(apiPort), false, 'API port closed');
  assert.equal(await portOpen(etcdPort), false, 'etcd port closed');
  assert.equal(existsSync(cp.dir), false, 'data folder removed');
});

test('KUBEBUILDER_ASSETS without the binaries is a clear error', async () => {
  await assert.rejects(ensureBinaries({ modulesDir, env: { ...env, KUBEBUILDER_ASSETS: '/nonexistent' } }), /KUBEBUILDER_ASSETS=\/nonexistent has no kube-apiserver and etcd/);
});
