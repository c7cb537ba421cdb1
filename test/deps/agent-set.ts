// An oracle set (test/fixtures/oracle-sets/<name>) run through a REAL standalone agent, with real
// processes: the set's units are handed to the agent in one file (one reconcile, one batch of
// jobs, as run-set starts them in one transaction), the units not in DIR/start as state: stopped;
// DIR/actions are sent on the agent's socket at their moment as `systemctl --no-block VERB UNIT`
// is; every unit's ActiveState/SubState/Result/NRestarts is sampled every 10 ms like run-set's
// sampler does. What the units' scripts append to /tmp/oracle-deps.log goes to a file of the
// fixture instead. Compared by test/deps/agent-sets.test.ts with what systemd 257 did.
import { readFileSync, readdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertText } from '../../src/unitfile/index.ts';
import { request } from '../../src/cli/client.ts';
import type { AgentFixture } from '../support/agent.ts';
import type { UnitStatus } from '../../src/api/status.ts';

export interface Sample { readonly ms: number; readonly unit: string; readonly ActiveState: string; readonly SubState: string; readonly Result: string; readonly NRestarts: number }
export interface Final { readonly ActiveState: string; readonly SubState: string; readonly Result: string; readonly NRestarts: number }

export interface Oracle {
  readonly changes: Sample[];
  readonly finals: Map<string, Final>;
  readonly log: string[];
  readonly journal: string[];
}

