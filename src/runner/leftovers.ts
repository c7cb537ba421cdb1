// Every process a state folder's units still hold — their shims and the shims' descendants —
// for clean-up paths (tests, benchmarks, an operator's last resort). Only pids recorded by
// this project's own runners are touched.

import { descendants, isAlive } from './procfs.ts';
import { readUnitState, unitDirs } from './store.ts';

export function recordedShims(unitsDir: string): number[] {
  const pids: number[] = [];
  for (const dir of unitDirs(unitsDir)) for (const x of readUnitState(dir)?.spawns ?? []) if (x.shimPid > 0) pids.push(x.shimPid);
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
