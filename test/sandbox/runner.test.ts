// The mount namespace through the runner (UnitRunner, real processes): a set-up that fails is
// reported as systemd 257 reports it (ReadWritePaths= of a missing path without "-" under
// ProtectSystem=strict: status 226/NAMESPACE, "Failed at step NAMESPACE", the command never
// runs; with "-" it runs), and PrivateTmp= gives every process of an invocation the same /tmp
// and /var/tmp, fresh at the next start, removed when the unit stops. Runs as root (mount
// namespaces), as the runner's other real-process tests do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { harness, waitFor, type Harness } from '../support/units.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

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
