// unit-operator's standalone agent, as a separate process (unitctl agent).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/cli/client.ts';
import { killLeftovers } from '../../src/runner/leftovers.ts';
import { DAEMON_NODE_FLAGS } from '../../src/cli/runtime.ts';
import { crashScript, delaysFrom, measure, percentile, perProcess, sleep, stormShell, type Peer, type Footprint } from '../lib.ts';

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** Issue 19's scale row (Ours.scale()): ms and MB, the agent alone. */
export interface ScaleRow {
  readonly units: number;
  readonly up: number;
  readonly startS: number;
  readonly rssMB: number;
  readonly pssMB: number;
  readonly cpuPct: number;
  readonly listSocketP50: number;
  readonly listSocketMax: number;
  readonly listCliP50: number;
  readonly listCliMax: number;
}

export interface OursOptions {
  /** The row's name (default unit-operator). */
  readonly name?: string;
  /** Added to the agent's environment (UNIT_OPERATOR_CGROUPS=off: the cgroup cost, bench/cgroups.ts). */
  readonly env?: Readonly<Record<string, string>>;
}

export class Ours implements Peer {
  readonly name: string;
  private readonly env: Readonly<Record<string, string>>;
  private agent: ChildProcess | undefined;
  private state = '';
  private manifests = '';
  stats = { stateWrites: 0, decisions: 0, restarts: 0 };

  constructor(o: OursOptions = {}) {
    this.name = o.name ?? 'unit-operator';
    this.env = o.env ?? {};
  }

  async unavailable(): Promise<string | undefined> { return undefined; }

  private async startAgent(dir: string): Promise<void> {
    await this.stopAgent(true);
    this.manifests = join(dir, 'manifests');
    this.state = join(dir, 'state');
    mkdirSync(this.manifests, { recursive: true });
    // the built JavaScript, as the image runs it (npm run bench builds it first)
    const entry = existsSync(join(repo, 'dist/cli/main.js')) ? join(repo, 'dist/cli/main.js') : join(repo, 'src/cli/main.ts');
    this.agent = spawn(process.execPath, [...DAEMON_NODE_FLAGS, entry, 'agent', '--manifests', this.manifests, '--state-dir', this.state, '--stop-on-exit'], { stdio: 'ignore', env: { ...process.env, ...this.env } });
    for (let i = 0; i < 400 && !existsSync(join(this.state, 'agent.sock')); i++) await sleep(25);
    await sleep(200);
  }

  private async stopAgent(stopUnits: boolean): Promise<void> {
    const a = this.agent;
    if (!a || a.exitCode !== null) return;
    const gone = new Promise((r) => a.once('exit', r));
    a.kill(stopUnits ? 'SIGTERM' : 'SIGKILL');
    await Promise.race([gone, sleep(60_000)]);
    this.agent = undefined;
  }

  async restartDelays(configuredMs: number, restarts: number, dir: string): Promise<number[]> {
    await this.startAgent(dir);
    const w = join(dir, 'work');
    const script = crashScript(w);
    writeFileSync(join(this.manifests, 'crash.service'), `[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=${script}\nRestart=always\nRestartSec=${configuredMs}ms\n`);
    const until = Date.now() + 40_000 + restarts * (configuredMs + 100); // bounded: a stuck unit ends the wait
    while (Date.now() < until && delaysFrom(w).length < restarts) await sleep(20);
    await this.stopAgent(true);
    return delaysFrom(w).slice(0, restarts);
  }

