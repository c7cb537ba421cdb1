// Every oracle set (test/fixtures/oracle-sets/<name>: units, start, actions, and what systemd 257
// did with them: oracle.jsonl from `systemd-oracle run-set`, journal.txt the manager's lines
// about the set's units) run on the simulated node: the real service engine per unit under the
// dependency engine. Compared: every unit's final ActiveState/SubState/Result/NRestarts, the
// lines the units' scripts logged (which ran, how often, and in which order where the order is
// not a race), systemd's job and dependency messages, and the start order along After=/Before=.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Node, SET_TARGET } from './node.ts';
import { related } from '../../src/deps/index.ts';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/oracle-sets');
const SETS = readdirSync(ROOT).filter((d) => /^\d+-/.test(d)).sort();

interface Oracle {
  changes: Array<{ ms: number; unit: string; ActiveState: string; SubState: string; Result: string; NRestarts: number }>;
  finals: Map<string, { ActiveState: string; SubState: string; Result: string; NRestarts: number }>;
  log: string[];
  journal: string[];
}

function readOracle(dir: string): Oracle {
  const o: Oracle = { changes: [], finals: new Map(), log: [], journal: [] };
  for (const line of readFileSync(join(dir, 'oracle.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const j = JSON.parse(line);
    if (j.final) o.finals.set(j.unit, { ActiveState: j.ActiveState, SubState: j.SubState, Result: j.Result, NRestarts: j.NRestarts });
    else if (j.log) o.log = j.log;
    else if (j.unit) o.changes.push(j);
  }
  o.journal = readFileSync(join(dir, 'journal.txt'), 'utf8').split('\n').filter(Boolean);
  return o;
}

/** The journal lines both sides must agree on: job results, dependency failures, On*= triggers, restarts. */
const JOB_LINE = /^(Started |Finished |Dependency failed for |Failed to start |Timed out |Assertion failed for |Reloaded |Reload failed for )|: Job \S+ failed with result|: Triggering On(Failure|Success)= dependencies\.|: Failed to enqueue On(Failure|Success)=|^\S+ is inactive\.$|: Scheduled restart job|: Failed with result/;
const jobLines = (lines: readonly string[]): string[] => lines.filter((l) => JOB_LINE.test(l) && !l.includes(SET_TARGET)).sort();

/** One round of run-set's sampler over a set's units, at most. */
const SAMPLE_ROUND_MS = 80;

const count = (xs: readonly string[]): Map<string, number> => { const m = new Map<string, number>(); for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1); return m; };

/** First time (ms) the unit left inactive/failed, and first time it was active or back down after that. */
function startWindow(changes: ReadonlyArray<{ ms: number; unit: string; ActiveState: string }>, unit: string): { began?: number; ready?: number } {
  const cs = changes.filter((c) => c.unit === unit);
  const b = cs.findIndex((c) => c.ActiveState === 'activating' || c.ActiveState === 'active');
  if (b < 0) return {};
  const r = cs.slice(b).find((c) => c.ActiveState !== 'activating');
  return { began: cs[b]!.ms, ready: r?.ms };
}

for (const set of SETS) {
  test(`oracle set ${set}`, () => {
    const dir = join(ROOT, set);
    const oracle = readOracle(dir);
    const node = Node.fromDir(dir).runFor(4000);

    // 1. final state of every unit
    assert.ok(oracle.finals.size > 0, 'the oracle output has final lines');
    for (const [unit, want] of oracle.finals) assert.deepEqual(node.final(unit), want, `${set}: final state of ${unit}`);

    // 2. what the scripts logged: same lines as often, and in the same order wherever the
    // simulation puts them ≥ 50 ms apart (closer ones are races between processes in systemd too)
    assert.deepEqual(count(node.log.map((l) => l.text)), count(oracle.log), `${set}: logged lines`);
    for (let i = 0; i < node.log.length; i++) {
      for (let k = i + 1; k < node.log.length; k++) {
        const a = node.log[i]!, b = node.log[k]!;
        if (b.ms - a.ms < 50 || a.text === b.text) continue;
        const oa = oracle.log.indexOf(a.text), ob = oracle.log.lastIndexOf(b.text);
        assert.ok(oa < ob, `${set}: "${a.text}" (${a.ms} ms) before "${b.text}" (${b.ms} ms) as in systemd: ${JSON.stringify(oracle.log)}`);
      }
    }

    // 3. job results and systemd's words for them (an empty journal.txt: the oracle's journal
    // was not captured for the set, e.g. flooded by other tests; every set starts a unit, so
    // "Started …" lines would be there otherwise)
    if (oracle.journal.length > 0) assert.deepEqual(jobLines(node.journal), jobLines(oracle.journal), `${set}: job and dependency messages`);

    // 3a. a request systemctl was refused (DIR/stderr.txt: "Failed to VERB UNIT: WHY"): refused here with the same words
    if (existsSync(join(dir, 'stderr.txt'))) {
      for (const m of readFileSync(join(dir, 'stderr.txt'), 'utf8').matchAll(/^Failed to \S+ (\S+): (.*)$/gm)) assert.ok(node.requestErrors.includes(`${m[1]}: ${m[2]}`), `${set}: refused as systemd: ${m[0]}; here ${JSON.stringify(node.requestErrors)}`);
    }

    // 3b. the set's order facts (DIR/order: "x < y", lines systemd's waits keep in that order)
    if (existsSync(join(dir, 'order'))) {
      for (const l of readFileSync(join(dir, 'order'), 'utf8').split('\n').filter(Boolean)) {
        const [x, y] = l.split(' < ') as [string, string];
        const texts = node.log.map((k) => k.text);
        assert.ok(texts.includes(x) && texts.indexOf(x) < texts.lastIndexOf(y), `${set}: "${x}" before "${y}" as in systemd: ${JSON.stringify(texts)}`);
      }
    }

    // 4. start order along After=/Before=: a unit does not begin starting before the units it is
    // ordered after are up (or done), in systemd and here alike
    for (const unit of oracle.finals.keys()) {
      for (const dep of related(node.graph, unit, 'after')) {
        if (!oracle.finals.has(dep) || dep === SET_TARGET) continue;
        const o = startWindow(oracle.changes, unit), od = startWindow(oracle.changes, dep);
        const s = startWindow(node.changes, unit), sd = startWindow(node.changes, dep);
        assert.equal(s.began !== undefined, o.began !== undefined, `${set}: ${unit} started in both or neither`);
        if (o.began === undefined || od.ready === undefined || s.began === undefined || sd.ready === undefined) continue;
        // the sampler reads the units one after another in each round (~10 ms apart plus a
        // systemctl call each): a change is seen up to one round late, hence the slack
        assert.ok(o.began >= od.ready - SAMPLE_ROUND_MS, `${set}: systemd started ${unit} at ${o.began} ms, after ${dep} was up at ${od.ready} ms`);
        assert.ok(s.began >= sd.ready, `${set}: ${unit} starts at ${s.began} ms, after ${dep} is up at ${sd.ready} ms`);
      }
    }
  });
}
