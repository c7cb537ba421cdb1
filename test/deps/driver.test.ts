// DepsDriver (src/agent/deps.ts) over fake members: what the driver itself must get right around
// the pure engine: units removed while jobs wait, a start that does not begin, a masked unit,
// exceptions from a member, READ_ONLY verbs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DepsDriver, type DepsMember, type JobOutcome } from '../../src/agent/deps.ts';
import { READ_ONLY } from '../../src/agent/socket.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';
import type { Effect, Event } from '../../src/engine/types.ts';

class Fake implements DepsMember {
  activeState = 'inactive';
  starts = 0;
  readonly spec: ServiceUnitSpec;
  /** What startJob() does: 'begin' (activating), 'nothing' (stays as it is), 'throw'. */
  onStart: 'begin' | 'nothing' | 'throw' = 'begin';
  driver: DepsDriver | undefined;
  readonly name: string;
  constructor(name: string, spec: ServiceUnitSpec) { this.name = name; this.spec = spec; }
  startJob(): undefined {
    this.starts++;
    if (this.onStart === 'throw') throw new Error('boom');
    if (this.onStart === 'begin') this.go('start');
    return undefined;
  }
  stop(): void { this.go('dead'); }
  reload(): void {}
  /** The engine events the driver sent (restart-job answers). */
  readonly sent: Event[] = [];
  send(ev: Event): void { this.sent.push(ev); }
  /** The unit's service engine reports a new state (dead, start, running, failed). */
  go(to: 'dead' | 'start' | 'running' | 'failed'): void {
    const from = ({ inactive: 'dead', activating: 'start', active: 'running', failed: 'failed' } as Record<string, string>)[this.activeState]!;
    this.activeState = ({ dead: 'inactive', start: 'activating', running: 'active', failed: 'failed' } as const)[to];
    this.driver?.engineDecision(this.name, [{ t: 'state-changed', from, to } as unknown as Effect]);
  }
}

function setup(specs: Record<string, ServiceUnitSpec>): { d: DepsDriver; m: Map<string, Fake>; logs: string[] } {
  const logs: string[] = [];
  const d = new DepsDriver({ log: (level, message, unit) => { if (level !== 'debug') logs.push(`${level} ${unit ?? '-'} ${message}`); } });
  const m = new Map<string, Fake>();
  for (const [n, s] of Object.entries(specs)) { const f = new Fake(n, { unit: { defaultDependencies: false, ...(s.unit ?? {}) }, service: s.service ?? { execStart: ['/bin/sleep 1'] }, ...(s.masked ? { masked: true } : {}) }); f.driver = d; m.set(n, f); }
  d.setUnits(m);
  return { d, m, logs };
}
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const result = (o: JobOutcome): string => (o.ok ? o.result : `error: ${o.error}`);

test('a unit removed while its job waits: the job is canceled through the engine, Requires= dependents fail, Wants= ones run', async () => {
  const { d, m } = setup({
    'x.service': {}, 'db.service': { unit: { after: ['x.service'] } },
    'web.service': { unit: { requires: ['db.service'], after: ['db.service'] } }, 'soft.service': { unit: { wants: ['db.service'], after: ['db.service'] } },
  });
  d.request('x.service', 'start'); // x activating: db's start job waits for it
  const web = d.request('web.service', 'start'), soft = d.request('soft.service', 'start');
  assert.deepEqual(d.jobs().map((j) => `${j.unit}/${j.state}`), ['x.service/running', 'db.service/waiting', 'web.service/waiting', 'soft.service/waiting']);
  const rest = new Map(m); rest.delete('db.service');
  d.setUnits(rest);
  assert.equal(result(await web.done), 'dependency');
  assert.equal(m.get('soft.service')!.activeState, 'activating'); // its start began once db's job was gone
  m.get('soft.service')!.go('running');
  assert.equal(result(await soft.done), 'done');
  assert.deepEqual(d.jobs().map((j) => j.unit).sort(), ['x.service']);
  assert.equal(m.get('web.service')!.starts, 0);
});

test('a start that does not begin (the unit stays failed, e.g. its start limit) fails its job instead of running forever', async () => {
  const { d, m } = setup({ 'bad.service': {}, 'app.service': { unit: { requires: ['bad.service'], after: ['bad.service'] } } });
  m.get('bad.service')!.activeState = 'failed';
  m.get('bad.service')!.onStart = 'nothing';
  const q = d.request('app.service', 'start');
  await settle();
  assert.equal(result(await q.done), 'dependency');
  assert.deepEqual(d.jobs(), []);
  assert.equal(m.get('app.service')!.starts, 0);
});

