// PM2 (npm) with its own PM2_HOME, driving plain executables (interpreter none).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crashScript, delaysFrom, measure, sleep, stormShell, type Peer, type Footprint } from '../lib.ts';

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const PM2 = join(repo, 'node_modules', 'pm2', 'bin', 'pm2');

export class Pm2 implements Peer {
  readonly name = 'pm2';
  private home = '';

  async unavailable(): Promise<string | undefined> { return existsSync(PM2) ? undefined : 'pm2 is not installed (npm ci installs it as a devDependency)'; }

  /** Runs the pm2 CLI; false when it did not finish within the time given. */
  private pm2(...args: string[]): string { return this.pm2Within(300_000, ...args).out; }

  private pm2Within(timeoutMs: number, ...args: string[]): { out: string; finished: boolean } {
    const r = spawnSync(process.execPath, [PM2, ...args], { encoding: 'utf8', env: { ...process.env, PM2_HOME: this.home }, timeout: timeoutMs });
    return { out: (r.stdout ?? '') + (r.stderr ?? ''), finished: !r.error && r.signal === null };
  }

  private app(name: string, script: string, args: string[], delayMs: number): Record<string, unknown> {
    return { name, script, args, interpreter: 'none', autorestart: true, restart_delay: delayMs, max_restarts: 1_000_000, min_uptime: 0, out_file: '/dev/null', error_file: '/dev/null', merge_logs: true };
  }

  private startApps(dir: string, apps: Array<Record<string, unknown>>, timeoutMs = 300_000): boolean {
    this.home = join(dir, 'pm2home');
    mkdirSync(this.home, { recursive: true });
    const eco = join(dir, 'ecosystem.json');
    writeFileSync(eco, JSON.stringify({ apps }));
    return this.pm2Within(timeoutMs, 'start', eco).finished;
  }

  private daemonPid(): number { try { return Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8')); } catch { return 0; } }

  async restartDelays(configuredMs: number, restarts: number, dir: string): Promise<number[]> {
    const w = join(dir, 'work');
    this.startApps(dir, [this.app('crash', crashScript(w), [], configuredMs)]);
    for (let i = 0; i < 2000 && delaysFrom(w).length < restarts; i++) await sleep(20);
    this.pm2('kill');
    return delaysFrom(w).slice(0, restarts);
  }

  async startLatencies(n: number, dir: string): Promise<number[]> {
    this.home = join(dir, 'pm2home');
    mkdirSync(this.home, { recursive: true });
    this.pm2('ping');
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const marker = join(dir, `started-${i}`);
      const t0 = Date.now() * 1e6;
      this.pm2('start', '/bin/sh', '--name', `s${i}`, '--interpreter', 'none', '--', '-c', `date +%s%N > ${marker}; exec sleep 1000`);
      for (let k = 0; k < 1000 && !existsSync(marker); k++) await sleep(2);
      await sleep(5);
      out.push((Number(readFileSync(marker, 'utf8')) - t0) / 1e6);
    }
    this.pm2('kill');
    return out;
  }

  async footprint(count: number, storm: boolean, seconds: number, dir: string): Promise<Footprint> {
    const starts = join(dir, 'storm-starts');
    const apps = Array.from({ length: count }, (_, i) => storm ? this.app(`f${i}`, '/bin/sh', ['-c', stormShell(starts)], 1000) : this.app(`f${i}`, '/bin/sleep', ['100000'], 0));
    const finished = this.startApps(dir, apps, 45_000);
    await sleep(3000);
    const pid = this.daemonPid();
    const f = await measure(() => (pid ? [pid] : []), seconds, count, storm ? starts : undefined);
    this.pm2Within(120_000, 'kill');
    return finished ? f : { ...f, note: 'pm2 start had not finished starting them after 45 s' };
  }

  async cleanup(): Promise<void> { if (this.home) this.pm2('kill'); }
}
