// Issue 19's quick memory probe: one standalone agent (dist/, DAEMON_NODE_FLAGS) on a folder of N
// idle units (`ExecStart=/bin/sleep 100000`, as the footprint part writes them); once every unit is
// up and MEM_PROBE_SETTLE_S (default 20) s have passed, the agent's own RSS/PSS (/proc/PID/smaps_rollup) and V8's figures
// (the agent's `stats`). MEM_PROBE_SNAPSHOT=DIR also writes a heap snapshot there (SIGUSR2);
// MEM_PROBE_ENTRY=FILE runs another build's cli/main.js; MEM_PROBE_LOG=FILE appends the agent's
// output there; MEM_PROBE_FLAGS adds node flags (--trace-gc); MEM_PROBE_SMAPS=DIR copies the agent's
// smaps, thread names and stats there (smaps-N.txt, threads-N.txt, stats-N.json).
// Usage: node bench/mem-probe.ts N [N...]   (run it under flock /tmp/uo-heavy.lock)
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../src/cli/client.ts';
import { DAEMON_NODE_FLAGS } from '../src/cli/runtime.ts';
import { killLeftovers } from '../src/runner/leftovers.ts';
import { sleep } from './lib.ts';

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = process.env['MEM_PROBE_ENTRY'] ?? join(repo, 'dist/cli/main.js'); // another build's main.js to compare
const snapshotDir = process.env['MEM_PROBE_SNAPSHOT'];
/** Seconds between the last unit up and the reading: idle, V8's memory reducer has run (the footprint bench reads at ~8 s). */
const settleS = Number(process.env['MEM_PROBE_SETTLE_S'] ?? 20);

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(l);
    if (m) out[m[1]!] = Number(m[2]) / 1024;
  }
  return out;
}

/** Anonymous RSS by kind of mapping: the brk heap, 64 MiB malloc arenas (threads'), V8's pages (256 KiB-aligned, smaller), the rest. */
function anonKinds(pid: number): string {
  const kinds = new Map<string, number>();
  let kind = '';
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const h = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(l);
    if (h) {
      const size = (parseInt(h[2]!, 16) - parseInt(h[1]!, 16)) / 1024;
      if (process.env['MEM_PROBE_MAPS'] && h[4] === '' && h[3] === '0' && size > 1024 && size < 60 * 1024) kind = `mid ${size}K`;
      else kind = h[4] === '[heap]' ? 'brk' : h[4] !== '' || h[3] !== '0' ? '' : size <= 1024 ? 'small' : size < 60 * 1024 ? 'mid' : 'arena';
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(l);
    if (m && kind) kinds.set(kind, (kinds.get(kind) ?? 0) + Number(m[1]) / 1024);
  }
  return [...kinds].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(' ');
}

async function probe(count: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-mem-probe-'));
  const manifests = join(dir, 'manifests'), state = join(dir, 'state');
  mkdirSync(manifests);
  for (let i = 0; i < count; i++) writeFileSync(join(manifests, `f${i}.service`), '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sleep 100000\n');
  const flags = [...DAEMON_NODE_FLAGS, ...(process.env['MEM_PROBE_FLAGS'] ?? '').split(' ').filter(Boolean), ...(snapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`] : [])];
  const log = process.env['MEM_PROBE_LOG']; // the agent's log, appended there
  const logFd = log ? openSync(log, 'a') : undefined;
  const agent = spawn(process.execPath, [...flags, entry, 'agent', '--manifests', manifests, '--state-dir', state, '--stop-on-exit'], { stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'ignore'] });
  if (logFd !== undefined) closeSync(logFd);
  const gone = new Promise((r) => agent.once('exit', r));
  const t0 = Date.now();
  try {
    for (let i = 0; i < 400 && !existsSync(join(state, 'agent.sock')); i++) await sleep(25);
    const deadline = Date.now() + 120_000; // bounded
    let up = 0;
    while (Date.now() < deadline) {
      const r = await request(state, { cmd: 'list' }, 30_000).catch(() => undefined);
      up = r?.ok ? (r.units ?? []).filter((u) => u.ActiveState === 'active').length : up;
      if (up >= count) break;
      await sleep(250);
    }
    const upS = (Date.now() - t0) / 1000; // the agent's spawn → every unit active (cold start; polled every 250 ms)
    const series: string[] = []; // MEM_PROBE_SERIES=1: RSS every 5 s while it settles
    for (let t = 0; t < settleS; t += 5) {
      if (process.env['MEM_PROBE_SERIES']) series.push(rollup(agent.pid!)['Rss']!.toFixed(0));
      await sleep(Math.min(5, settleS - t) * 1000);
    }
    const r = rollup(agent.pid!);
    const s = await request(state, { cmd: 'stats' }, 30_000);
    const m = s.ok ? s.stats?.memory : undefined;
    const mb = (n: number | undefined): string => n === undefined ? '-' : (n / 1048576).toFixed(1);
    const kinds = anonKinds(agent.pid!);
    const smapsTo = process.env['MEM_PROBE_SMAPS']; // a copy of /proc/PID/smaps and the threads' names, for a per-mapping diff
    if (smapsTo) {
      const tasks = readdirSync(`/proc/${agent.pid}/task`).map((t) => readFileSync(`/proc/${agent.pid}/task/${t}/comm`, 'utf8').trim());
      writeFileSync(join(smapsTo, `smaps-${count}.txt`), readFileSync(`/proc/${agent.pid}/smaps`, 'utf8'));
      writeFileSync(join(smapsTo, `threads-${count}.txt`), `${tasks.join('\n')}\n`);
      const fds = new Map<string, number>(); // the agent's open files by kind (socket, pipe, anon_inode:inotify, a path's folder)
      for (const fd of readdirSync(`/proc/${agent.pid}/fd`)) {
        let t = ''; try { t = readlinkSync(`/proc/${agent.pid}/fd/${fd}`).replace(/:\[\d+\]$/, '').replace(/\/[^/]*$/, '/'); } catch { continue; }
        fds.set(t, (fds.get(t) ?? 0) + 1);
      }
      writeFileSync(join(smapsTo, `fds-${count}.txt`), [...fds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join('\n') + '\n');
      writeFileSync(join(smapsTo, `stats-${count}.json`), JSON.stringify(s.ok ? s.stats : {}, null, 1));
    }
    const line = `units ${count} (${up} up in ${upS.toFixed(1)} s)  RSS ${r['Rss']!.toFixed(1)}  PSS ${r['Pss']!.toFixed(1)}  anon ${r['Anonymous']!.toFixed(1)}  file ${(r['Rss']! - r['Anonymous']!).toFixed(1)}  heapTotal ${mb(m?.heapTotal)}  heapUsed ${mb(m?.heapUsed)}  external ${mb(m?.external)}  arrayBuffers ${mb(m?.arrayBuffers)}  anon by mapping: ${kinds}${series.length ? `  RSS every 5 s: ${series.join(' ')}` : ''}  loadavg ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
    if (snapshotDir) {
      const before = new Set(readdirSync(snapshotDir));
      agent.kill('SIGUSR2');
      for (let i = 0; i < 600 && readdirSync(snapshotDir).every((f) => before.has(f)); i++) await sleep(100);
      await sleep(3000);
    }
    return line;
  } finally {
    agent.kill('SIGTERM');
    await Promise.race([gone, sleep(60_000)]);
    if (agent.exitCode === null && agent.signalCode === null) { agent.kill('SIGKILL'); await gone; }
    await killLeftovers(join(state, 'units'));
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const n of process.argv.slice(2).map(Number)) console.log(await probe(n));
