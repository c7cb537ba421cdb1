// Cluster units are NAMESPACE/NAME: two namespaces may each have a web.service on one node. Their
// cgroups must differ (a KillMode=control-group stop of one must not reach the other), so each
// namespace gets a slice of its own below the agent's (issue 13). And an invocation that runs
// keeps the cgroup it was started in when the name changes under it (an agent upgrade).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { UnitHost, cgroupGroupOf } from '../../src/agent/host.ts';
import { UnitRunner } from '../../src/runner/unit.ts';
import { FOREIGN_BASE } from '../../src/runner/cgroup/naming.ts';
import { cgroupOfPid, namespaceSlice, unitCgroup, detectCgroups } from '../../src/runner/cgroup/index.ts';
import { removeNotifyFolder } from '../../src/runner/notifysock.ts';
import { shimPath, subState, testCgroups, waitFor } from '../support/units.ts';
import { until } from '../support/wait.ts';

const LAYOUT = detectCgroups();
const skipReason = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})` : undefined;
const primaryLine = (pid: number): string => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => LAYOUT.unified ? l.startsWith('0::') : /:pids:/.test(l)) ?? '';

test('names: a namespace\'s slice is a child slice of the agent\'s, the namespace escaped as unit_name_escape() (kube-system → kube\\x2dsystem)', () => {
  assert.equal(namespaceSlice('unit-operator.slice', 'kube-system'), 'unit-operator-kube\\x2dsystem.slice');
  assert.equal(namespaceSlice('unit-operator.slice/unit-operator-1a2b.slice', 'default'), 'unit-operator-1a2b-default.slice');
  // a namespace that looks like another agent's nested base (12 hex digits) is not taken for one
  const hexy = namespaceSlice('unit-operator.slice', 'abcdef012345');
  assert.equal(hexy, 'unit-operator-\\x61bcdef012345.slice');
  assert.equal(FOREIGN_BASE.test(hexy), false);
  assert.equal(FOREIGN_BASE.test(namespaceSlice('unit-operator.slice', '0123456789ab')), false);
  assert.equal(cgroupGroupOf('team-a/web', 'unit-operator.slice'), 'unit-operator-team\\x2da.slice');
  assert.equal(cgroupGroupOf('web.service', 'unit-operator.slice'), undefined, 'a standalone unit has no namespace');
  const ctx = { layout: { mode: 'v2' as const, hierarchies: [{ mount: '/sys/fs/cgroup', version: 2 as const, controllers: [] }], notes: [] }, base: 'unit-operator.slice' };
  assert.equal(unitCgroup(ctx as never, 'web.service', 'a-b.slice', 'unit-operator-ns.slice')!.rel, 'unit-operator.slice/unit-operator-ns.slice/a.slice/a-b.slice/web.service');
  // cgroupOfPid reads the primary hierarchy's line and accepts only cgroups below the agent's base
  const read = (text: string) => () => text;
  assert.equal(cgroupOfPid(ctx as never, 7, read('0::/unit-operator.slice/old/web.service\n'))?.rel, 'unit-operator.slice/old/web.service');
  assert.equal(cgroupOfPid(ctx as never, 7, read('0::/system.slice/sshd.service\n')), undefined, 'not the agent\'s');
  assert.equal(cgroupOfPid(ctx as never, 7, read('0::/unit-operator.slice/uo-holders.scope\n')), undefined, 'the holders are no unit');
  assert.equal(cgroupOfPid(ctx as never, 7, read('0::/unit-operator.slice/../system.slice/x.service\n')), undefined);
  assert.equal(cgroupOfPid(ctx as never, 7, () => { throw new Error('ENOENT'); }), undefined);
});

test('two namespaces\' web.service on one node run in two cgroups; a KillMode=control-group stop of one leaves the other running', async (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const cgroups = testCgroups(t)!;
  const dir = mkdtempSync(join(tmpdir(), 'uo-ns-'));
  const logs: string[] = [];
  const host = new UnitHost({ unitsDir: dir, shimPath, cgroups, log: (_l, m) => { logs.push(m); } });
  t.after(async () => { await host.stopAll(5000); host.closeAll(); removeNotifyFolder(dir); rmSync(dir, { recursive: true, force: true }); });
  const spec = { service: { type: 'exec', execStart: ['/bin/sh -c "/bin/sleep 1000 & exec /bin/sleep 1000"'] } };
  const a = host.apply('team-a/web', 'web.service', spec, 'test');
  const b = host.apply('team-b/web', 'web.service', spec, 'test');
  await waitFor(a, 'running', subState('running'));
  await waitFor(b, 'running', subState('running'));
  // running comes at the shell's exec; its background sleep is forked just after
  await until('team-b\'s background sleep forked', () => b.unitProcesses().length === 2, { timeoutMs: 3000 });
  assert.equal(a.cgroup!.rel, `${cgroups.base}/${namespaceSlice(cgroups.base, 'team-a')}/web.service`);
  assert.equal(b.cgroup!.rel, `${cgroups.base}/${namespaceSlice(cgroups.base, 'team-b')}/web.service`);
  assert.ok(primaryLine(a.props.MainPID).endsWith(`/${a.cgroup!.rel}`), primaryLine(a.props.MainPID));
  assert.ok(primaryLine(b.props.MainPID).endsWith(`/${b.cgroup!.rel}`), primaryLine(b.props.MainPID));
  const bPids = b.unitProcesses();
  assert.equal(bPids.length, 2, 'main and its background sleep');
  a.stop();
  await waitFor(a, 'dead', subState('dead'));
  assert.equal(b.props.SubState, 'running');
  for (const p of bPids) assert.ok(existsSync(`/proc/${p}`), `team-b's process ${p} lives on`);
});

