// Every process a state folder's units still hold — their shims and the shims' descendants —
// for clean-up paths (tests, benchmarks, an operator's last resort). Only pids recorded by
// this project's own runners are touched.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendants, isAlive } from './procfs.ts';

export function recordedShims(unitsDir: string): number[] {
  if (!existsSync(unitsDir)) return [];
  const pids: number[] = [];
  for (const u of readdirSync(unitsDir)) {
    try {
      const s = JSON.parse(readFileSync(join(unitsDir, u, 'state.json'), 'utf8')) as { spawns: Array<{ shimPid: number }> };
      for (const x of s.spawns) if (x.shimPid > 0) pids.push(x.shimPid);
    } catch { /* no state */ }
  }
  return pids;
}

/** SIGKILLs the recorded shims and everything below them; waits (bounded) until they are gone. */
export async function killLeftovers(unitsDir: string, timeoutMs = 2000): Promise<number[]> {
  const shims = recordedShims(unitsDir);
  const all = [...descendants(shims), ...shims];
  for (const p of all) { try { process.kill(p, 9); } catch { /* gone */ } }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && all.some(isAlive)) await new Promise((r) => setTimeout(r, 20));
  return all;
}
