// Restarts, stopping (KillMode=, escalation), the watchdog, the exec sequence and its
// environment, credentials — with real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { harness, waitFor, subState, alive, sleep } from '../support/units.ts';

test('a crashing service restarts after RestartSec= and the start limit ends it failed (Result=exit-code, NRestarts=4)', async (t) => {
  const h = harness(t);
  const r = h.open('crash.service', { service: { execStart: ["/bin/sh -c 'exit 1'"], restart: 'on-failure', restartSec: '200ms' }, unit: { startLimitBurst: 4, startLimitIntervalSec: '30s' } });
  // the engine stamps each main-process start (µs); sample them to see every start
  const starts: number[] = [];
  const timer = setInterval(() => { const s = r.machine.mainStartUs; if (s > 0 && s !== starts[starts.length - 1]) starts.push(s); }, 1);
  t.after(() => clearInterval(timer));
  r.start();
  await waitFor(r, 'failed', subState('failed'), 5000);
  assert.deepEqual([r.props.ActiveState, r.props.Result, r.props.NRestarts], ['failed', 'exit-code', 4]);
  assert.equal(starts.length, 4, 'the first start and three restarts; the fourth restart hits the limit');
  const gaps = starts.slice(1).map((s, i) => (s - starts[i]!) / 1000);
  for (const g of gaps) assert.ok(g >= 200 && g < 600, `restart gap ${g} ms is RestartSec=200ms plus the process's run time`);
});

