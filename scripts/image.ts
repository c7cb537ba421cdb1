// npm run image — the project's OCI image built without Docker, from the Dockerfile's own steps
// (testenv/dockerfile.ts), plus the pause and busybox images a local node uses; imported into
// the local node's containerd when `npm run cluster:up -- --node` is up. Prints the archive.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importImage, pauseImage, busyboxImage } from '../testenv/images.ts';
import { projectImage } from '../testenv/projectimage.ts';
import { readNodeState } from '../testenv/node.ts';
import { isAlive } from '../testenv/processes.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const say = (l: string): void => { process.stderr.write(`${l}\n`); };

try {
  const images = [projectImage(root, say), pauseImage(), busyboxImage()];
  for (const i of images) say(`${i.ref}: ${i.archive}${i.cached ? ' (cached)' : ''}`);
  const node = readNodeState();
  const ctrd = node?.procs.containerd;
  if (node && ctrd && isAlive(ctrd.pid)) {
    for (const i of images) importImage(node.containerd.socket, i);
    say(`imported into the node's containerd (${node.containerd.socket}, namespace k8s.io)`);
  } else say('no local node is up (npm run cluster:up -- --node): not imported');
  process.stdout.write(`${images[0]!.archive}\n`);
} catch (e) {
  say(`error: ${(e as Error).message}`);
  process.exitCode = 1;
}
