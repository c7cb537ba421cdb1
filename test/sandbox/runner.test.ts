// The mount namespace through the runner (UnitRunner, real processes): a set-up that fails is
// reported as systemd 257 reports it (ReadWritePaths= of a missing path without "-" under
// ProtectSystem=strict: status 226/NAMESPACE, "Failed at step NAMESPACE", the command never
// runs; with "-" it runs), and PrivateTmp= gives every process of an invocation the same /tmp
// and /var/tmp, fresh at the next start, removed when the unit stops. Runs as root (mount
// namespaces), as the runner's other real-process tests do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { harness, waitFor, type Harness } from '../support/units.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';
import { privateTmpDirs } from '../../src/runner/sandbox.ts';

const privateDirs = (unit: string): string[] => ['/tmp', '/var/tmp'].flatMap((d) => readdirSync(d).filter((n) => n.startsWith(`uo-private-${unit}-`)).map((n) => join(d, n)));

/** A folder outside /tmp and /var/tmp (which PrivateTmp= replaces), where the commands write what they saw. */
function workdir(t: { after: (fn: () => void) => void }): string {
  const w = mkdtempSync(join('/run', 'uo-sbx-run-'));
  t.after(() => rmSync(w, { recursive: true, force: true }));
  return w;
}

async function runOnce(t: Parameters<typeof harness>[0], h: Harness, service: Record<string, unknown>, unit = `uo-sbx-${randomBytes(4).toString('hex')}.service`): Promise<{ unit: string; logs: string[]; props: Record<string, unknown> }> {
  let started = false;
  const r = h.open(unit, { service: { type: 'oneshot', ...service } } as ServiceUnitSpec, (p) => { if (p.ActiveState === 'activating') started = true; });
  assert.equal(r.start(), undefined);
  await waitFor(r, 'the unit ended', (x) => started && (x.activeState === 'inactive' || x.activeState === 'failed') && x.spawns.length === 0, 10_000);
  return { unit, logs: h.logs, props: { ...r.props } };
}

test('ReadWritePaths= of a missing path under ProtectSystem=strict: 226/NAMESPACE as systemd 257 (oracle: sbx-missing-rw), the command never runs; "-" ignores it', async (t) => {
  const w = workdir(t);
  const marker = join(w, 'ran');
  const missing = await runOnce(t, harness(t), { protectSystem: 'strict', readWritePaths: [join(w, 'missing')], execStart: [`/bin/touch ${marker}`] });
  assert.deepEqual([missing.props['ActiveState'], missing.props['Result'], missing.props['ExecMainStatus']], ['failed', 'exit-code', 226]);
  assert.equal(existsSync(marker), false, 'the command never ran');
  assert.ok(missing.logs.some((l) => /Failed at step NAMESPACE spawning \/bin\/touch: No such file or directory/.test(l)), missing.logs.join('\n'));
  assert.ok(missing.logs.some((l) => l.includes('status=226/NAMESPACE')), missing.logs.join('\n'));

  // ReadWritePaths= names w (writable) and "-" a missing one: the command runs and writes there, not in /usr
  const ok = await runOnce(t, harness(t), { protectSystem: 'strict', readWritePaths: [w, `-${join(w, 'missing')}`], execStart: [`/bin/sh -c 'touch ${marker}; touch /usr/.uo-sbx-probe 2>/dev/null && rm -f /usr/.uo-sbx-probe && echo rw >> ${marker} || echo ro >> ${marker}'`] });
  assert.equal(ok.props['Result'], 'success', ok.logs.join('\n'));
  assert.equal(readFileSync(marker, 'utf8'), 'ro\n');
});

test('PrivateTmp=: ExecStartPre=, ExecStart= and ExecStartPost= share /tmp and /var/tmp; the folders go when the unit stops; the next start has fresh ones', async (t) => {
  const w = workdir(t);
  const out = join(w, 'out');
  const unit = `uo-sbx-${randomBytes(4).toString('hex')}.service`;
  t.after(() => { for (const d of privateDirs(unit)) rmSync(d, { recursive: true, force: true }); });
  const service = {
    privateTmp: 'true',
    execStartPre: [`/bin/sh -c 'ls -A /tmp /var/tmp > ${out}.pre; echo a > /tmp/shared; echo b > /var/tmp/shared'`],
    execStart: [`/bin/sh -c 'cat /tmp/shared /var/tmp/shared > ${out}'`],
    execStartPost: [`/bin/sh -c 'ls /tmp > ${out}.post'`],
  };
  const h = harness(t);
  const first = await runOnce(t, h, service, unit);
  assert.equal(first.props['Result'], 'success', first.logs.join('\n'));
  assert.equal(readFileSync(out, 'utf8'), 'a\nb\n');
  assert.equal(readFileSync(`${out}.pre`, 'utf8'), '/tmp:\n\n/var/tmp:\n', 'the first process sees empty folders');
  assert.equal(readFileSync(`${out}.post`, 'utf8'), 'shared\n');
  assert.deepEqual(privateDirs(unit), [], 'removed when the unit stopped');
  rmSync(`${out}.pre`);
  const second = await runOnce(t, h, service, unit);
  assert.equal(second.props['Result'], 'success', second.logs.join('\n'));
  assert.equal(readFileSync(`${out}.pre`, 'utf8'), '/tmp:\n\n/var/tmp:\n', 'a new invocation starts with empty folders');
  assert.deepEqual(privateDirs(unit), []);
});

