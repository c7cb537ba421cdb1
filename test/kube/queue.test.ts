// The work queue on a fake clock: when each key runs, to the millisecond — deduplication,
// one run at a time per key, per-key exponential backoff, requeues, the token bucket, the
// concurrency cap and stop(). No sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type Outcome } from '../../src/kube/queue.ts';
import { FakeClock } from '../support/clock.ts';

/** A queue whose handler records (key, start time) and spends `workMs` of fake time per run. */
function queue(opts: { concurrency?: number; qps?: number; burst?: number; workMs?: number; outcome?: (key: string, run: number) => Outcome | void | Error } = {}) {
  const clock = new FakeClock();
  const runs: Array<[string, number]> = [];
  const q = new WorkQueue(async (key) => {
    runs.push([key, clock.elapsed]);
    if (opts.workMs) await new Promise<void>((r) => clock.setTimeout(r, opts.workMs!));
    const out = opts.outcome?.(key, runs.filter(([k]) => k === key).length);
    if (out instanceof Error) throw out;
    return out;
  }, { clock, ...opts });
  return { clock, q, runs, at: (key: string) => runs.filter(([k]) => k === key).map(([, t]) => t) };
}

test('a key added while it waits runs once; added while it runs, once more right after', async () => {
  const { clock, q, runs } = queue({ concurrency: 1, workMs: 30 });
  q.add('a'); q.add('b'); q.add('a');
  await clock.advance(10);
  q.add('a'); q.add('a'); // a is running: one more run, after this one
  await clock.advance(200);
  assert.deepEqual(runs, [['a', 0], ['b', 30], ['a', 60]]);
  assert.equal(q.depth, 0);
});

test('a failing key backs off on its own: 10, 20, 40 ms … doubling, capped at 60 s; a success resets it', async () => {
  const { clock, q, at } = queue({ outcome: (key, n) => (key === 'heals' && n === 4 ? undefined : new Error('API server down')) });
  q.add('fails'); q.add('heals'); q.add('ok');
  await clock.advance(400_000);
  const gaps = (ts: number[]): number[] => ts.slice(1).map((t, i) => t - ts[i]!);
  assert.deepEqual(gaps(at('fails')).slice(0, 15), [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10_240, 20_480, 40_960, 60_000, 60_000]);
  assert.deepEqual(at('heals'), [0, 10, 30, 70], 'three failures, then the fourth run succeeds and is not retried');
  q.add('heals'); // fails again: the backoff starts over at 10 ms
  const t = clock.elapsed;
  await clock.advance(35);
  assert.deepEqual(at('heals').slice(4).map((x) => x - t), [0, 10, 30]);
  q.stop();
});

test('a handler asks to run again after a delay: it does, exactly then', async () => {
  const { clock, q, at } = queue({ outcome: (_k, n) => (n < 3 ? { requeueAfterMs: 250 } : undefined) });
  q.add('resync');
  await clock.advance(2000);
  assert.deepEqual(at('resync'), [0, 250, 500]);
});

test('the token bucket: a burst at once, then qps keys a second', async () => {
  const { clock, q, runs } = queue({ qps: 10, burst: 2, concurrency: 10 });
  for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
  await clock.advance(1000);
  assert.deepEqual(runs, [['a', 0], ['b', 0], ['c', 100], ['d', 200], ['e', 300]]);
});

test('at most `concurrency` keys run at once', async () => {
  const { clock, q, runs } = queue({ concurrency: 2, workMs: 50 });
  for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
  await clock.advance(1000);
  assert.deepEqual(runs, [['a', 0], ['b', 0], ['c', 50], ['d', 50], ['e', 100]]);
});

test('the observer gets each run\'s duration on the clock and whether it succeeded', async () => {
  const { clock, q } = queue({ workMs: 30, outcome: (k) => (k === 'bad' ? new Error('no') : undefined) });
  const seen: Array<[number, boolean]> = [];
  q.observer = { done: (s, ok) => seen.push([s, ok]) };
  q.add('good'); q.add('bad');
  await clock.advance(35);
  assert.deepEqual(seen, [[0.03, true], [0.03, false]]);
  q.stop();
});

test('stop() drops the retries and requeues it had armed, and ignores new keys', async () => {
  const { clock, q, runs } = queue({ outcome: (k) => (k === 'bad' ? new Error('no') : { requeueAfterMs: 100 }) });
  q.add('bad'); q.add('later');
  await clock.advance(1);
  assert.equal(clock.pending, 2, 'a retry and a requeue armed');
  q.stop();
  assert.equal(clock.pending, 0);
  q.add('new'); q.addAfter('new', 10);
  await clock.advance(120_000);
  assert.deepEqual(runs, [['bad', 0], ['later', 0]]);
});

test('a backlog of handlers that never wait lets due timers and I/O run between them (not one chain of microtasks)', async () => {
  // the agent's reconcile starts a unit without awaiting anything: 200 new units in a burst ran
  // back to back (from add() in the watch's read callbacks, and from each finished run), and the
  // status writes (timers) waited for all of them
  const order: string[] = [];
  const done = new Promise<void>((resolve) => {
    const q = new WorkQueue(async (key) => {
      order.push(key);
      for (const end = performance.now() + 2; performance.now() < end;) { /* a start's synchronous work */ }
      if (key === 'k0') setTimeout(() => order.push('timer'), 0);
      if (key === 'k19') resolve();
    }, { concurrency: 1, qps: 1000, burst: 1000 });
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    assert.deepEqual(order, [], 'add() starts no handler itself');
  });
  await done;
  const t = order.indexOf('timer');
  assert.ok(t >= 1 && t < order.length - 1, `the timer armed by the first run fired among the others, not after all of them: ${order.join(' ')}`);
});
