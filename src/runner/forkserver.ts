// The agent's side of the fork server (issue 19; the server is `uo-shim --fork-server`,
// shim/forksrv.c, which says the protocol): shims are forked by a small C process on request
// over a unix socket instead of by Node's child_process.spawn(), a fork of the whole agent.
//
// One server per state folder, in <state>/fork-server/ (0700; its socket 0600), started by the
// agent, placed in the holders' cgroup. It outlives an agent that crashes (as the shims do):
// the next agent connects, and uses it when its handshake names this protocol version, this
// shim binary (TOKEN: a hash of it) and this agent's namespaces; otherwise it tells it to quit
// and starts a new one. A clean agent exit tells it to quit (the shims do not need it).
//
// While it starts, requests wait for it; when it cannot start or is gone, launch() returns false
// and the caller spawns the shim itself (launch.ts: the old path, said once in the log). A server
// that goes away is re-created in the background. UNIT_OPERATOR_FORK_SERVER=off: never used.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ensureHolders, type CgroupContext } from './cgroup/index.ts';

export const FORK_SERVER_VERSION = 1;
export const FORK_SERVER_DIR = 'fork-server';
/** The server's bound on a request (shim/forksrv.c FORKSRV_MAX_REQUEST). */
export const FORK_SERVER_MAX_REQUEST = 8 << 20;
/** How long a server has to greet the agent once connected (ms): one that does not is replaced. */
export const HELLO_MS = 2000;

/**
 * What a launch hears back: the shim's PID, why it did not start, or that the server went away
 * meanwhile — after the request was sent (lost: the shim may run) or before (unsent: it does not).
 */
export interface LaunchReply { readonly pid?: number; readonly error?: string; readonly lost?: boolean; readonly unsent?: boolean }

export interface ForkServerOptions {
  readonly shimPath: string;
  /** The state folder: the server's folder is in it, and its agent.lock names the agent. */
  readonly stateDir: string;
  /** The holders' cgroup directories (every hierarchy), which the server joins. */
  readonly holderCgroups?: readonly string[] | undefined;
  readonly log: (level: 'info' | 'notice' | 'warning', message: string) => void;
  /** Test seam: the token this agent expects (default: a hash of the shim binary). */
  readonly token?: string;
}

/** The token of a shim binary: the first 16 hex digits of its sha256. */
export function shimToken(shimPath: string): string {
  return createHash('sha256').update(readFileSync(shimPath)).digest('hex').slice(0, 16);
}

const NAMESPACES = ['mnt', 'cgroup', 'net', 'uts', 'ipc', 'pid', 'user'];

/** The namespaces in which pid differs from this process ([] when the same). */
function otherNamespaces(pid: number): string[] {
  return NAMESPACES.filter((n) => { try { return readlinkSync(`/proc/${pid}/ns/${n}`) !== readlinkSync(`/proc/self/ns/${n}`); } catch { return false; } });
}

export class ForkServer {
  readonly dir: string;
  private readonly o: ForkServerOptions;
  private readonly token: string;
  private state: 'starting' | 'ready' | 'down' | 'closed' = 'starting';
  private sock: Socket | undefined;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, (r: LaunchReply) => void>();
  private readonly queued: { argv: readonly string[]; env: Readonly<Record<string, string>>; reply: (r: LaunchReply) => void }[] = [];
  /** Live shims' onExit(), by PID: the caller's own function, not a closure over the launch (its argv and environment, ~3 KB a holder for as long as it lives). */
  private readonly exits = new Map<number, (pid: number) => void>();
  private retry: NodeJS.Timeout | undefined;
  /** The connection waiting for a server's greeting (close() ends it too). */
  private greeting: Socket | undefined;
  /** A server this agent started that has not said "ready" yet (close() ends it: it served nothing). */
  private starting: ChildProcess | undefined;
  /** The server's PID once connected. */
  pid = 0;

  constructor(o: ForkServerOptions) {
    this.o = o;
    this.dir = join(o.stateDir, FORK_SERVER_DIR);
    this.token = o.token ?? shimToken(o.shimPath);
    this.connectOrStart(true);
  }

  get ready(): boolean { return this.state === 'ready'; }

  /** Whether the server will report this shim's exit (it forked it, and this connection is the one it says exits on). */
  watching(pid: number): boolean { return this.state === 'ready' && this.exits.has(pid); }

