// Every oracle set (test/fixtures/oracle-sets) run through a REAL standalone agent with real
// processes (test/deps/agent-set.ts) and compared with what systemd 257 did with it: each unit's
// final ActiveState/SubState/Result/NRestarts, the lines the units' scripts logged (how often,
// and in systemd's order where systemd's order is no race), systemd's job and dependency
// messages in the agent's log, and, along After=/Before=, that no unit began starting before the
// units it is ordered after were up. This is the proof the directive table's rows point at.
// ORACLE_SETS=09,19 runs only the sets whose names start with those prefixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFixture } from '../support/agent.ts';
import { isDeepStrictEqual } from 'node:util';
import { readOracle, runSetOnAgent, type Sample, type Snapshot } from './agent-set.ts';
import { Node } from './node.ts';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/oracle-sets');
const only = (process.env['ORACLE_SETS'] ?? '').split(',').filter(Boolean);
const SETS = readdirSync(ROOT).filter((d) => /^\d+-/.test(d) && (only.length === 0 || only.some((p) => d.startsWith(p)))).sort();

/** The journal lines both sides must agree on: job results, dependency failures, On*= triggers, restarts. */
const JOB_LINE = /^(Started |Finished |Dependency failed for |Failed to start \S+\.$|Timed out |Assertion failed for |Reloaded |Reload failed for |Stopped )|: Job \S+ failed with result|: Triggering On(Failure|Success)= dependencies\.|: Failed to enqueue On(Failure|Success)=|^\S+ is inactive\.$|: Scheduled restart job|: Failed with result/;
export const jobLines = (lines: readonly string[]): string[] => lines.filter((l) => JOB_LINE.test(l)).sort();

const count = (xs: readonly string[]): Map<string, number> => { const m = new Map<string, number>(); for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1); return m; };

/** First time (ms) the unit left inactive/failed, and first time it was active or back down after that. */
function startWindow(changes: readonly Sample[], unit: string): { began?: number; ready?: number } {
  const cs = changes.filter((c) => c.unit === unit);
  const b = cs.findIndex((c) => c.ActiveState === 'activating' || c.ActiveState === 'active');
  if (b < 0) return {};
  const r = cs.slice(b).find((c) => c.ActiveState !== 'activating');
  return { began: cs[b]!.ms, ready: r?.ms };
}

/** DIR/order: "x < y" lines. */
function orderFacts(dir: string): Array<[string, string]> {
  if (!existsSync(join(dir, 'order'))) return [];
  return readFileSync(join(dir, 'order'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const m = /^(.+?) < (.+)$/.exec(l);
    if (!m) throw new Error(`${dir}/order: "${l}" is not "x < y"`);
    return [m[1]!, m[2]!];
  });
}

/** [unit, dep] for every After=dep in unit and Before=unit in dep, read from the unit files' text. */
function orderedAfter(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.service'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const m = /^(After|Before)=(.*)$/.exec(line.trim());
      if (!m) continue;
      for (const o of m[2]!.split(/\s+/).filter(Boolean)) out.push(m[1] === 'After' ? [f, o] : [o, f]);
    }
  }
  return out;
}

/**
 * How far from run-set's 4 s mark the compared moment may be (ms): real processes on a shared
 * machine start a little sooner or later than in the oracle's root, and a set whose units
 * restart in a loop (12) is mid-cycle at 4 s. Sets whose state is settled by then are unaffected.
 */
const GRACE_MS = 400;

/** Where run-set's output and ours are sampled up to one round late (ms). */
const SAMPLE_SLACK_MS = 80;

for (const set of SETS) {
  test(`oracle set ${set} through the real agent`, async (t) => {
    const dir = join(ROOT, set);
    const oracle = readOracle(dir);
    const a = agentFixture(t);
    const run = await runSetOnAgent(a, dir, 4, GRACE_MS);
    // the moment compared: the first sampling round near 4 s where every unit stands as in
    // systemd's final lines and the scripts logged the same lines; else the 4 s mark itself
    const same = (x: Snapshot): boolean => [...oracle.finals].every(([u, want]) => isDeepStrictEqual(x.finals.get(u), want))
      && isDeepStrictEqual(count(x.log), count(oracle.log));
    const snap = run.window.find(same) ?? run.nominal;
    const why = (): string => `\ncompared at ${snap.ms} ms\nactions: ${JSON.stringify(run.actions)}\nchanges: ${run.changes.map((c) => `${c.ms} ${c.unit} ${c.ActiveState}/${c.SubState}/${c.Result}/${c.NRestarts}`).join('\n  ')}\njournal:\n  ${snap.journal.join('\n  ')}`;

    // 1. final state of every unit
    assert.ok(oracle.finals.size > 0, 'the oracle output has final lines');
    for (const [unit, want] of oracle.finals) assert.deepEqual(snap.finals.get(unit), want, `${set}: final state of ${unit}${why()}`);

    // 2. the scripts' lines: the same lines as often; and where the simulated node (exact clock,
    // itself checked against the oracle) puts two lines ≥ 300 ms apart, the same order here
    assert.deepEqual(count(snap.log), count(oracle.log), `${set}: logged lines ${JSON.stringify(snap.log)}${why()}`);
    const sim = Node.fromDir(dir).runFor(4000);
    for (let i = 0; i < sim.log.length; i++) {
      for (let k = i + 1; k < sim.log.length; k++) {
        const x = sim.log[i]!, y = sim.log[k]!;
        if (y.ms - x.ms < 300 || x.text === y.text) continue;
        assert.ok(snap.log.indexOf(x.text) < snap.log.lastIndexOf(y.text), `${set}: "${x.text}" before "${y.text}" as in systemd: ${JSON.stringify(oracle.log)}, here ${JSON.stringify(snap.log)}`);
      }
    }

    // 3. job results and systemd's words for them (sets whose journal was not captured have none)
    if (oracle.journal.length > 0) assert.deepEqual(jobLines(snap.journal), jobLines(oracle.journal), `${set}: job and dependency messages${why()}`);

    // 4. the order facts of the set (DIR/order: "x < y", lines that systemd's waits put in that
    // order, not races): true of systemd's log, and of ours
    for (const [x, y] of orderFacts(dir)) {
      assert.ok(oracle.log.includes(x) && oracle.log.indexOf(x) < oracle.log.lastIndexOf(y), `${set}/order: "${x} < ${y}" is not what systemd logged: ${JSON.stringify(oracle.log)}`);
      assert.ok(snap.log.includes(x) && snap.log.indexOf(x) < snap.log.lastIndexOf(y), `${set}: "${x}" before "${y}" as in systemd: ${JSON.stringify(oracle.log)}, here ${JSON.stringify(snap.log)}${why()}`);
    }

    // 5. start order along After=/Before= as the unit files say (read here, not by the code under
    // test): a unit does not begin starting before the units it is ordered after are up
    for (const [unit, dep] of orderedAfter(dir)) {
      if (!oracle.finals.has(unit) || !oracle.finals.has(dep)) continue;
      const o = startWindow(oracle.changes, unit);
      const s = startWindow(run.changes, unit), sd = startWindow(run.changes, dep);
      assert.equal(s.began !== undefined, o.began !== undefined, `${set}: ${unit} started in both or neither${why()}`);
      if (s.began === undefined || sd.ready === undefined) continue;
      assert.ok(s.began >= sd.ready - SAMPLE_SLACK_MS, `${set}: ${unit} began at ${s.began} ms, before ${dep} was up at ${sd.ready} ms${why()}`);
    }
  });
}
