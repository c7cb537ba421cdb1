// The status publisher on a fake clock against a recording API: when each write leaves and what
// it carries, to the millisecond — the first write at the next turn, coalescing under the
// interval, a fork's in-between state held for its PID, one write of a unit in flight at a time,
// skipping writes that would change only the heartbeat or the sampled accounting, backoff while the API server fails (the
// newest state is what gets written when it returns), and a unit whose object is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeClient } from '../../src/kube/client.ts';
import type { NodeStatus } from '../../src/api/types.ts';
import { StatusPublisher } from '../../src/agent/publisher.ts';
import { AGENT_FIELD_MANAGER, SU_PATH } from '../../src/api/contract.ts';
import { FakeClock } from '../support/clock.ts';

interface Write { at: number; path: string; manager: string; nodes: NodeStatus[] }

function setup() {
  const clock = new FakeClock();
  const writes: Write[] = [];
  /** `latencyMs`: each write is answered this long after it is sent (on the fake clock). */
  const api = { fail: undefined as Error | undefined, tries: 0, latencyMs: 0, inFlight: 0, maxInFlight: 0 };
  const client = {
    async apply(path: string, body: { status: { nodes: NodeStatus[] } }, manager: string): Promise<unknown> {
      api.tries++;
      if (api.fail) throw api.fail;
      const w = { at: clock.elapsed, path, manager, nodes: structuredClone(body.status.nodes) };
      api.inFlight++;
      api.maxInFlight = Math.max(api.maxInFlight, api.inFlight);
      if (api.latencyMs > 0) await new Promise<void>((r) => clock.setTimeout(r, api.latencyMs));
      api.inFlight--;
      writes.push(w);
      return {};
    },
  } as unknown as KubeClient;
  const logs: string[] = [];
  const forking = { now: false };
  const p = new StatusPublisher(client, 'n1', { intervalMs: 200, clock, log: (m) => logs.push(m), settling: () => forking.now });
  let state: NodeStatus = { node: 'n1', activeState: 'activating', nRestarts: 0 };
  const set = (s: Partial<NodeStatus>): void => { state = { ...state, ...s }; };
  const publish = (): void => p.publish('prod/web', () => ({ ...state, lastHeartbeatTime: new Date(clock.now()).toISOString() }));
  return { clock, writes, api, p, logs, set, publish, forking };
}

const shown = (ws: Write[]): Array<[number, string | undefined, number | undefined]> => ws.map((w) => [w.at, w.nodes[0]?.activeState, w.nodes[0]?.nRestarts]);

test('the first write leaves at the next turn and carries the latest state; then at most one write per interval', async () => {
  const { clock, writes, p, set, publish } = setup();
  publish();
  set({ activeState: 'active' }); publish(); // decided in the same turn: one write
  await clock.advance(30);
  assert.deepEqual(shown(writes), [[1, 'active', 0]]);
  assert.equal(writes[0]!.path, `${SU_PATH('prod', 'web')}/status`);
  assert.equal(writes[0]!.manager, AGENT_FIELD_MANAGER('n1'));
  set({ activeState: 'deactivating' }); publish(); // t = 30
  await clock.advance(50);
  set({ activeState: 'activating', nRestarts: 1 }); publish(); // t = 80: coalesced with the one at 30
  await clock.advance(300); // t = 380
  set({ activeState: 'active' }); publish(); // 179 ms after the last write: waits out the interval
  await clock.advance(1000);
  assert.deepEqual(shown(writes), [[1, 'active', 0], [201, 'activating', 1], [401, 'active', 1]]);
  assert.equal(p.backlog, 0);
});

test('a unit in the middle of a fork is written once its PID is known, at once, in one write (not the in-between state, then the PID an interval later)', async () => {
  const { clock, writes, p, set, publish, forking } = setup();
  forking.now = true;
  set({ activeState: 'active', subState: 'running', mainPID: 0 }); publish(); // the start decided; the fork server has not answered
  await clock.advance(40);
  assert.equal(writes.length, 0, 'held while the PID is on its way');
  forking.now = false;
  set({ mainPID: 4242 }); publish(); // 'spawned': the PID
  await clock.advance(1);
  assert.deepEqual(writes.map((w) => [w.at, w.nodes[0]?.subState, w.nodes[0]?.mainPID]), [[41, 'running', 4242]]);
  // a fork that does not answer holds the write one interval at most: the status says what is known
  forking.now = true;
  await clock.advance(500); // t = 541
  set({ activeState: 'activating', subState: 'start', mainPID: 0 }); publish(); // a restart's fork: due at once, held
  await clock.advance(100);
  assert.equal(writes.length, 1);
  await clock.advance(200);
  assert.deepEqual(writes.map((w) => [w.at, w.nodes[0]?.subState, w.nodes[0]?.mainPID]), [[41, 'running', 4242], [742, 'start', 0]]);
  assert.equal(p.backlog, 0);
});

