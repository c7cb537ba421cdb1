// Delegate= and DelegateSubgroup= (issue 13) with real processes and the kernel's own files.
//
// What systemd 257 does, seen with the oracle (../shared/tools/systemd-oracle, hybrid layout like
// this machine's; units with Delegate=yes, run with `systemd-oracle run`, journal read back):
//
//   User=nobody:   /sys/fs/cgroup/unified/system.slice/x.service          nobody:nogroup 755
//                  …/x.service/cgroup.procs, cgroup.subtree_control, cgroup.threads  nobody:nogroup 644
//                  …/x.service/cgroup.kill, cgroup.freeze, cgroup.type, *.pressure   root:root
//                  /sys/fs/cgroup/systemd/system.slice/x.service          nobody:nogroup 755
//                  …/cgroup.procs, tasks, cgroup.clone_children          nobody:nogroup 644 (notify_on_release root)
//                  /sys/fs/cgroup/{pids,memory}/system.slice/x.service    root:root (v1 controllers: never)
//                  the service made …/x.service/child in both and moved itself there ("0::/system.slice/x.service/child")
//   no Delegate=:  mkdir …/x.service/child: Permission denied
//   Group=nogroup alone: root:nogroup (the owner stays root); no User=/Group=: root:root
//   ExecStartPre= and ExecStart= in x.service; ExecStartPost=, ExecReload=, ExecStopPost= in
//                  x.service/.control (unified and name=systemd; pids/memory stay x.service);
//                  .control nobody-owned in unified (every file), root's in name=systemd
//   DelegateSubgroup=sub: main "0::/system.slice/x.service/sub", "name=systemd:/…/x.service/sub",
//                  "pids:/…/x.service", "memory:/…/x.service"; ExecStartPre= in .control too;
//                  unified sub/ and all its files nobody:nogroup, name=systemd sub/ root:root
//   xattrs on the unified x.service: trusted.delegate=1, user.delegate=1 (not set here: no xattr call in Node)
//   TimeoutStopSec=1s, a child in x.service/a/b ignoring SIGTERM: stop → final-sigterm (main killed
//                  by SIGTERM, ExecMainStatus=15) → SIGKILL after 1s → failed, Result=timeout; the
//                  cgroup with a/b is gone afterwards
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness, waitFor, subState, alive } from '../support/units.ts';
import { cgroupOfPid, detectCgroups, unitCgroup, type UnitCgroup } from '../../src/runner/cgroup/index.ts';
import { commandSubgroup, delegationOf, subgroupNeedsEscape } from '../../src/runner/cgroup/delegate.ts';
import { until } from '../support/wait.ts';

