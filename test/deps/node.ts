// A simulated node for the dependency engine: the real per-unit engine (src/engine decide()) for
// every service, the dependency engine (src/deps decide()) above them, wired the way the agent is
// meant to wire them (src/deps/glue.ts), and a fake runner with an exact clock that interprets the
// oracle sets' small /bin/sh scripts: `echo X >> /tmp/oracle-deps.log`, `sleep N`, `exec sleep N`, `[ $(grep -c …) -ge N ] && …`,
// `systemd-notify --ready`, `exit N`, /bin/true, /bin/false.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertText } from '../../src/unitfile/index.ts';
import { decide as engineDecide, INITIAL_MACHINE, configFromSpec, properties, type Machine, type ServiceConfig, type Event } from '../../src/engine/index.ts';
import {
  buildGraph, decide as depsDecide, deps, depsFromSpec, initialState, depsEventsFromEngine, engineEventFor,
  type DepsEvent, type DepsState, type JobMode, type Graph, type UnitDeps, type JobResult,
} from '../../src/deps/index.ts';

interface Proc { pid: number; unit: string; steps: string[]; alive: boolean }
export interface LogLine { readonly ms: number; readonly text: string }
export interface JobDone { readonly ms: number; readonly unit: string; readonly type: string; readonly result: JobResult }
export interface Change { readonly ms: number; readonly unit: string; readonly ActiveState: string; readonly SubState: string; readonly Result: string; readonly NRestarts: number }

export const SET_TARGET = 'oracle-set.target';

export class Node {
  now = 1; // µs since the set started (not 0: a rate limit that began at 0 counts as never begun)
  readonly graph: Graph;
  ds: DepsState;
  readonly machines = new Map<string, Machine>();
  readonly cfgs = new Map<string, ServiceConfig>();
  readonly log: LogLine[] = [];
  readonly journal: string[] = [];
  readonly jobsDone: JobDone[] = [];
  readonly requestErrors: string[] = [];
  readonly changes: Change[] = [];
  private queue: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  private nextPid = 1000;
  private procs = new Map<number, Proc>();
  private work: Array<() => void> = [];

  constructor(files: Readonly<Record<string, string>>, start: readonly string[]) {
    const units: Record<string, UnitDeps> = {};
    for (const [name, text] of Object.entries(files)) {
      const spec = convertText(text, name).object.spec;
      units[name] = depsFromSpec(spec);
      // automatic restarts are the dependency engine's jobs, as the agent wires them (src/agent/host.ts)
      this.cfgs.set(name, { ...configFromSpec(spec, name), restartByJob: true });
      this.machines.set(name, INITIAL_MACHINE);
    }
    // run-set's oracle-set.target: Wants= the units to start (targets order After= what they want)
    units[SET_TARGET] = deps({ target: true, wants: start, after: start });
    this.graph = buildGraph(units);
    this.ds = initialState(this.graph);
  }

