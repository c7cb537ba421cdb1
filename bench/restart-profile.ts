// Where the milliseconds of a RestartSec=0 restart go (issue 19): the agent (built JavaScript,
// as the bench runs it) restarts a unit whose command exits at once, while `perf record` takes
// the kernel's process tracepoints (fork, exec, exit: no strace slow-down), and the restart is
// cut into its phases:
//
//   A  the command exits → its holder exits (the holder writes "exit" and "empty")
//   B  the holder exits → the next shim is forked (inotify hop, engine, state, cgroups; the
//      agent's request to its fork server, or Node's spawn() with UNIT_OPERATOR_FORK_SERVER=off)
//   C  the fork → the shim execs (the fork server's child, or Node's child side of spawn())
//   D  the shim execs → it forks the command (the holder's set-up)
//   E  the shim forks → the command execs (the command's set-up, shim/exec.c)
//
//   node bench/restart-profile.ts [SECONDS [RESTART_MS]]   (needs perf and root; default 4 s, RestartSec=0;
//                                                 UNIT_OPERATOR_FORK_SERVER=off: the spawn path)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DAEMON_NODE_FLAGS } from '../src/cli/runtime.ts';
import { crashScript, delaysFrom, percentile, sleep } from './lib.ts';
import { forkServerPids } from '../src/runner/forkserver.ts';

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const seconds = Number(process.argv[2] ?? 4);
// the configured RestartSec= (ms; default 0): a delay shows what a restart costs after the agent idled
const restartMs = Number(process.argv[3] ?? 0);

interface Cycle { fork?: number; shim?: number; exec?: number; cfork?: number; cmd?: number; cexec?: number; cexit?: number; sexit?: number }

/** The restart cycles in `perf script` output of sched_process_{fork,exec,exit}, for the PIDs that fork shims (the agent, its fork server). */
export function cycles(text: string, forkers: readonly number[]): Cycle[] {
  const out: Cycle[] = [];
  let cur: Cycle | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*\S+\s+(\d+)\s+\[\d+\]\s+([\d.]+): sched:(\w+): (.*)$/.exec(line);
    if (!m) continue;
    const pid = Number(m[1]), t = Number(m[2]) * 1000, kind = m[3]!, rest = m[4]!;
    const child = Number(/child_pid=(\d+)/.exec(rest)?.[1] ?? 0);
    if (kind === 'sched_process_fork' && forkers.includes(pid)) cur = { fork: t, shim: child };
    else if (!cur) continue;
    else if (kind === 'sched_process_exec' && pid === cur.shim && cur.exec === undefined) cur.exec = t;
    else if (kind === 'sched_process_fork' && pid === cur.shim && cur.cfork === undefined) { cur.cfork = t; cur.cmd = child; }
    else if (kind === 'sched_process_exec' && pid === cur.cmd) cur.cexec = t;
    else if (kind === 'sched_process_exit' && pid === cur.cmd) cur.cexit = t;
    else if (kind === 'sched_process_exit' && pid === cur.shim) { cur.sexit = t; out.push(cur); cur = undefined; }
  }
  return out;
}

/** The phase table (ms): n, p50, p90, max per phase (a P99 only from 200 samples, else the max). */
export function phases(cs: readonly Cycle[]): string {
  const rows: [string, number[]][] = [['A command exit → holder exit', []], ['B holder exit → the next shim is forked', []], ['C fork → shim exec (fork server or Node child)', []], ['D shim exec → shim forks the command (holder set-up)', []], ['E shim fork → command exec (command set-up)', []], ['command exit → next command exec (A..E)', []]];
  for (let i = 0; i + 1 < cs.length; i++) {
    const a = cs[i]!, b = cs[i + 1]!;
    if ([a.cexit, a.sexit, b.fork, b.exec, b.cfork, b.cexec].some((x) => x === undefined)) continue;
    const d = [a.sexit! - a.cexit!, b.fork! - a.sexit!, b.exec! - b.fork!, b.cfork! - b.exec!, b.cexec! - b.cfork!, b.cexec! - a.cexit!];
    d.forEach((x, k) => rows[k]![1].push(x));
  }
  const f = (x: number): string => x.toFixed(2).padStart(7);
  let out = `${'PHASE'.padEnd(56)}      N      P50      P90  P99/MAX\n`;
  for (const [name, xs] of rows) out += `${name.padEnd(56)} ${String(xs.length).padStart(6)} ${f(percentile(xs, 50))}  ${f(percentile(xs, 90))}  ${f(percentile(xs, 99))}${xs.length < 200 ? ` (max of ${xs.length})` : ''}\n`;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (spawnSync('perf', ['--version']).error) throw new Error('perf is needed (apt-get install linux-perf)');
  const dir = mkdtempSync(join(tmpdir(), 'uo-restart-profile-'));
  const manifests = join(dir, 'manifests'), state = join(dir, 'state'), work = join(dir, 'work');
  mkdirSync(manifests);
  const entry = existsSync(join(repo, 'dist/cli/main.js')) ? join(repo, 'dist/cli/main.js') : join(repo, 'src/cli/main.ts');
  const agent = spawn(process.execPath, [...DAEMON_NODE_FLAGS, entry, 'agent', '--manifests', manifests, '--state-dir', state, '--stop-on-exit'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 400 && !existsSync(join(state, 'agent.sock')); i++) await sleep(25);
    writeFileSync(join(manifests, 'crash.service'), `[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=${crashScript(work)}\nRestart=always\nRestartSec=${restartMs}ms\n`);
    await sleep(1000);
    const server = forkServerPids(state);
    const data = join(dir, 'perf.data');
    spawnSync('perf', ['record', '-q', '-o', data, '-e', 'sched:sched_process_exec', '-e', 'sched:sched_process_fork', '-e', 'sched:sched_process_exit', '-a', '--', 'sleep', String(seconds)], { stdio: 'ignore' });
    rmSync(join(manifests, 'crash.service'));
    const text = spawnSync('perf', ['script', '-i', data], { encoding: 'utf8', maxBuffer: 256 << 20 }).stdout;
    const gaps = delaysFrom(work);
    process.stdout.write(`shims forked by ${server.length > 0 ? `the fork server (PID ${server.join(', ')})` : 'the agent (spawn)'}\n`);
    process.stdout.write(phases(cycles(text, [agent.pid!, ...server])));
    process.stdout.write(`restart gap measured by the command (exit → next start, bash start-up included): n ${gaps.length}, p50 ${percentile(gaps, 50).toFixed(2)} ms, ${gaps.length >= 200 ? `p99 ${percentile(gaps, 99).toFixed(2)}` : `max ${Math.max(...gaps).toFixed(2)}`} ms\n`);
  } finally {
    const gone = new Promise((r) => agent.once('exit', r));
    agent.kill('SIGTERM');
    await Promise.race([gone, sleep(30_000)]);
    rmSync(dir, { recursive: true, force: true });
  }
}
