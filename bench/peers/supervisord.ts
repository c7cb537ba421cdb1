// supervisord 4 (Debian's supervisor package) in its own folder, as the peer most people use.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crashScript, delaysFrom, measure, sleep, stormShell, type Peer, type Footprint } from '../lib.ts';

export class Supervisord implements Peer {
  readonly name = 'supervisord';
  private proc: ChildProcess | undefined;
  private conf = '';

  async unavailable(): Promise<string | undefined> {
    return spawnSync('supervisord', ['--version']).error ? 'supervisord is not installed (apt-get install supervisor)' : undefined;
  }

  private async start(dir: string, programs: string): Promise<void> {
    await this.stop();
    mkdirSync(join(dir, 'conf.d'), { recursive: true });
    this.conf = join(dir, 'supervisord.conf');
    writeFileSync(join(dir, 'conf.d', 'main.conf'), programs);
    writeFileSync(this.conf, `[unix_http_server]\nfile=${dir}/s.sock\n[supervisord]\nlogfile=${dir}/supervisord.log\npidfile=${dir}/s.pid\nchildlogdir=${dir}\nminfds=8192\nminprocs=4096\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n[supervisorctl]\nserverurl=unix://${dir}/s.sock\n[include]\nfiles = ${dir}/conf.d/*.conf\n`);
    this.proc = spawn('supervisord', ['-n', '-c', this.conf], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(join(dir, 's.sock')); i++) await sleep(25);
  }

  private async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([gone, sleep(60_000)]);
    this.proc = undefined;
  }

  private program(name: string, command: string): string {
    return `[program:${name}]\ncommand=${command}\nautorestart=true\nstartsecs=0\nstartretries=1000000\nstdout_logfile=NONE\nstderr_logfile=NONE\n`;
  }

  async restartDelays(configuredMs: number, restarts: number, dir: string): Promise<number[] | string> {
    if (configuredMs !== 0) return 'no restart delay setting (restarts at once)';
    restarts = Math.min(restarts, 15); // each takes ~1 s (its tick); 15 show the distribution
    const w = join(dir, 'work');
    await this.start(dir, this.program('crash', crashScript(w)));
    for (let i = 0; i < 2000 && delaysFrom(w).length < restarts; i++) await sleep(20);
    await this.stop();
    return delaysFrom(w).slice(0, restarts);
  }

  async startLatencies(n: number, dir: string): Promise<number[]> {
    await this.start(dir, '');
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const marker = join(dir, `started-${i}`);
      const t0 = Date.now() * 1e6;
      writeFileSync(join(dir, 'conf.d', `s${i}.conf`), this.program(`s${i}`, `/bin/sh -c 'date +%%s%%N > ${marker}; exec sleep 1000'`));
      spawnSync('supervisorctl', ['-c', this.conf, 'update']);
      for (let k = 0; k < 1000 && !existsSync(marker); k++) await sleep(2);
      await sleep(5);
      out.push((Number(readFileSync(marker, 'utf8')) - t0) / 1e6);
    }
    await this.stop();
    return out;
  }

  async footprint(count: number, storm: boolean, seconds: number, dir: string): Promise<Footprint> {
    const starts = join(dir, 'storm-starts');
    const cmd = storm ? `/bin/sh -c '${stormShell(starts, 2)}'` : '/bin/sleep 100000';
    let conf = '';
    for (let i = 0; i < count; i++) conf += this.program(`f${i}`, cmd);
    await this.start(dir, conf);
    let responsive = true;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const r = spawnSync('supervisorctl', ['-c', this.conf, 'status'], { encoding: 'utf8', timeout: 10_000 });
      if (r.error || r.signal) { responsive = false; break; }
      if (r.stdout.split('\n').filter((l) => /RUNNING|STARTING|BACKOFF|EXITED/.test(l)).length >= count) break;
      await sleep(200);
    }
    await sleep(2000);
    const pid = this.proc!.pid!;
    const f = await measure(() => [pid], seconds, count, storm ? starts : undefined);
    await this.stop();
    const notes = [storm ? 'no restart delay: programs sleep 2 s instead of 1 s + RestartSec=1s' : '', responsive ? '' : 'supervisorctl status did not answer within 10 s'].filter(Boolean);
    return { ...f, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
  }

  async cleanup(): Promise<void> { await this.stop(); }
}
