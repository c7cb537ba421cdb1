// Child processes of the test control plane: started with their output in a log file, waited
// for over HTTP, and stopped by pid (TERM, then KILL) — never by name.

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';

export interface Started {
  readonly pid: number;
  readonly args: readonly string[];
  readonly child: ChildProcess;
  readonly log: string;
}

export function startLogged(bin: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env): Started {
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], env, detached: true });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${bin}`);
  child.unref();
  return { pid: child.pid, args, child, log };
}

/** Running: it exists and is not a zombie (a zombie has exited and only waits to be reaped). */
export function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  return !isZombie(pid);
}

/** The executable of a pid, to make sure a pid from a state file is still ours. */
export function exeOf(pid: number): string | undefined {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]; } catch { return undefined; }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends SIGTERM, waits up to graceMs, then SIGKILL; resolves when the pid is gone. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(20);
}

/**
 * Stops a child of this process: SIGTERM, up to graceMs for it to exit, then SIGKILL. Resolves
 * 'term' when SIGTERM sufficed, 'kill' when it took SIGKILL. Its pipes are closed either way, so
 * a child that would not die can't keep this process's event loop alive.
 */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<'term' | 'kill'> {
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const wait = (ms: number): Promise<boolean> => (exited() ? Promise.resolve(true) : new Promise((r) => {
    const t = setTimeout(() => r(exited()), ms);
    child.once('exit', () => { clearTimeout(t); r(true); });
  }));
  let how: 'term' | 'kill' = 'term';
  if (!exited()) {
    child.kill('SIGTERM');
    if (!(await wait(graceMs))) { how = 'kill'; child.kill('SIGKILL'); await wait(5000); }
  }
  for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
  return how;
}

function isZombie(pid: number): boolean {
  try { return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

/** A free TCP port on 127.0.0.1 (the kernel picks; released before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether port can be listened on at 127.0.0.1 now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface HttpGet { readonly status: number; readonly body: string }

export function httpsGet(url: string, opts: { ca?: string; token?: string; timeoutMs?: number } = {}): Promise<HttpGet> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? request : httpRequest)(u, {
      method: 'GET',
      ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
      headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
      timeout: opts.timeoutMs ?? 2000,
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until check() is true; fails with the tail of the log when the process dies or time runs out. */
export async function waitUntil(what: string, check: () => Promise<boolean>, proc: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(proc.pid)) throw new Error(`${what} exited during start-up; its log (${proc.log}) ends with:\n${tail(proc.log)}`);
    try { if (await check()) return; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${what} was not ready after ${timeoutMs / 1000} s; its log (${proc.log}) ends with:\n${tail(proc.log)}`);
}

export function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}
