// Every process a state folder's units still hold — their shims and the shims' descendants —
// for clean-up paths (tests, benchmarks, an operator's last resort). Only shims recorded by
// this project's own runners are touched, and only while they are the recorded process: /proc
// shows uo-shim on that spawn's event log, in the recorded boot, with the recorded start time
// (store.ts shimAlive()). A PID reused since, or a record planted in the folder, is never killed.
// Where the agent had cgroups (issue 13), every process in the agent's own cgroup tree
// (<base> for that state folder: only root can put a process there) is killed too, and the
// emptied tree removed, and the state folder's fork server (forkserver.ts).

import { removeNotifyFolder } from './notifysock.ts';
import { descendants, isAlive } from './procfs.ts';
import { readUnitState, shimAlive, unitDirs } from './store.ts';
import { dirname } from 'node:path';
import { forkServerPids } from './forkserver.ts';
import { agentBase, basePids, detectCgroups, removeBaseTree, SYSTEM_STATE_DIR } from './cgroup/index.ts';

export function recordedShims(unitsDir: string): number[] {
  const pids: number[] = [];
  for (const dir of unitDirs(unitsDir)) for (const x of readUnitState(dir)?.spawns ?? []) if (x.shimPid > 0 && shimAlive(x)) pids.push(x.shimPid);
  return pids;
}

/** SIGKILLs the recorded shims and everything below them; waits (bounded) until they are gone. */
export async function killLeftovers(unitsDir: string, timeoutMs = 2000): Promise<number[]> {
  const shims = recordedShims(unitsDir);
  const layout = detectCgroups();
  const base = agentBase(dirname(unitsDir), SYSTEM_STATE_DIR);
  const all = [...new Set([...descendants(shims), ...shims, ...basePids(layout, base), ...forkServerPids(dirname(unitsDir))])].filter((p) => p !== process.pid);
  for (const p of all) { try { process.kill(p, 9); } catch { /* gone */ } }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && all.some(isAlive)) await new Promise((r) => setTimeout(r, 20));
  if (!all.some(isAlive)) removeNotifyFolder(unitsDir);
  if (basePids(layout, base).length === 0) removeBaseTree(layout, base);
  return all;
}
