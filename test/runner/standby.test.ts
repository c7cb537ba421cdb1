// The standby (issue 19; src/runner/standby.ts, shim/standby.c): a unit that restarts at once
// (Restart=always, RestartSec=0) has its next holder waiting while its command runs; the running
// holder starts it when its last process is gone. With real processes and cgroups: the restarts
// happen through it, one run at a time, every run ending as it ended by itself (never killed by
// the kills of the run before); a stop, a reopened runner, a unit that may not use it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, constants, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { commOf, descendants } from '../../src/runner/procfs.ts';
import { join } from 'node:path';
import { harness, waitFor, alive, sleep } from '../support/units.ts';
import { until } from '../support/wait.ts';
import { standbyConfigReason, startedByStandby } from '../../src/runner/standby.ts';
import { configFromSpec } from '../../src/engine/index.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

/** uo-shim processes whose event log lies under `dir` (by their argv[1]). */
function shimsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[1]?.startsWith(dir)) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

const crashLoop = (out: string): ServiceUnitSpec => ({
  unit: { startLimitIntervalSec: 0 },
  // each run: its start, then its end, then exit 1 (%% is a specifier's escape)
  service: { execStart: [`/bin/sh -c 'echo "$$$$ start" >> ${out}; sleep 0.05; echo "$$$$ end" >> ${out}; exit 1'`], restart: 'always', restartSec: '0' },
});

/** Whether a standby is armed in the unit's hand-over folder (next/armed.<spawn>). */
const armed = (dir: string): boolean => existsSync(join(dir, 'next')) && readdirSync(join(dir, 'next')).some((f) => f.startsWith('armed.'));

const runsOf = (out: string): string[][] => (existsSync(out) ? readFileSync(out, 'utf8') : '').split('\n').filter(Boolean).map((l) => l.split(' '));

