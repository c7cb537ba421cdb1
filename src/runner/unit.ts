// UnitRunner: one service on this node. It feeds OS happenings (from the shims' event logs and
// timers) to the pure engine and carries out the effects it decides: spawning through uo-shim,
// signals, timers. The machine and the log offsets are saved together before any effect runs,
// so a restarted agent re-adopts running services, learns exits that happened meanwhile, and
// never starts a second copy.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, renameSync, existsSync, watch, type FSWatcher, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { decide, configFromSpec, properties, INITIAL_MACHINE, ACTIVE_STATE, type Machine, type Event, type Effect, type ServiceConfig, type Role, type ExecKind } from '../engine/index.ts';
import { expandCommand } from '../api/cmdline.ts';
import type { ServiceUnitSpec } from '../api/types.ts';
import { parseShimLine, readNewLines } from './tail.ts';
import { descendants, children, isAlive, signal } from './procfs.ts';
import { buildEnvironment, expandSpecifiers, lookupUser, lookupGroup, memberGroups, type Account } from './environment.ts';

export interface SpawnRecord {
  readonly seq: number;
  readonly dir: string;
  readonly role: Role;
  readonly kind: ExecKind;
  readonly index: number;
  shimPid: number;
  pid: number;
  offset: number;
  done: boolean;
  started: boolean;
}

interface Persisted {
  readonly version: 1;
  readonly unitName: string;
  readonly specHash: string;
  readonly invocationId: string;
  readonly machine: Machine;
  readonly spawns: SpawnRecord[];
  readonly seq: number;
  readonly mainCommandLine: string | undefined;
  readonly spec: ServiceUnitSpec;
  /** The agent's id for the unit (namespace/name in a cluster). */
  readonly id?: string;
}

export interface UnitRunnerOptions {
  readonly unitName: string;
  readonly spec: ServiceUnitSpec;
  /** This unit's own folder (state, run records, logs). */
  readonly dir: string;
  readonly shimPath: string;
  readonly clock?: () => number;
  readonly agentEnv?: Readonly<Record<string, string | undefined>>;
  readonly logMaxBytes?: number;
  readonly onChange?: (r: UnitRunner) => void;
  /** Called after every engine decision with the unit's properties (for exact timelines). */
  readonly onDecision?: (props: ReturnType<typeof properties>, machine: Machine) => void;
  readonly onLog?: (level: 'info' | 'notice' | 'warning', message: string) => void;
  /** The host's root file system when the agent runs in a container (commands run chroot()ed there). */
  readonly hostRoot?: string;
  /**
   * How often to look at the event logs of spawns inotify does not watch (ms). Watched ones are
   * looked at every SAFETY_NET_TICKS-th time only: a safety net for lost inotify events.
   * 0: no timer of its own; the owner calls pollTick() (one timer for all of an agent's units:
   * 1,000 timers of their own wake the event loop 200 times a second).
   */
  readonly pollMs?: number;
}

/** Watched spawns are polled on every 6th tick of the poller (30 s with the default 5 s). */
const SAFETY_NET_TICKS = 6;

