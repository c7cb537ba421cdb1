// DynamicUser= (systemd.exec(5), systemd 257's src/core/dynamic-user.c): the user and group a
// unit runs as, allocated from 61184–65519 when no static account of that name exists.
//
// systemd hashes the name for a first candidate and probes for a free id: not a user in
// /etc/passwd, not a group in /etc/group (a user and a group of the same name get the same
// number, free in both), not held by another unit's dynamic user. Here the candidates are the
// hashed one and then the next ids in turn (wrapping), so the id depends only on the name and
// what is taken. Units asking for the same name share the user, as under systemd.
//
// The allocation is recorded durably in the unit's state folder (dynamic-user.json, next to its
// state files), so the id stays the same across restarts of the unit and of the agent, and
// another unit's records (the sibling folders) are taken into account. It is released with the
// unit's state folder, which the agent removes when the unit is removed and none of its
// processes remains. A static account of the name (User=nobody) is used as it is, as systemd
// does; a recorded id that a static account took since is given up for a new one.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DYNAMIC_UID_MAX, DYNAMIC_UID_MIN } from '../api/dynamicuser.ts';
import { lookupGroup, lookupUser, type Account } from './environment.ts';

export const DYNAMIC_USER_FILE = 'dynamic-user.json';
const SPAN = DYNAMIC_UID_MAX - DYNAMIC_UID_MIN + 1;

interface Record_ { readonly user: string; readonly uid: number; readonly group: string; readonly gid: number }

/** The ids of an account file's third field (/etc/passwd uids, /etc/group gids). */
function idsIn(file: string): Set<number> {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { /* none */ }
  return new Set(text.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 3 && /^[0-9]+$/.test(f[2]!)).map((f) => Number(f[2])));
}

function readRecord(file: string): Record_ | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Record_;
    const ok = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= DYNAMIC_UID_MIN && (n as number) <= DYNAMIC_UID_MAX;
    return typeof r.user === 'string' && typeof r.group === 'string' && ok(r.uid) && ok(r.gid) ? r : undefined;
  } catch { return undefined; }
}

/** The first candidate for a name (systemd: a hash of it clamped into the range). */
export function hashedCandidate(name: string): number {
  return DYNAMIC_UID_MIN + (createHash('sha256').update(name).digest().readUInt32BE(0) % SPAN);
}

/** The first id from the name's candidate on that `free` accepts; undefined when the range is full. */
export function pickId(name: string, free: (id: number) => boolean): number | undefined {
  const first = hashedCandidate(name) - DYNAMIC_UID_MIN;
  for (let i = 0; i < SPAN; i++) {
    const id = DYNAMIC_UID_MIN + ((first + i) % SPAN);
    if (free(id)) return id;
  }
  return undefined;
}

export interface DynamicInput {
  /** The unit's state folder (its record goes there); its siblings are the other units'. */
  readonly unitDir: string;
  readonly user: string;
  readonly group: string;
  /** The node's account files (the host's as the agent sees them). */
  readonly passwd: string;
  readonly groupFile: string;
}

export type DynamicResult = { readonly account: Account; readonly gid: number; readonly dynamic: boolean } | { readonly error: string };

/** The unit's dynamic user and group (a static account of the name when one exists), recorded in unitDir. */
export function resolveDynamicUser(i: DynamicInput): DynamicResult {
  // a number is no name to allocate under (and User=0 would be root): refused, never guessed
  if (/^[0-9]+$/.test(i.user) || /^[0-9]+$/.test(i.group)) return { error: `${/^[0-9]+$/.test(i.user) ? `User=${i.user}` : `Group=${i.group}`} is a number, not a name for a dynamic user` };
  const staticUser = lookupUser(i.user, i.passwd);
  const staticGroup = lookupGroup(i.group, i.groupFile);
  if (staticUser) {
    // (a Group= of another name that exists nowhere: the user's own group here, where systemd
    // would allocate a dynamic group of that name)
    return { account: staticUser, gid: staticGroup ?? staticUser.gid, dynamic: false };
  }
  const uids = idsIn(i.passwd), gids = idsIn(i.groupFile);
  // the other units' records: a name they hold is shared, their ids are taken for other names
  const others: Record_[] = [];
  const parent = join(i.unitDir, '..');
  let siblings: string[] = [];
  try { siblings = readdirSync(parent); } catch { /* none */ }
  for (const d of siblings) {
    const p = join(parent, d);
    if (p === i.unitDir) continue;
    const r = readRecord(join(p, DYNAMIC_USER_FILE));
    if (r) others.push(r);
  }
  const mine = readRecord(join(i.unitDir, DYNAMIC_USER_FILE));
  const heldBy = (id: number, name: string, kind: 'uid' | 'gid'): boolean => others.some((r) => (r.uid === id || r.gid === id) && (kind === 'uid' ? r.user !== name : r.group !== name));
  const freeUid = (id: number, name: string): boolean => !uids.has(id) && !heldBy(id, name, 'uid');
  const freeGid = (id: number, name: string): boolean => !gids.has(id) && !heldBy(id, name, 'gid');
  const shared = (name: string, kind: 'uid' | 'gid'): number | undefined => {
    const r = others.find((x) => (kind === 'uid' ? x.user : x.group) === name);
    return r === undefined ? undefined : kind === 'uid' ? r.uid : r.gid;
  };

  let uid = shared(i.user, 'uid') ?? (mine?.user === i.user && freeUid(mine.uid, i.user) ? mine.uid : undefined);
  if (uid !== undefined && !freeUid(uid, i.user)) uid = undefined;
  // a user and a group of the same name: one number free as both
  uid ??= pickId(i.user, (id) => freeUid(id, i.user) && (i.group !== i.user || freeGid(id, i.group)));
  if (uid === undefined) return { error: `no free id is left in ${DYNAMIC_UID_MIN}–${DYNAMIC_UID_MAX} for the dynamic user ${i.user}` };
  let gid: number | undefined = staticGroup;
  if (gid === undefined) {
    if (i.group === i.user && freeGid(uid, i.group)) gid = uid;
    else {
      gid = shared(i.group, 'gid') ?? (mine?.group === i.group && freeGid(mine.gid, i.group) ? mine.gid : undefined);
      gid ??= pickId(i.group, (id) => freeGid(id, i.group) && id !== uid);
    }
  }
  if (gid === undefined) return { error: `no free id is left in ${DYNAMIC_UID_MIN}–${DYNAMIC_UID_MAX} for the dynamic group ${i.group}` };
  const dynGid = gid >= DYNAMIC_UID_MIN && gid <= DYNAMIC_UID_MAX ? gid : uid;
  if (mine?.user !== i.user || mine.uid !== uid || mine.group !== i.group || mine.gid !== dynGid) {
    const file = join(i.unitDir, DYNAMIC_USER_FILE);
    writeFileSync(`${file}.tmp`, `${JSON.stringify({ user: i.user, uid, group: i.group, gid: dynGid })}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
  // nss-systemd's entry for a dynamic user: home "/", no login shell
  return { account: { name: i.user, uid, gid, home: '/', shell: '/usr/sbin/nologin' }, gid, dynamic: true };
}
