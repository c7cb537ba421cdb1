// The project's image (unit-operator:dev) built from the Dockerfile without Docker
// (testenv/dockerfile.ts), cached as an OCI archive by a hash of everything it is built from.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { contextSources, parseDockerfile, replayDockerfile } from './dockerfile.ts';
import { imagesCache, listFiles, packImage, ImageBuildError, type BuiltImage } from './images.ts';
import { createHash } from 'node:crypto';

/** What the local overlay (overlays/local) deploys. */
export const PROJECT_IMAGE = 'localhost/unit-operator:dev';

/** node_modules/node's binary: the Node 24 the project runs on (npm installs it). */
export function nodeBinary(repo: string): string {
  const p = join(repo, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(p)) throw new ImageBuildError(`${p} is missing: run npm ci (the image takes the Node 24 binary npm installs)`);
  return p;
}

function inputsHash(repo: string, ref: string, node: string): string {
  const h = createHash('sha256');
  h.update(`${ref}\0`);
  const dockerfile = readFileSync(join(repo, 'Dockerfile'));
  h.update(dockerfile);
  for (const src of contextSources(parseDockerfile(dockerfile.toString()))) {
    const p = join(repo, src);
    if (!existsSync(p)) continue;
    for (const f of listFiles(p)) { h.update(`${src}/${f}\0`); h.update(readFileSync(f ? join(p, f) : p)); }
  }
  h.update(readFileSync(node));
  h.update(readFileSync(new URL('./dockerfile.ts', import.meta.url)));
  h.update(readFileSync(new URL('./images.ts', import.meta.url)));
  return h.digest('hex').slice(0, 12);
}

/** Keeps the three newest project archives (each source change makes one, ~60 MB). */
function pruneOld(dir: string, keep: string): void {
  const all = readdirSync(dir).filter((f) => /^unit-operator-[0-9a-f]{12}\.tar$/.test(f)).map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const f of all.slice(3)) if (f !== keep) rmSync(f, { force: true });
}

/**
 * The image of the sources in `repo` (a checkout of another commit too: testenv/previous.ts),
 * named `ref`, with the Node 24 binary `node` (by default the repo's own, node_modules/node).
 */
export function projectImage(repo: string, progress: (l: string) => void = () => {}, env: Readonly<Record<string, string | undefined>> = process.env,
  opts: { readonly ref?: string; readonly node?: string } = {}): BuiltImage {
  const ref = opts.ref ?? PROJECT_IMAGE;
  const node = opts.node ?? nodeBinary(repo);
  const hash = inputsHash(repo, ref, node);
  const archive = join(imagesCache(env), `unit-operator-${hash}.tar`);
  if (existsSync(archive)) return { ref, archive, cached: true };
  mkdirSync(imagesCache(env), { recursive: true });
  const work = join(imagesCache(env), `unit-operator-${hash}.build-${process.pid}`);
  const started = Date.now();
  progress(`image: building ${ref} from the Dockerfile (no Docker: testenv/dockerfile.ts)`);
  try {
    const { rootfs, config } = replayDockerfile(join(repo, 'Dockerfile'), { context: repo, work, nodeBinary: node, progress });
    packImage(rootfs, ref, config, archive);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  pruneOld(imagesCache(env), archive);
  progress(`image: ${ref} built in ${((Date.now() - started) / 1000).toFixed(1)} s (${archive})`);
  return { ref, archive, cached: false };
}
