// Every oracle set (test/fixtures/oracle-sets) run through a REAL standalone agent with real
// processes (test/deps/agent-set.ts) and compared with what systemd 257 did with it: each unit's
// final ActiveState/SubState/Result/NRestarts, the lines the units' scripts logged (how often,
// and in systemd's order where systemd's order is no race), systemd's job and dependency
// messages in the agent's log, and, along After=/Before=, that no unit began starting before the
// units it is ordered after were up. This is the proof the directive table's rows point at.
// ORACLE_SETS=09,19 runs only the sets whose names start with those prefixes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFixture, type AgentFixture } from '../support/agent.ts';
import { isDeepStrictEqual } from 'node:util';
import { readOracle, runSetOnAgent, type Sample, type Snapshot } from './agent-set.ts';
import { Node } from './node.ts';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/oracle-sets');
const only = (process.env['ORACLE_SETS'] ?? '').split(',').filter(Boolean);

/** The journal lines both sides must agree on: job results, dependency failures, On*= triggers, restarts. */
const JOB_LINE = /^(Started |Finished |Dependency failed for |Failed to start \S+\.$|Timed out |Assertion failed for |Reloaded |Reload failed for |Stopped )|: Job \S+ failed with result|: Triggering On(Failure|Success)= dependencies\.|: Failed to enqueue On(Failure|Success)=|^\S+ is inactive\.$|: Scheduled restart job|: Failed with result/;
export const jobLines = (lines: readonly string[]): string[] => lines.filter((l) => JOB_LINE.test(l)).sort();

const count = (xs: readonly string[]): Map<string, number> => { const m = new Map<string, number>(); for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1); return m; };

/** For each "U: Scheduled restart job…" line of a journal, in order: how many "Started U." lines came before it. */
function startsBeforeRestarts(journal: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (let i = 0; i < journal.length; i++) {
    const m = /^(\S+): Scheduled restart job/.exec(journal[i]!);
    if (!m) continue;
    const n = journal.slice(0, i).filter((l) => l === `Started ${m[1]}.`).length;
    out.set(journal[i]!, [...(out.get(journal[i]!) ?? []), n]);
  }
  return out;
}

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

/** How long the agent's log may reach this test after the state it tells of (ms): its stderr pipe, read by this process between samples. */
const JOURNAL_SLACK_MS = 150;

/** Where run-set's output and ours are sampled up to one round late (ms). */
const SAMPLE_SLACK_MS = 80;

/** Runs one set through the agent `a` and compares it with systemd's answer. */
async function check(a: AgentFixture, set: string): Promise<void> {
  {
    const dir = join(ROOT, set);
    const oracle = readOracle(dir);
    const run = await runSetOnAgent(a, dir, 4, GRACE_MS);
    // the moment compared: the first sampling round near 4 s where every unit stands as in
    // systemd's final lines and the scripts logged the same lines; else the 4 s mark itself
    // (the journal too: a line said a moment after the state it follows is not read apart from it)
    const same = (x: Snapshot): boolean => [...oracle.finals].every(([u, want]) => isDeepStrictEqual(x.finals.get(u), want))
      && isDeepStrictEqual(count(x.log), count(oracle.log))
      && (oracle.journal.length === 0 || isDeepStrictEqual(jobLines(x.journal), jobLines(oracle.journal)));
    const agreed = run.window.find(same);
    const snap = agreed ?? run.nominal;
    // the journal does not trail the states it tells of: the moment found is the first where the
    // states and the scripts' lines agree, or a moment later by no more than a prepared restart's
    // lead (100 ms) and the sampling's slack
    const settled = run.window.find((x) => [...oracle.finals].every(([u, want]) => isDeepStrictEqual(x.finals.get(u), want)) && isDeepStrictEqual(count(x.log), count(oracle.log)));
    if (settled && agreed) assert.ok(agreed.ms - settled.ms <= 100 + JOURNAL_SLACK_MS, `${set}: the journal agreed at ${agreed.ms} ms, ${agreed.ms - settled.ms} ms after the states and lines did (${settled.ms} ms)`);
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

    // 3a. a restart is scheduled before its start is done: as many "Started U." lines come before
    // each "U: Scheduled restart job, restart counter is at N." as in systemd's journal
    const ours = startsBeforeRestarts(snap.journal);
    for (const [line, want] of startsBeforeRestarts(oracle.journal)) {
      const got = ours.get(line);
      if (got !== undefined) assert.deepEqual(got, want.slice(0, got.length), `${set}: "Started" lines before each "${line}"${why()}`);
    }

    // 3b. a request systemctl was refused (DIR/stderr.txt: "Failed to VERB UNIT: WHY"): the agent answers with the same words
    if (existsSync(join(dir, 'stderr.txt'))) {
      for (const m of readFileSync(join(dir, 'stderr.txt'), 'utf8').matchAll(/^Failed to \S+ \S+: .*$/gm)) assert.ok(run.actions.some((a) => a.endsWith(`: ${m[0]}`)), `${set}: refused as systemd: ${m[0]}; here ${JSON.stringify(run.actions)}`);
    }

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
  }
}

