// Builds uo-shim from every C module in shim/ (the .c files, with their .h headers) with the
// system C compiler, once, into a cache keyed by a hash of all those sources and the build
// flags; returns its path.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of the shim's C sources (`uo-shim.c` holds main()). */
export const SHIM_DIR = join(dirname(fileURLToPath(import.meta.url)), 'shim');

const CFLAGS = ['-O2', '-Wall', '-Wextra'];

/** The shim's sources and headers, sorted by name. */
export function shimSources(dir: string = SHIM_DIR): { c: string[]; all: string[] } {
  const names = readdirSync(dir).filter((f) => f.endsWith('.c') || f.endsWith('.h')).sort();
  return { c: names.filter((f) => f.endsWith('.c')).map((f) => join(dir, f)), all: names.map((f) => join(dir, f)) };
}

export function ensureShim(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env['UNIT_OPERATOR_SHIM'] && existsSync(env['UNIT_OPERATOR_SHIM'])) return env['UNIT_OPERATOR_SHIM'];
  const sources = shimSources();
  const h = createHash('sha256').update(CFLAGS.join(' ')).update('\0');
  // every source and header, each named, so that a rename or a moved declaration rebuilds too
  for (const f of sources.all) h.update(f.slice(SHIM_DIR.length + 1)).update('\0').update(readFileSync(f)).update('\0');
  const hash = h.digest('hex').slice(0, 12);
  const cache = join(env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? homedir(), '.cache'), 'unit-operator', 'shim', hash);
  const bin = join(cache, 'uo-shim');
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  for (const cc of [env['CC'], 'cc', 'gcc', 'clang'].filter((x): x is string => !!x)) {
    const r = spawnSync(cc, [...CFLAGS, '-o', tmp, ...sources.c], { encoding: 'utf8' });
    if (r.error) continue;
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      throw new Error(`building uo-shim with ${cc} failed:\n${r.stderr}`);
    }
    renameSync(tmp, bin);
    return bin;
  }
  throw new Error('a C compiler (cc) is needed once to build uo-shim, the per-service process holder: apt-get install gcc (or set UNIT_OPERATOR_SHIM to a built uo-shim)');
}
