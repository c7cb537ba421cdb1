// The status publisher on a fake clock against a recording API: when each write leaves and what
// it carries, to the millisecond — the batch window, coalescing under the interval, skipping
// writes that would change only the heartbeat, backoff while the API server fails (the newest
// state is what gets written when it returns), and a unit whose object is gone.
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
  const api = { fail: undefined as Error | undefined, tries: 0 };
  const client = {
    async apply(path: string, body: { status: { nodes: NodeStatus[] } }, manager: string): Promise<unknown> {
      api.tries++;
      if (api.fail) throw api.fail;
      writes.push({ at: clock.elapsed, path, manager, nodes: structuredClone(body.status.nodes) });
      return {};
    },
  } as unknown as KubeClient;
  const logs: string[] = [];
  const p = new StatusPublisher(client, 'n1', { intervalMs: 200, clock, log: (m) => logs.push(m) });
  let state: NodeStatus = { node: 'n1', activeState: 'activating', nRestarts: 0 };
  const set = (s: Partial<NodeStatus>): void => { state = { ...state, ...s }; };
  const publish = (): void => p.publish('prod/web', () => ({ ...state, lastHeartbeatTime: new Date(clock.now()).toISOString() }));
  return { clock, writes, api, p, logs, set, publish };
}

const shown = (ws: Write[]): Array<[number, string | undefined, number | undefined]> => ws.map((w) => [w.at, w.nodes[0]?.activeState, w.nodes[0]?.nRestarts]);

test('the first write waits the 25 ms batch window and carries the latest state; then at most one write per interval', async () => {
  const { clock, writes, p, set, publish } = setup();
  publish();
  await clock.advance(10);
  set({ activeState: 'active' }); publish(); // the fork, then the PID: one write
  await clock.advance(20); // t = 30
  assert.deepEqual(shown(writes), [[25, 'active', 0]]);
  assert.equal(writes[0]!.path, `${SU_PATH('prod', 'web')}/status`);
  assert.equal(writes[0]!.manager, AGENT_FIELD_MANAGER('n1'));
  set({ activeState: 'deactivating' }); publish();
  await clock.advance(50);
  set({ activeState: 'activating', nRestarts: 1 }); publish(); // t = 80: coalesced with the one at 30
  await clock.advance(300); // t = 380
  set({ activeState: 'active' }); publish(); // 155 ms after the last write: waits out the interval
  await clock.advance(1000);
  assert.deepEqual(shown(writes), [[25, 'active', 0], [225, 'activating', 1], [425, 'active', 1]]);
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

test('while the API server fails, the newest state waits; retries back off from 500 ms, doubling to 10 s; it is written when the server returns', async () => {
  const { clock, writes, api, p, logs, set, publish } = setup();
  api.fail = new Error('connect ECONNREFUSED');
  publish(); // tries at 25 ms, then 0.5, 1, 2, 4, 8, 10, 10 … s after the one before
  await clock.advance(100);
  set({ activeState: 'failed', nRestarts: 4 }); publish(); // while a retry is pending
  await clock.advance(35_900); // t = 36000
  assert.equal(api.tries, 8, 'at 25, 525, 1525, 3525, 7525, 15525, 25525 and 35525 ms');
  assert.match(logs.at(-1)!, /status write for prod\/web failed \(connect ECONNREFUSED\); retrying in 10000 ms/);
  api.fail = undefined;
  await clock.advance(9600); // t = 45600
  assert.deepEqual(shown(writes), [[45_525, 'failed', 4]], 'one write, of the newest state, at the next retry');
  assert.equal(p.backlog, 0);
  set({ activeState: 'active' }); publish(); // the backoff is over: the 200 ms interval again
  await clock.advance(1000);
  assert.deepEqual(writes.at(-1)!.at, 45_725);
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
  assert.deepEqual(writes.map((w) => [w.at, w.nodes]), [[60_025, []]]);
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
