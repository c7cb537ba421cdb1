// The unit store: the only module that knows how a unit's folder looks on disk and what its
// state file holds. Everyone else (runner, host, CLI, leftovers, benchmarks, tests) goes through
// these functions.
//
//   <unit dir>/state.json               the unit's state (format below), written atomically
//   <unit dir>/journal.log              the captured stdout/stderr (written by the shims)
//   <unit dir>/notify.sock              the sd_notify socket (hashed under /tmp when too long)
//   <unit dir>/run/<seq>-<kind>-<index>/events   one spawn's event log (see shimproto.ts)
//
// state.json, version 2: every field is always written (null for "none"); reading fills what an
// older writer left out with the defaults below, so an agent upgrade that adds a field re-adopts
// units with a defined value. Version 1 (until issue 11) is read and migrated: its `machine` had
// fields left out where undefined, its spawn records held an absolute `dir` and not the effect.
// The spawn records are the write-ahead record: they reach the disk before any process starts,
// and each holds the whole spawn effect the engine decided (command and environment), so a
// spawn interrupted by an agent crash is redone exactly.
//
// Hardening (file modes, ownership checks) belongs in writeAtomic(), ensureUnitDir() and
// readStateFile(): every byte goes through them.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { INITIAL_MACHINE, type Effect, type ExecKind, type Machine, type Role } from '../engine/index.ts';
import type { ServiceUnitSpec } from '../api/types.ts';

export const STATE_VERSION = 2;

export type SpawnEffect = Extract<Effect, { t: 'spawn' }>;

/** One spawn the runner decided: where its event log is and how far it has been read. */
export interface SpawnRecord {
  readonly seq: number;
  /** The spawn's folder (derived from the unit folder; not saved). */
  readonly dir: string;
  readonly role: Role;
  readonly kind: ExecKind;
  readonly index: number;
  /** The engine's effect, whole; undefined for a record saved by a version-1 agent. */
  readonly effect: SpawnEffect | undefined;
  shimPid: number;
  pid: number;
  offset: number;
  done: boolean;
  started: boolean;
}

export interface UnitState {
  readonly unitName: string;
  /** The agent's id for the unit (namespace/name in a cluster); undefined when never given. */
  readonly id: string | undefined;
  /** The spec the unit last ran with; undefined only in a damaged file. */
  readonly spec: ServiceUnitSpec | undefined;
  readonly specHash: string;
  readonly invocationId: string;
  readonly mainCommandLine: string | undefined;
  /** The last spawn sequence number handed out. */
  readonly seq: number;
  readonly machine: Machine;
  readonly spawns: readonly SpawnRecord[];
}

// ---- layout ----------------------------------------------------------------------------------

export const statePath = (dir: string): string => join(dir, 'state.json');
export const journalPath = (dir: string): string => join(dir, 'journal.log');
/** The unit folder a journal path (as status reports it) belongs to. */
export const unitDirOfJournal = (journal: string): string => dirname(journal);
export const spawnDir = (dir: string, seq: number, kind: ExecKind, index: number): string => join(dir, 'run', `${seq}-${kind}-${index}`);
export const eventsPath = (spawnFolder: string): string => join(spawnFolder, 'events');

/** The notify socket's path; sun_path holds ~108 bytes, so a long one moves under /tmp. */
export function notifySocketPath(dir: string): string {
  const p = join(dir, 'notify.sock');
  return p.length < 100 ? p : `/tmp/uo-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.sock`;
}

export function hasUnitState(dir: string): boolean { return existsSync(statePath(dir)); }

/** The unit folders under a units folder that hold a state file. */
export function unitDirs(unitsDir: string): string[] {
  if (!existsSync(unitsDir)) return [];
  return readdirSync(unitsDir).map((d) => join(unitsDir, d)).filter(hasUnitState);
}

export function ensureUnitDir(dir: string): void { mkdirSync(join(dir, 'run'), { recursive: true }); }
export function createSpawnDir(rec: SpawnRecord): void { mkdirSync(rec.dir, { recursive: true }); }
/** Whether a spawn's shim ever ran (it creates its event log first thing). */
export function hasSpawnEvents(rec: SpawnRecord): boolean { return existsSync(eventsPath(rec.dir)); }
export function removeSpawnDir(rec: SpawnRecord): void { rmSync(rec.dir, { recursive: true, force: true }); }

