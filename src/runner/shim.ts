// Builds uo-shim from every C module in shim/ (the .c files, with their .h headers) with the
// system C compiler, once, into a cache keyed by a hash of all those sources and the build
// flags; returns its path.
//
// A holder stays for its service's whole life, one per service, so its pages count a thousand
// times on a node (issue 19). The build is static when it can be: with musl (musl-gcc, Debian's
// musl-tools; the kernel's headers, linux-libc-dev, beside it) a holder keeps ~16 KB of private
// pages, against ~55 KB statically linked with glibc and ~95 KB dynamically linked (ld.so's and
// libc's relocations and data, per process). The ways are tried in that order, the first that
// builds wins; the ones available are part of the cache key.
//
// The agent runs the shim as root for every service, so the binary is verified, not trusted
// because a file of that name exists in a cache folder (issue 12): the binary and every folder
// above it must be owned by root or the agent's uid and writable by no one else (a root-owned
// sticky folder such as /tmp is allowed above the cache, as nobody can rename entries they do
// not own in it), and its sha256 must match the one recorded beside it when it was built
// (uo-shim.sha256, under the same ownership rules: whoever could rewrite it could already
// rewrite the folder, which the rules exclude). A binary that does not match is rebuilt (and
// said so); a folder that breaks the rules is refused with what is wrong and what to do. A
// prebuilt UNIT_OPERATOR_SHIM (the image's) gets the same ownership checks, and its hash is
// checked when UNIT_OPERATOR_SHIM_SHA256 gives one.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_UID, unsafe, unsafeChain } from './trust.ts';

/** The folder of the shim's C sources (`uo-shim.c` holds main()). */
export const SHIM_DIR = join(dirname(fileURLToPath(import.meta.url)), 'shim');

const CFLAGS = ['-O2', '-Wall', '-Wextra'];

/** One way to build the shim: a compiler and the flags it adds. */
interface Toolchain { readonly name: string; readonly cc: string; readonly flags: readonly string[]; readonly kernelHeaders?: boolean }

/** An executable of that name on PATH. */
function onPath(name: string, env: Readonly<Record<string, string | undefined>>): boolean {
  if (name.includes('/')) return existsSync(name);
  return (env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, name)));
}

/** The ways to build, best first: musl static, then the C compiler's libc static, then dynamic. */
function toolchains(env: Readonly<Record<string, string | undefined>>): Toolchain[] {
  const out: Toolchain[] = [];
  if (onPath('musl-gcc', env)) out.push({ name: 'musl-gcc -static', cc: 'musl-gcc', flags: ['-static'], kernelHeaders: true });
  const cc = [env['CC'], 'cc', 'gcc', 'clang'].find((x): x is string => !!x && onPath(x, env));
  if (cc) out.push({ name: `${cc} -static`, cc, flags: ['-static'] }, { name: cc, cc, flags: [] });
  return out;
}

/**
 * musl's headers have no linux/ nor asm/ (the kernel's, which the sandbox, privilege and seccomp
 * steps use): a folder of links to the system's (linux-libc-dev), and nothing else of glibc's.
 */
