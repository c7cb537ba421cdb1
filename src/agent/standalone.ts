// The standalone agent: runs the ServiceUnits of a folder with no cluster (kubelet's static
// pods idea). Reacts to files added, changed and removed; keeps each unit's state under the
// state folder so that a restarted agent re-adopts its services; answers the CLI on a Unix
// socket. Imperative commands (unitctl stop) hold until the unit's file changes, like systemctl.

import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdirSync, readdirSync, rmSync, watch, type FSWatcher, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnitRunner, specHash } from '../runner/unit.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { loadManifests, type ManifestProblem, type ManifestCache } from './manifests.ts';
import { unitStatus } from './status.ts';
import type { Request, Response, UnitStatus } from './protocol.ts';

export interface AgentOptions {
  readonly manifestsDir: string;
  readonly stateDir: string;
  readonly shimPath: string;
  readonly log: (level: 'info' | 'notice' | 'warning' | 'error', message: string, fields?: Record<string, unknown>) => void;
  readonly rescanMs?: number;
  readonly onChange?: () => void;
}

interface Managed {
  runner: UnitRunner;
  file: string;
  hash: string;
  /** Removed from the manifests: stop, then forget. */
  removing: boolean;
}

export function socketPath(stateDir: string): string { return join(stateDir, 'agent.sock'); }

/** Fields whose change needs a restart (everything that shapes the processes). */
function runtimeHash(spec: ServiceUnitSpec): string {
  const unit = { ...(spec.unit ?? {}) };
  for (const k of ['description', 'documentation']) delete unit[k];
  return specHash({ ...spec, unit, install: {} });
}

export class StandaloneAgent {
  readonly units = new Map<string, Managed>();
  problems: ManifestProblem[] = [];
  private readonly opts: AgentOptions;
  private server: Server | undefined;
  private watcher: FSWatcher | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private lastProblems = '';
  private readonly cache: ManifestCache = new Map();
  private debounce: NodeJS.Timeout | undefined;

  constructor(opts: AgentOptions) { this.opts = opts; }

  private unitsDir(): string { return join(this.opts.stateDir, 'units'); }

  async start(): Promise<void> {
    mkdirSync(this.unitsDir(), { recursive: true });
    writeFileSync(join(this.opts.stateDir, 'agent.pid'), `${process.pid}\n`);
    // Units a previous agent ran whose file is gone now: adopt them so they can be stopped.
    const { units } = loadManifests(this.opts.manifestsDir);
    const wanted = new Set(units.map((u) => u.unitName));
    for (const name of readdirSync(this.unitsDir())) {
      if (wanted.has(name) || !existsSync(join(this.unitsDir(), name, 'state.json'))) continue;
      const saved = JSON.parse(readFileSync(join(this.unitsDir(), name, 'state.json'), 'utf8')) as { spec?: ServiceUnitSpec };
      const runner = this.openRunner(name, saved.spec ?? { service: { type: 'oneshot', remainAfterExit: true } });
      this.units.set(name, { runner, file: '(removed)', hash: '', removing: true });
      runner.stop();
    }
    this.reconcile();
    await this.listen();
    try {
      // a burst of file events (an editor saving, a git checkout) becomes one reconcile
      this.watcher = watch(this.opts.manifestsDir, () => {
        if (this.debounce) return;
        this.debounce = setTimeout(() => { this.debounce = undefined; this.reconcile(); }, 20);
      });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
    } catch { /* the periodic rescan covers it */ }
    // the periodic rescan is a safety net for missed events; unchanged files are not re-read
    this.rescan = setInterval(() => { this.reconcile(); this.forgetStopped(); }, this.opts.rescanMs ?? 2000);
  }

  private openRunner(name: string, spec: ServiceUnitSpec): UnitRunner {
    return UnitRunner.open({
      unitName: name, spec, dir: join(this.unitsDir(), name), shimPath: this.opts.shimPath,
      onLog: (level, message) => this.opts.log(level, message, { unit: name }),
      onChange: () => this.opts.onChange?.(),
    });
  }

