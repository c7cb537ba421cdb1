// manifests/overlays/local rendered with kubectl's kustomize. The overlay names its base
// ../../base; while the base's files still sit in manifests/ itself (kustomize refuses an
// overlay inside its base's folder), they are staged as base/ beside a copy of the overlay.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OVERLAY = join('manifests', 'overlays', 'local');

/** A folder `kubectl apply -k` takes for the local overlay, and how to remove it. */
export function overlayDir(repo: string): { dir: string; done: () => void } {
  const manifests = join(repo, 'manifests');
  if (existsSync(join(manifests, 'base', 'kustomization.yaml'))) return { dir: join(repo, OVERLAY), done: () => {} };
  const t = mkdtempSync(join(tmpdir(), 'uo-overlay-'));
  for (const e of readdirSync(manifests)) if (e !== 'overlays') cpSync(join(manifests, e), join(t, 'base', e), { recursive: true });
  cpSync(join(repo, OVERLAY), join(t, 'overlays', 'local'), { recursive: true });
  return { dir: join(t, 'overlays', 'local'), done: () => rmSync(t, { recursive: true, force: true }) };
}

/** The overlay's YAML (kubectl kustomize). */
export function renderOverlay(repo: string, kubectl: string): string {
  const o = overlayDir(repo);
  try {
    const r = spawnSync(kubectl, ['kustomize', o.dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`kubectl kustomize ${OVERLAY} failed: ${r.stderr}`);
    return r.stdout;
  } finally { o.done(); }
}
