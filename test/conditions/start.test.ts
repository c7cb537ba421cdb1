// Condition*= and Assert*= applied to real starts (UnitRunner + uo-shim, through harness()): for
// every check type, on this node's real facts, a unit whose check holds starts and runs its
// process; the negated check skips the start (inactive, Result=success, ConditionResult=no,
// systemd's words in the log, no process); a failing assert fails the start job (job result
// assert, AssertResult=no). Also the status lines systemctl prints, and a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, chmodSync, rmSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness, waitFor, subState, sleep, type Harness } from '../support/units.ts';
import { unitProperties } from '../../src/api/status.ts';
import { checkLines } from '../../src/cli/format.ts';
import { HostFacts } from '../../src/conditions/index.ts';
import { onAcPower } from '../../src/conditions/system.ts';

type Row = readonly [type: string, met: string, unmet: string];

function scratch(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'uo-cond-run-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'a.txt'), 'data\n');
  writeFileSync(join(d, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(d, 'run.sh'), 0o755);
  symlinkSync(join(d, 'a.txt'), join(d, 'link'));
  mkdirSync(join(d, 'creds'));
  writeFileSync(join(d, 'creds', 'uo-token'), 'secret');
  return d;
}

const field = (name: string): string => name[0]!.toLowerCase() + name.slice(1);
const spec = (unit: Record<string, string[]>) => ({ unit, service: { type: 'oneshot', remainAfterExit: true, execStart: ['/bin/true'] } });

/** Each row three times: met (starts), negated condition (skipped), negated assert (the job fails). */
async function runRows(h: Harness, rows: readonly Row[]): Promise<void> {
  for (const [type, met, unmet] of rows) {
    const ok = h.open(`met-${type}.service`, spec({ [field(`Condition${type}`)]: [met], [field(`Assert${type}`)]: [met] }));
    assert.equal(ok.startJob(), undefined, `Condition${type}=${met} holds`);
    await waitFor(ok, `Condition${type}=${met}: the unit ran`, subState('exited'));
    const p = unitProperties(ok.machine);
    assert.equal(p.ConditionResult, true);
    assert.equal(p.AssertResult, true);
    assert.deepEqual(p.Conditions?.map((c) => c.state), [1]);
    assert.equal(p.ExecMainCode, 1, 'its process ran and exited');

    const skip = h.open(`skip-${type}.service`, spec({ [field(`Condition${type}`)]: [unmet] }));
    const s = skip.startJob();
    assert.deepEqual(s, { check: 'condition', jobResult: 'done', message: `unmet condition check Condition${type}=${unmet}`,
      statusMessage: `skip-${type}.service was skipped because of an unmet condition check (Condition${type}=${unmet}).` }, `Condition${type}=${unmet}`);
    assert.equal(skip.start(), undefined, 'a skipped start is not a refusal');
    const q = unitProperties(skip.machine);
    assert.deepEqual([q.ActiveState, q.SubState, q.Result, q.ConditionResult, q.ExecMainCode], ['inactive', 'dead', 'success', false, 0]);
    assert.equal(skip.spawns.length, 0, 'no process was started');
    assert.ok(h.logs.includes(`skip-${type}.service: info: skip-${type}.service skipped, unmet condition check Condition${type}=${unmet}`), h.logs.slice(-3).join('\n'));

    const fail = h.open(`assert-${type}.service`, spec({ [field(`Assert${type}`)]: [unmet] }));
    assert.deepEqual(fail.startJob(), { check: 'assert', jobResult: 'assert', message: `Assertion failed for assert-${type}.service (Assert${type}=${unmet})`, statusMessage: `Assertion failed for assert-${type}.service.` });
    const a = unitProperties(fail.machine);
    assert.deepEqual([a.ActiveState, a.Result, a.ConditionResult, a.AssertResult], ['inactive', 'success', true, false]);
    assert.ok(h.logs.includes(`assert-${type}.service: warning: Assertion failed for assert-${type}.service.`));
  }
  await sleep(20);
  assert.equal(h.logs.filter((l) => /Couldn't determine/.test(l)).length, 0, h.logs.filter((l) => /Couldn't determine/.test(l)).join('\n'));
}

test('ConditionPathExists=, ConditionPathExistsGlob=, ConditionPathIsDirectory=, ConditionPathIsSymbolicLink=, ConditionPathIsMountPoint=, ConditionPathIsReadWrite=, ConditionPathIsEncrypted=, ConditionDirectoryNotEmpty=, ConditionFileNotEmpty=, ConditionFileIsExecutable=, ConditionNeedsUpdate=, ConditionFirstBoot=, ConditionCredential=, AssertPathExists=, AssertPathExistsGlob=, AssertPathIsDirectory=, AssertPathIsSymbolicLink=, AssertPathIsMountPoint=, AssertPathIsReadWrite=, AssertPathIsEncrypted=, AssertDirectoryNotEmpty=, AssertFileNotEmpty=, AssertFileIsExecutable=, AssertNeedsUpdate=, AssertFirstBoot=, AssertCredential= start, skip or fail a real start on the node\'s files', async (t) => {
  const d = scratch(t);
  const saved = process.env['CREDENTIALS_DIRECTORY'];
  process.env['CREDENTIALS_DIRECTORY'] = join(d, 'creds'); // the manager's (the agent's) credentials
  t.after(() => { if (saved === undefined) delete process.env['CREDENTIALS_DIRECTORY']; else process.env['CREDENTIALS_DIRECTORY'] = saved; });
  const first = existsSync('/run/systemd/first-boot');
  await runRows(harness(t), [
    ['PathExists', d, `!${d}`], ['PathExistsGlob', `${d}/*.t{x,y}t`, `!${d}/*.t{x,y}t`], ['PathIsDirectory', d, `!${d}`],
    ['PathIsSymbolicLink', `${d}/link`, `!${d}/link`], ['PathIsMountPoint', '/proc', '!/proc'], ['PathIsReadWrite', d, `!${d}`],
    ['PathIsEncrypted', `!${d}`, d], ['DirectoryNotEmpty', d, `!${d}`], ['FileNotEmpty', `${d}/a.txt`, `!${d}/a.txt`],
    ['FileIsExecutable', `${d}/run.sh`, `!${d}/run.sh`], ['NeedsUpdate', d, `!${d}`], ['FirstBoot', first ? 'yes' : 'no', first ? 'no' : 'yes'],
    ['Credential', 'uo-token', '!uo-token'],
  ]);
});

test('ConditionUser=, ConditionGroup=, ConditionHost=, ConditionKernelCommandLine=, ConditionKernelVersion=, ConditionVirtualization=, ConditionSecurity=, ConditionCapability=, ConditionACPower=, ConditionArchitecture=, ConditionFirmware=, AssertUser=, AssertGroup=, AssertHost=, AssertKernelCommandLine=, AssertKernelVersion=, AssertVirtualization=, AssertSecurity=, AssertCapability=, AssertACPower=, AssertArchitecture=, AssertFirmware= start, skip or fail a real start on the node\'s identity, kernel and firmware', async (t) => {
  const h = harness(t);
  const capBnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  const chown = (capBnd & 1n) === 1n;
  const ac = onAcPower(new HostFacts()) ? 'true' : 'false';
  await runRows(h, [
    ['User', String(process.getuid!()), `!${process.getuid!()}`], ['Group', String(process.getgid!()), `!${process.getgid!()}`],
    ['Host', hostname(), `!${hostname()}`], ['KernelCommandLine', '!uo_no_such_option', 'uo_no_such_option'],
    ['KernelVersion', `=${release()}`, '<1.0'], ['Virtualization', '!uo-none-such', 'uo-none-such'], ['Security', '!uo-none-such', 'uo-none-such'],
    ['Capability', chown ? 'CAP_CHOWN' : '!CAP_CHOWN', chown ? '!CAP_CHOWN' : 'CAP_CHOWN'], ['ACPower', ac, ac === 'true' ? 'false' : 'true'],
    ['Architecture', 'native', '!native'], ['Firmware', '!uo-none-such', 'uo-none-such'],
  ]);
});

test('ConditionCPUs=, ConditionCPUFeature=, ConditionEnvironment=, ConditionMemory=, ConditionControlGroupController=, ConditionOSRelease=, ConditionMemoryPressure=, ConditionCPUPressure=, ConditionIOPressure=, AssertCPUs=, AssertCPUFeature=, AssertEnvironment=, AssertMemory=, AssertControlGroupController=, AssertOSRelease=, AssertMemoryPressure=, AssertCPUPressure=, AssertIOPressure= start, skip or fail a real start on the node\'s resources', async (t) => {
  const h = harness(t);
  process.env['UO_CONDITION_TEST'] = 'yes'; // the manager's environment
  t.after(() => { delete process.env['UO_CONDITION_TEST']; });
  const id = /^ID=("?)([^"\n]*)\1$/m.exec(readFileSync('/etc/os-release', 'utf8'))![2]!;
  const cg = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1';
  await runRows(h, [
    ['CPUs', '>=1', '<1'], ['CPUFeature', '!uo_none_such', 'uo_none_such'], ['Environment', 'UO_CONDITION_TEST=yes', '!UO_CONDITION_TEST=yes'],
    ['Memory', '>=1M', '<1M'], ['ControlGroupController', cg, `!${cg}`], ['OSRelease', `ID=${id}`, `ID!=${id}`],
    ['MemoryPressure', '100%', '!100%'], ['CPUPressure', '100%/10sec', '!100%/10sec'], ['IOPressure', '100%/1min', '!100%/1min'],
  ]);
});

