// A real node for the local control plane (testenv/cluster.ts): containerd, kube-scheduler,
// kube-controller-manager and a kubelet registering one node, bridge CNI — all started and
// stopped by PID, with every change to the host recorded first (testenv/hoststate.ts) and put
// back on stop. Used by `npm run cluster:up -- --node` and by the test runner for test/node/.
// One node per host (kubelet's cgroups, /var/lib/unit-operator): a record file under the cache
// says which process owns it; a record whose owner died is restored before a new node starts.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Binaries } from './binaries.ts';
import { cacheRoot } from './binaries.ts';
import { readState, stopControlPlane, type ControlPlaneState } from './cluster.ts';
import { containerdPaths, nodeUnavailable, NodePrerequisiteError, startContainerd, stopContainerd, writeContainerdConfig, type ContainerdPaths } from './containerd.ts';
import { hostLeftovers, makeRootShared, recordHost, restoreHost, type HostRecord } from './hoststate.ts';
import { busyboxImage, importImage, pauseImage, type BuiltImage } from './images.ts';
import { makeKubeletPki } from './pki.ts';
import { exeOf, freePort, httpsGet, isAlive, startLogged, stopPid, waitUntil, type Started } from './processes.ts';

export const NODE_NAME = 'unit-operator-node';
export const BRIDGE = 'uo-cni0';

interface Proc { readonly pid: number; readonly exe: string; readonly args: readonly string[]; readonly log: string }
type ProcName = 'containerd' | 'kube-scheduler' | 'kube-controller-manager' | 'kubelet';

export interface NodeState {
  readonly dir: string;
  /** The process the node lives and dies with; 0: a node of `npm run cluster:up` (until cluster:down). */
  readonly owner: number;
  readonly nodeName: string;
  readonly nodeIp: string;
  /** The control plane's folder (its state.json): a killed run's is stopped with its node. */
  readonly controlPlaneDir: string;
  readonly record: HostRecord;
  readonly containerd: ContainerdPaths;
  readonly kubeconfig: string;
  readonly kubectl: string;
  readonly images: { readonly pause: string; readonly busybox: string };
  readonly procs: Partial<Record<ProcName, Proc>>;
}

export interface Node extends NodeState {
  stop(): Promise<NodeStopReport>;
}

export interface NodeStopReport {
  /** What stopping did to put the host back, one line each. */
  readonly restored: string[];
  /** What is still different from before the node started (empty: nothing left). */
  readonly leftovers: string[];
}

export interface NodeOptions {
  readonly binaries: Binaries;
  readonly controlPlane: ControlPlaneState;
  readonly progress?: (line: string) => void;
  /** Outlives this process (npm run cluster:up); stopped by cluster:down only. */
  readonly persistent?: boolean;
}

/** The record of the node that owns this host now (one at a time). */
export function recordFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(cacheRoot(env), 'node.json');
}

function writeState(s: NodeState): void {
  writeFileSync(recordFile(), JSON.stringify(s, null, 2));
  writeFileSync(join(s.dir, 'node.json'), JSON.stringify(s, null, 2));
}

function readStateIn(dir: string): NodeState | undefined {
  const f = join(dir, 'node.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as NodeState) : undefined;
}

/**
 * Restarts kubelet or containerd of the node whose state file is given (from a test process):
 * SIGTERM, then the same command again; the state (and the host record's copy) get the new PID.
 * containerd's shims keep the containers running meanwhile, as on a real node.
 */
export async function restartNodeProcess(stateFile: string, name: 'kubelet' | 'containerd'): Promise<number> {
  const s = JSON.parse(readFileSync(stateFile, 'utf8')) as NodeState;
  const p = s.procs[name];
  if (!p) throw new Error(`no ${name} in ${stateFile}`);
  const booted = (): number => (existsSync(p.log) ? readFileSync(p.log, 'utf8').split('\n').filter((l) => /containerd successfully booted/.test(l)).length : 0);
  const before = booted();
  await stopProc(p, 15_000);
  const next = startLogged(p.exe, [...p.args], p.log);
  writeState({ ...s, procs: { ...s.procs, [name]: { ...p, pid: next.pid } } });
  if (name === 'containerd') await waitUntil('containerd', async () => booted() > before, next, 30_000);
  return next.pid;
}

export function readNodeState(): NodeState | undefined {
  const f = recordFile();
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as NodeState) : undefined;
}

/** The address kubelet registers (the default route's interface; never loopback, which kubelet refuses). */
export function nodeAddress(): string {
  const route = spawnSync('ip', ['-j', '-4', 'route', 'show', 'default'], { encoding: 'utf8' });
  const dev = (JSON.parse(route.stdout || '[]') as Array<{ dev?: string }>)[0]?.dev;
  if (!dev) throw new NodePrerequisiteError('a real node needs a default route (kubelet registers that interface\'s address)');
  const addr = spawnSync('ip', ['-j', '-4', 'addr', 'show', 'dev', dev], { encoding: 'utf8' });
  const ip = (JSON.parse(addr.stdout || '[]') as Array<{ addr_info?: Array<{ local?: string }> }>)[0]?.addr_info?.[0]?.local;
  if (!ip) throw new NodePrerequisiteError(`the default route's interface ${dev} has no IPv4 address`);
  return ip;
}

