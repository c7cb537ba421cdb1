// Issue 13's acceptance: "the agent's pod dies, the services do not". The agent runs in a cgroup
// of its own in every hierarchy (uo-test-pod-<hex> at each hierarchy's root, standing in for a
// pod's cgroup); 20 units are started; every process of that cgroup is killed (what runc does
// when a pod is deleted: cgroup.kill on the unified hierarchy, SIGKILL to each process of the
// v1 one), three times, restarting the agent each time: the 20 main PIDs are unchanged, 0
// restarts, 0 duplicates, and an exit that happened meanwhile is reported. This works because
// the units live in <root>/unit-operator.slice/... and their uo-shims in its uo-holders.scope,
// never in the agent's cgroup. Skipped where the node has no cgroup the test can write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { agentFixture } from '../support/agent.ts';
import { sleep } from '../support/units.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';

type List = { units: UnitStatus[] };
const LAYOUT = detectCgroups();
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy (${LAYOUT.notes.join('; ')})` : false;

const procs = (dir: string): number[] => { try { return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; } };

test('the agent\'s pod cgroup is killed 3 times (as runc does): 20 services keep their main PIDs, 0 restarts, 0 duplicates, an exit meanwhile is reported', { skip, timeout: 120_000 }, async (t) => {
  const name = `uo-test-pod-${randomBytes(4).toString('hex')}`;
  const pod = LAYOUT.hierarchies.map((h) => `${h.mount}/${name}`);
  for (const [i, d] of pod.entries()) {
    mkdirSync(d);
    if (LAYOUT.hierarchies[i]!.controllers.includes('cpuset')) for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(`${d}/${f}`, readFileSync(`${LAYOUT.hierarchies[i]!.mount}/${f}`, 'utf8').trim());
  }
  const killPod = async (): Promise<void> => {
    const uni = LAYOUT.unified ? `${LAYOUT.unified.mount}/${name}` : undefined;
    if (uni && existsSync(`${uni}/cgroup.kill`)) writeFileSync(`${uni}/cgroup.kill`, '1');
    for (let i = 0; i < 100; i++) {
      const left = [...new Set(pod.flatMap(procs))];
      if (left.length === 0) return;
      for (const p of left) { try { process.kill(p, 9); } catch { /* gone */ } }
      await sleep(20);
    }
    throw new Error(`the pod cgroup ${name} did not empty`);
  };
  const a = agentFixture(t);
  t.after(async () => {
    await killPod().catch(() => {});
    for (const d of pod) { try { rmdirSync(d); } catch { /* left: named in the failure */ } }
  });
  // the agent joins the "pod" cgroup in every hierarchy before it runs
  a.launcher = ['/bin/sh', '-c', `for d in ${pod.join(' ')}; do echo $$ > "$d/cgroup.procs" || exit 99; done; exec "$@"`, 'pod'];
  for (let i = 0; i < 20; i++) writeFileSync(join(a.manifests, `svc${String(i).padStart(2, '0')}.service`), `[Service]\nExecStart=/bin/sleep 100001\nRestart=on-failure\n`);
  writeFileSync(join(a.manifests, 'quitter.service'), `[Service]\nExecStart=/bin/sh -c 'while [ ! -e ${join(a.manifests, '..', 'go')} ]; do sleep 0.05; done; exit 7'\n`);
  await a.start();
  assert.ok(procs(pod[0]!).includes(a.proc!.pid!), 'the agent runs in the pod cgroup');
  const running = async (): Promise<List> => {
    for (let i = 0; i < 400; i++) {
      const l = a.json<List>('list');
      if (l.units.filter((u) => u.Id.startsWith('svc')).length === 20 && l.units.filter((u) => u.Id.startsWith('svc')).every((u) => u.SubState === 'running' && u.MainPID > 0)) return l;
      await sleep(25);
    }
    throw new Error('services did not all start');
  };
  const before = await running();
  const pids = new Map(before.units.filter((u) => u.Id.startsWith('svc')).map((u) => [u.Id, u.MainPID]));
  const mine = new Set(pids.values());
  for (const p of mine) assert.ok(!pod.some((d) => procs(d).includes(p)), `service PID ${p} is not in the pod cgroup`);
  // only the agent (and its own state-folder lock helper, `uo-shim --lock`, which dies with it) is in the pod cgroup: no unit, no holder
  const cmd = (p: number): string => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' '); } catch { return ''; } };
  assert.deepEqual(procs(pod[0]!).filter((p) => p !== a.proc!.pid && !/ --lock /.test(cmd(p))).map(cmd), [], 'only the agent and its lock helper are in the pod cgroup');
  const sleeps = (): number[] => readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8') === '/bin/sleep\x00100001\x00'; } catch { return false; } }).map(Number);

  for (let round = 1; round <= 3; round++) {
    const exited = new Promise((r) => a.proc!.once('exit', r));
    await killPod();
    await exited;
    rmSync(join(a.state, 'agent.sock'), { force: true });
    for (const pid of mine) assert.ok(isAlive(pid), `round ${round}: service PID ${pid} survived the pod's deletion`);
    if (round === 1) { writeFileSync(join(a.manifests, '..', 'go'), ''); await sleep(300); }
    await a.start();
    const after = await running();
    for (const u of after.units.filter((x) => x.Id.startsWith('svc'))) {
      assert.equal(u.MainPID, pids.get(u.Id), `round ${round}: ${u.Id} has the same MainPID`);
      assert.equal(u.NRestarts, 0, `round ${round}: ${u.Id} was not restarted`);
    }
    const all = sleeps();
    assert.deepEqual(all.filter((p) => !mine.has(p)), [], `round ${round}: no second copy of any service`);
    assert.equal(all.filter((p) => mine.has(p)).length, 20);
    const q = after.units.find((u) => u.Id === 'quitter.service')!;
    assert.deepEqual([q.ActiveState, q.Result, q.ExecMainCode, q.ExecMainStatus], ['failed', 'exit-code', 1, 7], `round ${round}: the exit while the agent was down is known with its real status`);
  }
});
