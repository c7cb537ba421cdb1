// The engine when the runner cannot spawn a command (an EnvironmentFile= without "-" that is
// missing, too large or not a regular file): what service.c does when service_spawn() fails —
// "Failed to spawn 'start' task: …", Result=resources — in each service_enter_*(), driven
// through decide() by a tiny runner whose failing commands never get a PID. systemd 257 was
// checked with the oracle (test/fixtures/oracle/26-27, replayed with real processes by
// test/runner/oracle.test.ts): a missing file fails the start, Result=resources, ExecMainCode=0,
// and Restart=on-failure restarts it until the start limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, INITIAL_MACHINE, configFromSpec, properties, type Event, type Machine } from '../../src/engine/index.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

type Service = NonNullable<ServiceUnitSpec['service']>;

/**
 * Runs `events` through the engine. Commands whose program starts with "fail" cannot be spawned
 * (spawn-failed, then group-empty when nothing else is left); others run until killed, or exit 0
 * at once when they start with "ok-exit".
 */
function drive(service: Service, events: Event[]): { m: Machine; subs: string[]; logs: string[]; spawned: string[] } {
  const cfg = configFromSpec({ service }, 'sf.service');
  let m = INITIAL_MACHINE;
  const subs: string[] = [m.state];
  const logs: string[] = [];
  const spawned: string[] = [];
  const live = new Set<number>();
  let nextPid = 100;
  const queue: Event[] = [...events];
  for (let guard = 0; queue.length > 0 && guard < 1000; guard++) {
    const ev = queue.shift()!;
    const d = decide(m, ev, cfg, 1_000_000 + guard);
    m = d.machine;
    if (subs[subs.length - 1] !== m.state) subs.push(m.state);
    for (const e of d.effects) {
      if (e.t === 'log') logs.push(e.message);
      if (e.t === 'spawn') {
        spawned.push(`${e.kind}:${e.command.argv[0]}`);
        if (e.command.argv[0]!.startsWith('fail')) {
          queue.push({ t: 'spawn-failed', role: e.role, message: 'No such file or directory' });
          if (live.size === 0) queue.push({ t: 'group-empty' });
          continue;
        }
        const pid = nextPid++;
        live.add(pid);
        queue.push({ t: 'spawned', role: e.role, pid });
        if (e.command.argv[0]!.startsWith('ok-exit')) { live.delete(pid); queue.push({ t: 'exited', pid, code: 'exited', status: 0 }); if (live.size === 0) queue.push({ t: 'group-empty' }); }
      }
      if (e.t === 'kill') {
        for (const pid of [...live]) { live.delete(pid); queue.push({ t: 'exited', pid, code: 'killed', status: e.signal }); }
        queue.push({ t: 'group-empty' });
      }
    }
  }
  return { m, subs, logs, spawned };
}

const result = (m: Machine): string => `${properties(m).ActiveState}/${properties(m).SubState}/${properties(m).Result}`;

test('a start that cannot be spawned fails with Result=resources, no main PID and no exit status, as systemd 257 (oracle 26)', () => {
  for (const type of ['exec', 'simple', 'notify', 'oneshot', 'forking'] as const) {
    const r = drive({ type, execStart: ['fail-start'] }, [{ t: 'start' }]);
    assert.equal(result(r.m), 'failed/failed/resources', type);
    assert.deepEqual([properties(r.m).MainPID, properties(r.m).ExecMainCode, properties(r.m).ExecMainStatus], [0, 0, 0], type);
    assert.ok(r.logs.includes("Failed to spawn 'start' task: No such file or directory"), `${type}: ${r.logs.join(' | ')}`);
    assert.ok(r.logs.includes("Failed with result 'resources'."), type);
  }
});

