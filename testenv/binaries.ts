// kube-apiserver, etcd and kubectl for the local control plane, and kubelet, kube-scheduler and
// kube-controller-manager for the real-node harness (testenv/node.ts): taken from
// KUBEBUILDER_ASSETS when it is set (controller-runtime's envtest convention), else built once
// with the machine's Go toolchain from the wrapper modules in control-plane/ into a cache keyed
// by version — the five Kubernetes commands in one `go build`.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, openSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Binaries {
  readonly kubeApiserver: string;
  readonly etcd: string;
  readonly kubectl: string;
  /** The node's binaries; undefined only from a KUBEBUILDER_ASSETS folder that lacks them. */
  readonly kubelet: string | undefined;
  readonly kubeScheduler: string | undefined;
  readonly kubeControllerManager: string | undefined;
  readonly kubernetesVersion: string;
  readonly etcdVersion: string;
  /** Where they came from. */
  readonly source: 'KUBEBUILDER_ASSETS' | 'cache' | 'built';
  readonly dir: string;
}

export interface BuildOptions {
  /** The repository's control-plane/ folder. */
  readonly modulesDir: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Progress lines (which step, how long so far). */
  readonly progress?: (line: string) => void;
}

export class ControlPlaneBuildError extends Error {
  constructor(message: string) { super(message); this.name = 'ControlPlaneBuildError'; }
}

function requiredVersion(goMod: string, module: string): string {
  const m = new RegExp(`${module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} (v[0-9][^\\s]*)`).exec(goMod);
  if (!m) throw new ControlPlaneBuildError(`cannot find ${module} in go.mod`);
  return m[1]!;
}

/** The Kubernetes commands of control-plane/kube/tools.go, built together in one `go build`. */
const KUBE = ['kube-apiserver', 'kubectl', 'kube-scheduler', 'kube-controller-manager', 'kubelet'] as const;
const ALL = [...KUBE, 'etcd'];

export function cacheRoot(env: Readonly<Record<string, string | undefined>>): string {
  return join(env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? homedir(), '.cache'), 'unit-operator', 'control-plane');
}

/** The versions the wrapper modules pin and the cache folder they build into. */
export function plannedBuild(modulesDir: string, env: Readonly<Record<string, string | undefined>>): { kubernetesVersion: string; etcdVersion: string; dir: string } {
  const kubeMod = readFileSync(join(modulesDir, 'kube', 'go.mod'), 'utf8');
  const etcdMod = readFileSync(join(modulesDir, 'etcd', 'go.mod'), 'utf8');
  const kubernetesVersion = requiredVersion(kubeMod, 'k8s.io/kubernetes');
  const etcdVersion = requiredVersion(etcdMod, 'go.etcd.io/etcd/server/v3');
  const hash = createHash('sha256');
  for (const f of ['kube/go.mod', 'kube/go.sum', 'kube/tools.go', 'etcd/go.mod', 'etcd/go.sum', 'etcd/main.go']) hash.update(readFileSync(join(modulesDir, f)));
  const dir = join(cacheRoot(env), `kubernetes-${kubernetesVersion}_etcd-${etcdVersion}_${hash.digest('hex').slice(0, 10)}`);
  return { kubernetesVersion, etcdVersion, dir };
}

function fromAssets(dir: string): Binaries | undefined {
  const api = join(dir, 'kube-apiserver');
  const etcd = join(dir, 'etcd');
  if (!existsSync(api) || !existsSync(etcd)) return undefined;
  const kubectl = existsSync(join(dir, 'kubectl')) ? join(dir, 'kubectl') : 'kubectl';
  const opt = (b: string): string | undefined => (existsSync(join(dir, b)) ? join(dir, b) : undefined);
  const version = (bin: string, re: RegExp): string => {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
  };
  return {
    kubeApiserver: api, etcd, kubectl, source: 'KUBEBUILDER_ASSETS', dir,
    kubelet: opt('kubelet'), kubeScheduler: opt('kube-scheduler'), kubeControllerManager: opt('kube-controller-manager'),
    kubernetesVersion: version(api, /Kubernetes (v[^\s]+)/), etcdVersion: `v${version(etcd, /etcd Version: ([^\s]+)/)}`,
  };
}