test('one write of a unit in flight at a time: the next leaves when the API server has answered the one before, with the newest state', async () => {
  const { clock, writes, api, p, set, publish } = setup();
  api.latencyMs = 700; // a busy API server
  set({ activeState: 'activating' }); publish();
  await clock.advance(300);
  set({ activeState: 'active' }); publish(); // due at 201: the first is still unanswered
  await clock.advance(300);
  set({ activeState: 'active', nRestarts: 1 }); publish();
  await clock.advance(3000);
  assert.equal(api.maxInFlight, 1, 'never two writes of one unit on the way: they could land in either order');
  assert.deepEqual(shown(writes), [[1, 'activating', 0], [702, 'active', 1]], 'the second leaves after the answer at 701, with the newest state');
  assert.equal(api.tries, 2);
  assert.equal(p.backlog, 0);
});

test('a write that would change only lastHeartbeatTime is not sent', async () => {
  const { clock, writes, api, publish } = setup();
  publish();
  await clock.advance(1000);
  publish();
  await clock.advance(1000);
  assert.equal(writes.length, 1);
  assert.equal(api.tries, 1);
});

test('a change of the accounting sampled at write time (CPU, memory, tasks) alone is not written: each write\'s own watch event would publish again', async () => {
  const { clock, writes, set, publish } = setup();
  set({ activeState: 'active', subState: 'running', mainPID: 7, cpuUsageNSec: 1_000_000, memoryCurrent: 4096, memoryPeak: 8192, tasksCurrent: 1 });
  publish();
  for (let i = 2; i <= 10; i++) { // a busy unit: new figures at every look
    await clock.advance(250);
    set({ cpuUsageNSec: i * 1_000_000, memoryCurrent: 4096 * i, memoryPeak: 8192 * i, tasksCurrent: i });
    publish(); // the watch event of the write before
  }
  await clock.advance(1000);
  assert.deepEqual(writes.map((w) => [w.at, w.nodes[0]?.cpuUsageNSec]), [[1, 1_000_000]]);
  set({ activeState: 'deactivating', subState: 'stop-sigterm' }); publish(); // a change: written, with the figures of now
  await clock.advance(1000);
  assert.deepEqual(writes.map((w) => [w.nodes[0]?.subState, w.nodes[0]?.cpuUsageNSec, w.nodes[0]?.tasksCurrent]), [['running', 1_000_000, 1], ['stop-sigterm', 10_000_000, 10]]);
});

test('while the API server fails, the newest state waits; retries back off from 500 ms, doubling to 10 s; it is written when the server returns', async () => {
  const { clock, writes, api, p, logs, set, publish } = setup();
  api.fail = new Error('connect ECONNREFUSED');
  publish(); // tries at 1 ms, then 0.5, 1, 2, 4, 8, 10, 10 … s after the one before
  await clock.advance(100);
  set({ activeState: 'failed', nRestarts: 4 }); publish(); // while a retry is pending
  await clock.advance(35_900); // t = 36000
  assert.equal(api.tries, 8, 'at 1, 501, 1501, 3501, 7501, 15501, 25501 and 35501 ms');
  assert.match(logs.at(-1)!, /status write for prod\/web failed \(connect ECONNREFUSED\); retrying in 10000 ms/);
  api.fail = undefined;
  await clock.advance(9600); // t = 45600
  assert.deepEqual(shown(writes), [[45_501, 'failed', 4]], 'one write, of the newest state, at the next retry');
  assert.equal(p.backlog, 0);
  set({ activeState: 'active' }); publish(); // the backoff is over: the 200 ms interval again
  await clock.advance(1000);
  assert.deepEqual(writes.at(-1)!.at, 45_701);
});

test('the object is gone (404): the key is forgotten, not retried; null removes this node\'s entry', async () => {
  const { clock, writes, api, p } = setup();
  api.fail = new ApiError(404, 'NotFound', 'serviceunits.unit-operator.dev "web" not found', {});
  p.publish('prod/web', () => ({ node: 'n1', activeState: 'active' }));
  await clock.advance(60_000);
  assert.equal(api.tries, 1);
  assert.equal(clock.pending, 0);
  api.fail = undefined;
  p.publish('prod/web', () => null);
  await clock.advance(100);
  assert.deepEqual(writes.map((w) => [w.at, w.nodes]), [[60_001, []]]);
});

test('forget() and stop() cancel the writes they find pending', async () => {
  const { clock, writes, p, publish } = setup();
  publish();
  p.publish('prod/other', () => ({ node: 'n1', activeState: 'active' }));
  p.forget('prod/web');
  assert.equal(clock.pending, 1);
  p.stop();
  assert.equal(clock.pending, 0);
  await clock.advance(1000);
  assert.deepEqual(writes, []);
});