// One test per set, its title naming what the set proves (the directive walk of
// test/api/directive-walk.test.ts reads the titles of test() calls whose callback calls agentFixture).
/** The sets that have a test below (checked against the folder at the end). */
const T: string[] = [];
/** Whether ORACLE_SETS leaves this set out (the test is then marked skipped). */
const left = (set: string, t: TestContext): boolean => {
  T.push(set);
  if (only.length === 0 || only.some((p) => set.startsWith(p))) return false;
  t.skip(`ORACLE_SETS=${only.join(',')}`);
  return true;
};

test('Requires=, After=: a failed requirement fails the dependent\'s job with dependency (set 01, real agent)', async (t) => { if (left('01-requires-after-fail', t)) return; const a = agentFixture(t); await check(a, '01-requires-after-fail'); });
test('Requires= without ordering: both start at once, the later failure stops nothing (set 02, real agent)', async (t) => { if (left('02-requires-no-order', t)) return; const a = agentFixture(t); await check(a, '02-requires-no-order'); });
test('Wants=: a failed wanted unit does not fail the job (set 03, real agent)', async (t) => { if (left('03-wants-fail', t)) return; const a = agentFixture(t); await check(a, '03-wants-fail'); });
test('After=: ordering behind a slow Type=notify unit (set 04, real agent)', async (t) => { if (left('04-notify-order', t)) return; const a = agentFixture(t); await check(a, '04-notify-order'); });
test('Requires= on a missing unit fails, Wants= on it is ignored (set 05, real agent)', async (t) => { if (left('05-missing-requires', t)) return; const a = agentFixture(t); await check(a, '05-missing-requires'); });
test('OnFailure=: the handler runs when the unit fails (set 06, real agent)', async (t) => { if (left('06-onfailure', t)) return; const a = agentFixture(t); await check(a, '06-onfailure'); });
test('Requires=, After=: stop jobs run in reverse order (set 07, real agent)', async (t) => { if (left('07-stop-reverse', t)) return; const a = agentFixture(t); await check(a, '07-stop-reverse'); });
test('Conflicts=: starting one stops the other first (set 08, real agent)', async (t) => { if (left('08-conflicts', t)) return; const a = agentFixture(t); await check(a, '08-conflicts'); });
test('BindsTo=: pulls the unit in, and the dependent stops when it exits (set 09, real agent)', async (t) => { if (left('09-bindsto', t)) return; const a = agentFixture(t); await check(a, '09-bindsto'); });
test('PartOf=: restarting the unit restarts its parts, stopped first (set 10, real agent)', async (t) => { if (left('10-partof-restart', t)) return; const a = agentFixture(t); await check(a, '10-partof-restart'); });
test('Requisite=: an inactive requisite fails the job (set 11, real agent)', async (t) => { if (left('11-requisite', t)) return; const a = agentFixture(t); await check(a, '11-requisite'); });
test('Requires=: an automatic restart of the dependency restarts its dependents (set 12, real agent)', async (t) => { if (left('12-autorestart-dep', t)) return; const a = agentFixture(t); await check(a, '12-autorestart-dep'); });
test('OnSuccess=: the handler runs when the unit ends well (set 13, real agent)', async (t) => { if (left('13-onsuccess', t)) return; const a = agentFixture(t); await check(a, '13-onsuccess'); });
test('StopWhenUnneeded=: the helper stops once nothing wants it (set 14, real agent)', async (t) => { if (left('14-stop-when-unneeded', t)) return; const a = agentFixture(t); await check(a, '14-stop-when-unneeded'); });
test('Requires=: restarting the dependency restarts the dependent, stopped first (set 15, real agent)', async (t) => { if (left('15-requires-restart', t)) return; const a = agentFixture(t); await check(a, '15-requires-restart'); });
test('Before=: the dependent waits for a unit that times out, then fails with dependency (set 16, real agent)', async (t) => { if (left('16-before-timeout', t)) return; const a = agentFixture(t); await check(a, '16-before-timeout'); });
test('Upholds=: the upheld unit is started again each time it exits (set 17, real agent)', async (t) => { if (left('17-upholds', t)) return; const a = agentFixture(t); await check(a, '17-upholds'); });
test('PropagatesReloadTo=: a reload reloads the other unit (set 18, real agent)', async (t) => { if (left('18-reload-propagation', t)) return; const a = agentFixture(t); await check(a, '18-reload-propagation'); });
test('BindsTo=, PartOf=: stopping the unit stops both dependents first (set 19, real agent)', async (t) => { if (left('19-bindsto-stop', t)) return; const a = agentFixture(t); await check(a, '19-bindsto-stop'); });
test('Requires=, OnFailure=: a failure goes up a chain and triggers the middle unit\'s handler (set 20, real agent)', async (t) => { if (left('20-dependency-chain', t)) return; const a = agentFixture(t); await check(a, '20-dependency-chain'); });
test('Requires=: a dependency\'s automatic restarts hitting its start limit (set 21, real agent)', async (t) => { if (left('21-autorestart-start-limit', t)) return; const a = agentFixture(t); await check(a, '21-autorestart-start-limit'); });
test('Before=: starts after a slow Type=notify unit is ready, stops in reverse order (set 22, real agent)', async (t) => { if (left('22-before-order', t)) return; const a = agentFixture(t); await check(a, '22-before-order'); });
test('Requisite=: an active requisite lets the unit start; stopping it stops the unit first (set 23, real agent)', async (t) => { if (left('23-requisite-active', t)) return; const a = agentFixture(t); await check(a, '23-requisite-active'); });
test('PropagatesStopTo=, StopPropagatedFrom=: a stop is propagated, a start is not (set 24, real agent)', async (t) => { if (left('24-propagates-stop', t)) return; const a = agentFixture(t); await check(a, '24-propagates-stop'); });
test('ReloadPropagatedFrom=: a reload of the other unit reloads this one if active (set 25, real agent)', async (t) => { if (left('25-reload-propagated-from', t)) return; const a = agentFixture(t); await check(a, '25-reload-propagated-from'); });
test('OnFailureJobMode=fail: the handler\'s job is refused when it would replace a queued job (set 26, real agent)', async (t) => { if (left('26-onfailure-job-mode-fail', t)) return; const a = agentFixture(t); await check(a, '26-onfailure-job-mode-fail'); });
test('OnFailureJobMode=replace: the handler\'s job replaces the queued job it conflicts with (set 27, real agent)', async (t) => { if (left('27-onfailure-job-mode-replace', t)) return; const a = agentFixture(t); await check(a, '27-onfailure-job-mode-replace'); });
test('OnSuccessJobMode=fail: the handler\'s job is refused when it would replace a queued job (set 29, real agent)', async (t) => { if (left('29-onsuccess-job-mode-fail', t)) return; const a = agentFixture(t); await check(a, '29-onsuccess-job-mode-fail'); });
test('JobTimeoutSec=: a start job waiting too long times out (set 28, real agent)', async (t) => { if (left('28-job-timeout', t)) return; const a = agentFixture(t); await check(a, '28-job-timeout'); });
test('Requires=, After=: an automatic restart waits for the dependents\' stop before starting the unit (set 30, real agent)', async (t) => { if (left('30-autorestart-stops-dependents', t)) return; const a = agentFixture(t); await check(a, '30-autorestart-stops-dependents'); });
test('Requires=, After=: a start during the restart delay restarts at once, the dependents stopped first (set 31, real agent)', async (t) => { if (left('31-autorestart-start-shortcut', t)) return; const a = agentFixture(t); await check(a, '31-autorestart-start-shortcut'); });
test('RequiresMountsFor=, WantsMountsFor=: paths on / and under mounted file systems; the mount units are active (set 32, real agent)', async (t) => { if (left('32-requires-mounts-for', t)) return; const a = agentFixture(t); await check(a, '32-requires-mounts-for'); });
test('JobRunningTimeoutSec=: a job times out once it runs, not while it waits; JobTimeoutSec= still bounds it (set 33, real agent)', async (t) => { if (left('33-job-running-timeout', t)) return; const a = agentFixture(t); await check(a, '33-job-running-timeout'); });
test('isolate: starts the unit (AllowIsolate=yes) and what it wants, stops the others but IgnoreOnIsolate= ones (set 34, real agent)', async (t) => { if (left('34-isolate', t)) return; const a = agentFixture(t); await check(a, '34-isolate'); });
test('isolate of a unit without AllowIsolate= is refused as systemctl\'s, nothing stops (set 35, real agent)', async (t) => { if (left('35-isolate-refused', t)) return; const a = agentFixture(t); await check(a, '35-isolate-refused'); });
test('OnFailureJobMode=isolate: the handler is isolated to, queued jobs canceled, other units stopped but IgnoreOnIsolate= ones (set 36, real agent)', async (t) => { if (left('36-onfailure-isolate', t)) return; const a = agentFixture(t); await check(a, '36-onfailure-isolate'); });
test('PropagatesStopTo=: the unit going down for its automatic restart stops the other, which its restart job leaves stopped (set 37, real agent)', async (t) => { if (left('37-propagates-stop-autorestart', t)) return; const a = agentFixture(t); await check(a, '37-propagates-stop-autorestart'); });
test('PropagatesStopTo=: a restart stops the other unit and starts only itself (set 38, real agent)', async (t) => { if (left('38-propagates-stop-restart', t)) return; const a = agentFixture(t); await check(a, '38-propagates-stop-restart'); });
test('JobTimeoutSec=: a restart job that times out leaves the unit in auto-restart-queued, as systemd (set 39, real agent)', async (t) => { if (left('39-restart-job-timeout', t)) return; const a = agentFixture(t); await check(a, '39-restart-job-timeout'); });

test('every oracle set has its real-agent test', () => {
  const all = readdirSync(ROOT).filter((d) => /^\d+-/.test(d)).sort();
  assert.deepEqual([...T].sort(), all);
});
