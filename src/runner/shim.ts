// Builds uo-shim (shim/uo-shim.c) with the system C compiler, once, into a cache keyed by the
// source's hash; returns its path.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHIM_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'shim', 'uo-shim.c');

export function ensureShim(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env['UNIT_OPERATOR_SHIM'] && existsSync(env['UNIT_OPERATOR_SHIM'])) return env['UNIT_OPERATOR_SHIM'];
  const source = readFileSync(SHIM_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const cache = join(env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? homedir(), '.cache'), 'unit-operator', 'shim', hash);
  const bin = join(cache, 'uo-shim');
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  for (const cc of [env['CC'], 'cc', 'gcc', 'clang'].filter((x): x is string => !!x)) {
    const r = spawnSync(cc, ['-O2', '-Wall', '-o', tmp, SHIM_SOURCE], { encoding: 'utf8' });
    if (r.error) continue;
    if (r.status !== 0) throw new Error(`building uo-shim with ${cc} failed:\n${r.stderr}`);
    renameSync(tmp, bin);
    return bin;
  }
  throw new Error('a C compiler (cc) is needed once to build uo-shim, the per-service process holder: apt-get install gcc (or set UNIT_OPERATOR_SHIM to a built uo-shim)');
}
