// Jobs that must never hang, through a REAL standalone agent and unitctl (the review of issue
// 16's wiring): a start the start limit refuses, ordering cycles, a client waiting when the agent
// exits, masked units pulled in, invalid dependency names, restart order, RefuseManualStart=/
// RefuseManualStop= and their exit status, --stop-on-exit with RefuseManualStop=.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { UNITCTL } from '../support/paths.ts';
import { until } from '../support/wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';

const stamp = (file: string): string => `date +%%s%%N > ${file}`;

test('no job waits forever: start limit, ordering cycles; masked and invalid dependencies; restart order; RefuseManualStart=, RefuseManualStop= refuse with exit 4', async (t) => {
  const a = agentFixture(t);
  const dir = a.manifests;
  const w = (name: string, text: string): void => writeFileSync(join(dir, name), text);
  w('dep-bad.service', '[Service]\nType=oneshot\nExecStart=/bin/false\n');
  // a Wants= b, both ordered after each other: b's job is deleted to break the cycle, a starts
  w('dep-cwa.service', '[Unit]\nWants=dep-cwb.service\nAfter=dep-cwb.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-cwb.service', '[Unit]\nAfter=dep-cwa.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  // ca and cb Requires=+After= each other: no job of the cycle may go, the transaction fails
  w('dep-ca.service', '[Unit]\nRequires=dep-cb.service\nAfter=dep-cb.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-cb.service', '[Unit]\nRequires=dep-ca.service\nAfter=dep-ca.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-m.yaml', 'apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: dep-m\nspec:\n  masked: true\n  service:\n    execStart: ["/bin/sleep 1000"]\n');
  w('dep-needm.service', '[Unit]\nRequires=dep-m.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-softm.service', '[Unit]\nWants=dep-m.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-inval.service', '[Unit]\nRequires=../../etc/passwd a/b.service\nWants=/etc/shadow\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-db.service', `[Service]\nExecStart=/bin/sleep 1000\nExecStopPost=/bin/sh -c '${stamp(join(dir, 'db.stopped'))}'\n`);
  w('dep-web.service', `[Unit]\nRequires=dep-db.service\nAfter=dep-db.service\n[Service]\nExecStart=/bin/sleep 1000\nExecStopPost=/bin/sh -c '${stamp(join(dir, 'web.stopped'))}'\n`);
  w('dep-rms.service', '[Unit]\nRefuseManualStop=yes\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('dep-rmst.service', '[Unit]\nRefuseManualStart=yes\n[Service]\nExecStart=/bin/sleep 1000\n');
  await a.start();
  const st = (u: string): UnitStatus => a.json<UnitStatus>('status', u);
  const log = (): string => a.stderr.join('');
  // unitctl runs synchronously: the agent's log is read once the event loop had a turn
  const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 300));
  await until('boot settled', () => (st('dep-web').ActiveState === 'active' && st('dep-cwa').ActiveState === 'active' && st('dep-bad').ActiveState === 'failed' ? true : undefined), 15_000);

  // 1. the start limit refuses a start of the failed unit: the job fails at once (no hang), as systemctl says it
  // (systemd's default StartLimitBurst=5 in 10 s: the boot's start and 4 more run, the rest are refused.
  // service_enter_dead() keeps the first failure's Result=, so systemctl still names exit-code)
  for (let i = 0; i < 7; i++) {
    const r = a.unitctl('start', 'dep-bad');
    assert.equal(r.status, 1, `unitctl start #${i + 2} did not finish (${r.status}): ${r.stderr}`);
    assert.equal(r.stderr.split('\n')[0], 'Job for dep-bad.service failed because the control process exited with error code.');
  }
  await flush();
  assert.equal(log().split('\n').filter((l) => l.includes('dep-bad.service: Start request repeated too quickly.')).length, 3, log());
  assert.deepEqual([st('dep-bad').ActiveState, st('dep-bad').Result], ['failed', 'exit-code']);
  assert.equal(a.unitctl('list-jobs').stdout, 'No jobs running.\n');

  // 2. ordering cycles: broken (a Wants= b) or refused (Requires= both ways), never left waiting
  await flush();
  assert.match(log(), /dep-cwa\.service: Found ordering cycle on dep-cwb\.service\/start/);
  assert.match(log(), /Job dep-cwb\.service\/start deleted to break ordering cycle starting with dep-cwa\.service\/start/);
  const cyc = a.unitctl('start', 'dep-ca');
  assert.deepEqual([cyc.status, cyc.stderr.trim()], [1, 'Failed to start dep-ca.service: Transaction order is cyclic. See system logs for details.']);
  await flush();
  assert.match(log(), /Unable to break cycle starting with dep-ca\.service\/start/);
  assert.deepEqual([st('dep-ca').ActiveState, st('dep-cb').ActiveState], ['inactive', 'inactive']);
  assert.equal(a.unitctl('list-jobs').stdout, 'No jobs running.\n');

  // 3. masked: Requires= fails the transaction with systemd's words, Wants= drops it; never started
  const needm = a.unitctl('start', 'dep-needm');
  assert.deepEqual([needm.status, needm.stderr.trim()], [1, 'Failed to start dep-needm.service: Unit dep-m.service is masked.']);
  const m = a.unitctl('start', 'dep-m');
  assert.deepEqual([m.status, m.stderr.trim()], [1, 'Failed to start dep-m.service: Unit dep-m.service is masked.']);
  assert.equal(st('dep-softm').ActiveState, 'active');
  assert.equal(st('dep-m').ActiveState, 'inactive');

  // 4. invalid dependency names: warned about (file, field) and dropped; the unit runs
  await flush();
  assert.equal(st('dep-inval').ActiveState, 'active');
  assert.match(log(), /dep-inval\.service: Requires=: Failed to add dependency on \.\.\/\.\.\/etc\/passwd, ignoring: Invalid argument/);
  assert.match(log(), /Requires=: Failed to add dependency on a\/b\.service, ignoring: Invalid argument/);
  assert.match(log(), /Wants=: Failed to add dependency on \/etc\/shadow, ignoring: Invalid argument/);

  // 5. unitctl restart db: web (Requires=+After= db) stops first, then db (job_compare: a restart is a stop)
  const rs = a.unitctl('restart', 'dep-db');
  assert.equal(rs.status, 0, rs.stderr);
  await until('web back', () => (st('dep-web').SubState === 'running' && existsSync(join(dir, 'web.stopped')) ? true : undefined), 10_000);
  const webStop = BigInt(readFileSync(join(dir, 'web.stopped'), 'utf8').trim()), dbStop = BigInt(readFileSync(join(dir, 'db.stopped'), 'utf8').trim());
  assert.ok(webStop <= dbStop, `db stopped ${Number(webStop - dbStop) / 1e6} ms before web`);

  // 6. RefuseManualStop= / RefuseManualStart=: systemctl's words and exit 4 (EXIT_NOPERMISSION)
  const rms = a.unitctl('stop', 'dep-rms');
  assert.deepEqual([rms.status, rms.stderr.trim()], [4, 'Failed to stop dep-rms.service: Operation refused, unit dep-rms.service may be requested by dependency only (it is configured to refuse manual start/stop).']);
  assert.equal(st('dep-rms').ActiveState, 'active');
  assert.equal(st('dep-rmst').ActiveState, 'active'); // the agent's own start is not manual
  assert.equal(a.unitctl('stop', 'dep-rmst').status, 0);
  const rmst = a.unitctl('start', 'dep-rmst');
  assert.deepEqual([rmst.status, rmst.stderr.trim()], [4, 'Failed to start dep-rmst.service: Operation refused, unit dep-rmst.service may be requested by dependency only (it is configured to refuse manual start/stop).']);
  assert.equal(a.unitctl('list-jobs').stdout, 'No jobs running.\n');
});

