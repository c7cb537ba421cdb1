// The system calls of the agent's main thread per RestartSec=0 restart (issue 19): the agent (built
// JavaScript, as the bench runs it) restarts one unit whose command exits at once, `strace -c`
// counts its main thread's calls over a window, and the restarts counted around the window divide
// them. A count, not a time: it does not move with the machine's load, so a cut of the restart
// path shows in it where the restart gap's and the storm's timings drown it in noise. strace
// slows the agent (fewer restarts in the window), not what each restart calls.
//
//   node bench/restart-syscalls.ts [SECONDS]    (default 5 s; needs root and strace)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from '../src/cli/client.ts';
import { forkServerPids } from '../src/runner/forkserver.ts';
import { DAEMON_NODE_FLAGS } from '../src/cli/runtime.ts';
import { sleep } from './lib.ts';
const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const seconds = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'uo-strace-'));
const manifests = join(dir, 'manifests'), state = join(dir, 'state');
mkdirSync(manifests);
const agent = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(repo, 'dist/cli/main.js'), 'agent', '--manifests', manifests, '--state-dir', state, '--stop-on-exit'], { stdio: 'ignore' });
try {
  for (let i = 0; i < 400 && !existsSync(join(state, 'agent.sock')); i++) await sleep(25);
  writeFileSync(join(manifests, 'f0.service'), "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'exit 1'\nRestart=always\nRestartSec=0\n");
  // a stats answer that is no answer is an error naming why, not "0 restarts"
  const st = async (): Promise<number> => { const r = await request(state, { cmd: 'stats' }, 30_000); if (!r.ok || !r.stats) throw new Error(`the agent's stats: ${r.ok ? 'no stats in the answer' : r.error}`); return r.stats.restarts ?? 0; };
  // warm: the loop runs (at most 20 s: a loaded machine starts the agent slowly), then 1 s more
  for (let i = 0; i < 200 && (await st().catch(() => 0)) === 0; i++) await sleep(100);
  await sleep(1000);
  const r0 = await st();
  const out = join(dir, 'strace.txt');
  spawnSync('timeout', ['-s', 'INT', String(seconds), 'strace', '-c', '-o', out, '-p', String(agent.pid)]);
  const r1 = await st();
  const n = r1 - r0;
  const rows = readFileSync(out, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 5 && /^\d/.test(f[0]!) && f[f.length - 1] !== 'total');
  const calls = rows.map((f) => ({ name: f[f.length - 1]!, calls: Number(f[3]), errors: f.length === 6 ? Number(f[4]) : 0 })).sort((a, b) => b.calls - a.calls);
  const total = calls.reduce((a, c) => a + c.calls, 0);
  if (n <= 0) throw new Error('no restart in the window');
  process.stdout.write(`${n} restarts in ~${seconds} s (restarts counted around the window); ${(total / n).toFixed(1)} system calls a restart\n`);
  for (const c of calls.slice(0, 25)) process.stdout.write(`  ${c.name.padEnd(16)} ${(c.calls / n).toFixed(2).padStart(7)} a restart${c.errors ? `  (${(c.errors / n).toFixed(2)} failed)` : ''}\n`);
} finally {
  // the agent, then its fork server (it outlives the agent by design: it ends once it sees the
  // agent's lock go, else it is ended here by its PID), then the folder
  if (agent.exitCode === null && agent.signalCode === null) { agent.kill('SIGTERM'); await new Promise((r) => agent.once('exit', r)); }
  for (let i = 0; i < 40 && forkServerPids(state).length > 0; i++) await sleep(50);
  for (const p of forkServerPids(state)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
}
