// OCI images without Docker or a registry, for the real-node harness: umoci builds an image
// from a root file system; ctr imports it into the node's containerd (namespace k8s.io).
//  - pause: testenv/images/pause.c built with gcc -static (the node's sandbox_image);
//  - busybox: the static busybox of the busybox-static package;
//  - the project's image: the Dockerfile's stages replayed on this host (scripts/image.ts), on a
//    base that stands in for node:24-bookworm-slim: the Node 24 binary npm installed
//    (node_modules/node), the libraries it links, a static busybox as /bin/sh and coreutils.
// Each image is an OCI archive cached under ~/.cache/unit-operator/images by a hash of its inputs.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, realpathSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cacheRoot } from './binaries.ts';

export interface ImageConfig {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly user?: string;
  readonly workdir?: string;
}

export interface BuiltImage {
  /** The name containerd knows it by after import: localhost/…:tag. */
  readonly ref: string;
  /** The OCI archive (a tar of an OCI layout). */
  readonly archive: string;
  readonly cached: boolean;
}

export class ImageBuildError extends Error {
  constructor(message: string) { super(message); this.name = 'ImageBuildError'; }
}

function sh(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args as string[], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new ImageBuildError(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new ImageBuildError(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${`${r.stdout}${r.stderr}`.slice(-3000)}`);
  return r.stdout;
}

export function imagesCache(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(dirname(cacheRoot(env)), 'images');
}

/** Splits a ref 'localhost/a/b:tag' into the name and the tag. */
function splitRef(ref: string): { name: string; tag: string } {
  const i = ref.lastIndexOf(':');
  if (i <= ref.lastIndexOf('/')) throw new ImageBuildError(`image ref ${ref} has no tag`);
  return { name: ref.slice(0, i), tag: ref.slice(i + 1) };
}

/** Packs rootfs into a one-layer OCI image with umoci and writes it as an OCI archive (atomically). */
export function packImage(rootfs: string, ref: string, config: ImageConfig, archive: string): void {
  const { tag } = splitRef(ref);
  const work = mkdtempSync(`${archive}.work-`);
  try {
    const layout = join(work, 'oci');
    sh('umoci', ['init', '--layout', layout]);
    sh('umoci', ['new', '--image', `${layout}:${tag}`]);
    sh('umoci', ['insert', '--image', `${layout}:${tag}`, rootfs, '/']);
    const args = ['config', '--image', `${layout}:${tag}`];
    if (config.entrypoint) for (const e of config.entrypoint) args.push('--config.entrypoint', e);
    if (config.cmd) for (const c of config.cmd) args.push('--config.cmd', c);
    for (const e of config.env ?? []) args.push('--config.env', e);
    if (config.user) args.push('--config.user', config.user);
    if (config.workdir) args.push('--config.workingdir', config.workdir);
    sh('umoci', args);
    sh('umoci', ['gc', '--layout', layout]);
    sh('tar', ['-C', layout, '-cf', join(work, 'image.tar'), '.']);
    renameSync(join(work, 'image.tar'), archive);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function hashOf(parts: ReadonlyArray<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

const HERE = dirname(new URL(import.meta.url).pathname);

/** The pause image (gcc -static), tagged by the hash of its source. */
export function pauseImage(env: Readonly<Record<string, string | undefined>> = process.env): BuiltImage {
  const src = join(HERE, 'images', 'pause.c');
  const tag = hashOf([readFileSync(src)]);
  const ref = `localhost/unit-operator/pause:${tag}`;
  const archive = join(imagesCache(env), `pause-${tag}.tar`);
  if (existsSync(archive)) return { ref, archive, cached: true };
  mkdirSync(imagesCache(env), { recursive: true });
  const root = mkdtempSync(join(imagesCache(env), 'pause-rootfs-'));
  try {
    sh('gcc', ['-static', '-O2', '-Wall', '-o', join(root, 'pause'), src]);
    packImage(root, ref, { entrypoint: ['/pause'] }, archive);
  } finally { rmSync(root, { recursive: true, force: true }); }
  return { ref, archive, cached: false };
}

const BUSYBOX = '/bin/busybox';

/** Puts a static busybox at /bin/busybox with /bin/sh and its applets as links. */
function addBusybox(root: string): void {
  if (!existsSync(BUSYBOX)) throw new ImageBuildError('a static busybox is needed (apt-get install busybox-static)');
  mkdirSync(join(root, 'bin'), { recursive: true });
  cpSync(BUSYBOX, join(root, 'bin', 'busybox'));
  const applets = sh(BUSYBOX, ['--list-full']).split('\n').filter(Boolean);
  for (const a of applets) {
    const p = join(root, a);
    if (existsSync(p)) continue;
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync('/bin/busybox', p);
  }
}

/** A busybox image (for test pods), tagged by the hash of the binary. */
export function busyboxImage(env: Readonly<Record<string, string | undefined>> = process.env): BuiltImage {
  if (!existsSync(BUSYBOX)) throw new ImageBuildError('a static busybox is needed (apt-get install busybox-static)');
  const tag = hashOf([readFileSync(BUSYBOX)]);
  const ref = `localhost/unit-operator/busybox:${tag}`;
  const archive = join(imagesCache(env), `busybox-${tag}.tar`);
  if (existsSync(archive)) return { ref, archive, cached: true };
  mkdirSync(imagesCache(env), { recursive: true });
  const root = mkdtempSync(join(imagesCache(env), 'busybox-rootfs-'));
  try {
    addBusybox(root);
    mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
    chmodSync(join(root, 'tmp'), 0o1777);
    packImage(root, ref, { cmd: ['sh'] }, archive);
  } finally { rmSync(root, { recursive: true, force: true }); }
  return { ref, archive, cached: false };
}

/**
 * The stand-in for node:24-bookworm-slim: node at /usr/local/bin/node with the shared libraries
 * it links (ldd) at their paths, busybox as the shell and coreutils, root and node (1000) users.
 */
export function nodeBase(root: string, nodeBinary: string): void {
  const dest = join(root, 'usr', 'local', 'bin', 'node');
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(nodeBinary, dest);
  for (const line of sh('ldd', [nodeBinary]).split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (!m) continue;
    const lib = m[1]!;
    const to = join(root, lib);
    mkdirSync(dirname(to), { recursive: true });
    if (!existsSync(to)) copyFileSync(realpathSync(lib), to);
  }
  addBusybox(root);
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnode:x:1000:\n');
  for (const d of ['root', 'home/node', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  sh('chown', ['1000:1000', join(root, 'home', 'node')]);
}

/** Every file below dir, for hashing (sorted, relative). */
export function listFiles(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const p = join(dir, rel);
    const st = statSync(p);
    if (st.isDirectory()) { for (const e of readdirSync(p).sort()) { const r = rel ? `${rel}/${e}` : e; if (!skip(r)) walk(r); } } else out.push(rel);
  };
  walk('');
  return out;
}

/** Imports an OCI archive into the node's containerd as ref. */
export function importImage(socket: string, image: BuiltImage): void {
  const { name } = splitRef(image.ref);
  const r = spawnSync('ctr', ['-a', socket, '-n', 'k8s.io', 'images', 'import', '--base-name', name, image.archive], { encoding: 'utf8', timeout: 300_000 });
  if (r.error || r.status !== 0) throw new ImageBuildError(`ctr images import ${image.archive} failed: ${r.stderr || r.error?.message}`);
}