test('RestartSec=0: restarts go through the standby, which the ending holder starts; one run at a time, each ends by its own exit 1 (none killed by the run before\'s kills)', { timeout: 30_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const r = h.open('sb', crashLoop(out));
  r.start();
  await waitFor(r, '20 runs', () => runsOf(out).filter(([, w]) => w === 'start').length >= 20, 20_000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
  const runs = runsOf(out);
  t.diagnostic(`restarts ${r.props.NRestarts}, through a standby ${r.standbyRestarts}, started by the ending holder ${r.handedOver}`);
  // one at a time: every start follows the end of the run before
  for (let i = 1; i < runs.length; i++) if (runs[i]![1] === 'start') assert.equal(runs[i - 1]![1], 'end', `run ${i}: started before the one before ended`);
  assert.ok(r.standbyRestarts >= 10, `only ${r.standbyRestarts} of ${r.props.NRestarts} restarts went through a standby`);
  assert.ok(r.handedOver >= 1, 'no standby was started by the ending holder');
  // every run but the last (stopped) ended by its exit 1: the kills of a run's end never reached the next
  const log = h.logs.filter((l) => l.startsWith('sb: ')).join('\n');
  assert.doesNotMatch(log, /code=killed/, 'a run was killed');
  assert.ok((log.match(/code=exited, status=1\/FAILURE/g) ?? []).length >= runs.filter(([, w]) => w === 'end').length - 1);
  assert.equal(r.props.NRestarts + 1, runs.filter(([, w]) => w === 'start').length, 'every run is a restart the engine counted');
  // nothing of the unit is left: no standby waits, no holder, nothing armed
  await sleep(200);
  assert.deepEqual(shimsUnder(r.dir), [], 'a holder of the unit is left');
  assert.equal(armed(r.dir), false);
  assert.deepEqual(r.unitProcesses(), []);
});

test('a stop while a standby waits: it ends without running the command; the unit ends inactive and nothing is left', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const r = h.open('sb-stop', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo "$$$$ start" >> ${out}; exec sleep 30'`], restart: 'always', restartSec: '0' } });
  r.start();
  await waitFor(r, 'running, a standby waiting', () => runsOf(out).length === 1 && armed(r.dir) && shimsUnder(r.dir).length === 2, 5000);
  const holders = shimsUnder(r.dir);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive', 5000);
  for (let i = 0; i < 100 && holders.some(alive); i++) await sleep(20);
  assert.deepEqual(holders.filter(alive), [], 'a holder is left (the standby did not end)');
  assert.equal(runsOf(out).length, 1, 'the standby ran the command');
  assert.equal(armed(r.dir), false);
  assert.equal(r.props.NRestarts, 0);
});

test('the main process killed from outside while a standby waits: the restart is the standby, its command runs once', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const r = h.open('sb-kill', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo "$$$$ start" >> ${out}; exec sleep 30'`], restart: 'always', restartSec: '0' } });
  r.start();
  await waitFor(r, 'a standby waiting', () => runsOf(out).length === 1 && armed(r.dir) && r.props.MainPID > 0, 5000);
  const first = r.props.MainPID;
  process.kill(first, 'SIGKILL');
  await waitFor(r, 'restarted', (x) => x.props.NRestarts === 1 && x.props.MainPID > 0 && x.props.MainPID !== first && x.props.SubState === 'running', 5000);
  await sleep(300);
  assert.equal(runsOf(out).length, 2, 'one run after the kill');
  assert.equal(r.standbyRestarts, 1);
  assert.equal(r.props.Result, 'success');
  assert.equal(alive(r.props.MainPID), true);
  assert.match(h.logs.join('\n'), /sb-kill: .*code=killed, status=9\/KILL/);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive', 5000);
});

test('a runner closed and opened again (an agent restart) while a standby waits: the standby ends, the running command is adopted, and the next restart still happens once', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const r = h.open('sb-reopen', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo "$$$$ start" >> ${out}; exec sleep 30'`], restart: 'always', restartSec: '0' } });
  r.start();
  await waitFor(r, 'a standby waiting', () => armed(r.dir) && shimsUnder(r.dir).length === 2 && r.props.MainPID > 0, 5000);
  const main = r.props.MainPID;
  const before = shimsUnder(r.dir);
  const r2 = h.reopen(r);
  await sleep(300);
  assert.equal(before.filter(alive).length, 1, 'the standby ended with its runner; the holder of the command lives');
  assert.equal(r2.props.MainPID, main);
  // the reopened runner arms its own standby; the command's end is its restart
  await waitFor(r2, 'armed again', () => armed(r2.dir) && shimsUnder(r2.dir).length === 2, 5000);
  process.kill(main, 'SIGKILL');
  await waitFor(r2, 'restarted', (x) => x.props.NRestarts === 1 && x.props.MainPID > 0 && x.props.MainPID !== main, 5000);
  await sleep(300);
  assert.equal(runsOf(out).length, 2, 'the command ran once more, not twice');
  r2.stop();
  await waitFor(r2, 'stopped', (x) => x.activeState === 'inactive', 5000);
});

test('which units may use a standby: Restart=always with RestartSec=0 and nothing run or made between two runs', () => {
  const reason = (service: Record<string, unknown>): string | undefined => {
    const spec: ServiceUnitSpec = { service: { execStart: ['/bin/true'], restart: 'always', restartSec: '0', ...service } };
    return standbyConfigReason(configFromSpec(spec, 'x.service'), spec.service);
  };
  assert.equal(reason({}), undefined);
  assert.equal(reason({ type: 'exec' }), undefined);
  assert.match(reason({ restart: 'on-failure' })!, /Restart=/);
  assert.match(reason({ restartSec: '100ms' })!, /RestartSec=/);
  assert.match(reason({ type: 'notify' })!, /Type=/);
  assert.match(reason({ type: 'oneshot' })!, /Type=/);
  assert.match(reason({ remainAfterExit: true })!, /RemainAfterExit=/);
  assert.match(reason({ execStartPre: ['/bin/true'] })!, /ExecstartPre=/i);
  assert.match(reason({ execStopPost: ['/bin/true'] })!, /ExecstopPost=/i);
  assert.match(reason({ execStop: ['/bin/true'] })!, /Execstop=/i);
  assert.match(reason({ restartPreventExitStatus: '3' })!, /RestartPreventExitStatus=/);
  assert.match(reason({ killMode: 'process' })!, /KillMode=/);
  assert.match(reason({ environmentFile: ['/etc/x'] })!, /EnvironmentFile=/);
  assert.match(reason({ privateTmp: true })!, /runtime/);
  assert.match(reason({ runtimeDirectory: ['x'] })!, /RuntimeDirectory=/);
  assert.equal(reason({ runtimeDirectory: ['x'], runtimeDirectoryPreserve: 'restart' }), undefined);
  assert.match(reason({ loadCredential: ['a:/etc/hostname'] })!, /credentials/);
  assert.match(reason({ dynamicUser: true })!, /DynamicUser=/);
});

test('a unit that may not use a standby (Restart=on-failure) gets none: its restarts are the agent\'s', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const spec = crashLoop(out);
  const r = h.open('sb-none', { ...spec, service: { ...spec.service, restart: 'on-failure' } });
  r.start();
  await waitFor(r, '5 runs', () => runsOf(out).filter(([, w]) => w === 'start').length >= 5, 10_000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
  assert.equal(r.standbyRestarts, 0);
  assert.equal(existsSync(join(r.dir, 'next')), false);
});

test('stops racing a crash loop\'s restarts (10 rounds): once stopped, no run starts after, nothing of the unit is left', { timeout: 60_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  for (let round = 0; round < 10; round++) {
    const out = join(h.dir, `runs-${round}`);
    const r = h.open(`sb-race-${round}`, { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo "$$$$ start" >> ${out}; exit 1'`], restart: 'always', restartSec: '0' } });
    r.start();
    await waitFor(r, 'a few runs', () => runsOf(out).length >= 3 + round, 10_000);
    r.stop();
    await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
    const n = runsOf(out).length;
    await sleep(150);
    assert.equal(runsOf(out).length, n, `round ${round}: a run started after the stop completed`);
    assert.deepEqual(shimsUnder(r.dir), [], `round ${round}: a holder of the unit is left`);
    assert.deepEqual(r.unitProcesses(), [], `round ${round}: a process of the unit is left`);
    assert.equal(armed(r.dir), false);
  }
});

test('a standby runs on its own number only: a `go` left for another standby starts nothing', { timeout: 20_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  const r = h.open('sb-stale', { unit: { startLimitIntervalSec: 0 }, service: { execStart: [`/bin/sh -c 'echo "$$$$ start" >> ${out}; exec sleep 30'`], restart: 'always', restartSec: '0' } });
  r.start();
  await waitFor(r, 'a standby waiting', () => armed(r.dir) && shimsUnder(r.dir).length === 2, 5000);
  // a stale `go` of another number, and a wake-up: the standby looks and goes on waiting
  writeFileSync(join(r.dir, 'next', 'go'), '999999');
  const w = openSync(join(r.dir, 'next', 'wake'), constants.O_WRONLY | constants.O_NONBLOCK);
  writeSync(w, 'g');
  closeSync(w);
  await sleep(300);
  assert.equal(runsOf(out).length, 1, 'the standby ran on a go that was not its own');
  assert.equal(shimsUnder(r.dir).length, 2, 'the standby went away');
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive', 5000);
});

test('a service\'s process named "uo-shim" is no standby holder: what it starts stays the unit\'s (startedByStandby(), the run before\'s kills reach it)', { skip: process.getuid?.() !== 0 ? 'needs root (a process of another user)' : false, timeout: 20_000 }, async (t) => {
  // a service can exec a binary named uo-shim (its comm then reads "uo-shim"): before the fork
  // server has told the standby holder's PID, the membership took any such parent for the standby's
  const d = mkdtempSync(join(tmpdir(), 'uo-fakeshim-'));
  chmodSync(d, 0o755);
  const fake = join(d, 'uo-shim');
  copyFileSync('/bin/sh', fake);
  chmodSync(fake, 0o755);
  const p = spawn(fake, ['-c', 'sleep 100 & wait'], { uid: 65534, gid: 65534, stdio: 'ignore' });
  t.after(() => { for (const x of [...descendants([p.pid!]), p.pid!]) { try { process.kill(x, 9); } catch { /* gone */ } } rmSync(d, { recursive: true, force: true }); });
  let child: number | undefined;
  for (let i = 0; i < 200 && child === undefined; i++) { child = descendants([p.pid!]).find((x) => commOf(x) === 'sleep'); if (child === undefined) await sleep(10); }
  assert.ok(child !== undefined, 'the fake holder\'s child did not start');
  assert.equal(commOf(p.pid!), 'uo-shim');
  const folder = join(d, 'run', '9-start-0'); // the standby's spawn folder (its holder's event log names it)
  assert.equal(startedByStandby(child, 0, folder, new Set()), false, 'a process named uo-shim was taken for the standby\'s holder: its child would escape the unit\'s stop');
  // the standby's holder by its PID: what it started is the standby's; a spawn's holder nearer to it wins
  assert.equal(startedByStandby(child, p.pid!, folder, new Set()), true);
  assert.equal(startedByStandby(child, process.pid, folder, new Set([p.pid!])), false);
});

test('restarts through a standby keep the unit\'s cgroup, with its limits in force: MemoryMax= reads in every run\'s memory cgroup, and a changed MemoryMax= in the runs after the change', { skip: process.getuid?.() !== 0 || !existsSync('/sys/fs/cgroup/memory/cgroup.procs') ? 'needs root and the v1 memory hierarchy' : false, timeout: 30_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'limits');
  // each run: the memory limit of the cgroup it runs in (%% is a specifier's escape)
  const spec = (max: string): ServiceUnitSpec => ({
    unit: { startLimitIntervalSec: 0 },
    service: { execStart: [`/bin/sh -c 'm=$$(grep :memory: /proc/self/cgroup | cut -d: -f3); echo "$$(cat /sys/fs/cgroup/memory$$m/memory.limit_in_bytes)" >> ${out}; sleep 0.03; exit 1'`], restart: 'always', restartSec: '0', memoryMax: max },
  });
  const lines = (): string[] => (existsSync(out) ? readFileSync(out, 'utf8') : '').split('\n').filter(Boolean);
  const r = h.open('lim', spec('64M'));
  r.start();
  await waitFor(r, '15 runs', () => lines().length >= 15, 20_000);
  const before = r.standbyRestarts;
  assert.ok(before >= 5, `only ${before} restarts went through a standby (the kept cgroup is what is tested)`);
  assert.deepEqual([...new Set(lines())], [String(64 << 20)], 'a run saw another memory limit');
  r.updateSpec(spec('32M'));
  const seen = lines().length;
  await waitFor(r, '15 runs more', () => lines().length >= seen + 15, 20_000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
  // the run the change found running keeps the limit it started with (64M) until the change is
  // written (set-property: at once); every run after it sees 32M
  const after = lines().slice(seen + 2);
  assert.deepEqual([...new Set(after)], [String(32 << 20)], 'a run after the change saw another memory limit');
  assert.ok(r.standbyRestarts > before, 'no restart after the change went through a standby');
});

/** Live processes whose argv[0] starts with `prefix` (a run's children name themselves so), by the name. */
function named(prefix: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const a0 = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0] ?? '';
      if (!a0.startsWith(prefix) || /^State:\s+Z/m.test(readFileSync(`/proc/${e}/status`, 'utf8'))) continue;
      out.set(a0, [...(out.get(a0) ?? []), Number(e)]);
    } catch { /* gone */ }
  }
  return out;
}

