// The engine + runner against systemd 257 itself: each scenario in test/fixtures/oracle/ runs
// here with real processes, and its timeline is compared with what the real systemd did
// (recorded by scripts/oracle-record.ts into *.jsonl and *.journal.jsonl).
//
// Compared: the sequence of (ActiveState, SubState, Result, NRestarts) states systemd showed
// must appear in ours, in order (its sampler is coarse; ours records the state after every
// engine decision, so it may show more; systemd's auto-restart-queued lasts while the start
// job runs, ours is passed within one decision and is left out); the final state, with ExecMainCode/ExecMainStatus unless the unit ended dead (a
// dead unit is garbage-collected in systemd and shows zeros); and each restart delay
// ("Failed with result"/"Deactivated successfully" → "Scheduled restart job"), from both
// journals' µs timestamps; for units with Condition*=/Assert*= (28-34), systemd's skip and
// assertion messages and the ConditionResult/AssertResult they imply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertText } from '../../src/unitfile/index.ts';
import { configFromSpec } from '../../src/engine/index.ts';
import { restartDelayNext } from '../../src/engine/decisions.ts';
import { harness, sleep } from '../support/units.ts';
import { unitProperties } from '../../src/api/status.ts';
import { FIXTURES } from '../support/paths.ts';

const dir = join(FIXTURES, 'oracle');
type Tuple = { ActiveState: string; SubState: string; Result: string; NRestarts: number; ExecMainCode?: number; ExecMainStatus?: number };
const key = (s: Tuple): string => `${s.ActiveState}/${s.SubState}/${s.Result}/${s.NRestarts}`;
const dedupe = (xs: string[]): string[] => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);

function restartDelays(journal: Array<{ us: number; message: string }>): Map<number, number> {
  const out = new Map<number, number>();
  let deadAt: number | undefined;
  for (const e of journal) {
    if (/^Failed with result|^Deactivated successfully/.test(e.message)) deadAt = e.us;
    const m = /^Scheduled restart job, restart counter is at ([0-9]+)/.exec(e.message);
    if (m && deadAt !== undefined) out.set(Number(m[1]), (e.us - deadAt) / 1000);
  }
  return out;
}

const report: string[] = [];
const scenarios = readdirSync(dir).filter((f) => f.endsWith('.service')).sort();

for (const f of scenarios) {
  test(`systemd 257 and unit-operator agree on ${f}`, async (t) => {
    const text = readFileSync(join(dir, f), 'utf8');
    const head = /^# oracle: (.*)$/m.exec(text)?.[1] ?? '';
    const secs = Number(/secs=([0-9]+)/.exec(head)?.[1] ?? 3);
    const stopMs = Number(/stop_ms=([0-9]+)/.exec(head)?.[1] ?? 0);
    const oracle = readFileSync(join(dir, f.replace(/\.service$/, '.jsonl')), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Tuple & { event?: string }).filter((x) => !x.event);
    const oracleJournal = readFileSync(join(dir, f.replace(/\.service$/, '.journal.jsonl')), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { us: number; message: string });

    const spec = convertText(text, f).object.spec;
    const h = harness(t);
    // every settled state after each engine decision: nothing is missed, however short
    const ours: Tuple[] = [];
    const sample = (p: Tuple): void => { const last = ours[ours.length - 1]; if (!last || key(last) !== key(p) || last.ExecMainStatus !== p.ExecMainStatus) ours.push({ ...p }); };
    const r = h.open(f, spec, sample);
    r.start();
    if (stopMs > 0) setTimeout(() => r.stop(), stopMs);
    await sleep(secs * 1000);

    const want = dedupe(oracle.filter((s) => s.SubState !== 'auto-restart-queued').map(key));
    const got = dedupe(ours.map(key));
    let i = 0;
    for (const g of got) if (i < want.length && g === want[i]) i++;
    assert.equal(i, want.length, `systemd's states ${JSON.stringify(want)} do not all appear, in order, in ours ${JSON.stringify(got)}`);
    const lastO = oracle[oracle.length - 1]!;
    const lastU = ours[ours.length - 1]!;
    assert.equal(key(lastU), key(lastO), 'final state');
    if (lastO.SubState !== 'dead') assert.deepEqual([lastU.ExecMainCode, lastU.ExecMainStatus], [lastO.ExecMainCode, lastO.ExecMainStatus], 'ExecMainCode/ExecMainStatus');

    // Condition*=/Assert*= (29-34): the same skip or assertion messages, and the results systemd's words imply
    const checkWords = (j: ReadonlyArray<{ message: string }>): string[] => j.map((e) => e.message.replace(/^\S+\.service: /, ''))
      .filter((m) => / skipped, (unmet condition check|no trigger condition)|^Assertion failed for |^Starting requested but asserts failed/.test(m));
    const oursJournal = h.logs.map((l) => ({ message: l.replace(/^[^:]+: [a-z]+: /, '') }));
    assert.deepEqual(checkWords(oursJournal), checkWords(oracleJournal), 'condition and assert messages');
    const words = checkWords(oracleJournal).join('\n');
    if (/^\[Unit\][^[]*^(Condition|Assert)[A-Za-z]+=/m.test(text)) {
      const props = unitProperties(r.machine);
      assert.equal(props.ConditionResult, !/ skipped, /.test(words), 'ConditionResult');
      if (!/ skipped, /.test(words)) assert.equal(props.AssertResult, !/^Assertion failed for /m.test(words), 'AssertResult');
      else assert.equal(props.AssertResult, undefined, 'the asserts are not checked after an unmet condition');
      assert.ok(props.ConditionTimestamp, 'ConditionTimestamp');
    }

    const cfg = configFromSpec(spec, f);
    const theirs = restartDelays(oracleJournal);
    const journal = h.logs.map((l, k) => ({ us: h.logTimes[k]!, message: l.replace(/^[^:]+: [a-z]+: /, '') }));
    const mine = restartDelays(journal);
    for (const [n, theirDelay] of theirs) {
      const myDelay = mine.get(n);
      if (myDelay === undefined) continue; // a restart past the end of our window
      const expected = restartDelayNext(cfg, n) / 1000;
      report.push(`${f} restart ${n}: configured ${expected.toFixed(0)} ms, systemd ${theirDelay.toFixed(1)} ms, ours ${myDelay.toFixed(1)} ms`);
      assert.ok(Math.abs(myDelay - expected) <= 15, `restart ${n}: ours ${myDelay} ms vs the ${expected} ms systemd would use`);
      assert.ok(Math.abs(myDelay - theirDelay) <= 30, `restart ${n}: ours ${myDelay} ms vs systemd's ${theirDelay} ms`);
    }
    assert.equal(Math.max(0, ...mine.keys()) >= Math.max(0, ...theirs.keys()) - 1, true, `restart counts: ours ${[...mine.keys()]}, systemd ${[...theirs.keys()]}`);
  });
}

test('restart delays: unit-operator vs systemd 257 (report)', () => {
  process.stdout.write(report.map((l) => `# ${l}\n`).join(''));
  assert.ok(report.length >= 10, `restart delays were compared (${report.length})`);
});