const LAYOUT = detectCgroups();
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})`
  : !LAYOUT.unified ? 'the checks below read the cgroup2 hierarchy; this node has none' : false;
const NOBODY = 65534;
const systemdDir = (cg: UnitCgroup): string | undefined => LAYOUT.hierarchies.find((h) => h.key === 'name=systemd') ? cg.dirs['name=systemd'] : undefined;
const owner = (p: string): string => { const s = statSync(p); return `${s.uid}:${s.gid} ${(s.mode & 0o777).toString(8)}`; };
/** The unified line (0::) of /proc/PID/cgroup, and the line of a v1 hierarchy by controller. */
function cgroupLine(pid: number, key: string): string | undefined {
  for (const l of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, ctl, path] = /^[0-9]+:([^:]*):(.*)$/.exec(l) ?? [];
    if (key === 'unified' ? ctl === '' : ctl?.split(',').includes(key)) return path;
  }
  return undefined;
}
const inKernel = (cg: UnitCgroup, sub = ''): string => `/${cg.rel}${sub}`;

test('Delegate=yes with User=nobody: the unit\'s cgroup is handed over as systemd 257 hands it (cgroup2 and name=systemd, never a v1 controller hierarchy), and the service makes a cgroup of its own and moves into it; without Delegate= it cannot', async (t) => {
  if (skip) { t.skip(skip); return; }
  const h = harness(t, { cgroups: true });
  const cmd = (u: string): string => `/bin/sh -c 'mkdir ${u}/payload && echo 0 > ${u}/payload/cgroup.procs; exec sleep 1000'`;
  const dir = (name: string): string => unitCgroup(h.cgroups!, name)!.dirs['unified']!;
  const u = dir('dlg.service');
  const del = h.open('dlg.service', { service: { type: 'exec', user: 'nobody', delegate: 'true', execStart: [cmd(u)] } });
  assert.deepEqual(del.notApplied.filter((x) => x.name.startsWith('Delegate')), [], 'Delegate= is applied on this node');
  del.start();
  await waitFor(del, 'running', subState('running'));
  const pid = del.props.MainPID;
  await until('the service moved itself', () => cgroupLine(pid, 'unified') === inKernel(del.cgroup!, '/payload'), { timeoutMs: 3000, everyMs: 10, detail: () => readFileSync(`/proc/${pid}/cgroup`, 'utf8') });
  // the kernel's files, as the oracle showed them
  assert.equal(owner(u), `${NOBODY}:${NOBODY} 755`);
  for (const f of ['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) assert.equal(owner(join(u, f)), `${NOBODY}:${NOBODY} 644`, f);
  for (const f of ['cgroup.kill', 'cgroup.freeze', 'cgroup.type']) if (existsSync(join(u, f))) assert.equal(statSync(join(u, f)).uid, 0, `${f} stays root's`);
  assert.equal(statSync(join(u, 'payload')).uid, NOBODY, 'the service made it (the kernel gives it the maker\'s owner)');
  const sd = systemdDir(del.cgroup!);
  if (sd) {
    assert.equal(owner(sd), `${NOBODY}:${NOBODY} 755`, 'name=systemd: systemd\'s own v1 hierarchy');
    for (const f of ['cgroup.procs', 'tasks', 'cgroup.clone_children']) assert.equal(owner(join(sd, f)), `${NOBODY}:${NOBODY} 644`, f);
    assert.equal(statSync(join(sd, 'notify_on_release')).uid, 0);
  }
  for (const hier of LAYOUT.hierarchies) {
    if (hier.version === 2 || hier.key === 'name=systemd') continue;
    assert.equal(statSync(`${hier.mount}/${del.cgroup!.rel}`).uid, 0, `${hier.key}: a v1 controller hierarchy is never handed over`);
  }
  // the process in the service's own cgroup is the unit's (membership reads the subtree)
  assert.ok(del.unitProcesses().includes(pid), `${pid} in ${del.unitProcesses().join(' ')}`);
  assert.equal(cgroupOfPid(h.cgroups!, pid, (p) => readFileSync(p, 'utf8'))?.rel, del.cgroup!.rel, 'the unit\'s cgroup, not its child');

  // the same without Delegate=: mkdir is refused (EACCES), the process stays in the unit's cgroup
  const pu = dir('plain.service');
  const plain = h.open('plain.service', { service: { type: 'exec', user: 'nobody', execStart: [cmd(pu)] } });
  plain.start();
  await waitFor(plain, 'running', subState('running'));
  const ppid = plain.props.MainPID;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(cgroupLine(ppid, 'unified'), inKernel(plain.cgroup!), 'stays in the unit\'s cgroup');
  assert.equal(existsSync(join(pu, 'payload')), false, 'mkdir was refused');
  assert.equal(statSync(pu).uid, 0);
  assert.equal(statSync(join(pu, 'cgroup.procs')).uid, 0);

  // Group= alone: only the group changes (the oracle: root:nogroup)
  const grp = h.open('grp.service', { service: { type: 'exec', group: 'nogroup', delegate: 'true', execStart: ['/bin/sleep 1000'] } });
  grp.start();
  await waitFor(grp, 'running', subState('running'));
  const gu = grp.cgroup!.dirs['unified']!;
  assert.equal(owner(gu), `0:${NOBODY} 755`);
  assert.equal(owner(join(gu, 'cgroup.procs')), `0:${NOBODY} 644`);
});

test('KillMode=control-group: a stop reaches a process the delegated service moved into a sub-cgroup of its own (SIGTERM ignored: SIGKILL after TimeoutStopSec=), and the whole subtree is removed afterwards in every hierarchy', async (t) => {
  if (skip) { t.skip(skip); return; }
  const h = harness(t, { cgroups: true });
  const u = unitCgroup(h.cgroups!, 'deep.service')!.dirs['unified']!;
  const r = h.open('deep.service', { service: { type: 'exec', user: 'nobody', delegate: 'true', timeoutStopSec: '1s', killMode: 'control-group',
    execStart: [`/bin/sh -c 'mkdir -p ${u}/a/b; (trap "" TERM; echo 0 > ${u}/a/b/cgroup.procs; exec sleep 1000) & exec sleep 1000'`] } });
  r.start();
  await waitFor(r, 'running', subState('running'));
  let hidden = 0;
  const procs = (): string => { try { return readFileSync(join(u, 'a/b/cgroup.procs'), 'utf8'); } catch { return ''; } }; // made by the service, after exec
  await until('the child is in a/b', () => { hidden = Number(procs().trim().split('\n')[0] || 0); return hidden > 0; }, { timeoutMs: 3000, everyMs: 10 });
  assert.ok(r.unitProcesses().includes(hidden), 'membership reads the subtree');
  const placement = r.cgroup!.placement;
  const t0 = Date.now();
  r.stop();
  // the process that ignores SIGTERM keeps the unit in stop-sigterm until TimeoutStopSec=, then
  // SIGKILL: failed with Result=timeout, as systemd does
  await waitFor(r, 'failed', subState('failed'), 8000);
  assert.equal(r.props.Result, 'timeout');
  assert.equal(alive(hidden), false, `${hidden} was killed`);
  assert.ok(Date.now() - t0 >= 900, 'SIGTERM was ignored: SIGKILL came after TimeoutStopSec=1s');
  await until('the subtree is removed', () => placement.every((d) => !existsSync(d)), { timeoutMs: 3000, everyMs: 20, detail: () => placement.filter((d) => existsSync(d)).join(' ') });
});

