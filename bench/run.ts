// npm run bench: restart latency versus the configured delay, start latency, and supervisor
// CPU/RSS idle and under a crash storm (100 and 1,000 services) — for unit-operator and, in
// the same run, supervisord, PM2 and systemd 257 (where each is available); and the cost of a
// cgroup per unit (restart gap with and without, bench/cgroups.ts). Prints tables and writes
// bench/results/latest.json and latest.png. BENCH_SIZES=100 keeps it short. BENCH_PARTS (a
// comma list of converter, restart, start, cgroups, footprint) runs some parts only, and then
// writes bench/results/partial.json and partial.txt instead; BENCH_CGROUP_RESTARTS sets the
// number of restarts per variant of the cgroup part (default 40). The holder part (issue 19)
// starts BENCH_HOLDERS (default 1000) uo-shim holders of an idle command directly, without the
// agent, for each build of the shim — this tree's with musl static (what the agent builds when
// musl-gcc is there), glibc static and glibc dynamic, and BENCH_HOLDER_BASE (a git revision:
// its sources built as they were then, cc dynamic) for a before/after in the same run — and
// reports RSS, PSS, private dirty and page tables per holder, with the mappings the private
// pages are in. The scale part (issue 19; opt-in, not in a full run: BENCH_PARTS=scale) runs one
// agent with BENCH_SCALE_UNITS (default 5000) idle units: time until all are active, the agent's
// RSS, PSS and CPU while they idle, and `unitctl list` latency (socket answer and CLI command).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { tmpdir, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { percentile, type Peer, type Footprint } from './lib.ts';
import { Ours, type ScaleRow } from './peers/ours.ts';
import { Supervisord } from './peers/supervisord.ts';
import { Pm2 } from './peers/pm2.ts';
import { Systemd } from './peers/systemd.ts';
import { barChart, type Bar } from './chart.ts';
import { cgroupCost, type CgroupCostRow } from './cgroups.ts';
import { convertText } from '../src/unitfile/index.ts';
import { buildShim, holderFootprint, shimAtRevision, type HolderFootprint } from './holder.ts';
import { SHIM_DIR } from '../src/runner/shim.ts';
import { detectCgroups } from '../src/runner/cgroup/layout.ts';
import { release } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const sizes = (process.env['BENCH_SIZES'] ?? '100,1000').split(',').map(Number);
// BENCH_RESTARTS: restarts measured at RestartSec=0 (default 40; a P99 needs 200)
const restartsAt0 = Number(process.env['BENCH_RESTARTS'] ?? 40);
// BENCH_RESTART_DELAYS: the configured RestartSec= values of the restart part (ms, default 0,500);
// BENCH_RESTARTS_DELAYED: restarts measured at each non-zero one (default 12)
const restartDelays = (process.env['BENCH_RESTART_DELAYS'] ?? '0,500').split(',').map(Number);
const restartsDelayed = Number(process.env['BENCH_RESTARTS_DELAYED'] ?? 12);
// BENCH_LOADS=idle (or storm) keeps the footprint part to one load
const loads = (process.env['BENCH_LOADS'] ?? 'idle,storm').split(',');
const only = process.argv.slice(2);
const PARTS = ['converter', 'restart', 'start', 'cgroups', 'footprint', 'holder'];
// parts only run when named in BENCH_PARTS
const OPT_IN = ['scale'];
const parts = (process.env['BENCH_PARTS'] ?? PARTS.join(',')).split(',');
const partial = PARTS.some((p) => !parts.includes(p));
if (parts.some((p) => !PARTS.includes(p) && !OPT_IN.includes(p))) throw new Error(`BENCH_PARTS: use some of ${[...PARTS, ...OPT_IN].join(', ')}`);
const started = Date.now();
const say = (s: string): void => { process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`); };

const all: Peer[] = [new Ours(), new Supervisord(), new Pm2(), new Systemd()];
// BENCH_HOLDER_BASE=REV: unit-operator also with the shim of that revision (the holder before),
// in the footprint and restart parts, beside this tree's
const baseShimDir = process.env['BENCH_HOLDER_BASE'] && (parts.includes('footprint') || parts.includes('restart')) ? mkdtempSync(join(tmpdir(), 'uo-bench-base-')) : undefined;
if (baseShimDir) {
  const rev = process.env['BENCH_HOLDER_BASE']!;
  all.splice(1, 0, new Ours({ name: `unit-operator, shim of ${rev}`, env: { UNIT_OPERATOR_SHIM: shimAtRevision(rev, baseShimDir) } }));
  process.on('exit', () => rmSync(baseShimDir, { recursive: true, force: true }));
}
const peers: Peer[] = [];
const skipped: Record<string, string> = {};
for (const p of all) {
  if (only.length > 0 && !only.some((o) => p.name.includes(o))) continue;
  const why = await p.unavailable();
  if (why) { skipped[p.name] = why; say(`${p.name}: skipped (${why})`); } else peers.push(p);
}

interface Row { readonly peer: string; readonly [k: string]: unknown }
const results: { restart: Row[]; start: Row[]; footprint: Row[]; converter: Row[]; cgroups: CgroupCostRow[]; holder: (HolderFootprint & { label: string })[]; scale: ScaleRow[]; machine: Record<string, unknown>; skipped: Record<string, string> } = {
  restart: [], start: [], footprint: [], converter: [], cgroups: [], holder: [], scale: [], skipped,
  // favordynmods changes what a move into a cgroup costs every peer that uses cgroups (README: Cgroups on a node)
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, kernel: release(), cgroups: detectCgroups().mode, favordynmods: detectCgroups().favorDynMods, date: new Date().toISOString() },
};

async function step<T>(what: string, peer: Peer, f: (dir: string) => Promise<T>): Promise<T | string> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-bench-'));
  say(`${peer.name}: ${what}...`);
  try { return await f(dir); } catch (e) { return `error: ${(e as Error).message}`; } finally {
    await peer.cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    setImmediate(() => report(false)); // results so far, in case the run is cut short
  }
}

function report(final: boolean): void {
  const fmt = (v: unknown, digits = 1): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-');
  const tableOf = (rows: string[][]): string => {
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n') + '\n';
  };
  let out = `Machine: ${results.machine['cpus']} CPUs, Linux ${results.machine['kernel']}, cgroups ${results.machine['cgroups']}, favordynmods ${results.machine['favordynmods'] ? 'on' : 'off'}; ${results.machine['date']}\n`;
  // a P99 only from 200 samples or more; below that the column is the maximum, and says so
  const p99 = (r: Row, k: string): string => (typeof r['n'] === 'number' && r['n'] < 200 && typeof r[k] === 'number' ? `${fmt(r[k])} (max of ${r['n']})` : fmt(r[k]));
  if (parts.includes('restart')) out += `\nRestart latency: exit → next start, measured by the process itself (ms; P99 from ≥ 200 samples, else the max of n)\n` + tableOf([['PEER', 'CONFIGURED', 'N', 'P50', 'P99', 'ERROR P50', '|ERROR| P99', 'NOTE'], ...results.restart.map((r) => [r.peer, `${r['configuredMs']} ms`, String(r['n'] ?? '-'), fmt(r['p50']), p99(r, 'p99'), fmt(r['errP50']), p99(r, 'errP99'), String(r['note'] ?? '')])]);
  if (parts.includes('start')) out += `\nStart latency: unit added → its process runs (ms; each tool's own way: a file in the watched folder, supervisorctl update, pm2 start, systemctl daemon-reload + start)\n` + tableOf([['PEER', 'N', 'P50', 'P99', 'NOTE'], ...results.start.map((r) => [r.peer, String(r['n'] ?? '-'), fmt(r['p50']), p99(r, 'p99'), String(r['note'] ?? '')])]);
  if (results.cgroups.length > 0) {
    out += `\nCgroup cost: restart gap of one unit (RestartSec=0, exit → next start) with a cgroup per unit and without, alternating rounds (ms)\n`;
    out += tableOf([['PEER', 'CGROUPS', 'N', 'P50', 'P99', 'MEAN', 'NOTE'], ...results.cgroups.map((r) => [r.peer, r.cgroups, String(r.n ?? '-'), fmt(r.p50), fmt(r.p99), fmt(r.mean), r.note ?? ''])]);
    const [on, off] = results.cgroups;
    if (on && off && on.p50 !== undefined && off.p50 !== undefined) {
      out += `  with / without: P50 ×${fmt(on.p50 / off.p50, 2)}  P99 ×${fmt(on.p99! / off.p99!, 2)}  MEAN ×${fmt(on.mean! / off.mean!, 2)}; cost per start ≈ ${fmt(on.mean! - off.mean!, 2)} ms (mean difference)\n`;
    }
  }
  if (parts.includes('converter')) out += `\nConverter: a .service of N repeated Environment= lines (~200 bytes each) → ServiceUnit, best of 3 (ms; linear in N)\n` + tableOf([['LINES', 'BYTES', 'MS', 'µS/LINE'], ...results.converter.map((r) => [String(r['lines']), String(r['bytes']), fmt(r['ms']), fmt(r['usPerLine'], 2)])]);
  /** ms of the supervisor's CPU per service start in a storm (CPU % of one core × 10 / starts a second). */
  const cpuPerStart = (r: Row): number | undefined => (typeof r['startsPerS'] === 'number' && r['startsPerS'] > 0 && typeof r['cpuPct'] === 'number' ? (r['cpuPct'] * 10) / r['startsPerS'] : undefined);
  if (parts.includes('footprint')) {
    const h = (r: Row, k: 'rssKB' | 'pssKB' | 'privateDirtyKB'): string => { const x = r['holder'] as Footprint['holder']; return x ? fmt(x[k], 0) : '-'; };
    out += `\nSupervisor footprint (CPU % of one core; in the storm, STARTS/S: the services' own starts a second, counted by each service (one byte appended per start), and CPU MS/START: the supervisor's CPU time per start — a tool behind its schedule does fewer starts; RSS and PSS of the supervising processes: PSS shares libc among the holders; PRIV: private dirty; HOLDER: unit-operator's uo-shim per service, apart from the agent — the peers have no process per service)\n` + tableOf([['PEER', 'SERVICES', 'LOAD', 'CPU %', 'STARTS/S', 'CPU MS/START', 'RSS MB', 'PSS MB', 'PRIV MB', 'PSS KB/SERVICE', 'HOLDER RSS KB', 'HOLDER PSS KB', 'HOLDER PRIV KB', 'NOTE'], ...results.footprint.map((r) => [r.peer, String(r['size']), r['storm'] ? 'crash storm' : 'idle', fmt(r['cpuPct']), fmt(r['startsPerS'], 0), fmt(cpuPerStart(r), 2), fmt(r['rssMB']), fmt(r['pssMB']), fmt(r['privateDirtyMB']), fmt(r['perProcessKB'], 0), h(r, 'rssKB'), h(r, 'pssKB'), h(r, 'privateDirtyKB'), String(r['note'] ?? '')])]);
  }
  if (results.holder.length > 0) {
    out += `\nHolder footprint: ${results.holder[0]!.holders} uo-shim holders of an idle command started directly (no agent), per build; KB per holder (page tables are kernel memory, not in PSS)\n`;
    out += tableOf([['BUILD', 'HOLDERS', 'RSS KB', 'PSS KB', 'PRIVATE DIRTY KB', 'PAGE TABLES KB', 'PRIVATE DIRTY BY MAPPING (KB)'], ...results.holder.map((r) => [r.label, String(r.holders), fmt(r.rssKB), fmt(r.pssKB), fmt(r.privateDirtyKB), fmt(r.pageTablesKB), Object.entries(r.privateByMapping).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')])]);
  }
  if (results.scale.length > 0) {
    out += `\nScale: one unit-operator agent with N idle services (the agent alone: RSS, PSS, CPU % of one core over 10 s idle; unitctl list: the control socket's answer, P50 / max of 20, and the CLI command end to end with Node's start-up, P50 / max of 5; ms)\n`;
    out += tableOf([['SERVICES', 'ACTIVE', 'ALL ACTIVE AFTER S', 'RSS MB', 'PSS MB', 'CPU %', 'LIST (SOCKET) P50 / MAX', 'UNITCTL LIST P50 / MAX'], ...results.scale.map((r) => [String(r.units), String(r.up), fmt(r.startS, 0), fmt(r.rssMB), fmt(r.pssMB), fmt(r.cpuPct), `${fmt(r.listSocketP50)} / ${fmt(r.listSocketMax)}`, `${fmt(r.listCliP50)} / ${fmt(r.listCliMax)}`])]);
  }
  const ourRow = (size: unknown, storm: unknown): Row | undefined => results.footprint.find((r) => r.peer === 'unit-operator' && r['size'] === size && r['storm'] === storm);
  if (results.footprint.length > 0) out += '\nRatios to unit-operator (peer / unit-operator):\n';
  for (const r of results.footprint) {
    if (r.peer === 'unit-operator' || typeof r['rssMB'] !== 'number') continue;
    const mine = ourRow(r['size'], r['storm']);
    const o = mine?.['pssMB'] as number | undefined;
    const c = mine?.['cpuPct'] as number | undefined;
    const perStart = mine ? cpuPerStart(mine) : undefined, theirs = cpuPerStart(r);
    out += `  ${r.peer.padEnd(12)} ${String(r['size']).padStart(5)} ${r['storm'] ? 'storm' : 'idle '}  PSS ×${o ? fmt((r['pssMB'] as number) / o, 2) : '-'}  CPU ×${c ? fmt((r['cpuPct'] as number) / c, 2) : '-'}${r['storm'] ? `  CPU/START ×${perStart && theirs !== undefined ? fmt(theirs / perStart, 2) : '-'}` : ''}\n`;
  }
  if (final) process.stdout.write(out);

  const resultsDir = join(here, 'results');
  mkdirSync(resultsDir, { recursive: true });
  // a partial run (BENCH_PARTS) keeps the full run's latest.* as they are
  writeFileSync(join(resultsDir, partial ? 'partial.json' : 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(resultsDir, partial ? 'partial.txt' : 'latest.txt'), out);
  if (partial) { if (final) say(`parts ${parts.join(', ')} only: wrote ${join(resultsDir, 'partial.json')} and partial.txt (latest.* are the last full run's)`); return; }
  const names = peers.map((p) => p.name);
  const bars: Bar[] = [
    ...results.restart.filter((r) => typeof r['p50'] === 'number').map((r) => ({ group: `restart ${r['configuredMs']}ms p50`, peer: r.peer, value: r['p50'] as number })),
    ...results.start.filter((r) => typeof r['p50'] === 'number').map((r) => ({ group: 'start p50', peer: r.peer, value: r['p50'] as number })),
  ];
  const svg1 = barChart('Latency (ms, lower is better)', 'ms', bars, names);
  const fbars: Bar[] = results.footprint.filter((r) => typeof r['rssMB'] === 'number').map((r) => ({ group: `${r['size']} ${r['storm'] ? 'storm' : 'idle'}`, peer: r.peer, value: r['cpuPct'] as number }));
  const svg2 = barChart('Supervisor CPU (% of a core, lower is better)', '% CPU', fbars, names);
  const combined = `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.max(900, 180 * 4 + 120)}" height="760">${svg1.replace('<svg', '<svg y="0"')}${svg2.replace('<svg', '<svg y="380"')}</svg>`;
  writeFileSync(join(resultsDir, 'latest.svg'), combined);
  const png = spawnSync('rsvg-convert', ['-o', join(resultsDir, 'latest.png'), join(resultsDir, 'latest.svg')]);
  if (final) say(png.error || png.status !== 0 ? 'rsvg-convert not available: wrote latest.svg only (apt-get install librsvg2-bin for the PNG)' : `wrote ${join(resultsDir, 'latest.json')}, latest.txt and latest.png`);
}

// the converter on large files (issue 12: it was quadratic in repeated directives)
for (const n of parts.includes('converter') ? [1_000, 10_000, 100_000] : []) {
  const text = `[Service]\nExecStart=/bin/true\n${Array.from({ length: n }, (_, i) => `Environment=VAR_${i}=${'x'.repeat(180)}`).join('\n')}\n`;
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    try { convertText(text, '/bench/big.service'); } catch { /* more than 256 Environment= items: refused after the whole conversion */ }
    best = Math.min(best, performance.now() - t0);
  }
  say(`converter: ${n} lines in ${best.toFixed(1)} ms`);
  results.converter.push({ peer: 'unit-operator', lines: n, bytes: text.length, ms: best, usPerLine: (best * 1000) / n });
}
for (const configured of parts.includes('restart') ? restartDelays : []) {
  for (const p of peers) {
    const d = await step(`restart delay (RestartSec=${configured}ms)`, p, (dir) => p.restartDelays(configured, configured === 0 ? restartsAt0 : restartsDelayed, dir));
    if (typeof d === 'string') { results.restart.push({ peer: p.name, configuredMs: configured, note: d }); continue; }
    const err = d.map((x) => x - configured);
    results.restart.push({ peer: p.name, configuredMs: configured, n: d.length, p50: percentile(d, 50), p99: percentile(d, 99), errP50: percentile(err, 50), errP99: percentile(err.map(Math.abs), 99) });
  }
}
for (const p of parts.includes('start') ? peers : []) {
  const d = await step('start latency', p, (dir) => p.startLatencies(8, dir));
  results.start.push(typeof d === 'string' ? { peer: p.name, note: d } : { peer: p.name, n: d.length, p50: percentile(d, 50), p99: percentile(d, 99) });
}
// the cost of a cgroup per unit: unit-operator with and without, in the same run
if (parts.includes('cgroups') && peers.some((p) => p.name === 'unit-operator')) {
  results.cgroups = await cgroupCost(Number(process.env['BENCH_CGROUP_RESTARTS'] ?? 40), 4, say);
  report(false);
}
// the holder alone, per build of the shim (issue 19)
if (parts.includes('holder')) {
  const count = Number(process.env['BENCH_HOLDERS'] ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'uo-bench-shims-'));
  const builds: { label: string; path: () => string }[] = [];
  const base = process.env['BENCH_HOLDER_BASE'];
  if (base) builds.push({ label: `${base} (before; cc, dynamic)`, path: () => shimAtRevision(base, dir) });
  builds.push(
    { label: 'this tree, cc dynamic', path: () => buildShim(SHIM_DIR, join(dir, 'uo-shim-dynamic'), 'cc', []) },
    { label: 'this tree, cc -static (glibc)', path: () => buildShim(SHIM_DIR, join(dir, 'uo-shim-glibc-static'), 'cc', ['-static']) },
    { label: 'this tree, musl-gcc -static', path: () => buildShim(SHIM_DIR, join(dir, 'uo-shim-musl'), 'musl-gcc', ['-static']) },
  );
  try {
    for (const b of builds) {
      say(`holder footprint: ${count} holders, ${b.label}...`);
      try { results.holder.push({ label: b.label, ...await holderFootprint(b.path(), count, say) }); } catch (e) { say(`${b.label}: ${(e as Error).message.split('\n')[0]}`); }
      report(false);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
for (const size of parts.includes('footprint') ? sizes : []) {
  for (const storm of [false, true].filter((x) => loads.includes(x ? 'storm' : 'idle'))) {
    for (const p of peers) {
      const f = await step(`footprint, ${size} services, ${storm ? 'crash storm' : 'idle'}`, p, (dir) => p.footprint(size, storm, storm ? 6 : 5, dir));
      results.footprint.push(typeof f === 'string' ? { peer: p.name, size, storm, note: f } : { peer: p.name, size, storm, ...(f as Footprint) });
    }
  }
}

// one agent with many idle units (issue 19's scale row; opt-in)
if (parts.includes('scale')) {
  const count = Number(process.env['BENCH_SCALE_UNITS'] ?? 5000);
  const p = new Ours();
  const r = await step(`scale, ${count} idle services`, p, (dir) => p.scale(count, dir, say));
  if (typeof r === 'string') say(`scale: ${r}`); else results.scale.push(r);
}

report(true);
say(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
