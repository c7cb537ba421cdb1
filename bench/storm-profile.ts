// Where the agent's CPU goes in a crash storm (issue 19): the agent (built JavaScript, as the bench
// runs it) under `node --cpu-prof`, N units that exit 1 after a second and restart after a second
// (the footprint part's storm), and the profile's samples of a steady window cut out and summed:
// self time and inclusive time per function, and self time per source file. Also the agent's
// CPU (utime+stime of the agent and its fork server), its state writes and decisions over the
// window, read as the footprint part reads them.
//
//   node bench/storm-profile.ts [UNITS [SECONDS]]    (default 1000 units, 10 s; needs root)
//   STORM_PROFILE_RESTART0=1: units whose command exits at once and restarts at once (RestartSec=0;
//   1 unit: the restart gap's agent side), sampled every 100 µs
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from '../src/cli/client.ts';
import { DAEMON_NODE_FLAGS } from '../src/cli/runtime.ts';
import { forkServerPids } from '../src/runner/forkserver.ts';
import { sleep } from './lib.ts';

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const units = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 10);
const restart0 = process.env['STORM_PROFILE_RESTART0'] === '1';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** utime+stime of a process, in clock ticks (0 when it is gone). */
function ticks(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch { return 0; }
}

/** Self and inclusive sample counts per function, and self per file, of the samples in [from, to) µs after the profile's start. */
export function summarize(p: Profile, from: number, to: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^file:\/\/.*?\/dist\//, '').replace(/^node:/, 'node:')}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>(), incl = new Map<string, number>(), file = new Map<string, number>();
  let t = 0, n = 0;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t >= to) return;
    n++;
    const node = byId.get(id)!;
    self.set(name(node), (self.get(name(node)) ?? 0) + 1);
    const f = node.callFrame.url === '' ? `(${node.callFrame.functionName})` : node.callFrame.url.replace(/^file:\/\/.*?\/dist\//, '');
    file.set(f, (file.get(f) ?? 0) + 1);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + 1);
    }
  });
  const top = (m: Map<string, number>, k: number): string => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([s, c]) => `${(100 * c / n).toFixed(1).padStart(5)} %  ${s}`).join('\n');
  return `${n} samples in the window\n\nSELF, by function\n${top(self, 40)}\n\nSELF, by file\n${top(file, 25)}\n\nINCLUSIVE, by function\n${top(incl, 60)}\n`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-storm-'));
  const manifests = join(dir, 'manifests'), state = join(dir, 'state'), prof = join(dir, 'prof');
  mkdirSync(manifests); mkdirSync(prof);
  const entry = join(repo, 'dist/cli/main.js');
  if (!existsSync(entry)) throw new Error('npm run build first');
  const t0 = Date.now();
  // STORM_PROFILE_LOG=FILE: the agent's log (stdout and stderr) is kept there
  const logFile = process.env['STORM_PROFILE_LOG'];
  const out = logFile ? openSync(logFile, 'w') : 'ignore';
  const agent = spawn(process.execPath, [...DAEMON_NODE_FLAGS, '--cpu-prof', '--cpu-prof-dir', prof, '--cpu-prof-interval', restart0 ? '100' : '500', entry, 'agent', '--manifests', manifests, '--state-dir', state, '--stop-on-exit'], { stdio: ['ignore', out, out] });
  try {
    for (let i = 0; i < 400 && !existsSync(join(state, 'agent.sock')); i++) await sleep(25);
    const unit = restart0 ? "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'exit 1'\nRestart=always\nRestartSec=0\n"
      : "[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c 'sleep 1; exit 1'\nRestart=always\nRestartSec=1s\n";
    for (let i = 0; i < units; i++) writeFileSync(join(manifests, `f${i}.service`), unit);
    const deadline = Date.now() + 60_000;
    let up = 0;
    while (Date.now() < deadline && up < units) {
      const r = await request(state, { cmd: 'list' }, 10_000).catch(() => undefined);
      up = r?.ok ? (r.units ?? []).filter((u) => u.ActiveState !== 'inactive').length : up;
      await sleep(500);
    }
    await sleep(2000);
    const pids = [agent.pid!, ...forkServerPids(state)];
    const before = await request(state, { cmd: 'stats' }, 30_000);
    const c0 = pids.map(ticks), w0 = Date.now();
    await sleep(seconds * 1000);
    const c1 = pids.map(ticks), w1 = Date.now();
    const after = await request(state, { cmd: 'stats' }, 30_000);
    const wall = (w1 - w0) / 1000;
    const cpu = pids.map((_, i) => ((c1[i]! - c0[i]!) / 100 / wall) * 100);
    const st = (r: typeof before): { stateWrites: number; decisions: number; restarts?: number } => (r.ok && r.stats ? r.stats : { stateWrites: 0, decisions: 0 });
    const per = (k: 'stateWrites' | 'decisions' | 'restarts'): number => ((st(after)[k] ?? 0) - (st(before)[k] ?? 0)) / wall;
    const writes = per('stateWrites'), decisions = per('decisions'), restarts = per('restarts');
    process.stdout.write(`${up} of ${units} up; over ${wall.toFixed(1)} s: agent ${cpu[0]!.toFixed(1)} % of a core, fork server ${cpu.slice(1).map((c) => c.toFixed(1)).join('+') || '-'} %; ${restarts.toFixed(0)} restarts/s (${(cpu[0]! * 10 / Math.max(1, restarts)).toFixed(2)} ms of agent CPU a restart); ${writes.toFixed(0)} state writes/s for ${decisions.toFixed(0)} decisions/s (${(writes / Math.max(1, decisions)).toFixed(2)} per decision); load ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    const f = readdirSync(prof).find((x) => x.endsWith('.cpuprofile'));
    if (!f) throw new Error('no profile written');
    const p = JSON.parse(readFileSync(join(prof, f), 'utf8')) as Profile;
    // the profile's clock starts as the agent's main script does, ~t0 (the process start's ms are in the noise of a 10 s window)
    const from = (w0 - t0) * 1000, to = (w1 - t0) * 1000;
    process.stdout.write(summarize(p, from, to));
    if (process.env['STORM_PROFILE_KEEP']) { writeFileSync(process.env['STORM_PROFILE_KEEP'], JSON.stringify(p)); }
  } finally {
    if (agent.exitCode === null) { agent.kill('SIGTERM'); await new Promise((r) => agent.once('exit', r)); }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
