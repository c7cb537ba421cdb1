// RemoveIPC= (systemd.exec(5); implied by DynamicUser=): when the last unit running as a user
// stops, that user's System V and POSIX IPC objects are removed (systemd's manager_unref_uid()
// → clean_ipc_by_uid()), never root's. The units running as each user are counted here (the
// agent's view: refUser() at a command's start, unrefUser() when the unit stops); the removal
// itself is uo-shim's helper mode `--remove-ipc UID GID` (shim/removeipc.c), in the agent's IPC
// and mount namespaces.

import { spawnSync } from 'node:child_process';

const units = new Map<number, Set<string>>();

/** The unit runs (a command started) as uid. */
export function refUser(uid: number, unitName: string): void {
  let s = units.get(uid);
  if (!s) units.set(uid, (s = new Set()));
  s.add(unitName);
}

/** The unit stopped; true when it was the last one of uid. */
export function unrefUser(uid: number, unitName: string): boolean {
  const s = units.get(uid);
  if (!s || !s.delete(unitName)) return false;
  if (s.size > 0) return false;
  units.delete(uid);
  return true;
}

/** Removes uid's (and gid's) IPC objects with the shim; returns what went wrong, or undefined. */
export function removeIpc(shimPath: string, uid: number, gid: number | undefined): string | undefined {
  if (uid === 0 || gid === 0) return undefined; // not for root
  const r = spawnSync(shimPath, ['--remove-ipc', String(uid), String(gid ?? -1)], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return undefined;
  return `RemoveIPC=: the IPC objects of uid ${uid} could not all be removed (uo-shim --remove-ipc: status ${r.status}${r.stderr ? `, ${r.stderr.trim()}` : ''})`;
}
