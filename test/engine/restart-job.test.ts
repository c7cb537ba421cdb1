// The engine's service_enter_restart() with restartByJob (the agent's dependency engine on): the
// restart timer asks the manager for the restart job and the unit waits for the job's start in
// auto-restart-queued; what it does when the job cannot be added or a stop job is pending. Driven
// by hand through decide(), the manager's answers fed back as the agent feeds them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromSpec, decide, INITIAL_MACHINE, type Effect, type Event, type Machine, type ServiceConfig } from '../../src/engine/index.ts';

const cfgOf = (service: Record<string, unknown>, restartByJob = true): ServiceConfig =>
  ({ ...configFromSpec({ service: { execStart: ['/bin/sleep 1'], restart: 'on-failure', restartSec: '1s', ...service } }, 'db.service'), restartByJob });

/** One unit's engine with a clock (µs) that the test moves. */
class One {
  m: Machine = INITIAL_MACHINE;
  now = 1;
  readonly cfg: ServiceConfig;
  constructor(cfg: ServiceConfig) { this.cfg = cfg; }
  send(ev: Event): Effect[] { const d = decide(this.m, ev, this.cfg, this.now); this.m = d.machine; return [...d.effects]; }
  /** Started, then its main process exits 1: the unit waits in auto-restart with its timer armed. */
  failOnce(): void {
    this.send({ t: 'start' });
    this.send({ t: 'spawned', role: 'main', pid: 100 });
    this.send({ t: 'exited', pid: 100, code: 'exited', status: 1 });
    this.send({ t: 'group-empty' });
    assert.equal(this.m.state, 'auto-restart');
  }
  fire(): Effect[] { this.now = this.m.timer!.deadline; return this.send({ t: 'timer', gen: this.m.timer!.gen }); }
}
const spawns = (es: Effect[]): number => es.filter((e) => e.t === 'spawn').length;
const logs = (es: Effect[]): string[] => es.flatMap((e) => (e.t === 'log' ? [e.message] : []));

test('restartByJob: the restart timer asks for the restart job and starts nothing; queued, the restart is counted and the unit waits in auto-restart-queued for the job\'s start', () => {
  const u = new One(cfgOf({}));
  u.failOnce();
  const fired = u.fire();
  assert.deepEqual(fired.filter((e) => e.t === 'add-restart-job'), [{ t: 'add-restart-job', direct: false, shortcut: false }]);
  assert.equal(spawns(fired), 0);
  assert.equal(u.m.state, 'auto-restart');
  assert.equal(u.m.nRestarts, 0, 'not counted before the job is queued');
  const queued = u.send({ t: 'restart-job', outcome: 'queued', shortcut: false });
  assert.deepEqual(logs(queued), ['Scheduled restart job, restart counter is at 1.']);
  assert.ok(queued.some((e) => e.t === 'transition' && e.transition.t === 'restart-queued'));
  assert.equal(spawns(queued), 0);
  assert.equal(u.m.state, 'auto-restart-queued');
  assert.equal(u.m.nRestarts, 1);
  assert.equal(u.m.result, 'exit-code', 'the failure stays shown while the unit waits (oracle set 30)');
  // the job's start, once the units that Requires= it have stopped
  const started = u.send({ t: 'start' });
  assert.equal(spawns(started), 1);
  assert.equal(u.m.state, 'running');
  assert.equal(u.m.nRestarts, 1, 'an automatic restart keeps the counter');
});

test('without restartByJob the engine still starts the unit itself when the timer fires', () => {
  const u = new One(cfgOf({}, false));
  u.failOnce();
  const fired = u.fire();
  assert.equal(fired.filter((e) => e.t === 'add-restart-job').length, 0);
  assert.equal(spawns(fired), 1);
  assert.equal(u.m.nRestarts, 1);
});

test('a restart job that cannot be added: "Failed to schedule restart job", the unit fails with its first Result and is not restarted (service_enter_dead(RESOURCES, false))', () => {
  const u = new One(cfgOf({}));
  u.failOnce();
  u.fire();
  const e = u.send({ t: 'restart-job', outcome: 'failed', shortcut: false, error: 'Unit db.service is masked.' });
  assert.deepEqual(logs(e), ['Failed to schedule restart job: Unit db.service is masked.', "Failed with result 'exit-code'."]);
  assert.equal(u.m.state, 'failed');
  assert.equal(u.m.result, 'exit-code', 'resources does not replace the first failure');
  assert.equal(u.m.nRestarts, 0);
  assert.equal(u.m.timer, undefined, 'no new restart timer');
  assert.ok(e.some((x) => x.t === 'transition' && x.transition.t === 'failed'));
});

test('a stop job pending: the automatic restart is skipped and the unit waits for its stop', () => {
  const u = new One(cfgOf({}));
  u.failOnce();
  u.fire();
  const e = u.send({ t: 'restart-job', outcome: 'skipped', shortcut: false });
  assert.deepEqual(logs(e), ['Stop job pending for unit, skipping automatic restart.']);
  assert.equal(u.m.state, 'auto-restart');
  u.send({ t: 'stop' });
  assert.equal(u.m.state, 'dead');
});

test('a start during the restart delay asks for the restart job at once ("immediately on client request"); RestartMode=direct asks for a plain one', () => {
  const u = new One(cfgOf({}));
  u.failOnce();
  const e = u.send({ t: 'start' });
  assert.deepEqual(e.filter((x) => x.t === 'add-restart-job'), [{ t: 'add-restart-job', direct: false, shortcut: true }]);
  assert.equal(spawns(e), 0);
  assert.deepEqual(logs(u.send({ t: 'restart-job', outcome: 'queued', shortcut: true })), ['Scheduled restart job immediately on client request, restart counter is at 1.']);
  const d = new One(cfgOf({ restartMode: 'direct' }));
  d.failOnce();
  assert.deepEqual(d.fire().filter((x) => x.t === 'add-restart-job'), [{ t: 'add-restart-job', direct: true, shortcut: false }]);
});

test('an answer that comes after the unit was stopped changes nothing', () => {
  const u = new One(cfgOf({}));
  u.failOnce();
  u.fire();
  u.send({ t: 'stop' });
  assert.deepEqual(u.send({ t: 'restart-job', outcome: 'queued', shortcut: false }), []);
  assert.equal(u.m.state, 'dead');
  assert.equal(u.m.nRestarts, 0);
});
