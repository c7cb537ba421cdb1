// /metrics per unit (issue 13 item 6): a real agent, real units in real cgroups, a real scrape,
// compared with the cgroup files of this node's v1 controllers (pids.current, pids.max,
// memory.usage_in_bytes, memory.max_usage_in_bytes, memory.limit_in_bytes; CPU from cgroup2's
// cpu.stat, or cpuacct.usage without cgroup2),
// read just before and just after the scrape. Label sets are bounded: namespace and unit only,
// and a stopped unit's series go away with its cgroup. Skipped where the node has no writable
// v1 pids, memory and cpuacct hierarchies (a v2 node reads other files; usage.ts covers both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { sleep } from '../support/units.ts';
import { agentBase, detectCgroups, SYSTEM_STATE_DIR } from '../../src/runner/cgroup/index.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';

const LAYOUT = detectCgroups();
const mountOf = (c: string): string | undefined => LAYOUT.hierarchies.find((h) => h.version === 1 && h.controllers.includes(c))?.mount;
const [PIDS, MEMORY, CPUACCT] = [mountOf('pids'), mountOf('memory'), mountOf('cpuacct')];
const UNIFIED = LAYOUT.unified?.mount;
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy (${LAYOUT.notes.join('; ')})`
  : !PIDS || !MEMORY || !(UNIFIED || CPUACCT) ? `this test reads the v1 pids and memory files and a CPU figure; the node has ${LAYOUT.mode} without them` : false;

const num = (f: string): number => Number(readFileSync(f, 'utf8').trim());
/** The unit's CPU time (ns): cgroup2's cpu.stat usage_usec where there is a cgroup2 (usage.ts), else v1 cpuacct.usage. */
const cpuNsOf = (d: string): number => (UNIFIED ? Number(/^usage_usec ([0-9]+)$/m.exec(readFileSync(`${d}/cpu.stat`, 'utf8'))![1]) * 1000 : num(`${d}/cpuacct.usage`));

/** name{labels} value lines of one unit → name → value (the unit's label set is checked: namespace, unit and the registry's component only). */
function series(text: string, unit: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(unit_operator_unit_[a-z_]+)\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[2]!.matchAll(/([a-z_]+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (labels['unit'] !== unit || !['tasks', 'memory', 'cpu'].some((k) => m[1]!.startsWith(`unit_operator_unit_${k}`))) continue;
    assert.deepEqual(Object.keys(labels).sort(), ['component', 'namespace', 'unit'], `${m[0]}: bounded labels`);
    out.set(m[1]!, Number(m[3]));
  }
  return out;
}

test('/metrics exports each unit\'s cgroup accounting (tasks, memory, peak, CPU, limits) equal to its cgroup files', { skip, timeout: 90_000 }, async (t) => {
  const a = agentFixture(t);
  // three tasks, some CPU burnt (a busy shell loop), then idle: the figures hold still to be compared
  writeFileSync(join(a.manifests, 'busy.service'), "[Service]\nExecStart=/bin/sh -c 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; /bin/sleep 100005 & /bin/sleep 100005 & exec /bin/sleep 100005'\nTasksMax=50\nMemoryMax=256M\n");
  writeFileSync(join(a.manifests, 'plain.service'), '[Service]\nExecStart=/bin/sleep 100005\n');
  await a.start(['--metrics-bind-address', '127.0.0.1:0']);
  let url: string | undefined;
  for (let i = 0; i < 100 && !url; i++) { url = /serving \/metrics, \/healthz and \/readyz on (http:\/\/[0-9.:]+)/.exec(a.stderr.join(''))?.[1]; if (!url) await sleep(50); }
  assert.ok(url, a.stderr.join(''));
  const base = agentBase(a.state, SYSTEM_STATE_DIR);
  const dir = (mount: string, unit: string): string => `${mount}/${base}/${unit}`;
  const tasks = (): number => num(`${dir(PIDS!, 'busy.service')}/pids.current`);
  for (let i = 0; i < 400 && !(a.json<{ units: UnitStatus[] }>('list').units.find((u) => u.Id === 'busy.service')?.SubState === 'running' && tasks() === 3); i++) await sleep(25);
  assert.equal(tasks(), 3, `busy.service runs its three sleeps: ${a.stderr.join('')}`);

  const files = (): Record<string, number> => ({
    tasks: tasks(), memory: num(`${dir(MEMORY!, 'busy.service')}/memory.usage_in_bytes`),
    peak: num(`${dir(MEMORY!, 'busy.service')}/memory.max_usage_in_bytes`), cpuNs: cpuNsOf(dir(UNIFIED ?? CPUACCT!, 'busy.service')),
  });
  // memory moves by a page now and then even in an idle cgroup: a scrape between two equal readings compares exactly (bounded retries)
  let before = files(), after = before, m = new Map<string, number>(), text = '';
  for (let i = 0; i < 20; i++) {
    before = files();
    text = await fetch(`${url}/metrics`).then((r) => r.text(), () => '');
    after = files();
    m = series(text, 'busy.service');
    if (m.size > 0 && before['memory'] === after['memory'] && before['peak'] === after['peak']) break;
    await sleep(100);
  }
  t.diagnostic(`files: ${JSON.stringify(after)}; metrics: ${JSON.stringify(Object.fromEntries(m))}`);
  assert.equal(m.get('unit_operator_unit_tasks_current'), after['tasks'], 'tasks = pids.current');
  assert.equal(m.get('unit_operator_unit_tasks_max'), num(`${dir(PIDS!, 'busy.service')}/pids.max`), 'tasks max = pids.max');
  assert.equal(m.get('unit_operator_unit_tasks_max'), 50);
  assert.equal(before['memory'], after['memory'], 'the memory figure held still for one scrape');
  assert.equal(m.get('unit_operator_unit_memory_bytes'), after['memory'], 'memory = memory.usage_in_bytes');
  assert.ok(after['memory']! > 0);
  assert.equal(m.get('unit_operator_unit_memory_peak_bytes'), after['peak'], 'peak = memory.max_usage_in_bytes');
  assert.equal(m.get('unit_operator_unit_memory_max_bytes'), num(`${dir(MEMORY!, 'busy.service')}/memory.limit_in_bytes`), 'memory max = memory.limit_in_bytes');
  assert.equal(m.get('unit_operator_unit_memory_max_bytes'), 256 * 1024 * 1024);
  const cpuNs = Math.round(m.get('unit_operator_unit_cpu_seconds_total')! * 1e9);
  assert.ok(cpuNs >= before['cpuNs']! - 1 && cpuNs <= after['cpuNs']! + 1, `CPU ${cpuNs} ns lies between the cpu.stat/cpuacct.usage readings around the scrape (${before['cpuNs']}..${after['cpuNs']})`);
  assert.ok(cpuNs > 10_000_000, `the busy loop shows (${cpuNs} ns)`);
  assert.match(text, /^# TYPE unit_operator_unit_cpu_seconds_total counter$/m);
  assert.match(text, /^# TYPE unit_operator_unit_memory_bytes gauge$/m);

  // a unit without limits: systemd's default TasksMax= (a share of the kernel's PID limit) is set; no memory limit series
  const plain = series(text, 'plain.service');
  assert.equal(plain.get('unit_operator_unit_tasks_current'), num(`${dir(PIDS!, 'plain.service')}/pids.current`));
  assert.equal(plain.get('unit_operator_unit_tasks_max'), num(`${dir(PIDS!, 'plain.service')}/pids.max`), 'the default TasksMax= = pids.max');
  assert.equal(plain.has('unit_operator_unit_memory_max_bytes'), false, 'no MemoryMax=: no memory_max series');

  // a stopped unit's cgroup is removed, and its series with it (no series left behind per unit ever seen)
  assert.equal(a.unitctl('stop', 'plain.service').status, 0);
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) { gone = series(await fetch(`${url}/metrics`).then((r) => r.text(), () => 'x'), 'plain.service').size === 0; if (!gone) await sleep(50); }
  assert.ok(gone, 'plain.service has no series once stopped');
});
