// A real local control plane: etcd + kube-apiserver on free loopback ports, with a generated
// CA and serving certificate, a service-account signing key, an admin token, RBAC on, and a
// kubeconfig. Used by `npm run cluster:up` and by the test runner (one per test run).

import { mkdirSync, writeFileSync, rmSync, readFileSync, existsSync, mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Binaries } from './binaries.ts';
import { makePki } from './pki.ts';
import { startLogged, stopPid, freePort, portFree, httpsGet, waitUntil, isAlive, exeOf, type Started } from './processes.ts';

export interface ControlPlaneState {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly token: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly saKey: string;
  readonly saIssuer: string;
  readonly kubectl: string;
  readonly kubernetesVersion: string;
  readonly etcd: { readonly pid: number; readonly exe: string; readonly url: string };
  readonly apiserver: { readonly pid: number; readonly exe: string };
}

export interface ControlPlane extends ControlPlaneState {
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly binaries: Binaries;
  /** Folder for data, certificates, logs and the kubeconfig; a new temp folder by default. */
  readonly dir?: string;
  readonly progress?: (line: string) => void;
  /** The API server's port; a free one by default. A real node's pods reach it at a fixed one (LOCAL_NODE_API_PORT). */
  readonly apiPort?: number;
  /** More kube-apiserver flags, after ours (a later flag wins): e.g. --profiling=true for a CPU profile (bench/apiserver-cost.ts). */
  readonly apiserverArgs?: readonly string[];
}

/** Where the local overlay's pods (host network, no kube-proxy) find the API server: 127.0.0.1:6443. */
export const LOCAL_NODE_API_PORT = 6443;

export const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export async function startControlPlane(opts: StartOptions): Promise<ControlPlane> {
  const progress = opts.progress ?? (() => {});
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'unit-operator-cp-'));
  mkdirSync(dir, { recursive: true });
  const started: Started[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of started.reverse()) await stopPid(s.pid);
  };
  try {
    const pki = makePki(dir);
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });

    const [clientPort, peerPort, apiPort] = [await freePort(), await freePort(), opts.apiPort ?? await freePort()];
    if (opts.apiPort !== undefined && !(await portFree(opts.apiPort))) throw new Error(`port ${opts.apiPort} on 127.0.0.1 is taken: the API server of a real node listens there (overlays/local); stop what uses it (another cluster:up --node?)`);
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    progress(`control plane: starting etcd on ${etcdUrl}`);
    const etcd = startLogged(opts.binaries.etcd, [
      '--name', 'unit-operator-test', '--data-dir', join(dir, 'etcd-data'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `unit-operator-test=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync', '--log-level', 'warn', '--quota-backend-bytes', String(2 * 1024 * 1024 * 1024),
    ], join(dir, 'etcd.log'));
    started.push(etcd);
    await waitUntil('etcd', async () => (await httpsGet(`${etcdUrl}/health`)).body.includes('"health":"true"'), etcd, 30_000);

    const server = `https://127.0.0.1:${apiPort}`;
    progress(`control plane: starting kube-apiserver ${opts.binaries.kubernetesVersion} on ${server}`);
    const api = startLogged(opts.binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`, `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`, `--service-account-issuer=${SA_ISSUER}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC', '--service-cluster-ip-range=10.96.0.0/16',
      '--enable-priority-and-fairness=false', '--profiling=false', '--v=1',
      '--allow-privileged=true', // as real clusters: the agent DaemonSet is privileged
      // towards kubelets (the real-node harness, testenv/node.ts): exec and logs over TLS both ways
      `--kubelet-certificate-authority=${pki.caCert}`, `--kubelet-client-certificate=${pki.kubeletClientCert}`, `--kubelet-client-key=${pki.kubeletClientKey}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      ...(opts.apiserverArgs ?? []),
    ], join(dir, 'kube-apiserver.log'));
    started.push(api);
    await waitUntil('kube-apiserver', async () => (await httpsGet(`${server}/readyz`, { ca: pki.caCert, token })).status === 200, api, 90_000);

    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, readFileSync(pki.caCert), token), { mode: 0o600 });
    const state: ControlPlaneState = {
      dir, server, kubeconfig, token, caCert: pki.caCert, caKey: pki.caKey, saKey: pki.saKey, saIssuer: SA_ISSUER,
      kubectl: opts.binaries.kubectl, kubernetesVersion: opts.binaries.kubernetesVersion,
      etcd: { pid: etcd.pid, exe: opts.binaries.etcd, url: etcdUrl },
      apiserver: { pid: api.pid, exe: opts.binaries.kubeApiserver },
    };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
    progress(`control plane: ready; KUBECONFIG=${kubeconfig}`);
    return { ...state, stop: () => stopControlPlane(state) };
  } catch (e) {
    await cleanup();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function kubeconfigYaml(server: string, ca: Buffer, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: unit-operator-test
  cluster:
    server: ${server}
    certificate-authority-data: ${ca.toString('base64')}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: unit-operator-test
  context:
    cluster: unit-operator-test
    user: admin
current-context: unit-operator-test
`;
}

/** Stops exactly the processes a state describes (checking each pid still runs our binary) and removes the folder. */
export async function stopControlPlane(state: ControlPlaneState): Promise<void> {
  for (const p of [state.apiserver, state.etcd]) {
    if (isAlive(p.pid) && exeOf(p.pid) === p.exe) await stopPid(p.pid, 10_000);
  }
  rmSync(state.dir, { recursive: true, force: true });
}

export function readState(dir: string): ControlPlaneState | undefined {
  const f = join(dir, 'state.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as ControlPlaneState) : undefined;
}