test('a masked member is never started by its dependents (Requires=: the transaction fails; a queued job: fails)', async () => {
  const { d, m } = setup({ 'm.service': { masked: true }, 'needm.service': { unit: { requires: ['m.service'] } }, 'softm.service': { unit: { wants: ['m.service'] } } });
  assert.equal(result(await d.request('needm.service', 'start').done), 'error: Unit m.service is masked.');
  const soft = d.request('softm.service', 'start');
  m.get('softm.service')!.go('running');
  assert.equal(result(await soft.done), 'done');
  assert.equal(m.get('m.service')!.starts, 0);
  assert.equal(m.get('needm.service')!.starts, 0);
});

test('an exception from a member is logged naming the unit and fails the job; it never reaches the caller', async () => {
  const { d, m, logs } = setup({ 'boom.service': {}, 'app.service': { unit: { requires: ['boom.service'], after: ['boom.service'] } } });
  m.get('boom.service')!.onStart = 'throw';
  let q: ReturnType<DepsDriver['request']> | undefined;
  assert.doesNotThrow(() => { q = d.request('app.service', 'start'); });
  assert.equal(result(await q!.done), 'dependency');
  assert.ok(logs.some((l) => l.startsWith('error boom.service') && l.includes('boom')), logs.join('\n'));
  assert.deepEqual(d.jobs(), []);
});

test('list-jobs and list-dependencies are read-only verbs (systemctl lets any user run them)', () => {
  assert.ok(READ_ONLY.has('list-jobs'));
  assert.ok(READ_ONLY.has('list-dependencies'));
});

test('unitctl\'s client: a connection the agent closes without answering is an error naming the socket, at once', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createServer } = await import('node:net');
  const { request, AgentUnreachable } = await import('../../src/cli/client.ts');
  const dir = mkdtempSync(join(tmpdir(), 'uo-client-eof-'));
  const server = createServer((s) => { s.once('data', () => s.end()); });
  await new Promise<void>((r) => server.listen(join(dir, 'agent.sock'), r));
  t.after(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });
  const t0 = Date.now();
  await assert.rejects(request(dir, { cmd: 'start', unit: 'x.service' }, 2_147_483_647), (e: unknown) => e instanceof AgentUnreachable && e.message.includes(join(dir, 'agent.sock')) && /closed the connection without answering/.test(e.message));
  assert.ok(Date.now() - t0 < 5000);
});

test('an automatic restart: the unit\'s engine hears that its restart job is queued before the job\'s start reaches it, and that start waits for the Requires= dependent to stop', () => {
  const { d, m } = setup({ 'db.service': {}, 'app.service': { unit: { requires: ['db.service'], after: ['db.service'] } } });
  const db = m.get('db.service')!, app = m.get('app.service')!;
  db.activeState = 'activating'; app.activeState = 'active'; // db waits in auto-restart, app runs
  d.setUnits(m);
  const order: string[] = [];
  db.send = (ev) => { order.push(ev.t === 'restart-job' ? `db: restart job ${ev.outcome}` : ev.t); };
  const start = db.startJob.bind(db);
  db.startJob = () => { order.push('db: start'); return start(); };
  app.stop = () => { order.push('app: stop'); app.go('dead'); };
  d.engineDecision('db.service', [{ t: 'add-restart-job', direct: false, shortcut: false }]);
  assert.deepEqual(order, ['db: restart job queued', 'app: stop', 'db: start']);
  assert.equal(app.starts, 0, 'app starts after db is up');
  db.go('running');
  assert.equal(app.starts, 1);
  app.go('running');
  assert.deepEqual(d.jobs(), []);
});

test('the manager\'s lines about a unit go with the unit: removed, then added again under its name, it starts without them', async () => {
  const { d, m } = setup({ 'bad.service': {}, 'app.service': { unit: { requires: ['bad.service'], after: ['bad.service'] } } });
  m.get('bad.service')!.activeState = 'failed';
  m.get('bad.service')!.onStart = 'nothing';
  const q = d.request('app.service', 'start');
  assert.equal(result(await q.done), 'dependency');
  assert.ok(d.linesOf('app.service').some((l) => /Dependency failed for app\.service/.test(l)), d.linesOf('app.service').join('\n'));
  const rest = new Map(m); rest.delete('app.service');
  d.setUnits(rest);
  assert.deepEqual(d.linesOf('app.service'), [], 'dropped with the unit');
  d.setUnits(m);
  assert.deepEqual(d.linesOf('app.service'), [], 'the unit added again has no lines of the one before');
});