/** A new spawn record for an effect (the caller saves the state before starting it). */
export function newSpawnRecord(dir: string, seq: number, effect: SpawnEffect): SpawnRecord {
  return { seq, dir: spawnDir(dir, seq, effect.kind, effect.index), role: effect.role, kind: effect.kind, index: effect.index, effect, shimPid: 0, pid: 0, offset: 0, done: false, started: false };
}

// ---- reading ---------------------------------------------------------------------------------

/** The unit's saved state, migrated and with defaults; undefined when absent, unreadable or of an unknown version. */
export function readUnitState(dir: string): UnitState | undefined {
  const raw = readStateFile(statePath(dir));
  return raw === undefined ? undefined : decodeUnitState(raw, dir);
}

function readStateFile(file: string): unknown {
  try { return JSON.parse(readFileSync(file, 'utf8')) as unknown; } catch { return undefined; }
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const bool = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);

/** Turns a parsed state file of any known version into the current shape. */
export function decodeUnitState(raw: unknown, dir: string): UnitState | undefined {
  if (!isObj(raw) || (raw['version'] !== 1 && raw['version'] !== 2)) return undefined;
  const spawns = Array.isArray(raw['spawns']) ? raw['spawns'].filter(isObj).map((s) => decodeSpawn(s, dir)) : [];
  return {
    unitName: str(raw['unitName'], basename(dir)),
    id: optStr(raw['id']),
    spec: isObj(raw['spec']) ? (raw['spec'] as ServiceUnitSpec) : undefined,
    specHash: str(raw['specHash'], ''),
    invocationId: str(raw['invocationId'], ''),
    mainCommandLine: optStr(raw['mainCommandLine']),
    seq: num(raw['seq'], Math.max(0, ...spawns.map((s) => s.seq))),
    machine: decodeMachine(raw['machine']),
    spawns,
  };
}

/** The engine's initial machine supplies every field a file lacks (or holds as null). */
function decodeMachine(raw: unknown): Machine {
  const m = isObj(raw) ? raw : {};
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(INITIAL_MACHINE)) out[k] = m[k] ?? d;
  out['startLimit'] = { ...INITIAL_MACHINE.startLimit, ...(isObj(m['startLimit']) ? m['startLimit'] : {}) };
  out['timestamps'] = { ...INITIAL_MACHINE.timestamps, ...(isObj(m['timestamps']) ? dropNulls(m['timestamps']) : {}) };
  return out as unknown as Machine;
}

function decodeSpawn(s: Raw, dir: string): SpawnRecord {
  const effect = isObj(s['effect']) && s['effect']['t'] === 'spawn' ? (s['effect'] as unknown as SpawnEffect) : undefined;
  const role = (effect?.role ?? str(s['role'], 'main')) as Role;
  const kind = (effect?.kind ?? str(s['kind'], 'start')) as ExecKind;
  const index = effect?.index ?? num(s['index'], 0);
  const seq = num(s['seq'], 0);
  return {
    seq, dir: spawnDir(dir, seq, kind, index), role, kind, index, effect,
    shimPid: num(s['shimPid'], 0), pid: num(s['pid'], 0), offset: num(s['offset'], 0),
    done: bool(s['done'], false), started: bool(s['started'], false),
  };
}

function dropNulls(o: Raw): Raw { return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)); }

// ---- writing ---------------------------------------------------------------------------------

/** The version-2 file for a state: every field present, null for none. */
export function encodeUnitState(s: UnitState): string {
  const machine: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(INITIAL_MACHINE), ...Object.keys(s.machine)])) machine[k] = (s.machine as unknown as Raw)[k] ?? null;
  return JSON.stringify({
    version: STATE_VERSION,
    unitName: s.unitName,
    id: s.id ?? null,
    specHash: s.specHash,
    invocationId: s.invocationId,
    mainCommandLine: s.mainCommandLine ?? null,
    seq: s.seq,
    machine,
    spawns: s.spawns.map((r) => ({ seq: r.seq, role: r.role, kind: r.kind, index: r.index, shimPid: r.shimPid, pid: r.pid, offset: r.offset, done: r.done, started: r.started, effect: r.effect ?? null })),
    spec: s.spec ?? null,
  });
}

export function writeUnitState(dir: string, s: UnitState): void { writeAtomic(statePath(dir), encodeUnitState(s)); }

function writeAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}