/** The oracle's answer recorded for a set: oracle.jsonl (run-set's output) and journal.txt. */
export function readOracle(dir: string): Oracle {
  const o: Oracle = { changes: [], finals: new Map(), log: [], journal: [] };
  for (const line of readFileSync(join(dir, 'oracle.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const j = JSON.parse(line);
    if (j.final) o.finals.set(j.unit, { ActiveState: j.ActiveState, SubState: j.SubState, Result: j.Result, NRestarts: j.NRestarts });
    else if (j.log) o.log.push(...(j.log as string[]));
    else if (j.unit) o.changes.push(j);
  }
  o.journal.push(...readFileSync(join(dir, 'journal.txt'), 'utf8').split('\n').filter(Boolean));
  return o;
}

/** The set as it stood at one moment: every unit's state, the scripts' lines and the agent's lines so far. */
export interface Snapshot {
  readonly ms: number;
  readonly finals: Map<string, Final>;
  readonly log: string[];
  /** The agent's log lines about the set's units, without time stamp, level and unit prefix. */
  readonly journal: string[];
}

export interface SetRun {
  readonly changes: Sample[];
  /** The moment `secs` after t0 (run-set's final lines and log). */
  readonly nominal: Snapshot;
  /** Every sampling round within `graceMs` of that moment (real processes start a few ms sooner or later than the oracle's). */
  readonly window: Snapshot[];
  /** What each action's request answered (an error, or the job it queued). */
  readonly actions: string[];
}

const LOG = '/tmp/oracle-deps.log';

/** The set's unit files as ServiceUnit objects, those not in DIR/start stopped; the log path moved to `logFile`. */
export function setManifest(dir: string, logFile: string): { doc: string; units: string[]; start: string[] } {
  const units = readdirSync(dir).filter((f) => f.endsWith('.service')).sort();
  const start = readFileSync(join(dir, 'start'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
  const docs = units.map((u) => {
    const obj = convertText(readFileSync(join(dir, u), 'utf8').replaceAll(LOG, logFile), u).object;
    if (!start.includes(u)) (obj.spec as { state?: string }).state = 'stopped';
    return JSON.stringify(obj);
  });
  return { doc: docs.join('\n---\n') + '\n', units, start };
}

/** Runs the set for `secs` seconds (and `graceMs` more) through the agent of `a` (started by this function, with an empty folder). */
export async function runSetOnAgent(a: AgentFixture, dir: string, secs: number, graceMs = 0): Promise<SetRun> {
  const logFile = join(a.manifests, '..', 'oracle-deps.log');
  writeFileSync(logFile, '');
  const { doc, units } = setManifest(dir, logFile);
  const actions = existsSync(join(dir, 'actions'))
    ? readFileSync(join(dir, 'actions'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean).map((l) => { const [ms, verb, unit] = l.split(/\s+/); return { ms: Number(ms), verb: verb!, unit: unit! }; })
    : [];
  await a.start();
  const skip = a.stderr.join('').length;
  // one file, renamed into the folder: one reconcile with every unit of the set
  const tmp = join(a.manifests, '..', 'set.yaml');
  writeFileSync(tmp, doc);
  renameSync(tmp, join(a.manifests, 'set.yaml'));
  // t0: the moment the agent has the set's units (it starts them as it applies them; run-set's
  // t0 is just before its `systemctl --no-block start`). Reading the folder takes it a moment.
  const list = async (): Promise<UnitStatus[]> => {
    const r = await request(a.state, { cmd: 'list' });
    if (!r.ok) throw new Error(`unitctl list: ${r.error}`);
    return (r.units ?? []).filter((s) => units.includes(s.Id));
  };
  let first: UnitStatus[] = [];
  for (let i = 0; i < 1000 && first.length === 0; i++) { first = await list(); if (first.length === 0) await new Promise((res) => setTimeout(res, 5)); }
  if (first.length === 0) throw new Error(`the agent did not load the set's units: ${a.stderr.join('')}`);
  const t0 = Date.now();
  const out = { changes: [] as Sample[], window: [] as Snapshot[], actions: [] as string[] };
  const last = new Map<string, string>();
  const record = (ms: number, ss: readonly UnitStatus[]): void => {
    for (const s of ss) {
      const cur = [s.ActiveState, s.SubState, s.Result, s.NRestarts].join(' ');
      if (last.get(s.Id) === cur) continue;
      last.set(s.Id, cur);
      out.changes.push({ ms, unit: s.Id, ActiveState: s.ActiveState, SubState: s.SubState, Result: s.Result, NRestarts: s.NRestarts });
    }
  };
  record(0, first);
  // "2026-… info    db.service: Started db.service." → "Started db.service."; the service engine's
  // lines ("Failed with result 'exit-code'.") get systemd's log_unit_*() prefix "db.service: "
  const journal = (): string[] => {
    const out: string[] = [];
    for (const line of a.stderr.join('').slice(skip).split('\n')) {
      const m = /^\S+ +\S+ +(\S+?): (.*)$/.exec(line);
      if (!m || !units.includes(m[1]!)) continue;
      out.push(m[2]!.includes(m[1]!) ? m[2]! : `${m[1]}: ${m[2]}`);
    }
    return out;
  };
  const snapshot = (ms: number, ss: readonly UnitStatus[]): Snapshot => ({
    ms, finals: new Map(ss.map((s) => [s.Id, { ActiveState: s.ActiveState, SubState: s.SubState, Result: s.Result, NRestarts: s.NRestarts }])),
    log: readFileSync(logFile, 'utf8').split('\n').filter(Boolean), journal: journal(),
  });
  let next = 0;
  const end = t0 + secs * 1000 + graceMs;
  let nominal: Snapshot | undefined;
  for (let round = 0; round < (secs * 1000 + graceMs) && Date.now() < end; round++) {
    while (next < actions.length && Date.now() - t0 >= actions[next]!.ms) {
      const act = actions[next++]!;
      // `systemctl --no-block isolate X` is a start in job mode isolate (unitctl isolate)
      const r = await request(a.state, act.verb === 'isolate'
        ? { cmd: 'start', unit: act.unit, noBlock: true, jobMode: 'isolate' }
        : { cmd: act.verb as 'start' | 'stop' | 'restart' | 'reload', unit: act.unit, noBlock: true });
      out.actions.push(`${act.verb} ${act.unit}: ${r.ok ? `job ${r.job?.id}` : r.error}`);
    }
    const ss = await list();
    // a state seen in the answer was there when the answer came
    const ms = Date.now() - t0;
    record(ms, ss);
    if (ms >= secs * 1000 - graceMs) {
      const snap = snapshot(ms, ss);
      out.window.push(snap);
      if (nominal === undefined && ms >= secs * 1000) nominal = snap;
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  nominal ??= snapshot(Date.now() - t0, await list());
  return { ...out, nominal };
}