test('a standby run dropped while its command forks (the unit became tied to another one) leaves nothing behind: no process of it lives beside the next run', { skip: !existsSync('/bin/bash') ? 'needs bash' : false, timeout: 40_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const tag = `uosb${process.pid}-`;
  t.after(() => { for (const pids of named(tag).values()) for (const p of pids) { try { process.kill(p, 9); } catch { /* gone */ } } });
  let tied = false;
  // each run: a burst of children named after it from 16 forkers at once, each child forking one more, (as a hostile command
  // forking while it is killed), then the end of its whole process group, itself too
  const spec: ServiceUnitSpec = {
    unit: { startLimitIntervalSec: 0 },
    service: { execStart: [`/bin/bash -c 'r=$$$$; for j in $$(seq 1 16); do (for i in $$(seq 1 20); do ((exec -a ${tag}$$r sleep 30) & exec -a ${tag}$$r sleep 30) & done; wait) & done; sleep 0.5; kill -KILL 0'`], restart: 'always', restartSec: '0' },
  };
  const r = h.open('drop', spec, undefined, undefined, { related: () => tied });
  r.start();
  await waitFor(r, 'a standby armed after a restart', (x) => x.props.NRestarts >= 1 && armed(x.dir), 15_000);
  // the next exit: its holder starts the standby's run, which the agent then drops (tied now).
  // The agent (this process) is held busy until the standby's run has begun its burst, so that
  // it reads the exit after the standby took its go, as a loaded agent does
  // (while it is held it starts nothing itself: a run that begins meanwhile is the standby's)
  const before = new Set(named(tag).keys());
  tied = true;
  const end = Date.now() + 5000;
  let seen = 0;
  while (Date.now() < end) {
    const runs = [...named(tag).entries()].filter(([n]) => !before.has(n));
    if (runs.some(([, pids]) => pids.length >= 5)) { seen = Date.now(); break; }
  }
  assert.ok(seen > 0, 'the standby run did not begin while the agent was held');
  while (Date.now() < seen + 20) { /* the burst goes on */ }
  // dropped (said with its holder's PID when the holder is still seen; its cgroup emptied either
  // way) and the next run begun
  const restarts = r.props.NRestarts, through = r.standbyRestarts;
  await until('the standby run dropped and the next one begun', () => r.props.NRestarts >= restarts + 1 && r.props.SubState === 'running' && r.props.MainPID > 0, { timeoutMs: 10_000, everyMs: 10, detail: () => h.logs.slice(-12).join('\n') });
  t.diagnostic(h.logs.some((l) => /is ended with SIGKILL: it is tied to another unit now/.test(l)) ? 'dropped with its holder seen' : 'dropped, its holder not seen');
  assert.equal(r.standbyRestarts, through, 'the standby was adopted, not dropped');
  await sleep(300);
  const main = r.props.MainPID;
  const left = [...named(tag).entries()].filter(([name]) => name !== `${tag}${main}`);
  assert.deepEqual(left.map(([name, pids]) => `${name}: ${pids.length}`), [], 'children of a dropped run live beside the next run');
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 10_000);
  await sleep(200);
  assert.deepEqual([...named(tag).keys()], [], 'a child of the unit outlived its stop');
});

test('a unit tied to another while its standby waits: the standby is taken back at once (relationsChanged()), the run goes on, and its end is restarted without one', { timeout: 30_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'runs');
  let tied = false;
  const r = h.open('tie', crashLoop(out), undefined, undefined, { related: () => tied });
  r.start();
  await waitFor(r, 'a standby armed', (x) => x.props.NRestarts >= 1 && armed(x.dir), 15_000);
  const main = r.props.MainPID, through = r.standbyRestarts;
  tied = true;
  r.relationsChanged();
  assert.ok(!armed(r.dir), 'the standby is still armed');
  assert.equal(r.props.MainPID, main, 'the running command was touched');
  await waitFor(r, 'the next restart', (x) => x.props.MainPID > 0 && x.props.MainPID !== main && x.props.SubState === 'running', 10_000);
  assert.equal(r.standbyRestarts, through, 'a restart went through a standby after the unit was tied to another');
  assert.ok(!h.logs.some((l) => /is ended with SIGKILL/.test(l)), 'a standby run was killed');
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 5000);
});
