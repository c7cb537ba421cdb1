// overlays/local (the install base, manifests/, for the local node) rendered with kubectl's kustomize.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const OVERLAY = join('overlays', 'local');

/** The folder `kubectl apply -k` takes for the local overlay, and how to remove it (nothing to remove). */
export function overlayDir(repo: string): { dir: string; done: () => void } {
  return { dir: join(repo, OVERLAY), done: () => {} };
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
