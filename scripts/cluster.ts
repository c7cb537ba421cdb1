// npm run cluster:up [-- --node] | cluster:down | control-plane:build — a local control plane for
// trying unit-operator and for tests: kube-apiserver + etcd built from Go modules, no Docker;
// with --node also a real node on this machine (containerd, kubelet, kube-scheduler,
// kube-controller-manager: testenv/node.ts), which needs root and changes the host until
// cluster:down puts it back.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, cacheRoot } from '../testenv/binaries.ts';
import { startControlPlane, stopControlPlane, readState, LOCAL_NODE_API_PORT } from '../testenv/cluster.ts';
import { readNodeState, startNode, stopNode } from '../testenv/node.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const stateDir = join(cacheRoot(process.env), 'cluster');
const say = (l: string): void => { process.stderr.write(`${l}\n`); };

async function main(cmd: string | undefined, flags: string[]): Promise<number> {
  switch (cmd) {
    case 'build': {
      const b = await ensureBinaries({ modulesDir: join(root, 'control-plane'), progress: say });
      say(`kubernetes ${b.kubernetesVersion} (kube-apiserver, kubectl, kubelet, kube-scheduler, kube-controller-manager), etcd ${b.etcdVersion} (${b.source}) in ${b.dir}`);
      return 0;
    }
    case 'up': {
      const withNode = flags.includes('--node');
      const started = Date.now();
      const existing = readState(stateDir);
      const b = await ensureBinaries({ modulesDir: join(root, 'control-plane'), progress: say });
      const cp = existing ?? await startControlPlane({ binaries: b, dir: stateDir, progress: say, ...(withNode ? { apiPort: LOCAL_NODE_API_PORT } : {}) });
      if (existing) say(`a control plane is already up: KUBECONFIG=${existing.kubeconfig} (npm run cluster:down stops it)`);
      if (withNode) {
        if (existing && new URL(existing.server).port !== String(LOCAL_NODE_API_PORT)) throw new Error(`the control plane that is up (${existing.server}) is not on port ${LOCAL_NODE_API_PORT}, where the local overlay's pods look for it: npm run cluster:down first`);
        const node = readNodeState();
        if (node) say(`a node is already up: ${node.nodeName} (${node.dir})`);
        else {
          try {
            await startNode({ binaries: b, controlPlane: cp, progress: say, persistent: true });
          } catch (e) {
            if (!existing) await stopControlPlane(cp);
            throw e;
          }
        }
      }
      process.stdout.write(`${cp.kubeconfig}\n`);
      say(`\nup in ${((Date.now() - started) / 1000).toFixed(1)} s\nexport KUBECONFIG=${cp.kubeconfig}\nkubectl (${b.kubernetesVersion}): ${b.kubectl}\nthen: kubectl apply -f crds/ && kubectl get su -A${withNode ? '\nthe image: npm run image (imports it into the node); then kubectl apply -k overlays/local' : ''}\nstop with: npm run cluster:down`);
      return 0;
    }
    case 'down': {
      let code = 0;
      const node = readNodeState();
      if (node) {
        const r = await stopNode(node);
        for (const l of r.restored) say(`node: ${l}`);
        if (r.leftovers.length > 0) { say(`node: left on the host:\n  ${r.leftovers.join('\n  ')}`); code = 1; }
        else say(`node ${node.nodeName} stopped; the host is as it was before cluster:up`);
      }
      const s = readState(stateDir);
      if (!s) { if (!node) say('no control plane is up (nothing to stop)'); return code; }
      await stopControlPlane(s);
      say(`stopped kube-apiserver (pid ${s.apiserver.pid}) and etcd (pid ${s.etcd.pid}); removed ${s.dir}`);
      return code;
    }
    default:
      say('usage: node scripts/cluster.ts build | up [--node] | down');
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then((c) => { process.exitCode = c; }, (e: Error) => {
  say(`error: ${e.message}`);
  process.exitCode = 1;
});