function kubectl(s: { kubectl: string; kubeconfig: string }, args: string[], timeoutMs = 60_000): { ok: boolean; out: string } {
  const r = spawnSync(s.kubectl, ['--kubeconfig', s.kubeconfig, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function kubeconfigWithCert(server: string, ca: string, cert: string, key: string, user: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: { server: "${server}", certificate-authority: "${ca}" }
users:
- name: ${user}
  user: { client-certificate: "${cert}", client-key: "${key}" }
contexts:
- name: local
  context: { cluster: local, user: ${user} }
current-context: local
`;
}

function kubeletConfig(o: { dir: string; socket: string; ca: string; cert: string; key: string; port: number; healthz: number }): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${o.socket}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
address: 0.0.0.0
port: ${o.port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${o.healthz}
tlsCertFile: ${o.cert}
tlsPrivateKeyFile: ${o.key}
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: ${o.ca} }
authorization:
  mode: AlwaysAllow
podLogsDir: ${join(o.dir, 'pod-logs')}
# a small disk and a busy machine must not evict the test's pods
evictionHard: { memory.available: "50Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
serializeImagePulls: false
resolvConf: /etc/resolv.conf
maxPods: 50
`;
}

/** Restores the host from a record whose owner is gone (a run that was killed). */
export async function recoverStaleNode(progress: (l: string) => void): Promise<void> {
  const stale = readNodeState();
  if (!stale) return;
  if (stale.owner === 0) throw new NodePrerequisiteError(`a node of npm run cluster:up -- --node is up on this host (${stale.dir}): stop it first (npm run cluster:down)`);
  if (stale.owner !== process.pid && isAlive(stale.owner)) {
    throw new NodePrerequisiteError(`a node is already up on this host (owned by pid ${stale.owner}, ${stale.dir}); stop it first (npm run cluster:down)`);
  }
  progress(`node: restoring the host after an earlier node (pid ${stale.owner}) that did not stop`);
  const report = await stopNode(stale);
  for (const l of report.restored) progress(`node: ${l}`);
  const cp = stale.controlPlaneDir ? readState(stale.controlPlaneDir) : undefined;
  if (cp) { await stopControlPlane(cp); progress(`node: stopped its control plane (${cp.server})`); }
  if (report.leftovers.length > 0) throw new Error(`the earlier node left things the harness could not undo:\n${report.leftovers.join('\n')}`);
}

export async function startNode(opts: NodeOptions): Promise<Node> {
  const progress = opts.progress ?? (() => {});
  const why = nodeUnavailable();
  if (why) throw new NodePrerequisiteError(why);
  const b = opts.binaries;
  if (!b.kubelet || !b.kubeScheduler || !b.kubeControllerManager) throw new NodePrerequisiteError(`kubelet, kube-scheduler and kube-controller-manager are missing from ${b.dir} (KUBEBUILDER_ASSETS): add them or unset it to build them`);
  await recoverStaleNode(progress);
  const cp = opts.controlPlane;
  const dir = join(cp.dir, 'node');
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const nodeIp = nodeAddress();
  const containerd = containerdPaths(dir);
  const state: { -readonly [K in keyof NodeState]: NodeState[K] } = {
    dir, owner: opts.persistent ? 0 : process.pid, nodeName: NODE_NAME, nodeIp, controlPlaneDir: cp.dir, record: recordHost(dir, BRIDGE), containerd,
    kubeconfig: cp.kubeconfig, kubectl: cp.kubectl, images: { pause: '', busybox: '' }, procs: {},
  };
  writeState(state);
  const track = (name: ProcName, p: Started, exe: string): void => {
    state.procs = { ...state.procs, [name]: { pid: p.pid, exe, args: p.args, log: p.log } };
    writeState(state);
  };
  try {
    makeRootShared();
    const images: BuiltImage[] = [pauseImage(), busyboxImage()];
    state.images = { pause: images[0]!.ref, busybox: images[1]!.ref };
    writeContainerdConfig(dir, images[0]!.ref, BRIDGE);
    progress('node: starting containerd');
    const ctrd = await startContainerd(containerd);
    track('containerd', ctrd, 'containerd');
    for (const img of images) importImage(containerd.socket, img);

    const caDir = cp.dir;
    const pki = makeKubeletPki(caDir, NODE_NAME, [nodeIp, '127.0.0.1']);
    const bind = kubectl(cp, ['create', 'clusterrolebinding', `unit-operator-test:node:${NODE_NAME}`, '--clusterrole=system:node', `--user=system:node:${NODE_NAME}`]);
    if (!bind.ok && !/AlreadyExists/.test(bind.out)) throw new Error(`could not bind the kubelet to system:node: ${bind.out}`);

    progress('node: starting kube-scheduler and kube-controller-manager');
    const sched = startLogged(b.kubeScheduler, ['--kubeconfig', cp.kubeconfig, '--leader-elect=false', '--secure-port=0', '--v=1'], join(dir, 'kube-scheduler.log'));
    track('kube-scheduler', sched, b.kubeScheduler);
    const kcm = startLogged(b.kubeControllerManager, [
      '--kubeconfig', cp.kubeconfig, '--leader-elect=false', '--secure-port=0', '--v=1',
      `--service-account-private-key-file=${cp.saKey}`, `--root-ca-file=${cp.caCert}`,
      '--controllers=*', '--use-service-account-credentials=false',
      // a node that stops reporting (kubelet restarted in a test) is not evicted meanwhile
      '--node-monitor-grace-period=60s',
    ], join(dir, 'kube-controller-manager.log'));
    track('kube-controller-manager', kcm, b.kubeControllerManager);

    const [port, healthz] = [await freePort(), await freePort()];
    const kubeletDir = join(dir, 'kubelet');
    mkdirSync(kubeletDir, { recursive: true });
    writeFileSync(join(dir, 'kubelet.kubeconfig'), kubeconfigWithCert(cp.server, cp.caCert, pki.clientCert, pki.clientKey, `system:node:${NODE_NAME}`), { mode: 0o600 });
    writeFileSync(join(dir, 'kubelet.yaml'), kubeletConfig({ dir, socket: containerd.socket, ca: cp.caCert, cert: pki.servingCert, key: pki.servingKey, port, healthz }));
    progress(`node: starting kubelet ${b.kubernetesVersion} as ${NODE_NAME} (${nodeIp}:${port})`);
    const kubelet = startLogged(b.kubelet, [
      `--config=${join(dir, 'kubelet.yaml')}`, `--kubeconfig=${join(dir, 'kubelet.kubeconfig')}`, `--root-dir=${kubeletDir}`,
      `--hostname-override=${NODE_NAME}`, `--node-ip=${nodeIp}`, '--v=1',
    ], join(dir, 'kubelet.log'));
    track('kubelet', kubelet, b.kubelet);
    await waitUntil(`node ${NODE_NAME} Ready`, async () => {
      const r = await httpsGet(`${cp.server}/api/v1/nodes/${NODE_NAME}`, { ca: cp.caCert, token: cp.token });
      if (r.status !== 200) return false;
      const conds = (JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [];
      return conds.some((c) => c.type === 'Ready' && c.status === 'True');
    }, kubelet, 120_000);
    progress(`node: ${NODE_NAME} Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // stop from the state on disk: a test may have restarted kubelet or containerd (new PIDs)
    return { ...state, stop: () => stopNode(readStateIn(dir) ?? state) };
  } catch (e) {
    const report = await stopNode(state);
    if (report.leftovers.length > 0) progress(`node: after a failed start, left on the host:\n${report.leftovers.join('\n')}`);
    throw e;
  }
}

async function stopProc(p: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (p && isAlive(p.pid) && exeOf(p.pid) === p.exe) await stopPid(p.pid, graceMs);
}

/**
 * Stops the node and puts the host back: the controllers first (nothing recreates pods), the
 * node's pods deleted through the kubelet (it tears their sandboxes down), the kubelet,
 * containerd with whatever it still runs, then the host record restored. The report lists
 * what is left (the harness fails the run when anything is).
 */
export async function stopNode(s: NodeState): Promise<NodeStopReport> {
  const restored: string[] = [];
  await stopProc(s.procs['kube-controller-manager']);
  await stopProc(s.procs['kube-scheduler']);
  const kubelet = s.procs.kubelet;
  if (kubelet && isAlive(kubelet.pid)) {
    const del = kubectl(s, ['delete', 'pods', '--all-namespaces', `--field-selector=spec.nodeName=${s.nodeName}`, '--grace-period=2', '--wait=true', '--timeout=40s'], 60_000);
    if (/deleted/.test(del.out)) restored.push(`deleted the node's pods: ${del.out.split('\n').filter((l) => /deleted/.test(l)).length}`);
    if (!del.ok) restored.push(`deleting the node's pods: ${del.out.trim().split('\n').at(-1)}`);
  }
  await stopProc(kubelet, 15_000);
  restored.push(...await stopContainerd(s.containerd, s.procs.containerd && exeOf(s.procs.containerd.pid) === s.procs.containerd.exe ? s.procs.containerd.pid : undefined));
  restored.push(...restoreHost(s.record));
  const leftovers = hostLeftovers(s.record, { ignoreDir: false });
  for (const [name, p] of Object.entries(s.procs)) if (p && isAlive(p.pid) && exeOf(p.pid) === p.exe) leftovers.push(`${name} (pid ${p.pid}) still runs`);
  if (leftovers.length === 0) {
    rmSync(s.dir, { recursive: true, force: true });
    const f = recordFile();
    if (existsSync(f) && (JSON.parse(readFileSync(f, 'utf8')) as NodeState).owner === s.owner) rmSync(f, { force: true });
  }
  return { restored, leftovers };
}

