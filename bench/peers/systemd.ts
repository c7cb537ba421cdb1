// systemd 257 itself, through ../shared/tools/systemd-oracle (PID 1 of its own namespaces).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { delaysFrom, measure, sleep, stormShell, type Peer, type Footprint, crashScriptText } from '../lib.ts';

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const ORACLE = process.env['SYSTEMD_ORACLE'] ?? join(repo, '..', 'shared', 'tools', 'systemd-oracle');
const DIR = join(homedir(), '.cache', 'systemd-oracle-trixie');
const ROOT = join(DIR, 'root');

export class Systemd implements Peer {
  readonly name = 'systemd 257';
  private units: string[] = [];

  async unavailable(): Promise<string | undefined> {
    if (!existsSync(ORACLE)) return `no systemd-oracle at ${ORACLE}`;
    const r = spawnSync(ORACLE, ['up'], { encoding: 'utf8' });
    return r.status === 0 ? undefined : `systemd-oracle up failed: ${r.stderr.trim()}`;
  }

  private sh(cmd: string, timeoutMs = 600_000): string { return spawnSync(ORACLE, ['sh', cmd], { encoding: 'utf8', timeout: timeoutMs }).stdout ?? ''; }
  private pid1(): number { return Number(readFileSync(join(DIR, 'pid'), 'utf8')); }

  private install(name: string, text: string): void {
    writeFileSync(join(ROOT, 'etc/systemd/system', name), text);
    this.units.push(name);
  }

  async restartDelays(configuredMs: number, restarts: number): Promise<number[]> {
    const inside = '/var/tmp/uo-bench-restart';
    const w = join(ROOT, inside);
    rmSync(w, { recursive: true, force: true });
    mkdirSync(w, { recursive: true });
    writeFileSync(join(w, 'crash.sh'), crashScriptText(inside), { mode: 0o755 });
    this.install('uo-bench-crash.service', `[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=${inside}/crash.sh\nRestart=always\nRestartSec=${configuredMs}ms\n`);
    this.sh('systemctl daemon-reload; systemctl start uo-bench-crash.service');
    for (let i = 0; i < 2000 && delaysFrom(w).length < restarts; i++) await sleep(20);
    this.sh('systemctl stop uo-bench-crash.service');
    return delaysFrom(w).slice(0, restarts);
  }

  async startLatencies(n: number): Promise<number[]> {
    const inside = '/var/tmp/uo-bench-start';
    const w = join(ROOT, inside);
    rmSync(w, { recursive: true, force: true });
    mkdirSync(w, { recursive: true });
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = Date.now() * 1e6;
      this.install(`uo-bench-s${i}.service`, `[Service]\nExecStart=/bin/sh -c 'date +%%s%%N > ${inside}/started-${i}; exec sleep 1000'\n`);
      this.sh(`systemctl daemon-reload && systemctl start uo-bench-s${i}.service`);
      for (let k = 0; k < 1000 && !existsSync(join(w, `started-${i}`)); k++) await sleep(2);
      await sleep(5);
      out.push((Number(readFileSync(join(w, `started-${i}`), 'utf8')) - t0) / 1e6);
    }
    this.sh(`systemctl stop ${Array.from({ length: n }, (_, i) => `uo-bench-s${i}.service`).join(' ')}`);
    return out;
  }

  async footprint(count: number, storm: boolean, seconds: number): Promise<Footprint> {
    const inside = '/var/tmp/uo-bench-storm';
    rmSync(join(ROOT, inside), { recursive: true, force: true });
    mkdirSync(join(ROOT, inside), { recursive: true });
    const body = storm ? `ExecStart=/bin/sh -c '${stormShell(`${inside}/starts`)}'\nRestart=always\nRestartSec=1s` : 'ExecStart=/bin/sleep 100000';
    const names = Array.from({ length: count }, (_, i) => `uo-bench-f${i}.service`);
    // one target pulls them all in with one job transaction (a systemctl call per batch of
    // units saturates PID 1 during a crash storm); PartOf= lets stopping it stop them all
    for (const n of names) this.install(n, `[Unit]\nStartLimitIntervalSec=0\nPartOf=uo-bench.target\n[Service]\n${body}\n`);
    this.install('uo-bench.target', `[Unit]\nWants=${names.join(' ')}\n`);
    this.sh('systemctl daemon-reload; systemctl start --no-block uo-bench.target', 120_000);
    // one look (PID 1 answers slowly during a storm of 1,000: ~20 s per systemctl call here)
    const active = Number(this.sh("systemctl list-units 'uo-bench-f*' --state=active,activating --no-legend --plain | wc -l", 120_000).trim()) || 0;
    await sleep(3000);
    const f = await measure(() => [this.pid1()], seconds, count, storm ? join(ROOT, inside, 'starts') : undefined);
    return { ...f, note: `PID 1 alone (no per-process holders)${active < count ? `; ${active} of ${count} active or activating after 45 s` : ''}` };
  }

  async cleanup(): Promise<void> {
    const dir = join(ROOT, 'etc/systemd/system');
    // stop every loaded bench unit (the target first: PartOf= stops its units), then remove the files
    this.sh('systemctl stop uo-bench.target 2>/dev/null', 180_000);
    this.sh("systemctl stop $(systemctl list-units 'uo-bench-*' --all --no-legend --plain | awk '{print $1}') 2>/dev/null; systemctl reset-failed", 180_000);
    for (const f of readdirSync(dir).filter((x) => x.startsWith('uo-bench-'))) rmSync(join(dir, f), { force: true });
    this.sh('systemctl daemon-reload; systemctl reset-failed', 60_000);
  }
}
