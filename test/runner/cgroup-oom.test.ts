// OOMPolicy= and Result=oom-kill with real processes and the kernel's OOM killer (issue 13): a
// unit with MemoryMax=32M (and no swap) runs a memory hog; the runner reads the OOM kill
// counter of the unit's memory cgroup (v1 memory.oom_control oom_kill on this hybrid machine)
// and the engine acts on OOMPolicy=.
//
// The reference followed: systemd.service(5) and systemd 257's unit_check_oom() as they behave
// on cgroup v2 — an OOM kill of a process of the unit gives Result=oom-kill. systemd 257 on
// this v1/hybrid machine reports Result=signal instead (it looks for memory.events in the v1
// memory hierarchy, which has none; the oracle agrees); the agent reads v1's own counter so that
// a unit says the same on every node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, subState } from '../support/units.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';
import { readOomKills } from '../../src/runner/cgroup/oom.ts';
import type { UnitRunner } from '../../src/runner/unit.ts';

const LAYOUT = detectCgroups();
const skipReason = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})`
  : !LAYOUT.hierarchies.some((h) => h.controllers.includes('memory')) ? 'no memory controller on this node' : undefined;

const HOG = '/usr/bin/tail /dev/zero'; // reads one endless line into memory
const LIMITS = { memoryMax: '32M', memorySwapMax: '0' };

/** The agent's safety-net tick (UnitHost calls pollTick() for every unit), here every 100 ms for the test's life. */
function ticking(t: { after: (fn: () => void) => void }, r: UnitRunner): void {
  const timer = setInterval(() => r.pollTick(), 100);
  t.after(() => clearInterval(timer));
}

const oomLogged = (logs: readonly string[]): boolean => logs.some((l) => /A process of this unit has been killed by the OOM killer/.test(l));

test('OOMPolicy=stop (the default): MemoryMax= OOM-kills the memory hog the unit runs; the unit fails with Result=oom-kill, as systemd reports it on cgroup v2', async (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const h = harness(t, { cgroups: true });
  const r = h.open('hog.service', { service: { execStart: [HOG], ...LIMITS } });
  ticking(t, r);
  assert.equal(r.start(), undefined);
  await waitFor(r, 'failed', subState('failed'), 20_000);
  assert.equal(r.props.Result, 'oom-kill', h.logs.join('\n'));
  assert.equal(r.props.ExecMainCode, 2, 'CLD_KILLED');
  assert.equal(r.props.ExecMainStatus, 9, 'the kernel\'s SIGKILL');
  assert.ok(oomLogged(h.logs), h.logs.join('\n'));
});

test('OOMPolicy=continue: the OOM killer kills a child of the unit, which is logged, and the main process keeps running', async (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const h = harness(t, { cgroups: true });
  const r = h.open('cont.service', { service: { execStart: [`/bin/sh -c "${HOG}; exec /bin/sleep 1000"`], oomPolicy: 'continue', ...LIMITS } });
  ticking(t, r);
  r.start();
  await waitFor(r, 'running', subState('running'));
  const pid = r.props.MainPID;
  await waitFor(r, 'the OOM kill logged', () => oomLogged(h.logs), 20_000);
  assert.ok((readOomKills(r.cgroup!.dirs, 'v1') ?? 0) >= 1, 'the kernel counted it');
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.props.SubState, 'running', h.logs.join('\n'));
  assert.equal(r.props.MainPID, pid, 'the same main process');
  assert.equal(r.props.Result, 'success');
});

test('OOMPolicy=kill: an OOM kill of one process SIGKILLs the rest of the unit (stop-sigkill), Result=oom-kill; ExecStop= does not run', async (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const h = harness(t, { cgroups: true });
  const r = h.open('kill.service', { service: { execStart: [`/bin/sh -c "(${HOG}) & exec /bin/sleep 1000"`], execStop: [`/bin/touch ${h.dir}/stop-ran`], oomPolicy: 'kill', ...LIMITS } });
  ticking(t, r);
  r.start();
  await waitFor(r, 'failed', subState('failed'), 20_000);
  assert.equal(r.props.Result, 'oom-kill', h.logs.join('\n'));
  assert.equal(r.props.ExecMainCode, 2, 'CLD_KILLED: the sleeping main process was SIGKILLed by the agent');
  assert.equal(r.props.ExecMainStatus, 9);
  assert.ok(!existsSync(join(h.dir, 'stop-ran')), 'ExecStop= did not run');
});

test('OOMPolicy=stop with Restart=on-failure: Result=oom-kill is a failure, the unit is restarted', async (t) => {
  if (skipReason) { t.skip(skipReason); return; }
  const h = harness(t, { cgroups: true });
  const r = h.open('again.service', { service: { execStart: [HOG], restart: 'on-failure', restartSec: '100ms', ...LIMITS }, unit: { startLimitIntervalSec: '0' } });
  ticking(t, r);
  r.start();
  await waitFor(r, 'restarted', () => r.props.NRestarts >= 1, 20_000);
  assert.ok(oomLogged(h.logs), h.logs.join('\n'));
});
