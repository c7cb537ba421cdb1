import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyExit, shallRestart, restartDelayNext, rateLimitBelow, RATELIMIT_INIT } from '../../src/engine/decisions.ts';
import { parseExitStatusList } from '../../src/api/signals.ts';

const none = parseExitStatusList([]);
const S = 1_000_000;

test('classifyExit: exit 0 and SIGHUP/SIGINT/SIGTERM/SIGPIPE are clean for daemons (is_clean_exit)', () => {
  assert.equal(classifyExit('exited', 0, true, none), 'success');
  for (const sig of [1, 2, 13, 15]) assert.equal(classifyExit('killed', sig, true, none), 'success');
  assert.equal(classifyExit('killed', 15, false, none), 'signal', 'not for oneshot or control commands');
  assert.equal(classifyExit('killed', 9, true, none), 'signal');
  assert.equal(classifyExit('exited', 1, true, none), 'exit-code');
  assert.equal(classifyExit('dumped', 11, true, none), 'core-dump');
  const extra = parseExitStatusList([42, 'SIGUSR1', 'TEMPFAIL']);
  assert.equal(classifyExit('exited', 42, true, extra), 'success');
  assert.equal(classifyExit('exited', 75, true, extra), 'success', 'TEMPFAIL is 75');
  assert.equal(classifyExit('killed', 10, false, extra), 'success');
});

// systemd.service(5), Table 2 "Exit causes and the effect of the Restart= settings".
const causes = { 'clean exit': 'success', 'unclean exit code': 'exit-code', 'unclean signal': 'signal', 'timeout': 'timeout', 'watchdog': 'watchdog' } as const;
const table: Record<string, Record<keyof typeof causes, boolean>> = {
  'no': { 'clean exit': false, 'unclean exit code': false, 'unclean signal': false, 'timeout': false, 'watchdog': false },
  'always': { 'clean exit': true, 'unclean exit code': true, 'unclean signal': true, 'timeout': true, 'watchdog': true },
  'on-success': { 'clean exit': true, 'unclean exit code': false, 'unclean signal': false, 'timeout': false, 'watchdog': false },
  'on-failure': { 'clean exit': false, 'unclean exit code': true, 'unclean signal': true, 'timeout': true, 'watchdog': true },
  'on-abnormal': { 'clean exit': false, 'unclean exit code': false, 'unclean signal': true, 'timeout': true, 'watchdog': true },
  'on-abort': { 'clean exit': false, 'unclean exit code': false, 'unclean signal': true, 'timeout': false, 'watchdog': false },
  'on-watchdog': { 'clean exit': false, 'unclean exit code': false, 'unclean signal': false, 'timeout': false, 'watchdog': true },
};
for (const [restart, row] of Object.entries(table)) {
  for (const [cause, expected] of Object.entries(row)) {
    test(`Restart=${restart} ${expected ? 'restarts' : 'does not restart'} after ${cause} (systemd.service(5) table 2)`, () => {
      const result = causes[cause as keyof typeof causes];
      const d = shallRestart({ restart: restart as 'no', type: 'simple', restartPreventExitStatus: none, restartForceExitStatus: none },
        { forbidRestart: false, result, mainExitCode: result === 'signal' ? 'killed' : 'exited', mainExitStatus: result === 'signal' ? 9 : 1 });
      assert.equal(d.restart, expected);
    });
  }
}

test('a manual stop forbids restart; RestartPreventExitStatus= wins over Restart=; RestartForceExitStatus= forces it', () => {
  const base = { restart: 'always' as const, type: 'simple' as const, restartPreventExitStatus: parseExitStatusList([3, 'SIGKILL']), restartForceExitStatus: parseExitStatusList([0]) };
  assert.deepEqual(shallRestart(base, { forbidRestart: true, result: 'exit-code', mainExitCode: 'exited', mainExitStatus: 1 }), { restart: false, reason: 'manual stop' });
  assert.deepEqual(shallRestart(base, { forbidRestart: false, result: 'exit-code', mainExitCode: 'exited', mainExitStatus: 3 }), { restart: false, reason: 'prevented by exit status' });
  assert.equal(shallRestart(base, { forbidRestart: false, result: 'signal', mainExitCode: 'killed', mainExitStatus: 9 }).restart, false);
  assert.deepEqual(shallRestart({ ...base, restart: 'no' }, { forbidRestart: false, result: 'success', mainExitCode: 'exited', mainExitStatus: 0 }), { restart: true, reason: 'forced by exit status' });
  assert.equal(shallRestart({ ...base, restart: 'no', type: 'oneshot' }, { forbidRestart: false, result: 'success', mainExitCode: 'exited', mainExitStatus: 0 }).restart, false, 'never a oneshot on success');
});

test('RestartSteps= grows the delay geometrically from RestartSec= to RestartMaxDelaySec= (service_restart_usec_next)', () => {
  const cfg = { restartUSec: 1 * S, restartSteps: 4, restartMaxDelayUSec: 16 * S };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => restartDelayNext(cfg, n) / S), [1, 2, 4, 8, 16, 16]);
  assert.equal(restartDelayNext({ ...cfg, restartMaxDelayUSec: Infinity }, 5), 1 * S, 'no growth without a maximum');
  assert.equal(restartDelayNext({ ...cfg, restartSteps: 0 }, 5), 1 * S);
  const odd = { restartUSec: 100_000, restartSteps: 3, restartMaxDelayUSec: 10 * S };
  assert.deepEqual([1, 2, 3, 4].map((n) => restartDelayNext(odd, n)), [100_000, 464_158, 2_154_434, 10_000_000]);
});

test('the start limit allows StartLimitBurst= starts per StartLimitIntervalSec=, then refuses until the interval passes; StartLimitIntervalSec=0 disables it (ratelimit_below)', () => {
  let rl = RATELIMIT_INIT;
  const verdicts: boolean[] = [];
  for (let i = 0; i < 6; i++) { const r = rateLimitBelow(rl, 1 + i * S, 10 * S, 4); rl = r.next; verdicts.push(r.allowed); }
  assert.deepEqual(verdicts, [true, true, true, true, false, false]);
  assert.equal(rateLimitBelow(rl, 1 + 11 * S, 10 * S, 4).allowed, true, 'a new interval begins');
  assert.equal(rateLimitBelow(rl, 2 * S, 0, 4).allowed, true, 'StartLimitIntervalSec=0 disables the limit');
});
