// The standalone agent: runs the ServiceUnits of a folder with no cluster (kubelet's static
// pods idea). Reacts to files added, changed and removed; keeps each unit's state under the
// state folder so that a restarted agent re-adopts its services; answers the CLI on a Unix
// socket. Imperative commands (unitctl stop) hold until the unit's file changes, like systemctl.

import type { ForkServer } from '../runner/forkserver.ts';
import { withoutRolloutFields } from '../api/revision.ts';
import { localeCompare } from '../api/collate.ts';
import type { CgroupContext } from '../runner/cgroup/index.ts';
import { releaseAgentCgroups } from '../runner/cgroup/agent.ts';
import { removeNotifyFolder } from '../runner/notifysock.ts';
import type { Socket } from 'node:net';
import { watch, type FSWatcher } from 'node:fs';
import { fsErrorText, prepareStateDir, writeAgentPid } from '../runner/store.ts';
import { join } from 'node:path';
import { loadManifests, sourceFailed, type ManifestProblem, type ManifestCache } from './manifests.ts';
import { ADOPTED_SOURCE, UnitHost } from './host.ts';
import { unitStatus } from './status.ts';
import type { Request, Response, UnitStatus } from './protocol.ts';
import { dependencyTree, jobFailureMessage, refusalExit, type Queued } from './deps.ts';
import { isJobMode, normalizeName } from '../deps/index.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AllowUnenforced } from '../api/applied.ts';
import type { Transition } from '../engine/index.ts';
import { listenUnix, MAX_CONNECTIONS, MAX_CONNECTIONS_ROOT, MAX_PENDING_REQUESTS, MAX_REQUEST_BYTES, MAX_UNSENT_BYTES, openFolderToGroup, READ_ONLY, readSocketPath, removeSocket, socketPath, type Listener } from './socket.ts';

/** The manifests folder's events: a reconcile once it has been quiet this long, and at the latest this long after the first event. */
const QUIET_MS = 100, MAX_WAIT_MS = 1000;

export interface AgentOptions {
  readonly manifestsDir: string;
  readonly stateDir: string;
  readonly shimPath: string;
  /** The fork server the agent started (src/runner/forkserver.ts); absent: shims are spawned by the agent. */
  readonly forkServer?: ForkServer | undefined;
  readonly log: (level: 'debug' | 'info' | 'notice' | 'warning' | 'error', message: string, fields?: Record<string, unknown>) => void;
  readonly rescanMs?: number;
  readonly onChange?: () => void;
  readonly metrics?: Metrics;
  /** --allow-unenforced: protections a unit may run without. */
  readonly allowUnenforced?: AllowUnenforced;
  /** The node's cgroups and this agent's top slice (issue 13; src/runner/cgroup/agent.ts). */
  readonly cgroups?: CgroupContext | undefined;
  /** --max-file-size: manifest, unit and drop-in files larger than this are reported and not read (default 1 MiB). */
  readonly maxFileSize?: number;
  /**
   * --read-socket-group: the group whose members may use the read-only socket (agent-ro.sock,
   * list/status/problems); without it only root and the agent's uid can talk to the agent.
   */
  readonly readSocketGid?: number;
}

export { socketPath, readSocketPath };