/** Finds or builds the binaries. A second call finds the cache and takes milliseconds. */
export async function ensureBinaries(opts: BuildOptions): Promise<Binaries> {
  const env = opts.env ?? process.env;
  const progress = opts.progress ?? ((l: string) => process.stderr.write(`${l}\n`));
  const assets = env['KUBEBUILDER_ASSETS'];
  if (assets) {
    const b = fromAssets(assets);
    if (!b) throw new ControlPlaneBuildError(`KUBEBUILDER_ASSETS=${assets} has no kube-apiserver and etcd; point it at a folder with both, or unset it to build them`);
    return b;
  }
  const plan = plannedBuild(opts.modulesDir, env);
  const done = (source: Binaries['source']): Binaries => ({
    kubeApiserver: join(plan.dir, 'kube-apiserver'), etcd: join(plan.dir, 'etcd'), kubectl: join(plan.dir, 'kubectl'),
    kubelet: join(plan.dir, 'kubelet'), kubeScheduler: join(plan.dir, 'kube-scheduler'), kubeControllerManager: join(plan.dir, 'kube-controller-manager'),
    kubernetesVersion: plan.kubernetesVersion, etcdVersion: plan.etcdVersion, source, dir: plan.dir,
  });
  if (ALL.every((b) => existsSync(join(plan.dir, b)))) return done('cache');

  const go = spawnSync('go', ['version'], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (go.error || go.status !== 0) {
    throw new ControlPlaneBuildError('the Go toolchain (go) is needed to build kube-apiserver and etcd once: install it (Debian: apt-get install golang-go; or https://go.dev/dl) or set KUBEBUILDER_ASSETS to a folder holding kube-apiserver and etcd');
  }
  mkdirSync(plan.dir, { recursive: true });
  const lock = join(plan.dir, '.build.lock');
  const staging = `${plan.dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const fd = openSync(lock, 'w');
  closeSync(fd);
  const started = Date.now();
  progress(`control plane: building kubernetes ${plan.kubernetesVersion} (${KUBE.join(', ')}) and etcd ${plan.etcdVersion} with ${go.stdout.trim()} into ${plan.dir}`);
  progress('control plane: the first build takes 10–20 minutes on 2 cores; later runs reuse the cache');
  const minor = /^v1\.([0-9]+)/.exec(plan.kubernetesVersion)?.[1] ?? '0';
  const pkg = 'k8s.io/component-base/version';
  const cgv = 'k8s.io/client-go/pkg/version';
  const stamp = (p: string): string => `-X ${p}.gitVersion=${plan.kubernetesVersion} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor} -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z`;
  const buildEnv = { ...process.env, ...env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -mod=readonly', GOTOOLCHAIN: 'local' };
  const steps: Array<{ what: string; cwd: string; args: string[] }> = [
    { what: 'etcd', cwd: join(opts.modulesDir, 'etcd'), args: ['build', '-o', join(staging, 'etcd'), '.'] },
    { what: KUBE.join(', '), cwd: join(opts.modulesDir, 'kube'), args: ['build', '-ldflags', `-s -w ${stamp(pkg)} ${stamp(cgv)}`, '-o', `${staging}/`, ...KUBE.map((c) => `k8s.io/kubernetes/cmd/${c}`)] },
  ];
  try {
    for (const step of steps) await runStep(step.what, 'go', step.args, step.cwd, buildEnv, progress, started);
    for (const b of ALL) renameSync(join(staging, b), join(plan.dir, b));
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(lock, { force: true });
  }
  progress(`control plane: built in ${Math.round((Date.now() - started) / 1000)} s`);
  return done('built');
}

function runStep(what: string, cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, progress: (l: string) => void, started: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stepStart = Date.now();
    progress(`control plane: building ${what}...`);
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const timer = setInterval(() => {
      progress(`control plane: still building ${what} (${Math.round((Date.now() - stepStart) / 1000)} s for this step, ${Math.round((Date.now() - started) / 1000)} s in all)`);
    }, 30_000);
    child.on('error', (e) => { clearInterval(timer); reject(new ControlPlaneBuildError(`could not run go: ${e.message}`)); });
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code === 0) { progress(`control plane: ${what} built in ${Math.round((Date.now() - stepStart) / 1000)} s`); resolve(); return; }
      reject(new ControlPlaneBuildError(`building ${what} failed (go exit ${code}):\n${output.slice(-4000)}\nCheck that the Go module proxy is reachable (GOPROXY) and that the disk has a few GB free.`));
    });
  });
}
