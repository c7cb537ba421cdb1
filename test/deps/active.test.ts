// The dependency engine's table of ActiveStates (src/deps/active.ts): decide() is pure, so a
// change makes a new table and leaves the one it was given as it was — through the overlay and
// through its folding into a new base.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveStates } from '../../src/deps/active.ts';
import { buildGraph, decide, deps, initialState } from '../../src/deps/index.ts';

test('with() returns a new table and leaves the old one as it was, before and after the overlay is folded (200 changes)', () => {
  const names = Array.from({ length: 100 }, (_, i) => `u${i}.service`);
  const first = ActiveStates.from(Object.fromEntries(names.map((n) => [n, 'inactive' as const])));
  const seen: { t: ActiveStates; want: Record<string, string> }[] = [{ t: first, want: first.toRecord() }];
  let t = first;
  for (let i = 0; i < 200; i++) {
    const u = names[(i * 37) % names.length]!;
    const next = t.with(u, i % 3 === 0 ? 'active' : i % 3 === 1 ? 'activating' : 'failed');
    assert.equal(next.get(u), i % 3 === 0 ? 'active' : i % 3 === 1 ? 'activating' : 'failed');
    t = next;
    seen.push({ t, want: t.toRecord() });
  }
  // every table handed out still reads as it did when it was made
  for (const { t: old, want } of seen) {
    assert.deepEqual(old.toRecord(), want);
    for (const n of names) assert.equal(old.get(n), want[n]);
  }
  assert.equal(t.get('not-there.service'), undefined);
  assert.equal(t.with('u1.service', t.get('u1.service')!), t, 'no change: the same table');
});

test('decide() leaves the state it was given as it was: a unit\'s change of state is in the new state only', () => {
  const g = buildGraph({ 'a.service': deps({ defaultDependencies: false }) });
  const s0 = initialState(g);
  const d = decide(s0, { t: 'state', unit: 'a.service', from: 'inactive', to: 'active' }, g, 0);
  assert.equal(d.state.units.get('a.service'), 'active');
  assert.equal(s0.units.get('a.service'), 'inactive');
});
