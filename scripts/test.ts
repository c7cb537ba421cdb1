// npm test: runs every test file with node:test (Node 24). Cluster tests (test/cluster/) get a
// real kube-apiserver + etcd started once for the run by the control-plane harness.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit' });
const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal ? 1 : 0); });
