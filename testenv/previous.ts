// The previous release's image, for the upgrade test of test/node: the commit named in
// test/node/previous-release, exported from this clone's history (git archive, no checkout),
// built like the current one (testenv/projectimage.ts) and named localhost/unit-operator:previous.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuiltImage } from './images.ts';
import { nodeBinary, projectImage } from './projectimage.ts';

export const PREVIOUS_IMAGE = 'localhost/unit-operator:previous';

/** The commit the upgrade test starts from (the file's first line). */
export function previousRelease(repo: string): string {
  const line = readFileSync(join(repo, 'test', 'node', 'previous-release'), 'utf8').split('\n')[0]!.trim();
  if (!/^[0-9a-f]{40}$/.test(line)) throw new Error(`test/node/previous-release: the first line must be a full commit hash, not "${line}"`);
  return line;
}

/**
 * The previous release's image, or why it cannot be built here: `unavailable` when the commit
 * is not in this clone (a shallow clone), which the test reports as a skip of the upgrade.
 */
export function previousImage(repo: string, progress: (l: string) => void): BuiltImage | { unavailable: string } {
  const commit = previousRelease(repo);
  const has = spawnSync('git', ['-C', repo, 'cat-file', '-e', `${commit}^{commit}`], { encoding: 'utf8' });
  if (has.error || has.status !== 0) return { unavailable: `the previous release ${commit.slice(0, 12)} is not in this clone's history (a shallow clone?): git fetch --unshallow` };
  const dir = mkdtempSync(join(tmpdir(), 'uo-previous-'));
  try {
    const tar = spawnSync('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', repo, commit, dir], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`git archive ${commit}: ${tar.stderr}`);
    // the same Node 24 binary: the release is judged on its own sources
    return projectImage(dir, progress, process.env, { ref: PREVIOUS_IMAGE, node: nodeBinary(repo) });
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
