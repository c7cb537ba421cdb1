// What one holder costs (issue 19): N uo-shim holders of an idle command (`sleep`), started
// directly (no agent), with the settings the agent gives a plain unit (stdout/stderr to the
// unit's log through the shim, stdin null); then the memory of the holders alone, from
// /proc/PID/smaps_rollup (RSS, PSS, private dirty) and, per mapping, from /proc/PID/smaps: where
// the private pages are (the binary's .data/.bss, libc's relocations, the heap, the stack...).
//
//   node bench/holder.ts [COUNT] [SHIM...]     (default: 1000 holders of the shim the agent builds)
//
// Several shims are measured one after the other in the same run (the baseline beside a change).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { ensureShim, kernelHeaders } from '../src/runner/shim.ts';
import { encodeShimArgs, encodeShimEnv } from '../src/runner/shimproto.ts';
import { sleep } from './lib.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

export interface HolderFootprint {
  readonly shim: string;
  readonly holders: number;
  /** Per holder, KB: the means over all holders. */
  readonly rssKB: number;
  readonly pssKB: number;
  readonly privateDirtyKB: number;
  /** Page tables of the holders, KB per holder (VmPTE; not part of PSS). */
  readonly pageTablesKB: number;
  /** Private dirty KB per holder by mapping kind (binary .data/.bss, libc, ld.so, heap, stack, anon...). */
  readonly privateByMapping: Readonly<Record<string, number>>;
  /** PSS KB per holder by mapping kind. */
  readonly pssByMapping: Readonly<Record<string, number>>;
}

const kb = (text: string, key: string): number => Number(new RegExp(`^${key}:\\s+([0-9]+) kB`, 'm').exec(text)?.[1] ?? 0);

/** The kind of a mapping: the file it maps (binary, libc, ld.so, other file) or the anonymous kind. */
function kindOf(path: string, perms: string, shim: string, prevFile: string): string {
  const file = path === shim ? 'binary' : /\/libc[.-]/.test(path) ? 'libc' : /\/ld-linux/.test(path) ? 'ld.so' : path.startsWith('/') ? 'other file' : '';
  if (file) return `${file} ${perms.includes('w') ? 'rw (.data)' : perms.includes('x') ? 'text' : 'ro (relro/rodata)'}`;
  if (path === '[stack]' || path === '[heap]' || path.startsWith('[v')) return path;
  // an anonymous mapping right after a file's writable mapping is that file's .bss
  return prevFile ? `${prevFile} anon (.bss)` : 'anon (TLS, mmap)';
}

/** Per mapping kind: private dirty and PSS (KB) of one process. */
export function mappingProfile(pid: number, shim: string): { priv: Record<string, number>; pss: Record<string, number> } {
  const priv: Record<string, number> = {}, pss: Record<string, number> = {};
  let text: string;
  try { text = readFileSync(`/proc/${pid}/smaps`, 'utf8'); } catch { return { priv, pss }; }
  let kind = '', prevFile = '', lastFile = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const perms = head[1]!, path = head[2]!.trim();
      kind = kindOf(path, perms, shim, prevFile);
      lastFile = path === shim ? 'binary' : /\/libc[.-]/.test(path) ? 'libc' : /\/ld-linux/.test(path) ? 'ld.so' : '';
      prevFile = lastFile && perms.includes('w') ? lastFile : '';
      continue;
    }
    const m = /^(Private_Dirty|Pss):\s+([0-9]+) kB/.exec(line);
    if (m) (m[1] === 'Pss' ? pss : priv)[kind] = ((m[1] === 'Pss' ? pss : priv)[kind] ?? 0) + Number(m[2]);
  }
  return { priv, pss };
}

