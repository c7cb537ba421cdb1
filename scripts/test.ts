// npm test: runs every test file with node:test (Node 24). Cluster tests (test/cluster/) get a
// real kube-apiserver + etcd started once for the run by the control-plane harness; node tests
// (test/node/) also a real node on this machine (testenv/node.ts: containerd, kubelet,
// kube-scheduler, kube-controller-manager) and the project's image — only when they are
// selected, and only as root with containerd & co. installed (else they skip, saying why). The
// Go build, the image build and the node start-up all happen before the per-test timeouts start;
// the host is put back afterwards and the run fails if anything is left.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries } from '../testenv/binaries.ts';
import { startControlPlane, LOCAL_NODE_API_PORT, type ControlPlane } from '../testenv/cluster.ts';
import { isAlive } from '../testenv/processes.ts';
import { nodeUnavailable } from '../testenv/containerd.ts';
import { readNodeState, recoverStaleNode, startNode, stopNode, type Node } from '../testenv/node.ts';
import { importImage } from '../testenv/images.ts';
import { projectImage } from '../testenv/projectimage.ts';
import { previousImage } from '../testenv/previous.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const only = process.argv.slice(2);

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return findTests(p);
    return f.endsWith('.test.ts') ? [p] : [];
  });
}

const files = findTests(join(root, 'test')).map((f) => relative(root, f)).filter((f) => only.length === 0 || only.some((o) => f.includes(o))).sort();
// no file at all would make `node --test` discover files on its own — every .ts under test/,
// the fixtures' record scripts among them, which re-record fixtures against the oracle
if (files.length === 0) {
  process.stderr.write(`no test file under test/ matches ${only.map((o) => JSON.stringify(o)).join(' or ')}\n`);
  process.exit(2);
}
process.stdout.write(`node ${process.version}: running ${files.length} test files\n`);
const TEST_TIMEOUT_MS = 600_000;
const RUN_DEADLINE_MIN = Number(process.env['UNIT_OPERATOR_TEST_DEADLINE_MIN'] ?? 45);
const say = (l: string): void => { process.stdout.write(`# ${l}\n`); };

let cp: ControlPlane | undefined;
let node: Node | undefined;
let nodeCp: ControlPlane | undefined;
let stopping: Promise<void> | undefined;
const stopCluster = (): Promise<void> => (stopping ??= (async () => {
  // a node still starting (a signal during set-up) is stopped from its record
  const starting = node ? undefined : readNodeState();
  const stopNodeOf = node ? () => node!.stop() : starting?.owner === process.pid ? () => stopNode(starting) : undefined;
  if (stopNodeOf) {
    const started = Date.now();
    const r = await stopNodeOf();
    if (r.leftovers.length > 0) { say(`the real node left things on the host:\n#   ${r.leftovers.join('\n#   ')}`); process.exitCode = 1; }
    else say(`node stopped and the host put back in ${((Date.now() - started) / 1000).toFixed(1)} s (${r.restored.length} change(s) undone)`);
  }
  if (nodeCp) await nodeCp.stop();
  if (!cp) return;
  const pids = [cp.apiserver.pid, cp.etcd.pid];
  await cp.stop();
  const left = pids.filter(isAlive);
  if (left.length > 0) { say(`control plane processes left behind: ${left.join(', ')}`); process.exitCode = 1; }
  else say(`control plane stopped (pids ${pids.join(', ')} gone, ${cp.dir} removed)`);
})());

// a signal while the node or the control planes start: stop them (and put the host back) first
let child: ReturnType<typeof spawn> | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (child) { child.kill(sig); return; }
    say(`${sig} during set-up: stopping what was started`);
    void stopCluster().finally(() => process.exit(1));
  });
}

async function run(): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const nodeTests = files.some((f) => f.startsWith(join('test', 'node')));
  const nodeSkip = nodeTests ? nodeUnavailable() : undefined;
  if (nodeSkip) { say(`test/node: skipped: ${nodeSkip}`); env['UNIT_OPERATOR_TEST_NODE_SKIP'] = nodeSkip; }
  const withNode = nodeTests && !nodeSkip;
  const clusterTests = files.some((f) => f.startsWith(join('test', 'cluster')));
  if (withNode || clusterTests) {
    const started = Date.now();
    const binaries = await ensureBinaries({ modulesDir: join(root, 'control-plane'), progress: say });
    if (clusterTests) {
      cp = await startControlPlane({ binaries, progress: say });
      say(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s (${binaries.source}: ${binaries.dir})`);
      env['UNIT_OPERATOR_TEST_CLUSTER'] = join(cp.dir, 'state.json');
    }
    if (withNode) {
      // a control plane of its own: its kube-controller-manager and the deployed controller must
      // not act on the cluster tests' objects (their Nodes have no kubelet)
      const t = Date.now();
      const image = projectImage(root, say);
      // the release the upgrade test starts from (test/node/previous-release)
      const previous = previousImage(root, say);
      if ('unavailable' in previous) { say(`test/node: the upgrade from the previous release is skipped: ${previous.unavailable}`); env['UNIT_OPERATOR_TEST_PREVIOUS_SKIP'] = previous.unavailable; }
      await recoverStaleNode(say); // a killed run's node and control plane (which holds the port)
      nodeCp = await startControlPlane({ binaries, progress: say, apiPort: LOCAL_NODE_API_PORT });
      node = await startNode({ binaries, controlPlane: nodeCp, progress: say });
      importImage(node.containerd.socket, image);
      if (!('unavailable' in previous)) { importImage(node.containerd.socket, previous); env['UNIT_OPERATOR_TEST_PREVIOUS_IMAGE'] = previous.ref; }
      say(`node, its control plane and the image ready in ${((Date.now() - t) / 1000).toFixed(1)} s (image ${image.cached ? 'cached' : 'built'}: ${image.archive})`);
      env['UNIT_OPERATOR_TEST_NODE'] = join(node.dir, 'node.json');
    }
  }
  // a test that hangs fails after 10 min instead of holding the run (and CI) until it is killed
  const tests = spawn(process.execPath, ['--test', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { cwd: root, stdio: 'inherit', env });
  child = tests;
  // and a file that never ends (a handle left open after its tests) ends the run with a clear message
  const watchdog = setTimeout(() => {
    say(`the test run passed its ${RUN_DEADLINE_MIN} min deadline (a test file that does not end: see the last file above); stopping it`);
    tests.kill('SIGTERM');
    setTimeout(() => tests.kill('SIGKILL'), 10_000).unref();
  }, RUN_DEADLINE_MIN * 60_000);
  watchdog.unref();
  return new Promise((resolve) => tests.on('exit', (code, signal) => { clearTimeout(watchdog); resolve(code ?? (signal ? 1 : 0)); }));
}

run().then(async (code) => {
  await stopCluster();
  process.exitCode = process.exitCode || code;
}, async (e: Error) => {
  process.stderr.write(`npm test: ${e.message}\n`);
  await stopCluster();
  process.exitCode = 1;
});
