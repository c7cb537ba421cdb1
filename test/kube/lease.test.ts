// Leader election on a fake clock against an in-memory Lease API (resourceVersion conflicts as
// the API server has them): who leads when, to the millisecond. A standby takes over only once
// the lease has expired, after the old leader stepped down; a released lease is taken at the
// next try; renewals never pile up behind a slow API server. (test/cluster/lease.test.ts runs
// the same code against a real API server.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeClient } from '../../src/kube/client.ts';
import { elect, tryHold, LEASES_PATH } from '../../src/kube/lease.ts';
import { FakeClock } from '../support/clock.ts';

interface Lease { metadata: { name: string; resourceVersion?: string }; spec: Record<string, unknown> & { holderIdentity?: string; renewTime?: string } }

/** The Lease API of one namespace, in memory; each client of it can be cut off or slowed down. */
class LeaseApi {
  readonly leases = new Map<string, Lease>();
  readonly log: Array<[number, string, string]> = [];
  private rv = 0;
  readonly clock: FakeClock;
  constructor(clock: FakeClock) { this.clock = clock; }

  client(who: string, opts: { latencyMs?: number } = {}): KubeClient & { down: boolean; opts: { latencyMs?: number } } {
    const api = this;
    const c = {
      down: false,
      opts,
      async request(path: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> {
        api.log.push([api.clock.elapsed, who, `${init.method ?? 'GET'} ${path.split('/').at(-1)}`]);
        if (opts.latencyMs) await new Promise<void>((r) => api.clock.setTimeout(r, opts.latencyMs!));
        if (c.down) throw new Error('connect ECONNREFUSED');
        return structuredClone(api.serve(path, init.method ?? 'GET', init.body as Lease | undefined));
      },
    };
    return c as unknown as KubeClient & { down: boolean; opts: { latencyMs?: number } };
  }

  private serve(path: string, method: string, body: Lease | undefined): Lease {
    const name = path.startsWith(`${LEASES_PATH('ns')}/`) ? path.slice(LEASES_PATH('ns').length + 1) : body!.metadata.name;
    const cur = this.leases.get(name);
    const fail = (status: number, reason: string): never => { throw new ApiError(status, reason, `${reason}: ${name}`, {}); };
    if (method === 'GET') return cur ?? fail(404, 'NotFound');
    if (method === 'POST' && cur) fail(409, 'AlreadyExists');
    if (method === 'PUT' && (!cur || cur.metadata.resourceVersion !== body!.metadata.resourceVersion)) fail(409, 'Conflict');
    const stored: Lease = { metadata: { name, resourceVersion: String(++this.rv) }, spec: structuredClone(body!.spec) };
    this.leases.set(name, stored);
    return stored;
  }

  holder(name: string): string | undefined { return this.leases.get(name)?.spec.holderIdentity; }
}

function setup() {
  const clock = new FakeClock();
  const api = new LeaseApi(clock);
  const events: Array<[number, string]> = [];
  const elector = (id: string, client = api.client(id), durationS = 15, renewMs = 3000) => elect(client, 'ns', 'ctl', id, {
    durationS, renewMs, clock, onStart: () => events.push([clock.elapsed, `${id} leads`]), onStop: () => events.push([clock.elapsed, `${id} steps down`]),
  });
  return { clock, api, events, elector };
}

test('a standby takes over only once the lease has expired, and after the cut-off leader has stepped down', async () => {
  const { clock, api, events, elector } = setup();
  const aClient = api.client('a');
  const a = elector('a', aClient);
  const b = elector('b');
  await clock.advance(1);
  assert.deepEqual(events, [[0, 'a leads']]);
  assert.equal(api.leases.get('ctl')!.spec.renewTime, '2025-01-01T00:00:00.000000Z', 'renewTime: the clock\'s time, in µs');
  await clock.advance(2999); // t = 3000: a renews
  aClient.down = true; // a loses the API server right after its renewal at 3000
  await clock.advance(30_000);
  // a's last renewal: 3000. It steps down when a renewal fails more than 0.8 × 15 s after it
  // (at 18000: 15000 > 12000); the lease expires at 3000 + 15000 and b, trying every 3 s,
  // takes it at its first try after that (21000, since 18000 is not past the expiry)
  assert.deepEqual(events, [[0, 'a leads'], [18_000, 'a steps down'], [21_000, 'b leads']]);
  assert.equal(api.holder('ctl'), 'b');
  assert.equal(a.isLeader(), false);
  assert.equal(b.isLeader(), true);
  aClient.down = false;
  await Promise.all([a.stop(), b.stop()]);
});

test('stop() releases the lease: the standby takes it at its next try, not when it would have expired', async () => {
  const { clock, api, events, elector } = setup();
  const a = elector('a');
  await clock.advance(1000);
  const b = elector('b'); // tries at 1000, 4000, 7000 …
  await clock.advance(4000); // t = 5000
  await a.stop();
  assert.equal(api.holder('ctl'), '', 'released: no holder');
  await clock.advance(5000);
  assert.deepEqual(events, [[0, 'a leads'], [5000, 'a steps down'], [7000, 'b leads']]);
  await b.stop();
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('a leader whose lease another holder took steps down at its next renewal', async () => {
  const { clock, api, events, elector } = setup();
  const a = elector('a');
  await clock.advance(1000);
  assert.equal(await tryHold(api.client('c'), 'ns', 'ctl', 'c', 15, true, clock), true, 'c takes the lease by force');
  await clock.advance(5000);
  assert.deepEqual(events, [[0, 'a leads'], [3000, 'a steps down']]);
  assert.equal(api.holder('ctl'), 'c');
  await a.stop();
  assert.equal(api.holder('ctl'), 'c', 'stop() releases only a lease it holds');
});

test('one renewal at a time: behind a slow API server the renewals do not pile up', async () => {
  const { clock, api, elector } = setup();
  const a = elector('a', api.client('a', { latencyMs: 4500 }), 15, 2000);
  await clock.advance(14_000);
  // each renewal is a GET and a write, 4.5 s each; the ticks at 2, 4, 6 and 8 s find one on the wire
  assert.deepEqual(api.log.map(([t, , what]) => `${t} ${what}`), ['0 GET ctl', '4500 POST leases', '10000 GET ctl']);
  assert.equal(a.isLeader(), true);
  await clock.advance(10_000);
  const stopped = a.stop();
  await clock.advance(20_000); // stop() waits for the renewal on the wire, then releases
  await stopped;
  assert.equal(api.holder('ctl'), '');
});

test('a renewal that hangs (a throttled or silent API server) does not keep a leader past its deadline: it steps down before the standby can take the lease', async () => {
  const { clock, api, events, elector } = setup();
  const aClient = api.client('a');
  const a = elector('a', aClient);
  const b = elector('b');
  await clock.advance(3000); // t = 3000: a renews (renewTime 3000)
  aClient.opts.latencyMs = 60_000; // from now on a's requests take a minute
  await clock.advance(27_000);
  // the renewal sent at 6000 is still on the wire; at the tick of 18000 a's last renewTime (3000) is
  // 15 s old, past 0.8 × 15 s: a steps down then, not when the request ends; the lease expires at
  // 18000 and b takes it at its next try (21000): never two leaders
  assert.deepEqual(events, [[0, 'a leads'], [18_000, 'a steps down'], [21_000, 'b leads']]);
  assert.equal(a.isLeader(), false);
  aClient.opts.latencyMs = 0;
  const stopping = Promise.all([a.stop(), b.stop()]);
  await clock.advance(120_000);
  await stopping;
});