  /** Brings the running units in line with the folder (level-based: safe to call any time). */
  reconcile(): void {
    const { units, problems } = loadManifests(this.opts.manifestsDir, this.cache);
    this.problems = problems;
    const text = JSON.stringify(problems);
    if (text !== this.lastProblems) {
      this.lastProblems = text;
      for (const p of problems) this.opts.log('error', `${p.file}: ${p.message} (skipped; the other units keep running)`);
    }
    const seen = new Set<string>();
    for (const u of units) {
      seen.add(u.unitName);
      const spec = u.object.spec;
      const hash = runtimeHash(spec);
      const cur = this.units.get(u.unitName);
      if (!cur || cur.removing) {
        const fresh = !existsSync(join(this.unitsDir(), u.unitName, 'state.json'));
        const adoptedHash = fresh ? hash : (readSavedHash(join(this.unitsDir(), u.unitName)) ?? hash);
        const runner = cur?.runner ?? this.openRunner(u.unitName, spec);
        runner.updateSpec(spec);
        this.units.set(u.unitName, { runner, file: u.file, hash, removing: false });
        if (spec.masked || spec.state === 'stopped') { runner.stop(); continue; }
        if (fresh) { this.opts.log('info', `Starting ${u.unitName} (${u.file})`); runner.start(); }
        else if (adoptedHash !== hash) { this.opts.log('info', `${u.unitName} changed while the agent was down; restarting`); runner.restart(); }
        else this.opts.log('info', `Adopted ${u.unitName}: ${runner.props.ActiveState} (${runner.props.SubState}), MainPID ${runner.props.MainPID}`);
        continue;
      }
      cur.file = u.file;
      const stateChanged = (cur.runner.spec.state ?? 'running') !== (spec.state ?? 'running') || !!cur.runner.spec.masked !== !!spec.masked;
      if (hash !== cur.hash) {
        cur.runner.updateSpec(spec);
        cur.hash = hash;
        if (spec.masked || spec.state === 'stopped') cur.runner.stop();
        else { this.opts.log('info', `${u.unitName} changed; restarting (daemon-reload + restart)`); cur.runner.restart(); }
      } else if (stateChanged || JSON.stringify(cur.runner.spec) !== JSON.stringify(spec)) {
        cur.runner.updateSpec(spec);
        if (stateChanged) { if (spec.masked || spec.state === 'stopped') cur.runner.stop(); else cur.runner.start(); }
      }
    }
    for (const [name, m] of this.units) {
      if (seen.has(name) || m.removing) continue;
      this.opts.log('info', `${name}: its file is gone; stopping it`);
      m.removing = true;
      m.runner.stop();
    }
    this.forgetStopped();
  }

  private forgetStopped(): void {
    for (const [name, m] of this.units) {
      if (!m.removing) continue;
      const s = m.runner.props.ActiveState;
      if ((s === 'inactive' || s === 'failed') && m.runner.unitProcesses().length === 0) {
        m.runner.close();
        rmSync(join(this.unitsDir(), name), { recursive: true, force: true });
        this.units.delete(name);
        this.opts.log('info', `${name}: stopped and forgotten`);
      }
    }
  }

  status(name: string): UnitStatus | undefined {
    const m = this.units.get(name) ?? this.units.get(`${name}.service`);
    return m ? unitStatus(m.runner, m.file) : undefined;
  }

  list(): UnitStatus[] {
    return [...this.units.values()].filter((m) => !m.removing).map((m) => unitStatus(m.runner, m.file)).sort((a, b) => a.Id.localeCompare(b.Id));
  }

  handle(req: Request): Response {
    switch (req.cmd) {
      case 'ping': return { ok: true };
      case 'stats': {
        const rs = [...this.units.values()].map((m) => m.runner);
        return { ok: true, stats: { units: rs.length, stateWrites: rs.reduce((a, r) => a + r.stateWrites, 0), decisions: rs.reduce((a, r) => a + r.decisions, 0), pid: process.pid } };
      }
      case 'list': return { ok: true, units: this.list() };
      case 'problems': return { ok: true, problems: this.problems };
      case 'status': {
        const s = this.status(req.unit);
        return s ? { ok: true, unit: s } : { ok: false, error: `Unit ${req.unit} could not be found.` };
      }
      case 'start': case 'stop': case 'restart': case 'reload': case 'reset-failed': {
        const m = this.units.get(req.unit) ?? this.units.get(`${req.unit}.service`);
        if (!m) return { ok: false, error: `Unit ${req.unit} not found.` };
        if (m.runner.spec.masked && req.cmd !== 'stop') return { ok: false, error: `Unit ${m.runner.unitName} is masked.` };
        if (req.cmd === 'reload' && m.runner.cfg.exec.reload.length === 0 && m.runner.cfg.type !== 'notify-reload') {
          return { ok: false, error: `Job for ${m.runner.unitName} canceled: the unit has no ExecReload= (Job type reload is not applicable for unit ${m.runner.unitName}).` };
        }
        ({ start: () => m.runner.start(), stop: () => m.runner.stop(), restart: () => m.runner.restart(), reload: () => m.runner.reload(), 'reset-failed': () => m.runner.resetFailed() })[req.cmd]();
        return { ok: true, unit: unitStatus(m.runner, m.file) };
      }
    }
  }

  private listen(): Promise<void> {
    const path = socketPath(this.opts.stateDir);
    rmSync(path, { force: true });
    this.server = createServer((sock: Socket) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let res: Response;
          try { res = this.handle(JSON.parse(line) as Request); } catch (e) { res = { ok: false, error: `bad request: ${(e as Error).message}` }; }
          sock.write(JSON.stringify(res) + '\n');
        }
      });
      sock.on('error', () => sock.destroy());
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => resolve());
    });
  }

  /** Stops watching and answering. With stopUnits, stops every unit first (ExecStop= runs). */
  async shutdown(stopUnits: boolean, timeoutMs = 30_000): Promise<void> {
    if (this.rescan) clearInterval(this.rescan);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    if (stopUnits) {
      for (const m of this.units.values()) m.runner.stop();
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && [...this.units.values()].some((m) => !['inactive', 'failed'].includes(m.runner.props.ActiveState))) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (const m of this.units.values()) m.runner.close();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    rmSync(socketPath(this.opts.stateDir), { force: true });
  }
}

function readSavedHash(dir: string): string | undefined {
  try {
    const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { spec?: ServiceUnitSpec };
    return s.spec ? runtimeHash(s.spec) : undefined;
  } catch { return undefined; }
}