/** Starts `count` holders of `sleep` with `shim`, measures them, stops them (by PID). */
export async function holderFootprint(shim: string, count: number, say: (s: string) => void = () => {}): Promise<HolderFootprint> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-holder-'));
  const holders: { pid: number; events: string }[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const unit = join(dir, 'units', `h${i}.service`);
      const run = join(unit, 'run', '1-start-0');
      mkdirSync(run, { recursive: true });
      const events = join(run, 'events');
      const env = encodeShimEnv({ env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', INVOCATION_ID: 'f'.repeat(32) }, rlimits: [], stdout: 'journal', stderr: 'journal', stdin: 'null', ignoreSigpipe: true, log: join(unit, 'journal.log'), logMaxBytes: 8 << 20 });
      const c = spawn(shim, encodeShimArgs(events, '/bin/sleep', ['/bin/sleep', '100000']), { detached: true, stdio: 'ignore', env });
      c.unref();
      holders.push({ pid: c.pid ?? 0, events });
      if (i % 50 === 49) await sleep(20); // the machine is shared: do not fork 1,000 at once
    }
    // every holder has reported its command's exec
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && !holders.every((h) => existsSync(h.events) && /^exec /m.test(readFileSync(h.events, 'utf8')))) await sleep(200);
    await sleep(1000);
    let rss = 0, pss = 0, pd = 0, pte = 0, n = 0;
    const priv: Record<string, number> = {}, pssBy: Record<string, number> = {};
    for (const h of holders) {
      try {
        const r = readFileSync(`/proc/${h.pid}/smaps_rollup`, 'utf8');
        const st = readFileSync(`/proc/${h.pid}/status`, 'utf8');
        rss += kb(r, 'Rss'); pss += kb(r, 'Pss'); pd += kb(r, 'Private_Dirty'); pte += kb(st, 'VmPTE');
        n++;
        const p = mappingProfile(h.pid, shim);
        for (const [k, v] of Object.entries(p.priv)) priv[k] = (priv[k] ?? 0) + v;
        for (const [k, v] of Object.entries(p.pss)) pssBy[k] = (pssBy[k] ?? 0) + v;
      } catch { /* gone */ }
    }
    const per = (x: number): number => x / Math.max(1, n);
    const perMap = (o: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(o).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, per(v)]));
    say(`${shim}: ${n} of ${count} holders measured`);
    return { shim, holders: n, rssKB: per(rss), pssKB: per(pss), privateDirtyKB: per(pd), pageTablesKB: per(pte), privateByMapping: perMap(priv), pssByMapping: perMap(pssBy) };
  } finally {
    // the commands first (each holder then reports and exits), then any holder left, by PID
    for (const h of holders) {
      // only a command its holder has not reaped (a reaped PID may be reused)
      try { const text = readFileSync(h.events, 'utf8'); const spawnLine = /^spawn ([0-9]+)$/m.exec(text); if (spawnLine && !text.includes(`\nexit ${spawnLine[1]} `)) process.kill(Number(spawnLine[1]), 'SIGKILL'); } catch { /* gone */ }
    }
    await sleep(1000);
    for (const h of holders) { try { if (h.pid > 0 && readFileSync(`/proc/${h.pid}/cmdline`, 'utf8').includes(h.events)) process.kill(h.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The shim's sources at a git revision (src/runner/shim/ at REV), built into dir as that
 * revision's src/runner/shim.ts built them when it did not say otherwise: cc -O2 -Wall -Wextra,
 * dynamically linked (the build before issue 19). Returns the binary's path.
 */
export function shimAtRevision(rev: string, dir: string): string {
  const git = (...args: string[]): string => {
    const r = spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const src = join(dir, `src-${rev.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  mkdirSync(src, { recursive: true });
  for (const f of git('ls-tree', '--name-only', `${rev}:src/runner/shim/`).split('\n').filter((n) => /\.[ch]$/.test(n))) writeFileSync(join(src, f), git('show', `${rev}:src/runner/shim/${f}`));
  return buildShim(src, join(src, 'uo-shim'), 'cc', []);
}

/** The shim's sources in src built with cc and flags (musl-gcc: the kernel's headers beside it). */
export function buildShim(src: string, out: string, cc: string, flags: readonly string[]): string {
  const c = readdirSync(src).filter((f) => f.endsWith('.c')).map((f) => join(src, f));
  const extra = cc === 'musl-gcc' ? ['-isystem', kernelHeaders(`${out}.kernel-headers`) ?? '/nonexistent'] : [];
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', ...flags, ...extra, '-o', out, ...c], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cc} ${flags.join(' ')}: ${r.stderr ?? r.error}`);
  return out;
}

/** The rows of holderFootprint() results as a table. */
export function holderTable(rows: readonly HolderFootprint[]): string {
  const fmt = (v: number): string => v.toFixed(1);
  let out = 'SHIM  HOLDERS  RSS KB  PSS KB  PRIVATE DIRTY KB  PAGE TABLES KB  (per holder)\n';
  for (const r of rows) out += `${r.shim}  ${r.holders}  ${fmt(r.rssKB)}  ${fmt(r.pssKB)}  ${fmt(r.privateDirtyKB)}  ${fmt(r.pageTablesKB)}\n  private dirty by mapping: ${Object.entries(r.privateByMapping).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}\n`;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const count = Number(process.argv[2] ?? 1000);
  const shims = process.argv.length > 3 ? process.argv.slice(3) : [ensureShim()];
  const rows: HolderFootprint[] = [];
  for (const s of shims) rows.push(await holderFootprint(s, count, (m) => process.stderr.write(`${m}\n`)));
  process.stdout.write(holderTable(rows));
}