export function kernelHeaders(dir: string): string | undefined {
  const multiarch = spawnSync('cc', ['-print-multiarch'], { encoding: 'utf8' }).stdout?.trim() || `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  const links: Record<string, string> = { linux: '/usr/include/linux', asm: `/usr/include/${multiarch}/asm`, 'asm-generic': '/usr/include/asm-generic' };
  if (!Object.values(links).every((t) => existsSync(t))) return undefined;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name));
  return dir;
}

/** The shim's sources and headers, sorted by name. */
export function shimSources(dir: string = SHIM_DIR): { c: string[]; all: string[] } {
  const names = readdirSync(dir).filter((f) => f.endsWith('.c') || f.endsWith('.h')).sort();
  return { c: names.filter((f) => f.endsWith('.c')).map((f) => join(dir, f)), all: names.map((f) => join(dir, f)) };
}

/** A shim binary (or a folder above it) that the agent refuses to run. */
export class UntrustedShim extends Error {}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Checks a prebuilt shim (UNIT_OPERATOR_SHIM); returns its real path, the one to execute. */
export function verifyPrebuiltShim(path: string, sha?: string): string {
  const real = realpathSync(path); // a symlink is followed once, here: the agent runs the target
  const why = (statSync(real).isFile() ? undefined : `${real} is not a regular file`) ?? unsafe(real, false) ?? unsafeChain(dirname(real));
  if (why) throw new UntrustedShim(`refusing to run the shim ${path}${real !== path ? ` (${real})` : ''}: ${why}. The agent runs it as root for every service: make it and its folders owned by root and not group/world-writable (chown root: FILE; chmod go-w FILE), or unset UNIT_OPERATOR_SHIM to build one`);
  if (sha && sha256(real) !== sha.toLowerCase()) throw new UntrustedShim(`refusing to run the shim ${real}: its sha256 is ${sha256(real)}, not ${sha} (UNIT_OPERATOR_SHIM_SHA256)`);
  return real;
}

/**
 * The shim to run: UNIT_OPERATOR_SHIM when set and present (checked), else the one built from
 * these sources (checked, rebuilt when its hash does not match). `warn` is told about a rebuild.
 */
export function ensureShim(env: Readonly<Record<string, string | undefined>> = process.env, warn: (message: string) => void = () => {}): string {
  const pre = env['UNIT_OPERATOR_SHIM'];
  if (pre && existsSync(pre)) return verifyPrebuiltShim(pre, env['UNIT_OPERATOR_SHIM_SHA256']);
  const sources = shimSources();
  const ways = toolchains(env);
  const h = createHash('sha256').update(CFLAGS.join(' ')).update('\0').update(ways.map((w) => w.name).join('\0')).update('\0');
  // every source and header, each named, so that a rename or a moved declaration rebuilds too
  for (const f of sources.all) h.update(f.slice(SHIM_DIR.length + 1)).update('\0').update(readFileSync(f)).update('\0');
  const hash = h.digest('hex').slice(0, 12);
  const base = env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? homedir(), '.cache');
  const top = join(base, 'unit-operator');
  const cache = join(top, 'shim', hash);
  const bin = join(cache, 'uo-shim');
  const recorded = `${bin}.sha256`;
  mkdirSync(cache, { recursive: true, mode: 0o755 });
  // the folders above the cache are the user's: refused when unsafe; the cache's own folders
  // are ours: made safe (and what they held rebuilt, as it may have been changed meanwhile)
  const above = unsafeChain(dirname(top));
  if (above) throw new UntrustedShim(`refusing to run a shim from ${cache}: ${above}. The agent runs the shim as root for every service: fix the folder (chown root:, chmod go-w), set XDG_CACHE_HOME to a folder only root can write, or UNIT_OPERATOR_SHIM to a prebuilt uo-shim`);
  let reset = false;
  for (const d of [top, join(top, 'shim'), cache]) {
    const why = unsafe(d, false);
    if (!why) continue;
    if (lstatSync(d).isSymbolicLink() || (lstatSync(d).uid !== 0 && lstatSync(d).uid !== AGENT_UID)) throw new UntrustedShim(`refusing to run a shim from ${cache}: ${why}; remove ${d}`);
    chmodSync(d, lstatSync(d).mode & 0o755);
    reset = true;
  }
  if (existsSync(bin) && !reset) {
    const why = unsafe(bin, false) ?? (existsSync(recorded) ? unsafe(recorded, false) : `no recorded sha256 (${recorded})`);
    const want = existsSync(recorded) ? readFileSync(recorded, 'utf8').trim() : '';
    const have = why ? '' : sha256(bin);
    if (!why && have === want) return bin;
    warn(`the shim ${bin} ${why ? `is not trusted: ${why}` : `does not match its recorded sha256 (${have.slice(0, 16)}…, recorded ${want.slice(0, 16)}…)`}; rebuilding it`);
  } else if (reset) warn(`the shim cache ${cache} was writable by others; made safe, rebuilding the shim`);
  // built beside and renamed over (an agent or test that already runs the old one keeps it)
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    compile(ways, sources.c, tmp, warn);
    chmodSync(tmp, 0o755);
    writeFileSync(`${recorded}.${process.pid}.tmp`, `${sha256(tmp)}\n`, { mode: 0o644 });
    chmodSync(`${recorded}.${process.pid}.tmp`, 0o644);
    renameSync(`${recorded}.${process.pid}.tmp`, recorded);
    renameSync(tmp, bin);
    return bin;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Builds uo-shim from these sources into out, the best way available (the image's build step). */
export function buildShimTo(out: string, env: Readonly<Record<string, string | undefined>> = process.env, warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): string {
  compile(toolchains(env), shimSources().c, out, warn);
  chmodSync(out, 0o755);
  return out;
}

/** Compiles sources into out with the first of the ways that builds; throws when none does. */
function compile(ways: readonly Toolchain[], sources: readonly string[], out: string, warn: (message: string) => void): void {
  const headers = `${out}.kernel-headers.${process.pid}.tmp`;
  let failure = '';
  try {
    for (const way of ways) {
      rmSync(out, { force: true });
      let extra: string[] = [];
      if (way.kernelHeaders) {
        rmSync(headers, { recursive: true, force: true });
        const inc = kernelHeaders(headers);
        if (!inc) continue;
        extra = ['-isystem', inc];
      }
      const r = spawnSync(way.cc, [...CFLAGS, ...way.flags, ...extra, '-o', out, ...sources], { encoding: 'utf8' });
      if (r.error) continue;
      if (r.status !== 0) {
        failure ||= `building uo-shim with ${way.name} failed:\n${r.stderr}`;
        continue;
      }
      if (failure) warn(`${failure.trim()}\nbuilt uo-shim with ${way.name} instead (larger holders)`);
      return;
    }
  } finally {
    rmSync(headers, { recursive: true, force: true });
  }
  rmSync(out, { force: true });
  if (failure) throw new Error(failure);
  throw new Error('a C compiler (cc) is needed once to build uo-shim, the per-service process holder: apt-get install gcc (or set UNIT_OPERATOR_SHIM to a built uo-shim; musl-tools makes it smaller)');
}
