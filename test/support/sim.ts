// A discrete-event simulator for the pure engine: a fake runner with an exact clock, so
// restart delays, start limits and timeouts are tested to the microsecond. Commands are
// scripts the simulator understands (the real process runner has its own integration tests):
//   sim-exit CODE MS        exit with CODE after MS milliseconds
//   sim-signal SIG MS       die of signal SIG (number) after MS
//   sim-run                 run until killed (SIGTERM kills it)
//   sim-stubborn            ignore SIGTERM; only SIGKILL kills it
//   sim-ready MS            send READY=1 after MS, then run until killed
//   sim-fork MS PID         (forking) exit 0 after MS leaving daemon PID running
import { decide, INITIAL_MACHINE, configFromSpec, properties, type Machine, type Event, type ServiceConfig } from '../../src/engine/index.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

export interface Sample { readonly ms: number; readonly ActiveState: string; readonly SubState: string; readonly Result: string; readonly NRestarts: number }
interface Proc { pid: number; argv: readonly string[]; stubborn: boolean }

export class Sim {
  now = 1_000_000_000; // µs; an arbitrary epoch
  readonly t0: number;
  m: Machine = INITIAL_MACHINE;
  readonly cfg: ServiceConfig;
  readonly timeline: Sample[] = [];
  readonly signals: Array<{ ms: number; pid: number; signal: number }> = [];
  readonly spawned: Array<{ ms: number; kind: string; argv: readonly string[]; env: Readonly<Record<string, string>> }> = [];
  readonly logs: string[] = [];
  private queue: Array<{ at: number; seq: number; ev: Event }> = [];
  private seq = 0;
  private nextPid = 100;
  private procs = new Map<number, Proc>();

  constructor(spec: ServiceUnitSpec) {
    this.cfg = configFromSpec(spec, 'sim.service');
    this.t0 = this.now;
    this.record();
  }

  private at(delayUs: number, ev: Event): void { this.queue.push({ at: this.now + delayUs, seq: this.seq++, ev }); }

  private record(): void {
    const p = properties(this.m);
    const last = this.timeline[this.timeline.length - 1];
    const s = { ms: (this.now - this.t0) / 1000, ActiveState: p.ActiveState, SubState: p.SubState, Result: p.Result, NRestarts: p.NRestarts };
    if (!last || last.ActiveState !== s.ActiveState || last.SubState !== s.SubState || last.Result !== s.Result || last.NRestarts !== s.NRestarts) this.timeline.push(s);
  }

  send(ev: Event): void {
    if (ev.t === 'exited') this.procs.delete(ev.pid);
    const d = decide(this.m, ev, this.cfg, this.now);
    this.m = d.machine;
    for (const e of d.effects) {
      switch (e.t) {
        case 'spawn': {
          const pid = this.nextPid++;
          const argv = e.command.argv;
          this.spawned.push({ ms: (this.now - this.t0) / 1000, kind: e.kind, argv, env: e.env });
          this.procs.set(pid, { pid, argv, stubborn: argv[0] === 'sim-stubborn' });
          this.at(0, { t: 'spawned', role: e.role, pid });
          this.at(0, { t: 'exec-ok', pid });
          const n = (i: number): number => Number(argv[i] ?? 0);
          if (argv[0] === 'sim-exit') this.at(n(2) * 1000, { t: 'exited', pid, code: 'exited', status: n(1) });
          if (argv[0] === 'sim-signal') this.at(n(2) * 1000, { t: 'exited', pid, code: n(1) === 11 || n(1) === 6 ? 'dumped' : 'killed', status: n(1) });
          if (argv[0] === 'sim-ready') this.at(n(1) * 1000, { t: 'notify', pid, fields: { READY: '1' } });
          if (argv[0] === 'sim-fork') {
            const daemon = n(2);
            this.procs.set(daemon, { pid: daemon, argv: ['daemon'], stubborn: false });
            this.at(n(1) * 1000, { t: 'exited', pid, code: 'exited', status: 0 });
          }
          break;
        }
        case 'kill':
          for (const target of e.targets) {
            const pids = target === 'main' ? [this.m.mainPid] : target === 'control' ? [this.m.controlPid] : [...this.procs.keys()].filter((p) => p !== this.m.mainPid && p !== this.m.controlPid);
            for (const pid of pids) {
              const p = this.procs.get(pid);
              if (!p) continue;
              this.signals.push({ ms: (this.now - this.t0) / 1000, pid, signal: e.signal });
              if (e.signal === 9 || !p.stubborn) this.at(1000, { t: 'exited', pid, code: e.signal === 6 ? 'dumped' : 'killed', status: e.signal });
            }
          }
          break;
        case 'arm-timer': this.at(e.deadline - this.now, { t: 'timer', gen: e.gen }); break;
        case 'arm-watchdog': this.at(e.deadline - this.now, { t: 'watchdog-timer' }); break;
        case 'find-main-pid': {
          const daemon = [...this.procs.values()].find((p) => p.argv[0] === 'daemon');
          this.at(0, { t: 'main-pid', pid: daemon?.pid });
          break;
        }
        case 'log': this.logs.push(e.message); break;
        default: break;
      }
    }
    if (ev.t === 'exited' && this.procs.size === 0) this.at(0, { t: 'group-empty' });
    this.record();
  }

  /** Runs events in time order until `ms` milliseconds after the start (bounded). */
  runFor(ms: number): this {
    const end = this.t0 + ms * 1000;
    for (let steps = 0; steps < 100_000; steps++) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.now = next.at;
      this.send(next.ev);
    }
    this.now = Math.max(this.now, end);
    return this;
  }

  get props(): ReturnType<typeof properties> { return properties(this.m); }

  /** Times (ms) at which the unit entered a SubState. */
  entered(sub: string): number[] { return this.timeline.filter((s) => s.SubState === sub).map((s) => s.ms); }
}

export const run = (spec: ServiceUnitSpec['service'], unit: ServiceUnitSpec['unit'] = {}, ms = 10_000): Sim => {
  const sim = new Sim({ service: spec, unit });
  sim.send({ t: 'start' });
  return sim.runFor(ms);
};
