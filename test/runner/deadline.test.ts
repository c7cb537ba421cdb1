// The runner's timers (control.ts Deadline): a deadline already due (RestartSec=0) fires on the
// next turn of the event loop, not through setTimeout(), which makes 0 ms into 1 ms and waits
// for the loop's timer phase (issue 19: 1.4 ms of a restart went there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs';
import { Deadline } from '../../src/runner/control.ts';

/** Runs f inside an I/O callback, where the order of the loop's phases is fixed (check before timers). */
const inIo = (f: () => void): Promise<void> => new Promise((resolve) => readFile('/proc/self/stat', () => { f(); resolve(); }));

test('a due deadline fires before a 0 ms timeout armed ahead of it; a later one after it; disarm stops both', async () => {
  const order: string[] = [];
  const due = new Deadline(), later = new Deadline(), dropped = new Deadline();
  await inIo(() => {
    setTimeout(() => order.push('setTimeout 0'), 0);
    due.arm(1_000_000, 1_000_000, () => order.push('due'));
    later.arm(1_002_000, 1_000_000, () => order.push('in 2 ms'));
    dropped.arm(900_000, 1_000_000, () => order.push('dropped'));
    dropped.disarm();
  });
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(order, ['due', 'setTimeout 0', 'in 2 ms']);
});
