// containerd for the real-node harness: its own config, socket, root and state under the node's
// folder, the cgroupfs driver, restrict_oom_score_adj (this VM's bounding set lacks
// CAP_SYS_RESOURCE: runc fails "can't get final child's PID from pipe" without it), a local
// pause image as sandbox_image, netns mounts under its state folder, and bridge CNI.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLogged, stopPid, waitUntil, isAlive, type Started } from './processes.ts';

/** The Debian packages the node needs, and one command each proves it is there. */
export const NODE_PACKAGES: ReadonlyArray<{ pkg: string; check: string }> = [
  { pkg: 'containerd', check: 'containerd' },
  { pkg: 'runc', check: 'runc' },
  { pkg: 'umoci', check: 'umoci' },
  { pkg: 'containernetworking-plugins', check: '/usr/lib/cni/bridge' },
  { pkg: 'iptables', check: 'iptables' },
  { pkg: 'busybox-static', check: '/bin/busybox' },
];
export const INSTALL_HINT = `apt-get install -y ${NODE_PACKAGES.map((p) => p.pkg).join(' ')}`;

export class NodePrerequisiteError extends Error {
  constructor(message: string) { super(message); this.name = 'NodePrerequisiteError'; }
}

function onPath(cmd: string): boolean {
  if (cmd.startsWith('/')) return existsSync(cmd);
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** Why a real node can't run here (not root, packages missing), or undefined when it can. */
export function nodeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'a real node needs Linux';
  if (process.getuid?.() !== 0) return 'a real node (kubelet + containerd) needs root';
  const missing = NODE_PACKAGES.filter((p) => !onPath(p.check)).map((p) => p.pkg);
  if (missing.length > 0) return `missing ${missing.join(', ')}: install with \`${INSTALL_HINT}\``;
  return undefined;
}

export interface ContainerdPaths {
  readonly dir: string;
  readonly socket: string;
  readonly config: string;
  readonly cniConf: string;
  readonly log: string;
}

export const POD_SUBNET = '10.244.0.0/24';

export function containerdPaths(nodeDir: string): ContainerdPaths {
  const dir = join(nodeDir, 'containerd');
  return { dir, socket: join(dir, 'containerd.sock'), config: join(dir, 'config.toml'), cniConf: join(nodeDir, 'cni', 'net.d'), log: join(nodeDir, 'containerd.log') };
}

export function writeContainerdConfig(nodeDir: string, sandboxImage: string, bridge: string): ContainerdPaths {
  const p = containerdPaths(nodeDir);
  mkdirSync(p.dir, { recursive: true });
  mkdirSync(p.cniConf, { recursive: true });
  writeFileSync(p.config, `version = 2
root = "${join(p.dir, 'root')}"
state = "${join(p.dir, 'state')}"
# the plugins that would write outside this folder (/opt/containerd) or that this node does not use
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${p.socket}"
[ttrpc]
  address = "${p.socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConf}"
`);
  // a bridge with host-local addresses; no masquerade and no portmap: no CNI iptables chains
  writeFileSync(join(p.cniConf, '10-unit-operator.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'unit-operator-node',
    plugins: [{
      type: 'bridge', bridge, isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: POD_SUBNET }]], dataDir: join(nodeDir, 'cni', 'ipam') },
    }],
  }, null, 2));
  return p;
}

export function ctr(p: ContainerdPaths, args: string[], timeoutMs = 120_000): { ok: boolean; out: string } {
  const r = spawnSync('ctr', ['-a', p.socket, '-n', 'k8s.io', ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

export async function startContainerd(p: ContainerdPaths): Promise<Started> {
  const proc = startLogged('containerd', ['--config', p.config], p.log);
  await waitUntil('containerd', async () => existsSync(p.socket) && ctr(p, ['version'], 5000).ok && /serving\.\.\. address=\S+containerd\.sock"?$/m.test(readFileSync(p.log, 'utf8')), proc, 30_000);
  return proc;
}

/** PIDs of containerd-shim processes serving this containerd (they outlive it by design). */
export function shimPids(p: ContainerdPaths): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes('containerd-shim') && l.includes(p.socket)).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
}

/** Kills every task and removes every container (pods' and sandboxes'), then stops containerd and its shims. */
export async function stopContainerd(p: ContainerdPaths, pid: number | undefined): Promise<string[]> {
  const did: string[] = [];
  if (pid !== undefined && isAlive(pid)) {
    const tasks = ctr(p, ['tasks', 'ls', '-q'], 10_000);
    const ids = tasks.ok ? tasks.out.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    for (const id of ids) ctr(p, ['tasks', 'kill', '-s', 'SIGKILL', id], 10_000);
    for (const id of ids) ctr(p, ['tasks', 'delete', '-f', id], 10_000);
    const cs = ctr(p, ['containers', 'ls', '-q'], 10_000);
    const cids = cs.ok ? cs.out.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    for (const id of cids) ctr(p, ['containers', 'delete', id], 10_000);
    if (ids.length + cids.length > 0) did.push(`containerd: killed ${ids.length} task(s), removed ${cids.length} container(s)`);
    await stopPid(pid, 10_000);
  }
  for (const s of shimPids(p)) { await stopPid(s, 2000); did.push(`stopped containerd-shim ${s}`); }
  return did;
}