test('the agent exits while unitctl waits for a job: the job is canceled and unitctl says so instead of waiting', async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'dep-slow.service'), '[Service]\nExecStartPre=/bin/sleep 30\nExecStart=/bin/sleep 1000\n');
  await a.start();
  await until('slow starting', () => (/dep-slow\.service +start/.test(a.unitctl('list-jobs').stdout) ? true : undefined), 10_000);
  // a second client waiting on dep-slow's start job (30 s of ExecStartPre=)
  const c = spawn(process.execPath, [UNITCTL, 'start', 'dep-slow', '--state-dir', a.state], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  await new Promise((r) => setTimeout(r, 1500)); // its request is in
  a.proc!.kill('SIGTERM'); // without --stop-on-exit: the units keep running, the jobs are canceled
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
  if (code === 'hung') c.kill('SIGKILL');
  assert.notEqual(code, 'hung', 'unitctl still waited 15 s after the agent was told to exit');
  assert.deepEqual([code, err.trim()], [1, 'Job for dep-slow.service canceled.']);
});

test('--stop-on-exit stops RefuseManualStop= units (the agent\'s own stop job is not manual)', async (t) => {
  const a = agentFixture(t);
  writeFileSync(join(a.manifests, 'dep-rms.service'), `[Unit]\nRefuseManualStop=yes\n[Service]\nExecStart=/bin/sh -c 'echo $$ > ${join(a.manifests, 'rms.pid')}; exec sleep 1000'\n`);
  await a.start(['--stop-on-exit']);
  await until('rms running', () => (existsSync(join(a.manifests, 'rms.pid')) && a.json<UnitStatus>('status', 'dep-rms').SubState === 'running' ? true : undefined), 15_000);
  const pid = Number(readFileSync(join(a.manifests, 'rms.pid'), 'utf8').trim());
  a.proc!.kill('SIGTERM');
  await new Promise<void>((r) => { if (a.proc!.exitCode !== null) r(); else a.proc!.once('exit', () => r()); });
  let alive = true;
  try { process.kill(pid, 0); } catch { alive = false; }
  assert.equal(alive, false, `dep-rms (PID ${pid}) still runs after the agent stopped with --stop-on-exit`);
});

