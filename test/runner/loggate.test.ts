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
  assert.equal(g.open, true, 'nothing held: a caller may say its line directly (unit.ts log())');
});

test('lines said during a hold wait, in order, until it ends by itself', async () => {
  const g = new LogGate();
  const out: string[] = [];
  g.hold(40);
  g.say(() => out.push('Scheduled restart job, restart counter is at 1.'));
  g.say(() => out.push('Started db.service.'));
  assert.equal(out.length, 0);
  assert.equal(g.holding, true);
  for (let i = 0; i < 50 && out.length === 0; i++) await sleep(10);
  assert.deepEqual([...out], ['Scheduled restart job, restart counter is at 1.', 'Started db.service.']);
  g.say(() => out.push('after'));
  assert.equal(out.at(-1), 'after');
});

test('release(): the hold ends once its command ran; a second hold asked meanwhile does not extend the first', async () => {
  const g = new LogGate();
  const out: string[] = [];
  g.hold(5_000);
  g.hold(60_000); // not extended: a line waits at most one hold
  g.say(() => out.push('a'));
  g.release();
  assert.deepEqual(out, ['a']);
  assert.equal(g.holding, false);
  g.release(); // again: nothing held, nothing said twice
  assert.deepEqual(out, ['a']);
  // a hold asked, then another one before it ends: the first one's end stands
  g.hold(30);
  g.hold(60_000);
  g.say(() => out.push('b'));
  for (let i = 0; i < 100 && out.length < 2; i++) await sleep(10);
  assert.deepEqual(out, ['a', 'b']);
});

test('a line said while the waiting ones are said goes after them; a hold asked then keeps the rest', () => {
  const g = new LogGate();
  const out: string[] = [];
  g.hold(5_000);
  const openWhileReleasing: boolean[] = [];
  g.say(() => { out.push('1'); openWhileReleasing.push(g.open); g.say(() => out.push('said while releasing')); });
  g.say(() => { out.push('2'); g.hold(5_000); });
  g.say(() => out.push('3'));
  g.release();
  assert.deepEqual(out, ['1', '2'], 'the hold asked by line 2 keeps 3 and the later line waiting');
  g.release();
  assert.deepEqual(out, ['1', '2', '3', 'said while releasing']);
  assert.deepEqual(openWhileReleasing, [false], 'not open while the waiting lines are said: a direct line would overtake them');
  assert.equal(g.holding, false);
  assert.equal(g.open, true);
});

test('a line whose sink throws: the others are still said, in order, nothing is thrown, the error is reported', async () => {
  const errors: string[] = [];
  const g = new LogGate((e) => errors.push((e as Error).message));
  const out: string[] = [];
  g.hold(20);
  g.say(() => out.push('a'));
  g.say(() => { throw new Error('sink failed'); });
  g.say(() => out.push('b'));
  // from the timer: an uncaught throw there would end the agent
  for (let i = 0; i < 50 && out.length < 2; i++) await sleep(10);
  assert.deepEqual(out, ['a', 'b']);
  assert.deepEqual(errors, ['sink failed']);
  g.say(() => out.push('c'));
  assert.deepEqual(out, ['a', 'b', 'c']);
  assert.equal(g.holding, false);
});