test('DelegateSubgroup=sub: the main process runs in …/x.service/sub (cgroup2 and name=systemd; the v1 controllers keep x.service), ExecStartPre= and ExecStartPost= in …/.control, and the subgroups are handed to User= in cgroup2', async (t) => {
  if (skip) { t.skip(skip); return; }
  const h = harness(t, { cgroups: true });
  const out = mkdtempSync(join(tmpdir(), 'uo-dlg-'));
  chmodSync(out, 0o1777);
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const spec = { service: { type: 'exec', user: 'nobody', delegate: 'true', delegateSubgroup: 'sub',
    execStartPre: [`/bin/sh -c 'cat /proc/self/cgroup > ${out}/pre'`], execStart: ['/bin/sleep 1000'],
    execStartPost: [`/bin/sh -c 'cat /proc/self/cgroup > ${out}/post'`] } };
  const r = h.open('sg.service', spec);
  assert.deepEqual(r.notApplied.filter((x) => x.name.startsWith('Delegate')), []);
  r.start();
  await waitFor(r, 'running', subState('running'));
  await until('ExecStartPost= ran', () => existsSync(join(out, 'post')) && readFileSync(join(out, 'post'), 'utf8').length > 0, { timeoutMs: 3000, everyMs: 10 });
  const pid = r.props.MainPID;
  const cg = r.cgroup!;
  assert.equal(cgroupLine(pid, 'unified'), inKernel(cg, '/sub'));
  if (systemdDir(cg)) assert.equal(cgroupLine(pid, 'name=systemd'), inKernel(cg, '/sub'));
  for (const ctl of ['pids', 'memory']) if (cg.dirs[ctl]) assert.equal(cgroupLine(pid, ctl), inKernel(cg), `${ctl}: the unit's cgroup`);
  const unifiedOf = (file: string): string | undefined => /^0::(.*)$/m.exec(readFileSync(join(out, file), 'utf8'))?.[1];
  assert.equal(unifiedOf('pre'), inKernel(cg, '/.control'), 'ExecStartPre= with DelegateSubgroup=');
  assert.equal(unifiedOf('post'), inKernel(cg, '/.control'));
  const u = cg.dirs['unified']!;
  for (const p of [join(u, 'sub'), join(u, 'sub/cgroup.procs'), join(u, 'sub/cgroup.kill'), join(u, '.control'), join(u, '.control/cgroup.procs')]) assert.equal(statSync(p).uid, NOBODY, p);
  const sd = systemdDir(cg);
  if (sd) assert.equal(statSync(join(sd, 'sub')).uid, 0, 'name=systemd\'s subgroup stays root\'s on a hybrid node');
  assert.equal(cgroupOfPid(h.cgroups!, pid, (p) => readFileSync(p, 'utf8'))?.rel, cg.rel);
  const placement = cg.placement;
  r.stop();
  await waitFor(r, 'dead', subState('dead'), 8000);
  await until('removed', () => placement.every((d) => !existsSync(d)), { timeoutMs: 3000, everyMs: 20 });
});

test('Delegate= and DelegateSubgroup= as systemd reads them; where each command runs (exec_params_get_cgroup_path())', () => {
  assert.equal(delegationOf({ delegate: 'true' }).on, true);
  assert.deepEqual(delegationOf({ delegate: 'true' }).controllers, ['cpu', 'cpuset', 'io', 'memory', 'pids']);
  assert.equal(delegationOf({ delegate: 'false' }).on, false);
  assert.equal(delegationOf({ delegate: '' }).on, false);
  assert.deepEqual(delegationOf({ delegate: 'memory pids' }), { on: true, controllers: ['memory', 'pids'], subgroup: undefined, invalidSubgroup: undefined });
  for (const bad of ['.control', '_x', 'cgroup.x', 'memory.x', 'tasks', 'a/b', '..']) assert.equal(subgroupNeedsEscape(bad), true, bad);
  for (const good of ['sub', 'payload', 'memoryx', 'x.service']) assert.equal(subgroupNeedsEscape(good), false, good);
  assert.equal(delegationOf({ delegate: 'true', delegateSubgroup: '.control' }).invalidSubgroup, '.control');
  const d = delegationOf({ delegate: 'true' }), ds = delegationOf({ delegate: 'true', delegateSubgroup: 'sub' }), off = delegationOf({});
  const where = (x: typeof d): Array<string | undefined> => (['condition', 'startPre', 'start', 'startPost', 'reload', 'stop', 'stopPost'] as const).map((k) => commandSubgroup(x, k));
  assert.deepEqual(where(d), [undefined, undefined, undefined, '.control', '.control', '.control', '.control']);
  assert.deepEqual(where(ds), ['.control', '.control', 'sub', '.control', '.control', '.control', '.control']);
  assert.deepEqual(where(off), [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
});