export class StandaloneAgent {
  readonly host: UnitHost;
  problems: ManifestProblem[] = [];
  private readonly opts: AgentOptions;
  /** agent.sock (every command; root and the agent's uid) and agent-ro.sock (read-only; a group). */
  private listeners: Listener[] = [];
  /** Connected clients: a shutdown must not wait for one that keeps its connection open. */
  private readonly clients = new Set<Socket>();
  /** Each client's answers still to be written (a shutdown flushes them before it closes the socket). */
  private readonly replies = new Map<Socket, Promise<void>>();
  private watcher: FSWatcher | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastProblems = '';
  private readonly cache: ManifestCache = new Map();
  /** The parsed object last applied per unit: an unchanged file is not re-applied on a rescan. */
  private readonly applied = new Map<string, object>();
  /** The folder read in progress, and whether another pass was asked for meanwhile. */
  private loading: Promise<void> | undefined;
  private reloadAfter = false;
  private closing = false;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    const m = opts.metrics;
    this.host = new UnitHost({
      unitsDir: join(opts.stateDir, 'units'), shimPath: opts.shimPath, forkServer: opts.forkServer, log: opts.log,
      ...(opts.allowUnenforced ? { allowUnenforced: opts.allowUnenforced } : {}),
      ...(opts.cgroups ? { cgroups: opts.cgroups } : {}),
      onChange: () => opts.onChange?.(),
      dependencies: true,
      ...(m ? { onTransition: (id: string, t: Transition) => m.transition(id, t) } : {}),
    });
    m?.trackUnits(() => this.host.activeStates());
    m?.trackUsage(this.host.units);
  }

  get units(): UnitHost['units'] { return this.host.units; }

  async start(): Promise<void> {
    const unusable = prepareStateDir(this.opts.stateDir);
    if (unusable !== undefined) throw new Error(unusable);
    try { writeAgentPid(this.opts.stateDir); } catch (e) { this.opts.log('warning', `cannot write ${join(this.opts.stateDir, 'agent.pid')}: ${fsErrorText(e)}`); }
    // the control socket first: a socket path it cannot bind fails the start before any unit runs
    await this.listen();
    // keep supervising what a previous agent ran before reading the folder
    this.host.adoptAll();
    await this.reconcile();
    try {
      // a burst of file events (an editor saving, a git checkout) becomes one reconcile, once the
      // folder has been quiet for QUIET_MS (a file written in several pieces is not read half
      // written, which could restart its unit with a cut command), within MAX_WAIT_MS of the first
      let first = 0;
      this.watcher = watch(this.opts.manifestsDir, () => {
        const now = Date.now();
        if (!this.debounce) first = now;
        else clearTimeout(this.debounce);
        this.debounce = setTimeout(() => { this.debounce = undefined; this.reconcile(); }, Math.max(0, Math.min(QUIET_MS, first + MAX_WAIT_MS - now)));
      });
      this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
    } catch { /* the periodic rescan covers it */ }
    // the periodic rescan is a safety net for missed events (every 2 s without a working
    // watcher, every 10 s with one); unchanged files are not re-read
    const every = this.opts.rescanMs ?? 2000;
    let tick = 0;
    this.rescan = setInterval(() => { if (!this.watcher || ++tick % 5 === 0) this.reconcile(); }, every);
  }

  /**
   * Brings the running units in line with the folder (level-based: safe to call any time).
   * The folder is read asynchronously, yielding between files (the CLI keeps being answered
   * while a large folder loads); calls made meanwhile are folded into one more pass after it.
   */
  reconcile(): Promise<void> {
    if (this.loading) { this.reloadAfter = true; return this.loading; }
    this.loading = (async () => {
      try {
        do { this.reloadAfter = false; await this.reconcileOnce(); } while (this.reloadAfter && !this.closing);
      } catch (e) {
        this.opts.log('error', `reading ${this.opts.manifestsDir} failed: ${(e as Error).message}; the running units are kept, the next rescan retries`);
      } finally { this.loading = undefined; }
    })();
    return this.loading;
  }

  private async reconcileOnce(): Promise<void> {
    const { units, problems, failed } = await loadManifests(this.opts.manifestsDir, this.cache, this.opts.maxFileSize !== undefined ? { maxFileSize: this.opts.maxFileSize } : {});
    if (this.closing) return; // shut down while the folder was read: start nothing
    // a hosted unit whose file is there but cannot be loaded now (invalid, half-written by an
    // editor, too large) keeps running as last loaded, as systemd keeps a unit whose file turned
    // bad at daemon-reload (LoadState=bad-setting, still active): only a file that is gone stops it
    const loaded = new Set(units.map((u) => u.unitName));
    const kept = [...this.host.units.values()].filter((h) => !h.removing && !loaded.has(h.id)
      && sourceFailed(failed, h.source, h.source === ADOPTED_SOURCE ? { dir: this.opts.manifestsDir, unitName: h.id } : undefined));
    this.problems = [...problems, ...kept.map((h) => ({ file: h.source, message: `${h.id} keeps running as last loaded: its file could not be loaded now (see the problems above)` }))];
    const text = JSON.stringify(this.problems);
    if (text !== this.lastProblems) {
      this.lastProblems = text;
      for (const p of problems) this.opts.log('error', `${p.file}: ${p.message} (skipped; the other units keep running)`);
      for (const h of kept) this.opts.log('warning', `${h.id}: its file ${h.source} could not be loaded now; the unit keeps running as last loaded (systemd: bad-setting, still active) until the file loads again or is removed`);
    }
    const seen = new Set<string>();
    for (const u of units) {
      seen.add(u.unitName);
      const h = this.host.units.get(u.unitName);
      h?.runner.setLoadProblem(undefined); // its file loads (again)
      if (h && !h.removing && this.applied.get(u.unitName) === u.object) continue;
      this.host.apply(u.unitName, u.unitName, withoutRolloutFields(u.object.spec), u.file); // one node: nothing to roll out (issue 18)
      this.applied.set(u.unitName, u.object);
    }
    for (const h of kept) { seen.add(h.id); h.runner.setLoadProblem(`its file ${h.source} could not be loaded (see the problems: unitctl list)`); }
    for (const id of this.host.units.keys()) if (!seen.has(id)) { this.host.remove(id, 'its file is gone'); this.applied.delete(id); }
    this.host.forgetStopped();
    // one graph for the whole folder, then the jobs the applies asked for (a unit finds the one it Requires=)
    this.host.commit();
  }

  private find(name: string): ReturnType<UnitHost['units']['get']> {
    return this.host.units.get(name) ?? this.host.units.get(`${name}.service`);
  }

  status(name: string): UnitStatus | undefined {
    const h = this.find(name);
    if (!h) return undefined;
    const s = unitStatus(h.runner, h.source, true);
    // issue 16: the queued or running job and the dependency engine's lines (systemctl status's Job: and journal lines)
    const d = this.host.depsOf();
    const j = d?.jobOf(h.runner.unitName);
    const lines = d?.linesOf(h.runner.unitName) ?? [];
    return { ...s, ...(j ? { Job: { id: j.id, type: j.type, state: j.state } } : {}), ...(lines.length > 0 ? { ManagerLog: lines } : {}) };
  }

  list(): UnitStatus[] {
    return [...this.host.units.values()].filter((h) => !h.removing).map((h) => unitStatus(h.runner, h.source)).sort((a, b) => localeCompare(a.Id, b.Id));
  }

  /**
   * A verb's job through the dependency engine: answered when it is queued (--no-block) or when
   * it finished, with systemctl's words for a job that did not end well (exit 1). A start its
   * Condition*= skipped ends "done" (exit 0); a failed Assert*= "assert".
   */
  private async answerJob(id: string, verb: string, q: Queued, noBlock: boolean): Promise<Response> {
    const queued = await q.queued;
    const h = (): ReturnType<UnitHost['units']['get']> => this.host.units.get(id);
    const name = h()?.runner.unitName ?? id;
    // systemctl's exit status for the bus error (translate_bus_error_to_exit_status()): 5 no such
    // unit, 4 refused (RefuseManualStart=/Stop=, a destructive transaction), else 1
    if ('error' in queued) return { ok: false, exit: refusalExit(queued.code), error: `Failed to ${verb} ${name}: ${queued.error}` };
    const cur = (): UnitStatus | undefined => { const x = h(); return x ? unitStatus(x.runner, x.source) : undefined; };
    if (noBlock) { const u = cur(); return { ok: true, job: { id: queued.id }, ...(u ? { unit: u } : {}) }; }
    const done = await q.done;
    if (!done.ok) return { ok: false, exit: refusalExit(done.code), error: `Failed to ${verb} ${name}: ${done.error}` };
    const msg = jobFailureMessage(name, done.result, h()?.runner.props.Result);
    if (msg !== undefined) return { ok: false, exit: 1, error: msg };
    const u = cur();
    return { ok: true, job: { id: done.id, result: done.result }, ...(u ? { unit: u } : {}) };
  }

  handle(req: Request): Response | Promise<Response> {
    switch (req.cmd) {
      case 'list-jobs': return { ok: true, jobs: this.host.jobs().map((j) => ({ id: j.id, unit: j.unit, type: j.type, state: j.state })) };
      case 'list-dependencies': {
        const d = this.host.depsOf();
        if (!d) return { ok: false, error: 'dependencies are not wired in this agent' };
        this.host.commit();
        const h = this.find(req.unit);
        const unit = h?.runner.unitName ?? normalizeName(req.unit);
        if (!d.has(unit)) return { ok: false, exit: 4, error: `Unit ${unit} could not be found.` };
        return { ok: true, dependencies: dependencyTree(d.graphNow, unit, (u) => d.stateOf(u), req.reverse === true) };
      }
      case 'ping': return { ok: true };
      case 'stats': {
        const rs = [...this.host.units.values()].map((h) => h.runner);
        return { ok: true, stats: { units: rs.length, stateWrites: rs.reduce((a, r) => a + r.stateWrites, 0), decisions: rs.reduce((a, r) => a + r.decisions, 0), restarts: rs.reduce((a, r) => a + r.machine.nRestarts, 0), pid: process.pid, memory: process.memoryUsage() } };
      }
      case 'list': return { ok: true, units: this.list() };
      case 'problems': return { ok: true, problems: this.problems };
      case 'status': {
        const s = this.status(req.unit);
        return s ? { ok: true, unit: s } : { ok: false, error: `Unit ${req.unit} could not be found.` };
      }
      case 'start': case 'stop': case 'restart': case 'reload': case 'reset-failed': {
        const h = this.find(req.unit);
        if (!h) return { ok: false, error: `Unit ${req.unit} not found.` };
        const r = h.runner;
        // systemctl: "Failed to start X.service: Unit X.service is masked." (BUS_ERROR_UNIT_MASKED: exit 1)
        if (r.spec.masked && req.cmd !== 'stop' && req.cmd !== 'reset-failed') return { ok: false, exit: 1, error: `Failed to ${req.cmd} ${r.unitName}: Unit ${r.unitName} is masked.` };
        if (req.cmd === 'reload' && r.cfg.exec.reload.length === 0 && r.cfg.type !== 'notify-reload') {
          return { ok: false, error: `Job for ${r.unitName} canceled: the unit has no ExecReload= (Job type reload is not applicable for unit ${r.unitName}).` };
        }
        // the state folder may forbid a start now (a refused or damaged state, a write that fails): the real reason
        const blocked = req.cmd === 'start' || req.cmd === 'restart' || req.cmd === 'reload' ? (r.refusal === undefined ? r.startBlocker() : undefined) : undefined;
        if (blocked !== undefined) return { ok: false, exit: 1, error: `Failed to ${req.cmd} ${r.unitName}: ${blocked}` };
        // systemctl: "Failed to start X.service: Unit X.service has a bad unit file setting."
        const badSetting = (why: string): Response => ({ ok: false, exit: 6, error: `Failed to ${req.cmd} ${r.unitName}: Unit ${r.unitName} has a bad unit file setting: ${why}. See 'unitctl status ${r.unitName}'.` });
        if (r.refusal !== undefined && (req.cmd === 'start' || req.cmd === 'restart')) {
          // stops it: its new spec may not run here — not when its file is bad: systemd refuses
          // the job whole (bad-setting), the unit runs on as it is
          if (req.cmd === 'restart' && !r.badFile) r.restart();
          return badSetting(r.refusal);
        }
        if (req.cmd !== 'reset-failed') {
          const mode = req.jobMode ?? 'replace';
          // systemctl passes the mode on; the manager refuses one it does not know (exit 1)
          if (!isJobMode(mode)) return { ok: false, exit: 1, error: `Failed to ${req.cmd} ${r.unitName}: Job mode ${mode} invalid` };
          const q = this.host.request(h.id, req.cmd, mode);
          if (q) return this.answerJob(h.id, req.cmd, q, req.noBlock === true);
        }
        const refused = ({ start: () => r.startJob(), stop: () => r.stop(), restart: () => r.restartJob(), reload: () => r.reload(), 'reset-failed': () => r.resetFailed() })[req.cmd]();
        // systemctl: a failed Assert*= fails the job ("Assertion failed on job for X."), exit 1; an
        // unmet Condition*= completes it (exit 0): the unit is left as it is, status says why
        if (refused !== undefined && typeof refused !== 'string') {
          if (refused.check === 'assert') return { ok: false, exit: 1, error: `Assertion failed on job for ${r.unitName}.` };
          return { ok: true, unit: unitStatus(r, h.source) };
        }
        if (typeof refused === 'string') return badSetting(refused);
        return { ok: true, unit: unitStatus(r, h.source) };
      }
    }
  }

  /**
   * Serves one connection on the socket at `path`: a JSON request per line; on the read-only
   * socket, only READ_ONLY verbs. Bounded per connection: a request line (MAX_REQUEST_BYTES), the
   * requests read but not answered yet (MAX_PENDING_REQUESTS) and the answers not yet taken by the
   * peer (MAX_UNSENT_BYTES) — past either of the last two the connection is not read until its
   * peer catches up (a peer pipelining `list` without reading the answers grew the agent's memory).
   */
  private serve(sock: Socket, readOnly: boolean, path: string): void {
    this.clients.add(sock);
    sock.once('close', () => { this.clients.delete(sock); this.replies.delete(sock); });
    sock.setEncoding('utf8'); // a character split between two reads stays whole
    let buf = '';
    let pending = 0;
    let reply: Promise<void> = Promise.resolve();
    const busy = (): boolean => pending >= MAX_PENDING_REQUESTS || sock.writableLength > MAX_UNSENT_BYTES;
    const refuseLong = (): void => { buf = ''; this.refuseConnection(sock, path, `a request line longer than ${MAX_REQUEST_BYTES} bytes`); };
    const pump = (): void => {
      for (let nl = buf.indexOf('\n'); nl >= 0 && !busy(); nl = buf.indexOf('\n')) {
        if (nl > MAX_REQUEST_BYTES) { refuseLong(); return; }
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let res: Response | Promise<Response>;
        try {
          const req = JSON.parse(line) as Request;
          res = readOnly && !READ_ONLY.has(req.cmd)
            ? { ok: false, exit: 4, error: `Access denied: ${readSocketPath(this.opts.stateDir)} serves read-only commands (${[...READ_ONLY].join(', ')}); ${req.cmd} needs root or the agent's user (agent.sock)` }
            : this.handle(req);
        } catch (e) { res = { ok: false, error: e instanceof SyntaxError ? `bad request: ${e.message}` : `request failed: ${fsErrorText(e)}` }; }
        // answers go out in the order of the requests, a job's once it finished
        const p = res;
        pending++;
        reply = reply.then(async () => {
          let r: Response;
          try { r = await p; } catch (e) { r = { ok: false, error: `request failed: ${fsErrorText(e)}` }; }
          pending--;
          if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(r) + '\n');
          resume();
        });
        this.replies.set(sock, reply);
      }
      if (busy()) sock.pause();
    };
    let draining = false;
    const resume = (): void => {
      if (sock.destroyed) return;
      if (sock.writableLength > MAX_UNSENT_BYTES) {
        if (!draining) { draining = true; sock.once('drain', () => { draining = false; resume(); }); }
        return;
      }
      if (pending >= MAX_PENDING_REQUESTS) return; // the next answer calls again
      pump();
      if (!busy() && sock.isPaused()) sock.resume();
    };
    sock.on('data', (d: string) => {
      // a request is one short JSON line: a longer one is refused and the connection closed, not
      // buffered (a peer sending hundreds of MiB without a newline grew the root agent by as much
      // and kept it busy re-scanning the buffer)
      const seen = buf.length;
      buf += d;
      if (buf.indexOf('\n', seen) < 0 && buf.length > MAX_REQUEST_BYTES) { refuseLong(); return; }
      pump();
    });
    sock.on('error', () => sock.destroy());
  }

  /** Binds agent.sock (0600) and, with readSocketGid, agent-ro.sock (0660, that group): see socket.ts. */
  private async listen(): Promise<void> {
    const dir = this.opts.stateDir;
    const dropped = (path: string, max: number) => () => this.warnSocket(path, `a connection refused: ${max} are open already`);
    this.listeners.push(await listenUnix(socketPath(dir), { mode: 0o600, maxConnections: MAX_CONNECTIONS_ROOT, onDrop: dropped(socketPath(dir), MAX_CONNECTIONS_ROOT) }, (s) => this.serve(s, false, socketPath(dir))));
    if (this.opts.readSocketGid !== undefined) {
      openFolderToGroup(dir, this.opts.readSocketGid);
      this.listeners.push(await listenUnix(readSocketPath(dir), { mode: 0o660, gid: this.opts.readSocketGid, onDrop: dropped(readSocketPath(dir), MAX_CONNECTIONS) }, (s) => this.serve(s, true, readSocketPath(dir))));
    } else removeSocket(readSocketPath(dir)); // a previous agent's, run with --read-socket-group
  }

  /** When each control socket last said a warning (ms): at most one a socket every 10 s, with how many were not said. */
  private readonly socketWarned = new Map<string, { at: number; quiet: number }>();

  private warnSocket(path: string, what: string): void {
    const now = Date.now();
    const w = this.socketWarned.get(path);
    if (w && now - w.at < 10_000) { w.quiet++; return; }
    this.opts.log('warning', `${path}: ${what}${w && w.quiet > 0 ? ` (and ${w.quiet} more since the last warning)` : ''}`);
    this.socketWarned.set(path, { at: now, quiet: 0 });
  }

  /** Answers an error and closes the connection (a request it will not read). */
  private refuseConnection(sock: Socket, path: string, why: string): void {
    this.warnSocket(path, `a connection closed: ${why}`);
    sock.removeAllListeners('data');
    if (!sock.destroyed && sock.writable) sock.end(JSON.stringify({ ok: false, error: `bad request: ${why}` }) + '\n');
    setTimeout(() => sock.destroy(), 1000).unref();
  }

  /**
   * Stops watching and answering. With stopUnits, stops every unit first (ExecStop= runs). When
   * no unit runs any more, the agent's top slice is removed (releaseAgentCgroups).
   */
  async shutdown(stopUnits: boolean, timeoutMs = 30_000): Promise<void> {
    this.closing = true;
    await this.loading;
    if (this.rescan) clearInterval(this.rescan);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    if (stopUnits) await this.host.stopAll(timeoutMs);
    this.host.closeAll();
    if (stopUnits && this.host.activeStates().every((s) => s === 'inactive' || s === 'failed')) removeNotifyFolder(join(this.opts.stateDir, 'units'));
    if (this.opts.cgroups) await releaseAgentCgroups(this.opts.cgroups, this.opts.log);
    const closed = Promise.all(this.listeners.map((l) => l.close()));
    // the answers still owed (jobs the shutdown canceled: "Job for X canceled.") are written and
    // each socket ended before it is destroyed; a client that does not read is not waited for long
    await Promise.race([Promise.all([...this.replies.values()]), new Promise((r) => setTimeout(r, 1000).unref())]);
    await Promise.all([...this.clients].map((c) => new Promise<void>((resolve) => {
      if (c.destroyed) { resolve(); return; }
      const t = setTimeout(() => { c.destroy(); resolve(); }, 1000);
      t.unref();
      c.once('close', () => { clearTimeout(t); resolve(); });
      c.end(() => { clearTimeout(t); c.destroy(); resolve(); });
    })));
    await closed;
    this.listeners = [];
  }
}
