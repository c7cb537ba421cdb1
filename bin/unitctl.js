#!/usr/bin/env node
// unitctl launcher: runs src/cli/main.ts on Node >= 22.18 (type stripping); on an older Node
// (e.g. a machine's Node 20) it re-runs itself with the Node 24 that npm installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, basename } from 'node:path';

const [major, minor] = process.versions.node.split('.').map(Number);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
if (major > 22 || (major === 22 && minor >= 18)) {
  // an image ships the built dist/ only; a checkout runs the sources directly
  const entry = existsSync(join(root, 'src/cli/main.ts')) ? 'src/cli/main.ts' : 'dist/cli/main.js';
  const { main, daemonReexec } = await import(join(root, entry));
  // an agent or controller started without the daemon Node flags re-executes itself with them (src/cli/runtime.ts)
  daemonReexec(process.argv.slice(2));
  // installed as kubectl-unit, it is the kubectl plugin: commands address the cluster
  process.exitCode = await main(process.argv.slice(2), undefined, { plugin: basename(process.argv[1] ?? '').startsWith('kubectl-unit') });
} else {
  const pinned = join(root, 'node_modules/node/bin/node');
  if (!existsSync(pinned)) {
    process.stderr.write(`unitctl: needs Node.js >= 22.18 (found ${process.version}); run \`npm ci\` in ${root} to install the pinned Node 24\n`);
    process.exit(1);
  }
  const r = spawnSync(pinned, [process.argv[1] ?? fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