test('PrivatePIDs=: the main process is PID 1 of a PID namespace of its own, the agent knows its PID as the host sees it (MainPID=), the holder is its parent and reaps it; ExecStartPre= runs outside it (systemd: control processes get none)', async (t) => {
  const w = workdir(t);
  const h = harness(t);
  const unit = `uo-sbx-${randomBytes(4).toString('hex')}.service`;
  writeFileSync(join(w, 'pre.sh'), `echo $$ > ${w}/pre\n`);
  writeFileSync(join(w, 'main.sh'), `echo $$ > ${w}/main; set -- /proc/[0-9]*; echo $# > ${w}/procs; trap "exit 0" TERM; while :; do sleep 0.1; done\n`);
  const r = h.open(unit, { service: { type: 'simple', privatePIDs: true, execStartPre: [`/bin/sh ${w}/pre.sh`], execStart: [`/bin/sh ${w}/main.sh`] } } as ServiceUnitSpec);
  assert.equal(r.start(), undefined);
  await waitFor(r, 'running with its PID', (x) => x.props.SubState === 'running' && x.props.MainPID > 0 && existsSync(join(w, 'procs')), 10_000);
  const pid = r.props.MainPID;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^NSpid:\\s+${pid}\\s+1$`, 'm'), 'MainPID= is the host\'s PID of the namespace\'s PID 1');
  assert.equal(readFileSync(join(w, 'main'), 'utf8').trim(), '1');
  assert.equal(readFileSync(join(w, 'procs'), 'utf8').trim(), '1', 'its /proc lists its namespace only');
  assert.notEqual(readFileSync(join(w, 'pre'), 'utf8').trim(), '1', 'ExecStartPre= is not in a PID namespace');
  const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)![1]);
  assert.match(readFileSync(`/proc/${ppid}/cmdline`, 'utf8'), /uo-shim/, 'its parent is the holder (a subreaper), not the process that forked it');
  r.stop();
  await waitFor(r, 'stopped', (x) => x.props.ActiveState === 'inactive' && x.spawns.length === 0, 10_000);
  assert.deepEqual([r.props.Result, r.props.ExecMainStatus], ['success', 0], 'SIGTERM reached PID 1 (it has a handler) and its exit was the main process\'s');
  assert.equal(existsSync(`/proc/${pid}`), false);
});

// The runner looks for PrivateTmp= folders to remove at a unit's first stop (what a crash, or an
// earlier spec that asked for PrivateTmp=, left) and at every stop of an invocation whose spec
// asks for it — not at every stop of every unit (issue 19: two folder listings a restart)
test('PrivateTmp= folders an earlier run left go at the unit\'s first stop, also when it no longer asks for PrivateTmp=; a unit that asks has every ended invocation\'s folders removed at each stop', async (t) => {
  const plant = (unit: string): string => {
    const d = privateTmpDirs(unit, randomBytes(16).toString('hex')).tmp;
    mkdirSync(d, { mode: 0o700 });
    t.after(() => rmSync(d, { recursive: true, force: true }));
    return d;
  };
  const h = harness(t);
  let activated = 0;
  const open = (unit: string, service: Record<string, unknown>): ReturnType<typeof h.open> => h.open(unit, { service: { type: 'oneshot', execStart: ['/bin/true'], ...service } } as ServiceUnitSpec, (x) => { if (x.ActiveState === 'activating') activated++; });
  const run = async (r: ReturnType<typeof h.open>, what: string, during?: () => void): Promise<void> => {
    activated = 0;
    assert.equal(r.start(), undefined);
    if (during) { await waitFor(r, `${what}: its command runs`, (x) => x.props.MainPID > 0, 10_000); during(); }
    await waitFor(r, what, (x) => activated > 0 && (x.activeState === 'inactive' || x.activeState === 'failed') && x.spawns.length === 0, 10_000);
    assert.equal(r.props.Result, 'success', h.logs.join('\n'));
  };
  // no PrivateTmp= now: a folder left from before still goes at its first stop
  const plain = `uo-sbx-${randomBytes(4).toString('hex')}.service`;
  const left = plant(plain);
  await run(open(plain, {}), 'its first run ended');
  assert.equal(existsSync(left), false, 'removed at its first stop');

  // PrivateTmp=yes, one runner started twice: a folder of an ended invocation planted while a run
  // runs (after its start, which sweeps too: launch.ts) goes at that run's stop — the second's too
  const asks = `uo-sbx-${randomBytes(4).toString('hex')}.service`;
  t.after(() => { for (const d of privateDirs(asks)) rmSync(d, { recursive: true, force: true }); });
  const r = open(asks, { privateTmp: 'yes', execStart: ['/bin/sleep 0.3'] });
  for (let n = 1; n <= 2; n++) {
    let planted = '';
    await run(r, `run ${n} ended`, () => { planted = plant(asks); });
    assert.equal(existsSync(planted), false, `the folder planted during run ${n} is gone after its stop`);
    assert.deepEqual(privateDirs(asks), [], `nothing of run ${n} is left`);
  }
});
