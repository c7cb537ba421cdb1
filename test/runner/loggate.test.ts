// The log gate (src/runner/loggate.ts): lines said during a prepared restart's hold wait behind
// the held ones, in order, and go at the hold's end or once its command ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogGate } from '../../src/runner/loggate.ts';
import { sleep } from '../support/units.ts';

test('a gate with no hold says every line at once', () => {
  const g = new LogGate();
  const out: string[] = [];
  g.say(() => out.push('a'));
  g.say(() => out.push('b'));
  assert.deepEqual(out, ['a', 'b']);
  assert.equal(g.holding, false);
});

test('lines said during a hold wait, in order, until it ends by itself', async () => {
  const g = new LogGate();
  const out: string[] = [];
  g.hold(40);
  g.say(() => out.push('Scheduled restart job, restart counter is at 1.'));
  g.say(() => out.push('Stopping app.service...'));
  g.say(() => out.push('Started db.service.'));
  assert.equal(out.length, 0);
  assert.equal(g.holding, true);
  for (let i = 0; i < 50 && out.length === 0; i++) await sleep(10);
  assert.deepEqual([...out], ['Scheduled restart job, restart counter is at 1.', 'Stopping app.service...', 'Started db.service.']);
  g.say(() => out.push('after'));
  assert.equal(out.at(-1), 'after');
});

test('end(): the hold is over once its command ran, unless a longer hold lasts', () => {
  const g = new LogGate();
  const out: string[] = [];
  const now = performance.now();
  const a = g.hold(5_000, now);
  g.say(() => out.push('a1'));
  const b = g.hold(8_000, now); // another unit's, ending later
  g.say(() => out.push('b1'));
  g.end(a);
  assert.deepEqual(out, [], 'b still holds: nothing overtakes its lines');
  g.end(b);
  assert.deepEqual(out, ['a1', 'b1']);
  assert.equal(g.holding, false);
  g.end(b); // again: nothing held, nothing said twice
  assert.deepEqual(out, ['a1', 'b1']);
});

test('a line said while the waiting ones are said goes after them; a hold asked then keeps the rest', () => {
  const g = new LogGate();
  const out: string[] = [];
  const until = g.hold(5_000);
  g.say(() => { out.push('1'); g.say(() => out.push('said while releasing')); });
  g.say(() => { out.push('2'); g.hold(5_000); });
  g.say(() => out.push('3'));
  g.end(until);
  assert.deepEqual(out, ['1', '2'], 'the hold asked by line 2 keeps 3 and the later line waiting');
  g.release();
  assert.deepEqual(out, ['1', '2', '3', 'said while releasing']);
  assert.equal(g.holding, false);
});

test('a line that throws loses neither the lines before nor after it, and none is said twice', () => {
  const g = new LogGate();
  const out: string[] = [];
  g.hold(5_000);
  g.say(() => out.push('a'));
  g.say(() => { throw new Error('sink failed'); });
  g.say(() => out.push('b'));
  assert.throws(() => g.release(), /sink failed/);
  assert.deepEqual(out, ['a']);
  g.release();
  assert.deepEqual(out, ['a', 'b']);
});
