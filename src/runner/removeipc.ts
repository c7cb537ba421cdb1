// RemoveIPC= (systemd.exec(5); implied by DynamicUser=): when the last unit running as a user
// stops, that user's System V and POSIX IPC objects are removed (systemd's manager_unref_uid()
// → clean_ipc_by_uid()), never root's. The units running as each user are counted here (the
// agent's view: refUser() at a command's start, unrefUser() when the unit stops); the removal
// itself is uo-shim's helper mode `--remove-ipc UID GID` (shim/removeipc.c), in the agent's IPC
// and mount namespaces.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DYNAMIC_USER_FILE } from './dynuser.ts';
import { expandSpecifiers, lookupUser } from './environment.ts';

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

/**
 * The user a unit found running after an agent restart runs as: its recorded dynamic user
 * (dynuser.ts), else User= looked up on the node; undefined for root or when unknown.
 */
export function ipcOwnerOf(service: Readonly<Record<string, unknown>>, user: string | undefined, unitDir: string, unitName: string, hostRoot: string | undefined): { uid: number; gid: number | undefined } | undefined {
  if (user === undefined) return undefined;
  let owner: { uid: number; gid: number | undefined } | undefined;
  if (service['dynamicUser'] === true) {
    try { const r = JSON.parse(readFileSync(join(unitDir, DYNAMIC_USER_FILE), 'utf8')) as { uid: number; gid: number }; owner = { uid: r.uid, gid: r.gid }; } catch { /* none recorded: a static account */ }
  }
  if (!owner) {
    const a = lookupUser(expandSpecifiers(user, { unitName }), join(hostRoot ?? '/', 'etc', 'passwd'));
    if (a) owner = { uid: a.uid, gid: a.gid };
  }
  return owner && owner.uid !== 0 ? owner : undefined;
}
