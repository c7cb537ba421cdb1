// A unit's cgroup across its invocations, compared with systemd 257 (test/fixtures/cgroup-invocation:
// probe.sh ran the same units in systemd-oracle, record.ts re-records oracle.json). systemd removes
// the cgroup once the unit's processes are gone — at an automatic restart too — and makes a new one
// at the next start, so what status shows (CPU, memory peak, tasks, IO: the kernel's counters of
// that cgroup) is the invocation's own; a process left behind (KillMode=process) keeps the cgroup.
// Real processes and cgroup folders (the inode of the unit's folder in the primary hierarchy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, sleep } from '../support/units.ts';
import { FIXTURES } from '../support/paths.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';
import { unitStatus } from '../../src/agent/status.ts';
import type { UnitRunner } from '../../src/runner/unit.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';
import { AUTO_COMMAND, EXITED_BG_COMMAND, LEFTOVER_COMMAND, invocationKey, summarize, type Facts, type Sample } from '../fixtures/cgroup-invocation/cases.ts';

const ORACLE = JSON.parse(readFileSync(join(FIXTURES, 'cgroup-invocation', 'oracle.json'), 'utf8')) as { recordedWith: string; facts: Record<string, Facts> };
const LAYOUT = detectCgroups();
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})` : false;

/** probe.sh's sample, from our runner: sub-state, invocation, the cgroup folder's inode, and status's figures. */
function sample(name: string, r: UnitRunner): Sample {
  const ino = r.cgroup ? statSync(r.cgroup.primary, { throwIfNoEntry: false })?.ino : undefined;
  const s = unitStatus(r, name, true);
  return { case: name, sub: r.props.SubState, n: String(r.props.NRestarts), inv: r.invocationId, pid: String(r.props.MainPID), ino: ino === undefined ? '-' : String(ino), cpu: String(s.CPUUsageNSec ?? '[not set]'), peak: String(s.MemoryPeak ?? '[not set]'), tasks: String(s.TasksCurrent ?? '[not set]') };
}

/** Samples every 100 ms (as probe.sh) until `done`, bounded. */
async function watch(name: string, r: UnitRunner, done: (r: UnitRunner) => boolean, ms: number): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const end = Date.now() + ms; Date.now() < end && !done(r);) { out.push(sample(name, r)); await sleep(100); }
  out.push(sample(name, r));
  return out;
}

const auto: ServiceUnitSpec = { unit: { startLimitIntervalSec: 0 }, service: { execStart: [AUTO_COMMAND], restart: 'on-failure', restartSec: '1' } };

test(`automatic restarts: a new cgroup for each invocation, none while it waits to restart, and status's CPU and memory peak are the invocation's own (as ${ORACLE.recordedWith})`, { skip, timeout: 30_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('auto', auto);
  r.start();
  const samples = await watch('auto', r, (x) => x.props.NRestarts >= 3 && x.props.SubState === 'running' && x.props.MainPID > 0, 15_000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
  // the figures status shows: the last sample of each invocation (its burn done, its 20 MB held)
  // does not carry the invocations before it (CPU would double at the second, triple at the third)
  const last = new Map<string, Sample>();
  for (const s of samples) if (s['sub'] === 'running' && Number(s['pid']) > 0) last.set(invocationKey(s), s);
  const cpu = [...last.values()].map((s) => Number(s['cpu'])).filter((n) => Number.isFinite(n));
  if (cpu.length >= 3) assert.ok(cpu[2]! < cpu[0]! * 2, `CPUUsageNSec of the third invocation (${cpu[2]}) is its own, not the sum with the first two (${cpu[0]}, ${cpu[1]})`);
  const ours = summarize(samples, 'auto');
  const theirs = ORACLE.facts['auto']!;
  assert.deepEqual({ ...ours, cgroupPerInvocation: ours.cgroupPerInvocation.slice(0, 3) }, { ...theirs, cgroupPerInvocation: theirs.cgroupPerInvocation.slice(0, 3) }, `our agent differs from ${ORACLE.recordedWith}; samples:\n${samples.map((s) => JSON.stringify(s)).join('\n')}`);
});

test(`a manual restart makes a new cgroup (as ${ORACLE.recordedWith})`, { skip, timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('manual', { service: { type: 'exec', execStart: ['/bin/sleep 1000'] } });
  r.start();
  await waitFor(r, 'running', (x) => x.props.SubState === 'running' && x.props.MainPID > 0);
  const samples = [sample('manual', r)];
  const first = r.props.MainPID;
  r.restart();
  await waitFor(r, 'running again', (x) => x.props.SubState === 'running' && x.props.MainPID > 0 && x.props.MainPID !== first);
  samples.push(sample('manual', r));
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive');
  assert.deepEqual(summarize(samples, 'manual'), ORACLE.facts['manual']);
});

test(`KillMode=process: a process left behind keeps the cgroup through the automatic restart, which reuses it (as ${ORACLE.recordedWith})`, { skip, timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const r = h.open('leftover', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [LEFTOVER_COMMAND], killMode: 'process', restart: 'on-failure', restartSec: '1' } });
  r.start();
  const samples = await watch('leftover', r, (x) => x.props.NRestarts >= 2 && x.props.SubState === 'running' && x.props.MainPID > 0, 8000);
  r.stop();
  const ours = summarize(samples, 'leftover'), theirs = ORACLE.facts['leftover']!;
  assert.deepEqual({ ...ours, cgroupPerInvocation: ours.cgroupPerInvocation.slice(0, 2) }, { ...theirs, cgroupPerInvocation: theirs.cgroupPerInvocation.slice(0, 2) }, `samples:\n${samples.map((s) => JSON.stringify(s)).join('\n')}`);
});

test(`Type=oneshot RemainAfterExit=yes: in exited, an emptied cgroup is removed; one a background process keeps stays, also once that process ended, and goes when the unit is stopped (as ${ORACLE.recordedWith})`, { skip, timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  for (const [name, command] of [['exited', '/bin/true'], ['exited-bg', EXITED_BG_COMMAND]] as const) {
    const r = h.open(name, { service: { type: 'oneshot', remainAfterExit: true, execStart: [command] } });
    r.start();
    await waitFor(r, 'exited', (x) => x.props.SubState === 'exited');
    await sleep(300);
    const samples = [sample(name, r)];
    if (name === 'exited-bg') {
      await sleep(1500); // the background process has ended; the agent's ticks (50 ms) ran meanwhile
      samples.push(sample(name, r));
      // stopped from exited (the kept cgroup is empty by now) and started again
      r.stop();
      await waitFor(r, 'stopped', (x) => x.activeState === 'inactive');
      await sleep(300);
      samples.push(sample(name, r));
      r.start();
      await waitFor(r, 'exited again', (x) => x.props.SubState === 'exited');
      await sleep(300);
      samples.push(sample(name, r));
    }
    r.stop();
    await waitFor(r, 'stopped', (x) => x.activeState === 'inactive');
    assert.deepEqual(summarize(samples, name), ORACLE.facts[name], `${name}: ${samples.map((s) => JSON.stringify(s)).join('\n')}`);
  }
});
