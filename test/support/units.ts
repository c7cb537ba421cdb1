// Real-process fixtures: a UnitRunner in a temp folder, waiting helpers, and cleanup that
// kills whatever the unit left (by pid) even when the test fails.
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { UnitRunner, monotonicUs, type UnitRunnerOptions } from '../../src/runner/unit.ts';
import { ensureShim } from '../../src/runner/shim.ts';
import { isAlive, startTime } from '../../src/runner/procfs.ts';
import { removeNotifyFolder } from '../../src/runner/notifysock.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';
import { randomBytes } from 'node:crypto';
import { basePids, detectCgroups, removeBaseTree, type CgroupContext } from '../../src/runner/cgroup/index.ts';
import { sleep, until } from './wait.ts';
import { ForkServer } from '../../src/runner/forkserver.ts';

export { sleep };

export const shimPath = ensureShim();

export interface Harness {
  readonly dir: string;
  open(name: string, spec: ServiceUnitSpec, onDecision?: (p: UnitRunner['props']) => void, unitDir?: string, more?: Partial<UnitRunnerOptions>): UnitRunner;
  /** Re-opens a unit as a restarted agent would. */
  reopen(r: UnitRunner): UnitRunner;
  readonly logs: string[];
  /** When each log line was written (µs, the runner's clock). */
  readonly logTimes: number[];
  /** The units' cgroups (a private top slice per harness), when asked for and the node has them. */
  readonly cgroups: CgroupContext | undefined;
  /** The harness's fork server (its shims are started by it, as an agent's), unless UNIT_OPERATOR_FORK_SERVER=off. */
  readonly forkServer: ForkServer | undefined;
}

/**
 * A private top slice for a test's units (unit-operator.slice/uo-test-<hex>.slice), so that
 * tests running side by side never share a unit's cgroup; undefined where the node has no
 * cgroup the test can write (non-root). Removed after the test, its processes killed first.
 * `unifiedOnly`: the node's cgroup2 mount alone, as a cgroup2-only node (mode 'v2') — what a
 * hybrid node's v1 hierarchies do is left out; undefined where there is no cgroup2 mount.
 */
export function testCgroups(t: { after: (fn: () => void | Promise<void>) => void }, unifiedOnly = false): CgroupContext | undefined {
  const detected = detectCgroups();
  if (detected.mode === 'none' || (unifiedOnly && !detected.unified)) return undefined;
  const layout = unifiedOnly ? { ...detected, mode: 'v2' as const, hierarchies: [detected.unified!] } : detected;
  const ctx = { layout, base: `unit-operator.slice/uo-test-${randomBytes(6).toString('hex')}.slice` };
  t.after(async () => {
    for (let i = 0; i < 100; i++) {
      const pids = basePids(layout, ctx.base);
      if (pids.length === 0) break;
      for (const p of pids) { try { process.kill(p, 9); } catch { /* gone */ } }
      await sleep(20);
    }
    // a killed holder leaves its cgroup a moment after its PID is gone: retried (≤ 1 s) until nothing stays
    for (let i = 0; i < 25 && removeBaseTree(layout, ctx.base).length > 0; i++) await sleep(40);
  });
  return ctx;
}

export function harness(t: { after: (fn: () => void | Promise<void>) => void }, o: { cgroups?: boolean | 'unified-only' } = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'uo-run-'));
  // the test cgroup goes last: after the runners and the fork server, whose holders sit in it
  // (removed before them, its holders' scope stayed behind, empty)
  const last: Array<() => void | Promise<void>> = [];
  const cgroups = o.cgroups ? testCgroups({ after: (fn) => { last.push(fn); } }, o.cgroups === 'unified-only') : undefined;
  const runners: UnitRunner[] = [];
  const logs: string[] = [];
  const logTimes: number[] = [];
  const forkServer = process.env['UNIT_OPERATOR_FORK_SERVER'] === 'off' ? undefined
    : new ForkServer({ shimPath, stateDir: dir, log: (l, m) => { logs.push(`fork server: ${l}: ${m}`); logTimes.push(monotonicUs()); } });
  const open = (name: string, spec: ServiceUnitSpec, onDecision?: (p: UnitRunner['props']) => void, unitDir = join(dir, name), more: Partial<UnitRunnerOptions> = {}): UnitRunner => {
    const r = UnitRunner.open({ unitName: name, spec, dir: unitDir, shimPath, forkServer, pollMs: 50, cgroups, onLog: (l, m) => { logs.push(`${name}: ${l}: ${m}`); logTimes.push(monotonicUs()); }, ...(onDecision ? { onDecision } : {}), ...more });
    runners.push(r);
    return r;
  };
  t.after(async () => {
    for (const r of runners) {
      // a PID is killed only while it still names the process seen here: tests run side by
      // side, and a PID freed meanwhile may already be another test's process
      const seen = [...r.unitProcesses(), ...r.spawns.map((s) => s.shimPid)].map((p) => [p, startTime(p)] as const);
      r.close();
      for (const [p, start] of seen) if (start !== undefined && startTime(p) === start) { try { process.kill(p, 9); } catch { /* gone */ } }
    }
    for (let i = 0; i < 50; i++) { if (runners.every((r) => r.unitProcesses().length === 0)) break; await sleep(20); }
    forkServer?.close();
    removeNotifyFolder(dir);
    rmSync(dir, { recursive: true, force: true });
    for (const fn of last) await fn();
  });
  return { dir, logs, logTimes, cgroups, forkServer, open, reopen: (r) => { r.close(); return open(r.unitName, r.spec, undefined, r.dir); } };
}

/** Waits (bounded) until the predicate holds; fails with the unit's state when it does not. */
export async function waitFor(r: UnitRunner, what: string, pred: (r: UnitRunner) => boolean, timeoutMs = 5000): Promise<void> {
  await until(what, () => pred(r), { timeoutMs, everyMs: 10, detail: () => `unit is ${JSON.stringify(r.props)}` });
}

export const subState = (s: string) => (r: UnitRunner): boolean => r.props.SubState === s && (s !== 'running' || r.props.MainPID > 0);

export function readLog(r: UnitRunner): string {
  return existsSync(r.logPath()) ? readFileSync(r.logPath(), 'utf8') : '';
}

export function alive(pid: number): boolean { return isAlive(pid); }
