// npm test: runs every test file with node:test (Node 24). Cluster tests (test/cluster/) get a
// real kube-apiserver + etcd started once for the run by the control-plane harness.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries } from '../testenv/binaries.ts';
import { startControlPlane, type ControlPlane } from '../testenv/cluster.ts';
import { isAlive } from '../testenv/processes.ts';

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
process.stdout.write(`node ${process.version}: running ${files.length} test files\n`);
const TEST_TIMEOUT_MS = 600_000;
const RUN_DEADLINE_MIN = Number(process.env['UNIT_OPERATOR_TEST_DEADLINE_MIN'] ?? 45);
const say = (l: string): void => { process.stdout.write(`# ${l}\n`); };

let cp: ControlPlane | undefined;
let stopping: Promise<void> | undefined;
const stopCluster = (): Promise<void> => (stopping ??= (async () => {
  if (!cp) return;
  const pids = [cp.apiserver.pid, cp.etcd.pid];
  await cp.stop();
  const left = pids.filter(isAlive);
  if (left.length > 0) { say(`control plane processes left behind: ${left.join(', ')}`); process.exitCode = 1; }
  else say(`control plane stopped (pids ${pids.join(', ')} gone, ${cp.dir} removed)`);
})());

async function run(): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (files.some((f) => f.startsWith(join('test', 'cluster')))) {
    const started = Date.now();
    const binaries = await ensureBinaries({ modulesDir: join(root, 'control-plane'), progress: say });
    cp = await startControlPlane({ binaries, progress: say });
    say(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s (${binaries.source}: ${binaries.dir})`);
    env['UNIT_OPERATOR_TEST_CLUSTER'] = join(cp.dir, 'state.json');
  }
  // a test that hangs fails after 10 min instead of holding the run (and CI) until it is killed
  const child = spawn(process.execPath, ['--test', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { cwd: root, stdio: 'inherit', env });
  const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  // and a file that never ends (a handle left open after its tests) ends the run with a clear message
  const watchdog = setTimeout(() => {
    say(`the test run passed its ${RUN_DEADLINE_MIN} min deadline (a test file that does not end: see the last file above); stopping it`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }, RUN_DEADLINE_MIN * 60_000);
  watchdog.unref();
  return new Promise((resolve) => child.on('exit', (code, signal) => { clearTimeout(watchdog); resolve(code ?? (signal ? 1 : 0)); }));
}

run().then(async (code) => {
  await stopCluster();
  process.exitCode = process.exitCode || code;
}, async (e: Error) => {
  process.stderr.write(`npm test: ${e.message}\n`);
  await stopCluster();
  process.exitCode = 1;
});
