// What a unit's runner adopts from its state folder when the state file cannot be believed as
// it is (issue 12):
//   - a damaged file (truncated, not JSON, values of the wrong type): the shims' event logs and
//     the live shims say what still runs (store.ts recoverFromEventLogs()); the file is moved
//     aside, and the unit is either adopted as running (its main process found) or held: not
//     started while a process it left may live. Never a second copy, never "inactive (dead)"
//     for a process that runs unseen.
//   - a file that parses: the PIDs it names are believed only when /proc confirms them (a main
//     or control PID below one of the unit's live shims; a shim PID only for a live uo-shim on
//     that spawn's event log), so that a planted or reused PID is never signalled.

import { ACTIVE_STATE, INITIAL_MACHINE, type Machine } from '../engine/index.ts';
import { descendants, isAlive } from './procfs.ts';
import { fsErrorText, recoverFromEventLogs, recoveredSpawnRecord, setAsideDamaged, shimAlive, spawnDir, stateLabel, type UnitState } from './store.ts';
import { readStandbyFile } from './standby.ts';

type Say = (level: 'info' | 'notice' | 'warning', message: string) => void;

export interface Recovery {
  readonly state: UnitState;
  /** running: its main process adopted; held: processes live that it may not start beside; clean: nothing runs. */
  readonly outcome: 'running' | 'held' | 'clean';
  /** Why the unit may not start (held), for status and the start reply. */
  readonly hold: string | undefined;
}

const plural = (n: number, one: string, many: string): string => (n === 1 ? one : many);

/** The spawn folder of the standby next/standby.json names, if any (standby.ts). */
function standbyFolder(dir: string): Set<string> {
  const f = readStandbyFile(dir);
  return new Set(f ? [spawnDir(dir, f.seq, 'start', 0)] : []);
}

/** Recovers a unit whose state file `path` is damaged (`why`) from its event logs; says what it did. */
export function recoverState(dir: string, unitName: string, path: string, why: string, type: string, say: Say): Recovery {
  const found = recoverFromEventLogs(dir, standbyFolder(dir)); // a standby is not a spawn until adopted (standby.ts)
  for (const r of found.refused) say('warning', `refusing ${r}; it is not used to recover ${unitName}`);
  let moved: string;
  try { moved = `it was moved to ${setAsideDamaged(dir)}`; } catch (e) { moved = `it could not be moved aside (${fsErrorText(e)})`; }
  const live = found.spawns.filter((s) => s.live);
  const main = type === 'oneshot' ? undefined : live.filter((s) => s.kind === 'start' && s.pidLive).at(-1);
  let machine: Machine = INITIAL_MACHINE;
  let outcome: Recovery['outcome'];
  let hold: string | undefined;
  let did: string;
  if (live.length === 0) {
    outcome = 'clean';
    did = `no process of it runs (no live uo-shim on the event logs under ${dir}/run), so it starts from a clean state`;
  } else if (main && live.every((s) => s.kind === 'start')) {
    outcome = 'running';
    machine = { ...INITIAL_MACHINE, state: 'running', mainPid: main.pid, mainPidKnown: true, mainCommand: { kind: 'start', index: main.index }, groupEmpty: false };
    did = `its main process PID ${main.pid} (${main.dir}/events) still runs and is adopted: active (running). Its restart counter, timestamps and timers are lost`;
  } else {
    outcome = 'held';
    const pids = live.map((s) => (s.pidLive ? s.pid : s.shimPid));
    hold = `its state file ${path} was damaged and the ${plural(pids.length, 'process', 'processes')} it left (PID ${pids.join(', ')}) still ${plural(pids.length, 'runs', 'run')}; it is not started until ${plural(pids.length, 'that one ends', 'they end')}`;
    did = `${plural(pids.length, 'a process', 'processes')} of it still ${plural(pids.length, 'runs', 'run')} (PID ${pids.join(', ')}) that it cannot adopt as its main process; they are watched, and the unit is not started until they end`;
  }
  say('warning', `${path} is damaged (${why}); ${moved}. Recovered from the event logs: ${did}.`);
  const state: UnitState = {
    unitName, id: undefined, spec: undefined, specHash: '', invocationId: '', mainCommandLine: undefined,
    seq: found.seq, machine, spawns: live.map(recoveredSpawnRecord),
  };
  return { state, outcome, hold };
}