test('Restart=on-failure restarts a start that cannot be spawned (Result=resources) until the start limit, as systemd 257 (oracle 27)', () => {
  const r = drive({ execStart: ['fail-start'], restart: 'on-failure', restartSec: 0 } as Service, [{ t: 'start' }]);
  // no timers in this driver: the restart waits in auto-restart; fire it by hand
  assert.equal(result(r.m), 'activating/auto-restart/resources');
  const cfg = configFromSpec({ service: { execStart: ['fail-start'], restart: 'on-failure' } }, 'sf.service');
  let m = r.m;
  for (let i = 0; i < 10 && m.state === 'auto-restart'; i++) {
    const now = 2_000_000 + i * 1_000_000; // a restart a second: five starts within StartLimitIntervalSec=10s
    m = decide(m, { t: 'timer', gen: m.timer!.gen }, cfg, now).machine;
    m = decide(m, { t: 'spawn-failed', role: 'main', message: 'No such file or directory' }, cfg, now).machine;
    m = decide(m, { t: 'group-empty' }, cfg, now).machine;
  }
  assert.equal(result(m), 'failed/failed/resources', 'the start limit ends it; the Result stays resources (as the oracle shows)');
  assert.equal(m.nRestarts, 5);
});

test('ExecStartPre= and ExecCondition= that cannot be spawned: service_enter_dead(resources) at once, nothing else runs', () => {
  const pre = drive({ execStartPre: ['fail-pre'], execStart: ['run'] }, [{ t: 'start' }]);
  assert.equal(result(pre.m), 'failed/failed/resources');
  assert.deepEqual(pre.spawned, ['startPre:fail-pre']);
  assert.ok(pre.logs.includes("Failed to spawn 'start-pre' task: No such file or directory"));
  const cond = drive({ execCondition: ['fail-cond'], execStart: ['run'] }, [{ t: 'start' }]);
  assert.equal(result(cond.m), 'failed/failed/resources');
  assert.ok(cond.logs.includes("Failed to spawn 'exec-condition' task: No such file or directory"));
});

test('a simple service whose ExecStart= and ExecStartPost= both fail: one failure, stale second one ignored', () => {
  const r = drive({ type: 'simple', execStart: ['fail-start'], execStartPost: ['fail-post'] }, [{ t: 'start' }]);
  assert.equal(result(r.m), 'failed/failed/resources');
  assert.equal(r.logs.filter((l) => l.startsWith('Failed to spawn')).length, 1, r.logs.join(' | '));
});

test('ExecStop= that cannot be spawned: SIGTERM to the main process (stop-sigterm), Result=resources', () => {
  const r = drive({ execStart: ['run'], execStop: ['fail-stop'] }, [{ t: 'start' }, { t: 'stop' }]);
  assert.deepEqual(r.subs.slice(0, 4), ['dead', 'running', 'stop', 'stop-sigterm']);
  assert.equal(result(r.m), 'failed/failed/resources');
  assert.ok(r.logs.includes("Failed to spawn 'stop' task: No such file or directory"));
});

test('ExecReload= that cannot be spawned: the unit keeps running, the reload result is resources', () => {
  const cfg = configFromSpec({ service: { execStart: ['run'], execReload: ['fail-reload'] } }, 'sf.service');
  const r = drive({ execStart: ['run'], execReload: ['fail-reload'] }, [{ t: 'start' }, { t: 'reload' }]);
  assert.equal(result(r.m), 'active/running/success');
  assert.equal(r.m.reloadResult, 'resources');
  assert.ok(cfg.exec.reload.length === 1);
  assert.ok(r.logs.includes("Failed to spawn 'reload' task: No such file or directory"));
});

test('a spawn-failed for a command no longer pending (the unit moved on) changes nothing but the PID', () => {
  const r = drive({ execStart: ['run'] }, [{ t: 'start' }]);
  const cfg = configFromSpec({ service: { execStart: ['run'] } }, 'sf.service');
  const d = decide(r.m, { t: 'spawn-failed', role: 'control', message: 'x' }, cfg, 5e6);
  assert.equal(result(d.machine), 'active/running/success');
  assert.deepEqual(d.effects.filter((e) => e.t !== 'log'), []);
});
