// Shared pieces of the benchmarks: workloads (scripts that timestamp their own start and exit),
// statistics, and process CPU/RSS sampling from /proc.
import { readFileSync, writeFileSync, existsSync, chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Footprint {
  /** Supervisor processes' resident memory (MB): the agent/daemon plus per-process holders. */
  readonly rssMB: number;
  /**
   * Their proportional set size (MB): shared pages (libc, the binary) divided among the
   * processes mapping them. What many small holders really cost; RSS counts libc once per holder.
   */
  readonly pssMB: number;
  /** Their CPU use over the window, % of one core. */
  readonly cpuPct: number;
  /** Supervisor memory (PSS) per supervised process (KB). */
  readonly perProcessKB: number;
  /** Their private dirty pages (MB): what no other process shares (smaps_rollup Private_Dirty). */
  readonly privateDirtyMB?: number;
  /**
   * The per-service holders alone (unit-operator's uo-shim processes, without the agent), KB per
   * holder: RSS, PSS and private dirty. Undefined for a tool without a process per service.
   */
  readonly holder?: { readonly count: number; readonly rssKB: number; readonly pssKB: number; readonly privateDirtyKB: number };
  /**
   * Crash storm only: the services' starts a second over the window, counted by the services
   * themselves (stormShell(): a byte appended per start), the same way for every peer. A tool
   * that falls behind its schedule does fewer: its CPU % alone would flatter it.
   */
  readonly startsPerS?: number;
  readonly note?: string;
}

/**
 * The crash storm's service, as `sh -c` text: counts its own start (one byte appended to
 * `startsFile`, a shell builtin: no process), runs `seconds`, exits 1. The same for every peer.
 */
export function stormShell(startsFile: string, seconds = 1): string {
  return `printf . >> "${startsFile}"; sleep ${seconds}; exit 1`;
}

const sizeOf = (p: string): number => { try { return statSync(p).size; } catch { return 0; } };

export interface Peer {
  readonly name: string;
  /** Why it can't run here, or undefined. */
  unavailable(): Promise<string | undefined>;
  /** Measured restart delays (ms) of a service that exits at once, with the given configured delay. */
  restartDelays(configuredMs: number, restarts: number, dir: string): Promise<number[] | string>;
  /** Latency (ms) from "add the unit" to "its process runs", n times. */
  startLatencies(n: number, dir: string): Promise<number[] | string>;
  /** CPU/RSS of the supervisor with `count` services, idle (sleeping) or crash-looping. */
  footprint(count: number, storm: boolean, seconds: number, dir: string): Promise<Footprint | string>;
  cleanup(): Promise<void>;
}

/**
 * A script that records when it starts and when it exits (ns since the epoch), then exits 1.
 * bash's $EPOCHREALTIME is a builtin: no `date` process is started, so the measured gap is the
 * supervisor's work plus one exec of bash, the same for every peer.
 */
export function crashScript(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, 'crash.sh');
  writeFileSync(p, crashScriptText(dir));
  chmodSync(p, 0o755);
  return p;
}

/** The text of crashScript(), writing its timestamps under `dir` (as the script will see it). */
export function crashScriptText(dir: string): string {
  return `#!/bin/bash\nt=$EPOCHREALTIME; echo "\${t/./}000" >> "${dir}/starts"\nt=$EPOCHREALTIME; echo "\${t/./}000" >> "${dir}/exits"\nexit 1\n`;
}

export function delaysFrom(dir: string): number[] {
  const read = (f: string): number[] => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);
  const starts = read('starts');
  const exits = read('exits');
  const out: number[] = [];
  for (let i = 0; i + 1 < starts.length && i < exits.length; i++) out.push((starts[i + 1]! - exits[i]!) / 1e6);
  return out;
}

export function countLines(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function stat(pid: number): { ticks: number; rssKB: number; pssKB: number; privateDirtyKB: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+([0-9]+) kB`, 'm').exec(rollup)?.[1] ?? 0);
    return { ticks: Number(f[11]) + Number(f[12]), rssKB: kb('Rss'), pssKB: kb('Pss'), privateDirtyKB: kb('Private_Dirty') };
  } catch { return undefined; }
}

/** CPU (% of a core) and RSS of a set of processes (re-listed at the end) over a window. */
export async function measure(pids: () => number[], seconds: number, supervised: number, startsFile?: string): Promise<Footprint> {
  const before = new Map(pids().map((p) => [p, stat(p)?.ticks ?? 0]));
  const starts0 = startsFile === undefined ? 0 : sizeOf(startsFile);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const wall = (Date.now() - t0) / 1000;
  let ticks = 0;
  let rss = 0;
  let pss = 0;
  let dirty = 0;
  for (const p of pids()) {
    const s = stat(p);
    if (!s) continue;
    ticks += s.ticks - (before.get(p) ?? s.ticks);
    rss += s.rssKB;
    pss += s.pssKB;
    dirty += s.privateDirtyKB;
  }
  const startsPerS = startsFile === undefined ? undefined : (sizeOf(startsFile) - starts0) / wall;
  return { rssMB: rss / 1024, pssMB: pss / 1024, cpuPct: (ticks / 100 / wall) * 100, perProcessKB: pss / Math.max(1, supervised), privateDirtyMB: dirty / 1024, ...(startsPerS !== undefined ? { startsPerS } : {}) };
}

/** RSS, PSS and private dirty of each of these processes, averaged (KB per process). */
export function perProcess(pids: readonly number[]): { count: number; rssKB: number; pssKB: number; privateDirtyKB: number } {
  let n = 0, rss = 0, pss = 0, dirty = 0;
  for (const p of pids) {
    const s = stat(p);
    if (!s) continue;
    n++; rss += s.rssKB; pss += s.pssKB; dirty += s.privateDirtyKB;
  }
  const per = (x: number): number => x / Math.max(1, n);
  return { count: n, rssKB: per(rss), pssKB: per(pss), privateDirtyKB: per(dirty) };
}

export function childrenOf(pid: number): number[] {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