/**
 * Why a state file that parsed cannot be true (it is then damaged), or undefined: a live
 * uo-shim on an event log under run/ that it records as done or not at all, or a unit it says
 * is inactive or failed whose main process runs under one of its shims. Reads only the event
 * logs of spawns the state does not follow (usually none).
 */
export function contradiction(dir: string, s: UnitState): string | undefined {
  // (and the standby next/standby.json names: not the state's until adopted, standby.ts)
  const followed = new Set([...s.spawns.filter((r) => !r.done).map((r) => r.dir), ...standbyFolder(dir)]);
  const stray = recoverFromEventLogs(dir, followed).spawns.filter((l) => l.live);
  if (stray.length > 0) return `it does not follow ${stray.map((l) => `${l.dir} (uo-shim PID ${l.shimPid})`).join(', ')}, which still ${plural(stray.length, 'runs', 'run')}`;
  // a spawn is made by a decision that changed the state: a machine that never changed state (no
  // stateChange timestamp: fields lost, as a `machine` of none of its fields decodes to the initial
  // one) cannot hold a live one; believed, it would start a second copy beside it
  if (s.machine.timestamps.stateChange === undefined && s.spawns.some((r) => !r.done)) {
    // (its records may not know their shim's PID yet: the event logs say whether one runs)
    const held = recoverFromEventLogs(dir, standbyFolder(dir)).spawns.find((l) => l.live);
    if (held) return `its machine never changed state while ${held.dir} (uo-shim PID ${held.shimPid}) still runs`;
  }
  const active = ACTIVE_STATE[s.machine.state];
  if (active !== 'inactive' && active !== 'failed') return undefined;
  const { mainPid, controlPid } = s.machine;
  // a process being forked (PID -1) or a main process that runs under one of its holders: the
  // state lost what it was doing (a state field damaged). The holders as their event logs name
  // them: a record written before its holder's PID was known says 0
  const forking = mainPid === -1 || controlPid === -1;
  if (!forking && !(mainPid > 0 && isAlive(mainPid))) return undefined;
  const mine = new Set(s.spawns.filter((r) => !r.done).map((r) => r.dir));
  const live = recoverFromEventLogs(dir).spawns.filter((l) => l.live && mine.has(l.dir));
  if (forking && live.length > 0) return `it says ${active} while it was starting ${live[0]!.dir}, whose uo-shim PID ${live[0]!.shimPid} still runs`;
  if (mainPid > 0 && descendants(live.map((l) => l.shimPid)).includes(mainPid)) return `it says ${active} while its main process PID ${mainPid} runs`;
  return undefined;
}

/**
 * A state that parsed, with every PID it names that /proc does not confirm left out (and said):
 * a main or control PID is the unit's when one of its live shims holds it or it is in the
 * unit's cgroup (`inCgroup`, issue 13).
 */
export function adoptState(dir: string, s: UnitState, say: Say, inCgroup: readonly number[] = []): UnitState {
  const shims = s.spawns.filter((r) => !r.done && r.shimPid > 0 && shimAlive(r));
  for (const r of s.spawns) {
    if (!r.done && r.shimPid > 0 && !shimAlive(r) && isAlive(r.shimPid)) {
      say('warning', `${stateLabel(dir)}: PID ${r.shimPid}, recorded as the uo-shim of ${r.dir}, is not that spawn's uo-shim; it is not trusted and never signalled`);
    }
  }
  const ours = new Set([...descendants(shims.map((r) => r.shimPid)), ...inCgroup]);
  let m = s.machine;
  for (const [k, name] of [['mainPid', 'MainPID'], ['controlPid', 'ControlPID']] as const) {
    const pid = m[k];
    if (pid > 0 && isAlive(pid) && !ours.has(pid)) {
      say('warning', `${stateLabel(dir)}: ${name} ${pid} is not a process of the unit (none of its uo-shims holds it, nor its cgroup); it is not trusted and never signalled`);
      m = { ...m, [k]: 0 };
    }
  }
  return m === s.machine ? s : { ...s, machine: m };
}