test('an invocation started under another cgroup name (an older agent\'s, or a Slice= changed while no agent ran) keeps its cgroup until it stops; the next one takes the new name', async (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const cgroups = testCgroups(t)!;
  const dir = mkdtempSync(join(tmpdir(), 'uo-ns-'));
  const logs: string[] = [];
  const opts = { unitName: 'web.service', dir: join(dir, 'web'), shimPath, pollMs: 50, cgroups, onLog: (_l: string, m: string) => { logs.push(m); } };
  const spec = { service: { type: 'exec', execStart: ['/bin/sh -c "/bin/sleep 1000 & exec /bin/sleep 1000"'] } };
  const old = UnitRunner.open({ ...opts, spec });
  let cur = old;
  t.after(async () => { for (const p of cur.unitProcesses()) { try { process.kill(p, 9); } catch { /* gone */ } } cur.close(); removeNotifyFolder(dir); rmSync(dir, { recursive: true, force: true }); });
  old.start();
  await waitFor(old, 'running', subState('running'));
  // running comes at the shell's exec; its background sleep is forked just after (CI once read one process here)
  await until('the background sleep forked', () => old.unitProcesses().length === 2, { timeoutMs: 3000 });
  const oldRel = old.cgroup!.rel, main = old.props.MainPID, pids = old.unitProcesses();
  old.close(); // the agent goes; the shims hold the unit

  cur = UnitRunner.open({ ...opts, spec, cgroupGroup: 'uo-renamed.slice' });
  assert.equal(cur.props.MainPID, main, 'adopted');
  assert.equal(cur.cgroup!.rel, oldRel, 'the running invocation keeps its cgroup');
  assert.ok(logs.some((l) => /its running processes are in .*; that cgroup is kept until the unit stops/.test(l)), logs.join('\n'));
  assert.deepEqual(cur.unitProcesses().sort(), pids.sort(), 'membership through the kept cgroup');
  cur.stop();
  await waitFor(cur, 'dead', subState('dead'));
  for (const p of pids) await until(`process ${p} ended`, () => !existsSync(`/proc/${p}`), { timeoutMs: 3000 });
  cur.start();
  await waitFor(cur, 'running', subState('running'));
  assert.equal(cur.cgroup!.rel, `${cgroups.base}/uo-renamed.slice/web.service`, 'the next invocation takes the new name');
});
