// The per-unit cgroup series of /metrics from a usage source (the real scrape against real
// cgroups is test/agent/metrics-cgroup.test.ts): cluster ids become namespace + unit, a figure
// the node does not have is no series, a unit without a cgroup has none, the controller has none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, type UsageSource } from '../../src/observability/metrics.ts';
import type { CgroupUsage } from '../../src/runner/cgroup/usage.ts';

const source = (units: Record<string, CgroupUsage | undefined>): UsageSource => new Map(Object.entries(units).map(([id, u]) => [id, { runner: { cgroupUsage: () => u } }]));
const lines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('unit_operator_unit_') && /_(tasks|memory|cpu)/.test(l));

test('cluster units: namespace and unit labels; limits only where set; CPU in seconds; no series without a cgroup', async () => {
  const m = new Metrics('agent', { node: 'n1' });
  m.trackUsage(source({
    'prod/web': { tasks: 4, tasksMax: 100, memoryBytes: 12_582_912, memoryPeak: 20_000_000, memoryMax: 268_435_456, cpuNs: 1_234_000_000 },
    'dev/batch': { tasks: 1, memoryBytes: 4096 },
    'dev/gone': undefined,
  }));
  const got = lines(await m.text());
  const l = (ns: string, unit: string): string => `{namespace="${ns}",unit="${unit}",component="agent",node="n1"}`;
  assert.deepEqual(got.sort(), [
    `unit_operator_unit_cpu_seconds_total${l('prod', 'web')} 1.234`,
    `unit_operator_unit_memory_bytes${l('dev', 'batch')} 4096`,
    `unit_operator_unit_memory_bytes${l('prod', 'web')} 12582912`,
    `unit_operator_unit_memory_max_bytes${l('prod', 'web')} 268435456`,
    `unit_operator_unit_memory_peak_bytes${l('prod', 'web')} 20000000`,
    `unit_operator_unit_tasks_current${l('dev', 'batch')} 1`,
    `unit_operator_unit_tasks_current${l('prod', 'web')} 4`,
    `unit_operator_unit_tasks_max${l('prod', 'web')} 100`,
  ].sort());
});

test('series follow the hosted units: a unit gone from the source is gone from the next scrape', async () => {
  const units = new Map(source({ 'a.service': { tasks: 2 }, 'b.service': { tasks: 3 } }));
  const m = new Metrics('agent');
  m.trackUsage(units);
  assert.equal(lines(await m.text()).length, 2);
  units.delete('a.service');
  assert.deepEqual(lines(await m.text()), ['unit_operator_unit_tasks_current{namespace="",unit="b.service",component="agent"} 3']);
});

test('the controller exports no per-unit cgroup series', async () => {
  assert.doesNotMatch(await new Metrics('controller').text(), /unit_operator_unit_(tasks|memory|cpu)/);
});
