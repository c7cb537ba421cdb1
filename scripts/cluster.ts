// npm run cluster:up | cluster:down | control-plane:build — a local control plane for trying
// unit-operator and for tests: kube-apiserver + etcd built from Go modules, no Docker.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, cacheRoot, ControlPlaneBuildError } from '../testenv/binaries.ts';
import { startControlPlane, stopControlPlane, readState } from '../testenv/cluster.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const stateDir = join(cacheRoot(process.env), 'cluster');
const say = (l: string): void => { process.stderr.write(`${l}\n`); };

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'build': {
      const b = await ensureBinaries({ modulesDir: join(root, 'control-plane'), progress: say });
      say(`kube-apiserver ${b.kubernetesVersion}, etcd ${b.etcdVersion} (${b.source}) in ${b.dir}`);
      return 0;
    }
    case 'up': {
      const existing = readState(stateDir);
      if (existing) { say(`a control plane is already up: KUBECONFIG=${existing.kubeconfig} (npm run cluster:down stops it)`); return 0; }
      const b = await ensureBinaries({ modulesDir: join(root, 'control-plane'), progress: say });
      const cp = await startControlPlane({ binaries: b, dir: stateDir, progress: say });
      process.stdout.write(`${cp.kubeconfig}\n`);
      say(`\nexport KUBECONFIG=${cp.kubeconfig}\nkubectl (${b.kubernetesVersion}): ${b.kubectl}\nthen: kubectl apply -f crds/ && kubectl get su -A\nstop with: npm run cluster:down`);
      return 0;
    }
    case 'down': {
      const s = readState(stateDir);
      if (!s) { say('no control plane is up (nothing to stop)'); return 0; }
      await stopControlPlane(s);
      say(`stopped kube-apiserver (pid ${s.apiserver.pid}) and etcd (pid ${s.etcd.pid}); removed ${s.dir}`);
      return 0;
    }
    default:
      say('usage: node scripts/cluster.ts build|up|down');
      return 2;
  }
}

main(process.argv[2]).then((c) => { process.exitCode = c; }, (e: Error) => {
  say(e instanceof ControlPlaneBuildError ? `error: ${e.message}` : `error: ${e.message}`);
  process.exitCode = 1;
});
