// What the shipped code is made of, read from its import statements: nothing under src/ (what
// `npm run build` turns into dist/, the image's code) reaches outside src/ — the test control
// plane lives in testenv/ —, and the controller and the observability modules load nothing of
// the agent, the runner or the engine at run time: what they share with the agent is the cluster
// contract in src/api/contract.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO } from '../support/paths.ts';

const SRC = join(REPO, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The relative modules a file loads when it runs (`import type` and `export type` are erased). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(?!type\s)[^;]*?\bfrom\s+'(\.[^']+)'|\bimport\('(\.[^']+)'\)|^import\s+'(\.[^']+)'/gm)) {
    out.push(resolve(dirname(file), (m[2] ?? m[3] ?? m[4])!));
  }
  return out;
}

function loadedBy(entries: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    if (f.startsWith(SRC)) todo.push(...runtimeImports(f));
  }
  return seen;
}

test('no module under src/ imports from outside src/ (the test control plane is testenv/, not shipped)', () => {
  const outside = tsFiles(SRC).flatMap((f) => runtimeImports(f).filter((i) => !i.startsWith(SRC + '/')).map((i) => `${relative(REPO, f)} → ${relative(REPO, i)}`));
  assert.deepEqual(outside, []);
});

test('the controller and the observability modules load nothing of src/agent, src/runner or src/engine', () => {
  const entries = [join(SRC, 'controller', 'controller.ts'), ...tsFiles(join(SRC, 'observability'))];
  const loaded = [...loadedBy(entries)].map((f) => relative(SRC, f)).sort();
  assert.ok(loaded.includes(join('api', 'contract.ts')), `the walk follows imports (${loaded.join(', ')})`);
  assert.deepEqual(loaded.filter((f) => /^(agent|runner|engine)\//.test(f)), []);
});