test('KillMode=control-group stops every process, forked grandchildren and setsid daemons included', async (t) => {
  const h = harness(t);
  const r = h.open('tree.service', { service: { execStart: ["/bin/sh -c 'sleep 1000 & (sleep 1000 &) ; setsid sleep 1000 & exec sleep 1000'"] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  await waitFor(r, 'four processes', (x) => x.unitProcesses().length >= 4);
  const pids = r.unitProcesses();
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  await sleep(50);
  assert.deepEqual(pids.filter(alive), [], 'no process left behind');
});

test('KillMode=process stops only the main process and leaves the rest (as systemd does)', async (t) => {
  const h = harness(t);
  const r = h.open('proc.service', { service: { killMode: 'process', execStart: ["/bin/sh -c 'sleep 1000 & exec sleep 1000'"] } });
  r.start();
  await waitFor(r, 'a main PID and two processes', (x) => x.props.MainPID > 0 && x.unitProcesses().length >= 2);
  const main = r.props.MainPID;
  const other = r.unitProcesses().find((p) => p !== main)!;
  r.stop();
  await sleep(300);
  assert.equal(alive(main), false);
  assert.equal(alive(other), true, 'the other process survives KillMode=process');
  process.kill(other, 9);
  await waitFor(r, 'dead', subState('dead'));
});

test('a stop right after the start, before the runner knows the main PID, still ends the process at once (KillMode=process)', async (t) => {
  const h = harness(t);
  const r = h.open('early.service', { service: { killMode: 'process', execStart: ['/bin/sleep 1000'] } });
  r.start();
  r.stop();
  await waitFor(r, 'dead within 5 s, not after TimeoutStopSec= (90 s)', subState('dead'), 5000);
  assert.deepEqual(r.unitProcesses(), []);
});

test('a process that ignores SIGTERM is killed with SIGKILL after TimeoutStopSec=; Result=timeout', async (t) => {
  const h = harness(t);
  // the stop waits for the trap: Type=simple is running at fork(), before the shell has set it
  const ready = join(h.dir, 'stubborn.ready');
  const r = h.open('stubborn.service', { service: { timeoutStopSec: '500ms', execStart: [`/bin/sh -c 'trap "" TERM; : > ${ready}; while :; do sleep 0.05; done'`] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  await waitFor(r, 'the TERM trap set', () => existsSync(ready));
  const pid = r.props.MainPID;
  const t0 = Date.now();
  r.stop();
  await waitFor(r, 'stop-sigkill', (x) => x.props.SubState === 'stop-sigkill' || x.props.SubState === 'failed');
  const elapsed = Date.now() - t0;
  await waitFor(r, 'failed', subState('failed'));
  assert.ok(elapsed >= 450, `SIGKILL after ~500 ms, not ${elapsed}`);
  assert.deepEqual([r.props.Result, alive(pid)], ['timeout', false]);
  assert.deepEqual([r.machine.mainExec?.code, r.machine.mainExec?.status], ['killed', 9]);
});

test('WatchdogSec= without WATCHDOG=1 pings: SIGABRT, Result=watchdog; with pings it keeps running', async (t) => {
  const h = harness(t);
  const silent = h.open('wd.service', { service: { type: 'notify', watchdogSec: '500ms', execStart: ["/bin/sh -c 'systemd-notify --ready; exec sleep 1000'"] } });
  const pinging = h.open('wdok.service', { service: { type: 'notify', watchdogSec: '500ms', execStart: ["/bin/sh -c 'systemd-notify --ready; while :; do systemd-notify WATCHDOG=1; sleep 0.1; done'"] } });
  silent.start();
  pinging.start();
  await waitFor(silent, 'failed', subState('failed'), 4000);
  assert.equal(silent.props.Result, 'watchdog');
  assert.equal(silent.machine.mainExec?.status, 6, 'killed by SIGABRT');
  assert.equal(pinging.props.SubState, 'running');
  pinging.stop();
  await waitFor(pinging, 'dead', subState('dead'));
});

test('the exec sequence: ExecCondition=, ExecStartPre=, ExecStart=, ExecStartPost=, ExecReload= ($MAINPID), ExecStop=, ExecStopPost= ($SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS)', async (t) => {
  const h = harness(t);
  const out = join(h.dir, 'seq.txt');
  const rec = (what: string): string => `/bin/sh -c 'echo ${what} >> ${out}'`;
  const r = h.open('seq.service', { service: {
    execCondition: [rec('condition')], execStartPre: [rec('pre1'), rec('pre2')],
    execStart: ["/bin/sh -c 'echo start >> " + out + "; exec sleep 1000'"], execStartPost: [rec('post')],
    execReload: [`/bin/sh -c 'echo reload $MAINPID >> ${out}'`], execStop: [`/bin/sh -c 'echo stop $MAINPID >> ${out}; kill $MAINPID'`],
    execStopPost: [`/bin/sh -c 'echo stoppost $SERVICE_RESULT $EXIT_CODE $EXIT_STATUS >> ${out}'`],
  } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  const main = r.props.MainPID;
  r.reload();
  await waitFor(r, 'reloaded', (x) => x.props.SubState === 'running' && readFileSync(out, 'utf8').includes('reload'));
  r.stop();
  await waitFor(r, 'dead', subState('dead'));
  await sleep(30);
  assert.equal(readFileSync(out, 'utf8'), `condition\npre1\npre2\nstart\npost\nreload ${main}\nstop ${main}\nstoppost success killed TERM\n`);
});

test('Environment=, EnvironmentFile= (overriding), $VAR splitting, WorkingDirectory=, UMask=', async (t) => {
  const h = harness(t);
  const envFile = join(h.dir, 'env');
  writeFileSync(envFile, '# comment\nFROM_FILE="file value"\nTWO=overridden two\n');
  const wd = join(h.dir, 'wd');
  mkdirSync(wd);
  const r = h.open('env.service', { service: {
    type: 'oneshot', workingDirectory: wd, umask: '0077',
    environment: ['ONE=one', 'TWO=two two'], environmentFile: [envFile, '-/nonexistent/optional'],
    execStart: ['/bin/sh -c \'printf "%%s|" "$@" > args; echo "$FROM_FILE|$TWO|$(pwd)|$(umask)" > env.txt\' sh $ONE $TWO ${TWO}'],
  } });
  r.start();
  await waitFor(r, 'dead', subState('dead'));
  assert.equal(r.props.Result, 'success', JSON.stringify(h.logs));
  assert.equal(readFileSync(join(wd, 'args'), 'utf8'), 'one|overridden|two|overridden two|');
  assert.equal(readFileSync(join(wd, 'env.txt'), 'utf8'), `file value|overridden two|${wd}|0077\n`);
});

test('User=, Group= and SupplementaryGroups=; "+" runs a command with full privileges', async (t) => {
  const h = harness(t);
  const out = join(h.dir, 'id.txt');
  writeFileSync(out, '');
  const { chmodSync } = await import('node:fs');
  chmodSync(h.dir, 0o777);
  chmodSync(out, 0o666);
  const r = h.open('user.service', { service: {
    type: 'oneshot', user: 'nobody', group: 'nogroup', supplementaryGroups: ['daemon'],
    execStart: [`/bin/sh -c '{ id -u; id -g; id -G; } >> ${out}'`, `+/bin/sh -c 'id -u >> ${out}'`],
  } });
  r.start();
  await waitFor(r, 'dead', subState('dead'));
  assert.equal(r.props.Result, 'success', JSON.stringify(h.logs));
  const [uid, gid, groups, privileged] = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(uid, '65534');
  assert.equal(gid, '65534');
  assert.deepEqual(groups!.split(' ').sort(), ['1', '65534'], 'nogroup plus SupplementaryGroups=daemon');
  assert.equal(privileged, '0');
});

test('LimitNOFILE= is applied to the process', async (t) => {
  const h = harness(t);
  const out = join(h.dir, 'limit.txt');
  const r = h.open('limit.service', { service: { type: 'oneshot', limitNOFILE: '1024:2048', execStart: [`/bin/sh -c 'ulimit -n > ${out}; ulimit -Hn >> ${out}'`] } });
  r.start();
  await waitFor(r, 'dead', subState('dead'));
  assert.equal(readFileSync(out, 'utf8'), '1024\n2048\n');
});

test('an unknown User= fails the start with exit status 217/USER and never runs the command as root', async (t) => {
  const h = harness(t);
  const marker = join(h.dir, 'ran');
  const r = h.open('baduser.service', { service: { type: 'exec', execStart: [`/bin/touch ${marker}`], user: 'no-such-user-here' } });
  r.start();
  await waitFor(r, 'failed', subState('failed'));
  assert.deepEqual([r.props.Result, r.machine.mainExec?.status], ['exit-code', 217]);
  assert.equal(existsSync(marker), false);
  assert.deepEqual(r.problems, ['Failed to determine user credentials: No such process (User=no-such-user-here does not exist on this node)'], 'the reason is kept for status');
});