test('after --stop-on-exit the next agent starts the state: running units again, the user-stopped one too (a boot); after a plain exit a user-stopped unit stays stopped', async (t) => {
  const a = agentFixture(t);
  const w = (name: string, text: string): void => writeFileSync(join(a.manifests, name), text);
  w('boot-a.service', '[Service]\nExecStart=/bin/sleep 1000\n');
  w('boot-b.service', '[Unit]\nRequires=boot-a.service\nAfter=boot-a.service\n[Service]\nExecStart=/bin/sleep 1000\n');
  w('boot-off.yaml', 'apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: boot-off\nspec:\n  state: stopped\n  service:\n    execStart: ["/bin/sleep 1000"]\n');
  w('boot-user.service', '[Service]\nExecStart=/bin/sleep 1000\n');
  const sub = (u: string): string => a.json<UnitStatus>('status', u).SubState;
  const exit = async (): Promise<void> => {
    a.proc!.kill('SIGTERM');
    await new Promise<void>((r) => { if (a.proc!.exitCode !== null) r(); else a.proc!.once('exit', () => r()); });
  };
  const running = ['boot-a', 'boot-b', 'boot-user'];
  await a.start(['--stop-on-exit']);
  await until('a, b, user running', () => (running.every((u) => sub(u) === 'running') ? true : undefined), 15_000);
  assert.equal(a.unitctl('stop', 'boot-user').status, 0);
  await exit();
  // second run (as `npm start` twice; this one without --stop-on-exit): the shutdown was not the user's stop
  await a.start();
  await until('a, b, user running again', () => (running.every((u) => sub(u) === 'running') ? true : undefined), 15_000);
  assert.equal(sub('boot-off'), 'dead', 'state: stopped is not started at boot');
  assert.match(a.stderr.join(''), /the previous agent stopped every unit on exit/);
  // exiting without --stop-on-exit: the units keep running; a unit the user stopped is adopted stopped
  assert.equal(a.unitctl('stop', 'boot-user').status, 0);
  await exit();
  a.stderr.length = 0;
  await a.start();
  await until('a and b adopted', () => (sub('boot-a') === 'running' && sub('boot-b') === 'running' ? true : undefined), 15_000);
  assert.equal(sub('boot-user'), 'dead', 'a plain agent restart is not a boot');
  assert.doesNotMatch(a.stderr.join(''), /stopped every unit on exit/);
});