  /**
   * Asks the server for a shim (argv[0] is its path as the agent names it): reply() gets its PID
   * or why not; onExit() when the server reaped it. False when the server is down (the caller
   * spawns the shim itself).
   */
  launch(argv: readonly string[], env: Readonly<Record<string, string>>, reply: (r: LaunchReply) => void, onExit: (pid: number) => void): boolean {
    if (this.state === 'down' || this.state === 'closed') return false;
    if ([...argv, ...Object.keys(env), ...Object.values(env)].some((s) => s.includes('\0'))) return false; // spawn() says why
    const withExit = (r: LaunchReply): void => { if (r.pid) this.exits.set(r.pid, onExit); reply(r); };
    if (this.state === 'starting') { this.queued.push({ argv, env, reply: withExit }); return true; }
    this.send(argv, env, withExit);
    return true;
  }

  private send(argv: readonly string[], env: Readonly<Record<string, string>>, reply: (r: LaunchReply) => void): void {
    const entries = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const payload = Buffer.from([...argv, ...entries].join('\0') + '\0');
    if (payload.length > FORK_SERVER_MAX_REQUEST) { reply({ error: `the shim's arguments and environment take ${payload.length} bytes, more than the fork server's ${FORK_SERVER_MAX_REQUEST}` }); return; }
    const id = this.nextId++;
    this.pending.set(id, reply);
    this.sock!.write(`spawn ${id} ${argv.length} ${entries.length} ${payload.length}\n`);
    this.sock!.write(payload);
  }

  /**
   * Drops the connection; with quit, the server exits too (a clean agent exit), once it has
   * answered what was sent before. Launches still unanswered are not told: their units are
   * closing, and the next agent finds their shims by the event logs.
   */
  close(quit = true): void {
    if (this.retry) clearTimeout(this.retry);
    const s = this.sock;
    this.state = 'closed';
    // a connection still waiting for its server's greeting: told to quit too (the server reads it
    // once it has greeted), and a server started but not ready yet (no shim of its) is ended
    if (this.greeting && quit) this.greeting.end('quit\n'); else this.greeting?.destroy();
    this.greeting = undefined;
    if (quit && this.starting && this.starting.exitCode === null) this.starting.kill('SIGKILL');
    this.starting = undefined;
    if (s && quit) s.end('quit\n'); else s?.destroy();
    this.pending.clear();
    this.queued.length = 0;
  }

  private fail(why: string): void {
    for (const r of this.pending.values()) r({ lost: true, error: why });
    this.pending.clear();
    for (const q of this.queued.splice(0)) q.reply({ unsent: true, error: why });
  }

  /** Down: requests go to spawn() until a new server answers (retried after a while). */
  private down(why: string, again: boolean): void {
    if (this.state === 'closed') return;
    const was = this.state;
    this.state = 'down';
    this.sock?.destroy();
    this.sock = undefined;
    this.fail(why);
    // its shims' exits are no longer reported by it (they are reparented): the event logs say them
    this.exits.clear();
    if (was !== 'down') this.o.log('warning', `fork server: ${why}; shims are started by the agent itself (spawn) until it is back${again ? '' : ' (not retried)'}`);
    if (again) { this.retry = setTimeout(() => this.connectOrStart(true), 1000); this.retry.unref(); }
  }