export function monotonicUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function specHash(spec: ServiceUnitSpec): string {
  const { state: _s, nodeName: _n, nodeSelector: _ns, ...rest } = spec;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

export class UnitRunner {
  readonly unitName: string;
  readonly dir: string;
  cfg: ServiceConfig;
  spec: ServiceUnitSpec;
  machine: Machine = INITIAL_MACHINE;
  spawns: SpawnRecord[] = [];
  invocationId = '';
  mainCommandLine: string | undefined;
  /** Problems that keep the unit from running as written (bad EnvironmentFile=, unknown User=). */
  readonly problems: string[] = [];
  private seq = 0;
  /** State-file writes and engine decisions so far (the benchmark reports them). */
  stateWrites = 0;
  decisions = 0;
  private dirty = false;
  /** While > 0, state writes wait for the end of the batch (a poll of one event log). */
  private batchDepth = 0;
  private readonly opts: UnitRunnerOptions;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private readonly watchers = new Map<number, FSWatcher>();
  private pollTicks = 0;
  private readonly queue: Event[] = [];
  private dispatching = false;
  private closed = false;

  private constructor(opts: UnitRunnerOptions) {
    this.opts = opts;
    this.unitName = opts.unitName;
    this.dir = opts.dir;
    this.spec = opts.spec;
    this.cfg = configFromSpec(opts.spec, opts.unitName);
    this.clock = opts.clock ?? monotonicUs;
  }

  /** Opens a unit: adopts what a previous agent left in `dir` (processes, exits, timers). */
  static open(opts: UnitRunnerOptions): UnitRunner {
    const r = new UnitRunner(opts);
    mkdirSync(join(r.dir, 'run'), { recursive: true });
    const saved = r.load();
    if (saved) {
      r.machine = saved.machine;
      r.spawns = saved.spawns;
      r.seq = saved.seq;
      r.invocationId = saved.invocationId;
      r.mainCommandLine = saved.mainCommandLine;
      r.id = saved.id;
      if (saved.specHash !== specHash(opts.spec)) {
        // The spec changed while we were away: keep running what runs under the old config
        // until the caller decides (the agent restarts a unit whose command changed).
      }
      for (const s of r.spawns) if (!s.done) {
        if (!s.started && !existsSync(join(s.dir, 'events'))) { r.respawn(s); continue; }
        r.watch(s);
      }
      r.rearmTimers();
    }
    if (opts.pollMs !== 0) {
      r.poller = setInterval(() => r.pollTick(), opts.pollMs ?? 5000);
      r.poller.unref();
    }
    r.pollAll();
    return r;
  }

  private statePath(): string { return join(this.dir, 'state.json'); }

  private load(): Persisted | undefined {
    try {
      const p = JSON.parse(readFileSync(this.statePath(), 'utf8')) as Persisted;
      return p.version === 1 ? p : undefined;
    } catch { return undefined; }
  }

  private persist(): void {
    const p: Persisted = { version: 1, unitName: this.unitName, specHash: specHash(this.spec), invocationId: this.invocationId, machine: this.machine, spawns: this.spawns, seq: this.seq, mainCommandLine: this.mainCommandLine, spec: this.spec, ...(this.id !== undefined ? { id: this.id } : {}) };
    const tmp = `${this.statePath()}.tmp`;
    this.stateWrites++;
    this.dirty = false;
    writeFileSync(tmp, JSON.stringify(p));
    renameSync(tmp, this.statePath());
  }

  /** Applies a new spec (as after daemon-reload); the caller restarts the unit when it must. */
  updateSpec(spec: ServiceUnitSpec, id?: string): void {
    this.spec = spec;
    this.cfg = configFromSpec(spec, this.unitName);
    if (id !== undefined) this.id = id;
    this.persist();
  }

  /** The agent's id for this unit, saved with its state. */
  id: string | undefined;

  start(): void { this.send({ t: 'start' }); }
  stop(): void { this.send({ t: 'stop' }); }
  restart(): void { this.send({ t: 'restart' }); }
  reload(): void { this.send({ t: 'reload' }); }
  resetFailed(): void { this.send({ t: 'reset-failed' }); }

  get props(): ReturnType<typeof properties> { return properties(this.machine); }
  get activeState(): string { return ACTIVE_STATE[this.machine.state]; }

  /** Feeds one event to the engine and runs what it decides (events it causes are queued). */
  send(ev: Event): void {
    this.queue.push(ev);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      let changed = false;
      for (let guard = 0; this.queue.length > 0 && guard < 10_000; guard++) {
        const next = this.queue.shift()!;
        if (next.t === 'start' && (this.machine.state === 'dead' || this.machine.state === 'failed')) {
          this.invocationId = randomUUID().replaceAll('-', '');
          this.problems.length = 0;
        }
        const d = decide(this.machine, next, this.cfg, this.clock());
        this.decisions++;
        const before = this.machine.state;
        this.machine = d.machine;
        this.opts.onDecision?.(properties(this.machine), this.machine);
        // write-ahead: spawn records exist on disk before any process is started
        const spawnRecords = d.effects.filter((e): e is Extract<Effect, { t: 'spawn' }> => e.t === 'spawn').map((e) => this.allocate(e));
        if (spawnRecords.length > 0) this.persist();
        else this.dirty = true;
        let si = 0;
        for (const e of d.effects) this.execute(e, e.t === 'spawn' ? spawnRecords[si++] : undefined);
        if (d.machine.state !== before || d.effects.length > 0) changed = true;
      }
      if (this.batchDepth === 0) this.flush();
      if (changed) this.opts.onChange?.(this);
    } finally {
      this.dispatching = false;
    }
  }

  /** Writes the state if a decision changed it and no batch is open. */
  private flush(): void {
    if (this.dirty) { this.dirty = false; this.persist(); }
  }

  private allocate(e: Extract<Effect, { t: 'spawn' }>): SpawnRecord {
    const seq = ++this.seq;
    const rec: SpawnRecord = { seq, dir: join(this.dir, 'run', `${seq}-${e.kind}-${e.index}`), role: e.role, kind: e.kind, index: e.index, shimPid: 0, pid: 0, offset: 0, done: false, started: false };
    this.spawns.push(rec);
    return rec;
  }

  private log(level: 'info' | 'notice' | 'warning', message: string): void { this.opts.onLog?.(level, message); }

  /** A reason the unit can't run as written: logged, and kept for status until the next start. */
  private problem(message: string): void {
    this.log('warning', message);
    if (!this.problems.includes(message)) this.problems.push(message);
  }

  private execute(e: Effect, rec: SpawnRecord | undefined): void {
    switch (e.t) {
      case 'spawn': this.spawnShim(e, rec!); break;
      case 'kill': this.kill(e.targets, e.signal, e.sighup); break;
      case 'arm-timer': this.armTimer(e.deadline, e.gen); break;
      case 'disarm-timer': if (this.timer) { clearTimeout(this.timer); this.timer = undefined; } break;
      case 'arm-watchdog': this.armWatchdog(e.deadline); break;
      case 'disarm-watchdog': if (this.watchdog) { clearTimeout(this.watchdog); this.watchdog = undefined; } break;
      case 'find-main-pid': this.findMainPid(e.pidFile, e.guess, Date.now()); break;
      case 'log': this.log(e.level, e.message); break;
      case 'state-changed': break;
    }
  }

  private armTimer(deadline: number, gen: number): void {
    if (this.timer) clearTimeout(this.timer);
    const ms = Math.max(0, Math.ceil((deadline - this.clock()) / 1000));
    this.timer = setTimeout(() => { this.timer = undefined; this.send({ t: 'timer', gen }); }, Math.min(ms, 2_147_000_000));
  }

  private armWatchdog(deadline: number): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const ms = Math.max(0, Math.ceil((deadline - this.clock()) / 1000));
    this.watchdog = setTimeout(() => { this.watchdog = undefined; this.send({ t: 'watchdog-timer' }); }, Math.min(ms, 2_147_000_000));
  }

  private rearmTimers(): void {
    if (this.machine.timer) this.armTimer(this.machine.timer.deadline, this.machine.timer.gen);
    if (this.machine.watchdogDeadline !== undefined) this.armWatchdog(this.machine.watchdogDeadline);
  }

  private notifySocketPath(): string {
    const p = join(this.dir, 'notify.sock');
    return p.length < 100 ? p : `/tmp/uo-${createHash('sha256').update(this.dir).digest('hex').slice(0, 16)}.sock`;
  }

  private account(): { user: Account | undefined; gid: number | undefined; groups: number[]; failure?: number } {
    const s = this.spec.service ?? {};
    const ctx = { unitName: this.unitName };
    const userName = s['user'] !== undefined ? expandSpecifiers(String(s['user']), ctx) : undefined;
    const etc = (f: string): string => join(this.opts.hostRoot ?? '/', 'etc', f);
    const user = userName !== undefined ? lookupUser(userName, etc('passwd')) : undefined;
    if (userName !== undefined && !user) {
      this.problem(`Failed to determine user credentials: User=${userName} does not exist on this node`);
      return { user: undefined, gid: undefined, groups: [], failure: 217 };
    }
    const groupName = s['group'] !== undefined ? expandSpecifiers(String(s['group']), ctx) : undefined;
    const gid = groupName !== undefined ? lookupGroup(groupName, etc('group')) : user?.gid;
    if (groupName !== undefined && gid === undefined) {
      this.problem(`Failed to determine group credentials: Group=${groupName} does not exist on this node`);
      return { user, gid: undefined, groups: [], failure: 216 };
    }
    const supplementary = ((s['supplementaryGroups'] as string[] | undefined) ?? []).map((g) => lookupGroup(g, etc('group'))).filter((g): g is number => g !== undefined);
    const groups = user ? [...new Set([...memberGroups(user.name, etc('group')), ...supplementary])] : supplementary;
    return { user, gid, groups };
  }

  private spawnShim(e: Extract<Effect, { t: 'spawn' }>, rec: SpawnRecord): void {
    const s = this.spec.service ?? {};
    mkdirSync(rec.dir, { recursive: true });
    const privileged = e.command.flags.fullPrivileges || e.command.flags.noSetuid;
    const acct = this.account();
    const user = privileged ? undefined : acct.user;
    const ctx = { unitName: this.unitName, user: acct.user };
    const manager: Record<string, string> = { INVOCATION_ID: this.invocationId, ...e.env };
    const wantsNotify = this.cfg.notifyAccess !== 'none' || this.cfg.type === 'notify' || this.cfg.type === 'notify-reload';
    if (wantsNotify) manager['NOTIFY_SOCKET'] = this.notifySocketPath();
    if (e.role === 'main' && this.cfg.watchdogUSec > 0 && this.cfg.watchdogUSec !== Infinity) manager['WATCHDOG_USEC'] = String(this.cfg.watchdogUSec);
    const { env, problems } = buildEnvironment({
      environment: (s['environment'] as string[] | undefined) ?? [],
      environmentFiles: (s['environmentFile'] as string[] | undefined) ?? [],
      passEnvironment: (s['passEnvironment'] as string[] | undefined) ?? [],
      unsetEnvironment: (s['unsetEnvironment'] as string[] | undefined) ?? [],
      agentEnv: this.opts.agentEnv ?? process.env,
      ctx,
      managerEnv: manager,
    });
    for (const p of problems) this.problem(p);
    const argv = (e.command.flags.noEnvExpand ? [...e.command.argv] : expandCommand(e.command.argv.map((a) => expandSpecifiers(a, ctx)), env));
    const path = expandSpecifiers(e.command.path, ctx);
    if (e.role === 'main' && e.kind === 'start') this.mainCommandLine = [path, ...argv.slice(1)].join(' ');
    const shimEnv: Record<string, string> = { ...env };
    if (this.opts.hostRoot && this.opts.hostRoot !== '/') shimEnv['UO_SHIM_ROOT'] = this.opts.hostRoot;
    if (!privileged && acct.failure !== undefined) shimEnv['UO_SHIM_FAIL'] = String(acct.failure);
    if (user) shimEnv['UO_SHIM_UID'] = String(user.uid);
    if (!privileged && acct.gid !== undefined) shimEnv['UO_SHIM_GID'] = String(acct.gid);
    if (!privileged && (user || acct.groups.length > 0)) shimEnv['UO_SHIM_GROUPS'] = acct.groups.join(',');
    if (s['umask'] !== undefined) shimEnv['UO_SHIM_UMASK'] = String(s['umask']);
    const wd = s['workingDirectory'] !== undefined ? expandSpecifiers(String(s['workingDirectory']), ctx) : undefined;
    if (wd !== undefined) {
      const optional = wd.startsWith('-');
      const p = optional ? wd.slice(1) : wd;
      shimEnv['UO_SHIM_CWD'] = `${optional ? '-' : ''}${p === '~' ? (user?.home ?? '/root') : p}`;
    }
    for (const [k, v] of Object.entries(s)) {
      const m = /^limit([A-Z]+)$/.exec(k);
      if (m && v !== undefined) shimEnv[`UO_SHIM_RLIMIT_${m[1]}`] = String(v);
    }
    const out = outputSpec(s['standardOutput'], 'journal');
    const err = s['standardError'] === undefined || s['standardError'] === 'inherit' ? out : outputSpec(s['standardError'], out);
    shimEnv['UO_SHIM_STDOUT'] = out;
    shimEnv['UO_SHIM_STDERR'] = err;
    shimEnv['UO_SHIM_LOG'] = this.logPath();
    shimEnv['UO_SHIM_LOG_MAX'] = String(this.opts.logMaxBytes ?? 8 * 1024 * 1024);
    if (e.role === 'main' && wantsNotify) shimEnv['UO_SHIM_NOTIFY_SOCKET'] = this.notifySocketPath();
    this.watch(rec); // before the shim runs, so that none of its first lines go unnoticed
    const child = spawn(this.opts.shimPath, [join(rec.dir, 'events'), '--', path, ...argv], { detached: true, stdio: 'ignore', env: shimEnv });
    child.on('error', (err2) => { this.log('warning', `could not start uo-shim: ${err2.message}`); });
    child.on('exit', () => this.poll(rec));
    child.unref();
    rec.shimPid = child.pid ?? 0;
    rec.started = true;
  }

  private respawn(rec: SpawnRecord): void {
    const cmd = this.cfg.exec[rec.kind][rec.index];
    if (!cmd) { rec.done = true; return; }
    this.spawnShim({ t: 'spawn', role: rec.role, kind: rec.kind, index: rec.index, command: cmd, env: {} }, rec);
  }

  logPath(): string { return join(this.dir, 'journal.log'); }

  private watch(rec: SpawnRecord): void {
    if (this.watchers.has(rec.seq) || this.closed) return;
    try {
      const w = watch(rec.dir, () => this.poll(rec));
      w.on('error', () => { w.close(); this.watchers.delete(rec.seq); });
      this.watchers.set(rec.seq, w);
    } catch { /* the poller covers it */ }
  }

  /** One tick of the safety-net poller (see pollMs). */
  pollTick(): void {
    const all = ++this.pollTicks % SAFETY_NET_TICKS === 0;
    for (const rec of this.spawns) if (!rec.done && (all || !this.watchers.has(rec.seq))) this.poll(rec);
  }

  private pollAll(): void {
    for (const rec of this.spawns) if (!rec.done) this.poll(rec);
  }

  /** Reads what a shim wrote since last time and turns it into engine events. */
  private poll(rec: SpawnRecord): void {
    if (rec.done || this.closed) return;
    this.batchDepth++;
    try { this.pollBatch(rec); } finally { this.batchDepth--; }
    if (this.batchDepth === 0) this.flush();
  }

  private pollBatch(rec: SpawnRecord): void {
    const { lines, offset } = readNewLines(join(rec.dir, 'events'), rec.offset);
    for (const line of lines) {
      const ev = parseShimLine(line);
      if (!ev) continue;
      switch (ev.t) {
        case 'shim': rec.shimPid = ev.pid; break;
        case 'spawn': rec.pid = ev.pid; rec.offset = offset; this.send({ t: 'spawned', role: rec.role, pid: ev.pid }); break;
        case 'exec': this.send({ t: 'exec-ok', pid: ev.pid }); break;
        case 'exec-failed': this.log('warning', `Failed to execute ${this.cfg.exec[rec.kind][rec.index]?.path ?? '?'}: ${errnoText(ev.errno)} (exit status ${ev.status})`); break;
        case 'exit': this.send({ t: 'exited', pid: ev.pid, code: ev.code, status: ev.status }); break;
        case 'notify':
          // A lone BARRIER=1 (sd_notify_barrier(), sent by systemd-notify) is consumed by the
          // manager and never reaches the unit (manager_process_barrier_fd()).
          if (Object.keys(ev.fields).length === 1 && ev.fields['BARRIER'] === '1') break;
          this.send({ t: 'notify', pid: ev.pid || undefined, fields: ev.fields });
          break;
        case 'empty': rec.done = true; this.unwatch(rec); break;
      }
    }
    rec.offset = offset;
    if (!rec.done && rec.started && rec.shimPid > 0 && !isAlive(rec.shimPid)) {
      // The shim died without saying "empty" (killed from outside): what it held is gone or orphaned.
      const again = readNewLines(join(rec.dir, 'events'), rec.offset);
      if (again.lines.length > 0) { this.pollBatch(rec); return; }
      this.log('warning', `uo-shim ${rec.shimPid} of ${this.unitName} vanished; treating its processes as killed`);
      if (rec.pid > 0) this.send({ t: 'exited', pid: rec.pid, code: 'killed', status: 9 });
      rec.done = true;
      this.unwatch(rec);
    }
    if (lines.length > 0 || rec.done) {
      if (this.spawns.every((s) => s.done)) {
        this.spawns = this.spawns.filter((s) => { if (s.done) rmSync(s.dir, { recursive: true, force: true }); return !s.done; });
        this.send({ t: 'group-empty' });
      }
      this.dirty = true;
    }
  }

  private unwatch(rec: SpawnRecord): void {
    this.watchers.get(rec.seq)?.close();
    this.watchers.delete(rec.seq);
  }

  /** Every live process of the unit except the shims themselves. */
  unitProcesses(): number[] {
    const shims = this.spawns.filter((s) => !s.done && s.shimPid > 0 && isAlive(s.shimPid)).map((s) => s.shimPid);
    return descendants(shims);
  }

  private kill(targets: readonly string[], sig: number, sighup: boolean): void {
    const m = this.machine;
    const pids = new Set<number>();
    if (targets.includes('main') && m.mainPid > 0) pids.add(m.mainPid);
    if (targets.includes('control') && m.controlPid > 0) pids.add(m.controlPid);
    if (targets.includes('group')) for (const p of this.unitProcesses()) if (p !== m.mainPid && p !== m.controlPid) pids.add(p);
    for (const p of pids) {
      signal(p, sig);
      if (sig !== 9 && sig !== 18) signal(p, 18); // SIGCONT, as systemd does, so stopped processes see it
      if (sighup) signal(p, 1);
    }
  }

  private findMainPid(pidFile: string | undefined, guess: boolean, since: number): void {
    if (this.closed) return;
    if (pidFile) {
      const path = expandSpecifiers(pidFile, { unitName: this.unitName });
      try {
        const pid = Number(readFileSync(path, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) { this.send({ t: 'main-pid', pid }); return; }
      } catch { /* not there yet */ }
      // systemd waits for the PID file (inotify) until the start timeout; so do we, by polling.
      if (this.machine.state === 'start' && Date.now() - since < 600_000) setTimeout(() => this.findMainPid(pidFile, guess, since), 20).unref();
      return;
    }
    if (guess) {
      const rec = [...this.spawns].reverse().find((s) => s.kind === 'start');
      const kids = rec && rec.shimPid > 0 ? children(rec.shimPid) : [];
      this.send({ t: 'main-pid', pid: kids.length === 1 ? kids[0] : undefined });
      return;
    }
    this.send({ t: 'main-pid', pid: undefined });
  }

  /** Stops watching; the service's processes keep running (agent shutdown without stopping). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watchdog) clearTimeout(this.watchdog);
    if (this.poller) clearInterval(this.poller);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

function outputSpec(v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  const s = String(v);
  if (s === 'null') return 'null';
  if (s === 'inherit') return fallback;
  if (s.startsWith('file:')) return `o:${s.slice(5)}`;
  if (s.startsWith('append:')) return `a:${s.slice(7)}`;
  if (s.startsWith('truncate:')) return `w:${s.slice(9)}`;
  return 'journal';
}

const ERRNO: Record<number, string> = { 1: 'Operation not permitted', 2: 'No such file or directory', 8: 'Exec format error', 13: 'Permission denied', 20: 'Not a directory', 21: 'Is a directory' };
function errnoText(n: number): string { return ERRNO[n] ?? `errno ${n}`; }