  static fromDir(dir: string): Node {
    const files: Record<string, string> = {};
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.service')).sort()) files[f] = readFileSync(join(dir, f), 'utf8');
    const start = readFileSync(join(dir, 'start'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);
    const node = new Node(files, start);
    node.request(SET_TARGET, 'start');
    if (existsSync(join(dir, 'actions'))) {
      for (const line of readFileSync(join(dir, 'actions'), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean)) {
        const [ms, verb, unit] = line.split(/\s+/) as [string, string, string];
        // `systemctl isolate X` is a start job in mode isolate
        node.at(Number(ms) * 1000, () => (verb === 'isolate' ? node.request(unit, 'start', 'isolate') : node.request(unit, verb as 'start' | 'stop' | 'restart' | 'reload')));
      }
    }
    return node;
  }

  get ms(): number { return this.now / 1000; }
  at(delayUs: number, fn: () => void): void { this.queue.push({ at: this.now + delayUs, seq: this.seq++, fn }); }

  request(unit: string, type: 'start' | 'stop' | 'restart' | 'reload' | 'try-restart' | 'reload-or-start', mode: JobMode = 'replace'): void {
    this.work.push(() => this.toDeps({ t: 'request', unit, type, mode }));
    this.drain();
  }

  private drain(): void {
    while (this.work.length > 0) this.work.shift()!();
  }

  /** The agent's side of the seam: feed the dependency engine, hand its commands to the service engines. */
  private toDeps(ev: DepsEvent): void {
    const d = depsDecide(this.ds, ev, this.graph, this.now);
    this.ds = d.state;
    for (const e of d.effects) {
      const cmd = engineEventFor(e);
      if (cmd) { this.work.push(() => this.toEngine(cmd.unit, cmd.event)); continue; }
      if (e.t === 'log' && e.level !== 'debug') this.journal.push(e.message);
      if (e.t === 'job-done') this.jobsDone.push({ ms: this.ms, unit: e.unit, type: e.type, result: e.result });
      if (e.t === 'request-failed') this.requestErrors.push(`${e.unit}: ${e.error}`);
      if (e.t === 'arm-job-timer') this.at(e.deadline - this.now, () => { this.work.push(() => this.toDeps({ t: 'job-timer', id: e.id })); });
    }
  }

  private toEngine(unit: string, ev: Event): void {
    const cfg = this.cfgs.get(unit);
    if (!cfg) return;
    if (ev.t === 'exited') { const p = this.procs.get(ev.pid); if (p) p.alive = false; }
    const d = engineDecide(this.machines.get(unit)!, ev, cfg, this.now);
    this.machines.set(unit, d.machine);
    for (const e of d.effects) {
      switch (e.t) {
        case 'spawn': {
          const pid = this.nextPid++;
          const argv = e.command.argv;
          const script = argv[0] === '/bin/sh' && argv[1] === '-c' ? argv[2] ?? '' : argv.join(' ');
          const p: Proc = { pid, unit, steps: script.split(';').map((s) => s.trim()).filter(Boolean), alive: true };
          this.procs.set(pid, p);
          this.at(1000, () => { this.engine(unit, { t: 'spawned', role: e.role, pid }); this.engine(unit, { t: 'exec-ok', pid }); this.step(p); });
          break;
        }
        case 'kill':
          for (const target of e.targets) {
            const m = this.machines.get(unit)!;
            const pids = target === 'main' ? [m.mainPid] : target === 'control' ? [m.controlPid]
              : [...this.procs.values()].filter((p) => p.unit === unit && p.pid !== m.mainPid && p.pid !== m.controlPid).map((p) => p.pid);
            for (const pid of pids) {
              const p = this.procs.get(pid);
              if (!p || !p.alive || e.signal === 0) continue;
              this.at(1000, () => this.exit(p, 'killed', e.signal));
            }
          }
          break;
        case 'arm-timer': this.at(e.deadline - this.now, () => this.engine(unit, { t: 'timer', gen: e.gen })); break;
        case 'find-main-pid': this.at(0, () => this.engine(unit, { t: 'main-pid', pid: undefined })); break;
        case 'log': this.journal.push(`${unit}: ${e.message}`); break;
        default: break;
      }
    }
    this.record(unit);
    for (const de of depsEventsFromEngine(unit, d.effects)) this.work.push(() => this.toDeps(de));
  }

  private engine(unit: string, ev: Event): void { this.work.push(() => this.toEngine(unit, ev)); this.drain(); }

  private exit(p: Proc, code: 'exited' | 'killed', status: number): void {
    if (!p.alive) return;
    p.alive = false;
    this.engine(p.unit, { t: 'exited', pid: p.pid, code, status });
    if (![...this.procs.values()].some((q) => q.unit === p.unit && q.alive)) this.engine(p.unit, { t: 'group-empty' });
  }

  /** Runs the process's script from its next step. */
  private step(p: Proc): void {
    while (p.alive) {
      const s = p.steps.shift();
      if (s === undefined || s === '/bin/true' || s === 'true') { this.exit(p, 'exited', 0); return; }
      let m: RegExpExecArray | null;
      if ((m = /^echo (.*) >> \/tmp\/oracle-deps\.log$/.exec(s))) { this.log.push({ ms: this.ms, text: m[1]! }); continue; }
      if ((m = /^(?:exec )?sleep ([\d.]+)$/.exec(s))) { this.at(Number(m[1]) * 1_000_000, () => this.step(p)); return; }
      if (s === 'systemd-notify --ready') { this.engine(p.unit, { t: 'notify', pid: p.pid, fields: { READY: '1' } }); continue; }
      if ((m = /^exit (\d+)$/.exec(s))) { this.exit(p, 'exited', Number(m[1])); return; }
      if (s === '/bin/false' || s === 'false') { this.exit(p, 'exited', 1); return; }
      // `[ $(grep -c "X" /tmp/oracle-deps.log) -ge N ] && CMD`: CMD once X was logged N times (a unit that fails only the first time)
      if ((m = /^\[ \$\(grep -c "(.*)" \/tmp\/oracle-deps\.log\) -ge (\d+) \] && (.*)$/.exec(s))) {
        if (this.log.filter((l) => l.text === m![1]).length >= Number(m[2])) p.steps.unshift(m[3]!);
        continue;
      }
      throw new Error(`simulated shell: cannot run "${s}"`);
    }
  }

  private record(unit: string): void {
    const p = properties(this.machines.get(unit)!);
    const last = [...this.changes].reverse().find((c) => c.unit === unit);
    if (last && last.ActiveState === p.ActiveState && last.SubState === p.SubState && last.Result === p.Result && last.NRestarts === p.NRestarts) return;
    this.changes.push({ ms: this.ms, unit, ActiveState: p.ActiveState, SubState: p.SubState, Result: p.Result, NRestarts: p.NRestarts });
  }

  runFor(ms: number): this {
    const end = ms * 1000;
    for (let i = 0; i < 200_000; i++) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.now = next.at;
      next.fn();
      this.drain();
    }
    this.now = Math.max(this.now, end);
    return this;
  }

  final(unit: string): { ActiveState: string; SubState: string; Result: string; NRestarts: number } {
    const p = properties(this.machines.get(unit)!);
    return { ActiveState: p.ActiveState, SubState: p.SubState, Result: p.Result, NRestarts: p.NRestarts };
  }

  /** When the unit's service engine was first asked to start / became active (ms), for ordering checks. */
  firstStart(unit: string): number | undefined { return this.changes.find((c) => c.unit === unit && c.ActiveState !== 'inactive' && c.ActiveState !== 'failed')?.ms; }
}