  /** Connects to the folder's server; a missing, refused or other-version one is replaced (once per attempt). */
  private connectOrStart(mayStart: boolean): void {
    if (this.state === 'closed') return;
    const s = connect(join(this.dir, 'sock'));
    let hello = true;
    this.buf = '';
    // no greeting, or the connection closed before it: as a refused connection (requests queued
    // meanwhile would otherwise wait for ever)
    this.greeting = s;
    const unanswered = (why: string): void => {
      if (!hello) return;
      hello = false;
      clearTimeout(greeting);
      s.destroy();
      if (this.greeting === s) this.greeting = undefined;
      if (this.state === 'closed') return; // closed meanwhile: no new server
      if (mayStart) { if (why) this.o.log('notice', `fork server in ${this.dir} not used: ${why}; starting a new one`); this.startServer(); } else this.down(why || 'cannot connect to the server it started', true);
    };
    const greeting = setTimeout(() => unanswered(`no greeting within ${HELLO_MS} ms`), HELLO_MS);
    greeting.unref();
    s.on('error', () => unanswered(''));
    s.on('data', (d) => {
      this.buf += d.toString('latin1');
      for (let nl; (nl = this.buf.indexOf('\n')) >= 0;) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!hello) { this.answer(line); continue; }
        hello = false;
        clearTimeout(greeting);
        if (this.greeting === s) this.greeting = undefined;
        if (this.state === 'closed') return; // closed while it greeted: its quit is on the way (close()), nothing else
        const [name, version, token, pid] = line.split(' ');
        const ns = name === 'uo-fork-server' ? otherNamespaces(Number(pid)) : [];
        if (name !== 'uo-fork-server' || version !== String(FORK_SERVER_VERSION) || token !== this.token || ns.length > 0) {
          const why = name !== 'uo-fork-server' ? `it answered "${line.slice(0, 200)}"` : ns.length > 0 ? `it runs in other namespaces (${ns.join(', ')})` : `it is version ${version} of shim ${token}, not ${FORK_SERVER_VERSION} of ${this.token}`;
          if (name === 'uo-fork-server') s.write('quit\n');
          s.destroy();
          if (mayStart) { this.o.log('notice', `fork server PID ${pid ?? '?'} in ${this.dir} not used: ${why}; starting a new one`); this.startServer(); } else this.down(`the server started answered wrongly (${why})`, false);
          return;
        }
        this.sock = s;
        this.pid = Number(pid);
        this.state = 'ready';
        this.o.log('info', `fork server PID ${this.pid} (${this.dir}): shims are forked by it, not by the agent`);
        for (const q of this.queued.splice(0)) this.send(q.argv, q.env, q.reply);
      }
    });
    s.on('close', () => { unanswered('it closed the connection before its greeting'); if (this.sock === s) this.down(`the server PID ${this.pid} went away`, true); });
  }

  private startServer(): void {
    const c = spawn(this.o.shimPath, ['--fork-server', this.dir, join(this.o.stateDir, 'agent.lock'), String(process.pid), this.token], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...(this.o.holderCgroups?.length ? { UO_SHIM_HOLDER_CGROUPS: this.o.holderCgroups.join('\n') } : {}) },
    });
    this.starting = c;
    let out = '', err = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('\n')) return;
      c.stdout.destroy(); c.stderr.destroy(); c.unref();
      if (this.starting === c) this.starting = undefined;
      for (const l of err.split('\n').filter(Boolean)) this.o.log('warning', `fork server: ${l}`);
      if (out.startsWith('ready ')) this.connectOrStart(false); else this.down(`it said "${out.trim()}"`, false);
    });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    c.on('error', (e) => this.down(`cannot start ${this.o.shimPath} --fork-server: ${e.message}`, false));
    c.on('close', (code) => { if (!out.includes('\n')) this.down(`${this.o.shimPath} --fork-server exited ${code}: ${err.trim() || 'no reason given (a shim built from older sources has no --fork-server)'}`, false); });
  }

  private answer(line: string): void {
    const [kind, a, b] = line.split(' ');
    if (kind === 'exit') { const pid = Number(a), f = this.exits.get(pid); this.exits.delete(pid); f?.(pid); return; }
    if (kind === 'bye') return;
    if (kind === 'error' && a === '-') { this.down(`it refused a request: ${line.slice(8)}`, true); return; }
    const reply = this.pending.get(Number(a));
    if (!reply) return;
    this.pending.delete(Number(a));
    if (kind === 'ok' && Number(b) > 0) reply({ pid: Number(b) });
    else reply({ error: line.slice(line.indexOf(' ', 6) + 1) || line });
  }
}

/** The fork servers of a state folder running now (their command line names its folder): for clean-up paths. */
export function forkServerPids(stateDir: string): number[] {
  const dir = join(stateDir, FORK_SERVER_DIR);
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[1] === '--fork-server' && argv[2] === dir) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/**
 * The agent's fork server, placed in the holders' cgroup of `cgroups` (made when missing);
 * undefined with UNIT_OPERATOR_FORK_SERVER=off (said in the log).
 */
export function agentForkServer(o: { shimPath: string; stateDir: string; cgroups?: CgroupContext | undefined; env: Readonly<Record<string, string | undefined>>; log: ForkServerOptions['log'] }): ForkServer | undefined {
  const v = o.env['UNIT_OPERATOR_FORK_SERVER'];
  if (v === 'off' || v === '0') { o.log('info', 'fork server: off (UNIT_OPERATOR_FORK_SERVER); shims are started by the agent itself (spawn)'); return undefined; }
  let holderCgroups: readonly string[] | undefined;
  try { holderCgroups = o.cgroups ? ensureHolders(o.cgroups)?.placement : undefined; } catch (e) { o.log('warning', `fork server: ${(e as Error).message}; it stays in the agent's cgroup`); }
  return new ForkServer({ shimPath: o.shimPath, stateDir: o.stateDir, holderCgroups, log: o.log });
}