  async startLatencies(n: number, dir: string): Promise<number[]> {
    await this.startAgent(dir);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const marker = join(dir, `started-${i}`);
      const t0 = Date.now() * 1e6;
      writeFileSync(join(this.manifests, `s${i}.service`), `[Service]\nExecStart=/bin/sh -c 'date +%%s%%N > ${marker}; exec sleep 1000'\n`);
      for (let k = 0; k < 500 && !existsSync(marker); k++) await sleep(2);
      await sleep(5);
      out.push((Number(readFileSync(marker, 'utf8')) - t0) / 1e6);
    }
    await this.stopAgent(true);
    return out;
  }

  async footprint(count: number, storm: boolean, seconds: number, dir: string): Promise<Footprint> {
    await this.startAgent(dir);
    const starts = join(dir, 'storm-starts');
    const body = storm ? `ExecStart=/bin/sh -c '${stormShell(starts)}'\nRestart=always\nRestartSec=1s` : 'ExecStart=/bin/sleep 100000';
    for (let i = 0; i < count; i++) writeFileSync(join(this.manifests, `f${i}.service`), `[Unit]\nStartLimitIntervalSec=0\n[Service]\n${body}\n`);
    // wait (at most 60 s) until every unit is up; the agent picks the files up by itself
    const deadline = Date.now() + 60_000;
    let up = 0;
    while (Date.now() < deadline) {
      const r = await request(this.state, { cmd: 'list' }, Math.max(1000, deadline - Date.now())).catch(() => undefined);
      up = r?.ok ? (r.units ?? []).filter((u) => u.ActiveState !== 'inactive').length : up;
      if (up >= count) break;
      await sleep(500);
    }
    const upAt = Date.now();
    await sleep(2000);
    const agentPid = this.agent!.pid!;
    // this agent's shims only (other agents may run on the machine): the holders, whose event log
    // lies in its state folder, and its state-folder lock helper (uo-shim --lock)
    const argvOf = (p: number): string[] => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0'); } catch { return []; } };
    const ownShims = (holdersOnly: boolean): number[] => readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).map(Number).filter((p) => {
      const a = argvOf(p);
      if (!/uo-shim$/.test(a[0] ?? '')) return false;
      return (a[1] ?? '').startsWith(`${this.state}/`) || (!holdersOnly && a[1] === '--lock' && (a[2] ?? '').startsWith(`${this.state}/`));
    });
    const shims = (): number[] => ownShims(false);
    const before = await request(this.state, { cmd: 'stats' }, 30_000).catch(() => undefined);
    const f = await measure(() => [agentPid, ...shims()], seconds, count, storm ? starts : undefined);
    const after = await request(this.state, { cmd: 'stats' }, 30_000).catch(() => undefined);
    if (before?.ok && after?.ok && before.stats && after.stats) {
      this.stats = { stateWrites: (after.stats.stateWrites - before.stats.stateWrites) / seconds, decisions: (after.stats.decisions - before.stats.decisions) / seconds, restarts: ((after.stats.restarts ?? 0) - (before.stats.restarts ?? 0)) / seconds };
    }
    const agentOnly = await measure(() => [agentPid], 1, count);
    const holder = perProcess(ownShims(true)); // the holders apart from the agent (issue 19)
    // idle: the agent alone again once settled, 30 s after all were up (V8 shrinks its heap ~8-10 s
    // after the start burst, just after the reading above: bench/results/agent-memory.txt); both shown
    const settledAt = upAt + 30_000;
    if (!storm && up >= count) await sleep(Math.max(0, settledAt - Date.now()));
    const settled = !storm && up >= count ? await measure(() => [agentPid], 1, count) : undefined;
    await this.stopAgent(true);
    return { ...f, holder, note: `agent alone ${agentOnly.rssMB.toFixed(0)} MB${settled ? ` (${settled.rssMB.toFixed(0)} MB settled, 30 s after all up)` : ''}; ${(this.stats.stateWrites).toFixed(0)} state writes/s for ${(this.stats.decisions).toFixed(0)} decisions/s${storm ? `, ${this.stats.restarts.toFixed(0)} restarts/s` : ''}${up < count ? `; only ${up} of ${count} up after 60 s` : ''}${before?.ok && after?.ok ? '' : '; the agent did not answer (saturated)'}` };
  }

  /**
   * Issue 19's scale row: one agent with `count` idle units — how long until all are active, the
   * agent's own RSS/PSS and CPU while they idle (10 s), and `unitctl list` latency: the control
   * socket's answer alone (20 requests) and the CLI command end to end (5 runs, Node's start-up
   * included).
   */
  async scale(count: number, dir: string, say: (s: string) => void): Promise<ScaleRow> {
    await this.startAgent(dir);
    const t0 = Date.now();
    for (let i = 0; i < count; i++) writeFileSync(join(this.manifests, `s${i}.service`), '[Service]\nExecStart=/bin/sleep 100000\n');
    const deadline = t0 + 900_000; // bounded: a stuck start ends the wait
    let up = 0, settled = 0;
    while (Date.now() < deadline) {
      const r = await request(this.state, { cmd: 'list' }, 60_000).catch(() => undefined);
      const units = r?.ok ? r.units ?? [] : [];
      up = r?.ok ? units.filter((u) => u.ActiveState === 'active').length : up;
      // every unit active, or failed (a start that failed is said, not waited for)
      settled = r?.ok ? units.filter((u) => u.ActiveState === 'active' || u.ActiveState === 'failed').length : settled;
      if (settled >= count) break;
      await sleep(1000);
    }
    const startS = (Date.now() - t0) / 1000;
    say(`scale: ${up} of ${count} active, ${settled - up} failed, after ${startS.toFixed(0)} s`);
    await sleep(3000);
    const agentPid = this.agent!.pid!;
    const idle = await measure(() => [agentPid], 10, count);
    const socketMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const a = performance.now();
      await request(this.state, { cmd: 'list' }, 60_000);
      socketMs.push(performance.now() - a);
    }
    const entry = existsSync(join(repo, 'dist/cli/main.js')) ? join(repo, 'dist/cli/main.js') : join(repo, 'src/cli/main.ts');
    const cliMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = performance.now();
      spawnSync(process.execPath, [entry, 'list', '--state-dir', this.state], { stdio: 'ignore' });
      cliMs.push(performance.now() - a);
    }
    await this.stopAgent(true);
    return { units: count, up, startS, rssMB: idle.rssMB, pssMB: idle.pssMB, cpuPct: idle.cpuPct, listSocketP50: percentile(socketMs, 50), listSocketMax: Math.max(...socketMs), listCliP50: percentile(cliMs, 50), listCliMax: Math.max(...cliMs) };
  }

  async cleanup(): Promise<void> {
    await this.stopAgent(true);
    if (this.state && existsSync(this.state)) {
      await killLeftovers(join(this.state, 'units')); // anything a failed run left, by pid
      rmSync(this.state, { recursive: true, force: true });
    }
  }
}