test('ConditionPathExists= with "|" and "!" on a real unit: status prints systemctl\'s Condition: lines; a restart whose condition no longer holds stops the unit', async (t) => {
  const h = harness(t);
  const d = scratch(t);
  const flag = join(d, 'flag');
  writeFileSync(flag, '1');
  const r = h.open('flagged.service', { unit: { conditionPathExists: ['|/nonexistent-uo-a', `|${flag}`, `!${d}/nope`] }, service: { execStart: ['/bin/sleep 30'] } });
  assert.equal(r.startJob(), undefined);
  await waitFor(r, 'running', subState('running'));
  const pid = r.props.MainPID;
  unlinkSync(flag);
  const again = r.restartJob();
  assert.deepEqual(again, { check: 'condition', jobResult: 'done', message: 'no trigger condition checks were met', statusMessage: 'flagged.service was skipped because no trigger condition checks were met.' });
  await waitFor(r, 'stopped', subState('dead'));
  assert.equal(r.skippedStart, again);
  try { process.kill(pid, 0); assert.fail(`PID ${pid} still runs`); } catch (e) { assert.equal((e as NodeJS.ErrnoException).code, 'ESRCH'); }
  const p = unitProperties(r.machine);
  assert.equal(p.Result, 'success');
  const lines = checkLines(p, { color: false }, Date.parse(p.ConditionTimestamp!) + 2000);
  assert.match(lines[0]!, /^ {2}Condition: start condition unmet at .*; 2s ago$/);
  assert.deepEqual(lines.slice(1), ['             ├─ ConditionPathExists=|/nonexistent-uo-a was not met', `             └─ ConditionPathExists=|${flag} was not met`]);
  // an assert that fails prints the one that failed
  const a = h.open('asserted.service', { unit: { assertPathExists: [`!${d}`] }, service: { execStart: ['/bin/sleep 30'] } });
  a.start();
  const ap = unitProperties(a.machine);
  assert.deepEqual(checkLines(ap, { color: false }, Date.parse(ap.AssertTimestamp!)).slice(1), [`             AssertPathExists=!${d} was not met`]);
  assert.match(checkLines(ap, { color: false }, Date.parse(ap.AssertTimestamp!))[0]!, /^ {5}Assert: start assertion failed at /);
});
