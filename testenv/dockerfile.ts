// The project's image without Docker: the Dockerfile is the one source of what goes in (its
// stages, COPY lines, RUN steps, ENV, USER, WORKDIR, ENTRYPOINT and CMD), replayed here.
//  - Every stage's base (node:24-bookworm-slim) is stood in for by this host: a build stage's
//    RUN steps run on the host in a staging folder that takes the place of its WORKDIR (apt-get
//    steps are skipped: what they install, gcc, is the host's); the final stage's base is
//    nodeBase() (the Node 24 binary npm installed, its libraries, busybox, users).
//  - The final stage's RUN steps run chroot()ed into the image's root file system.
// Anything the replay does not understand is an error naming the line, so the Dockerfile can't
// drift from what this builds without a failing `npm run image`.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { ImageBuildError, nodeBase, type ImageConfig } from './images.ts';

export interface Instruction { readonly op: string; readonly args: string; readonly line: number }
export interface Stage { readonly base: string; readonly name: string | undefined; readonly steps: Instruction[] }

/** Stages of a Dockerfile: comments dropped, backslash continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!.trim();
    const at = i + 1;
    if (!l || l.startsWith('#')) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = `${l.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new ImageBuildError(`Dockerfile line ${at}: cannot parse "${l}"`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(m[2]!.trim());
      if (!f) throw new ImageBuildError(`Dockerfile line ${at}: cannot parse FROM ${m[2]}`);
      stages.push({ base: f[1]!, name: f[2], steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new ImageBuildError(`Dockerfile line ${at}: ${op} before FROM`);
    stage.steps.push({ op, args: m[2]!.trim(), line: at });
  }
  return stages;
}

/**
 * An ENV instruction's NAME=value pairs as Docker reads them: a value's double quotes (in which \\
 * escapes \\, " and $), single quotes (literal) and unquoted backslash escapes are removed, and
 * pairs are separated by blanks outside quotes (`ENV A="x y" B=z`); the legacy `ENV NAME rest of
 * line` form takes the rest as it is. A string is the reason it cannot be read: $ substitution
 * (which Docker would do) is not replayed, so it is refused rather than copied literally.
 */
export function envPairs(args: string): Array<[string, string]> | string {
  const legacy = /^([^\s=]+)\s+(.*)$/.exec(args);
  if (legacy) return /^[A-Za-z_][A-Za-z0-9_]*$/.test(legacy[1]!) ? [[legacy[1]!, legacy[2]!]] : `not a variable name: ${legacy[1]}`;
  const pairs: Array<[string, string]> = [];
  let i = 0;
  while (i < args.length) {
    while (args[i] === ' ' || args[i] === '\t') i++;
    if (i >= args.length) break;
    const name = /^[A-Za-z_][A-Za-z0-9_]*=/.exec(args.slice(i))?.[0];
    if (!name) return `expected NAME=value at "${args.slice(i)}"`;
    i += name.length;
    let value = '';
    while (i < args.length && args[i] !== ' ' && args[i] !== '\t') {
      const c = args[i]!;
      if (c === "'") {
        const end = args.indexOf("'", i + 1);
        if (end < 0) return 'unterminated single quote';
        value += args.slice(i + 1, end); i = end + 1;
      } else if (c === '"') {
        i++;
        while (i < args.length && args[i] !== '"') {
          if (args[i] === '\\' && i + 1 < args.length && '\\"$'.includes(args[i + 1]!)) { value += args[i + 1]; i += 2; continue; }
          if (args[i] === '$') return 'variable substitution ($) is not replayed: write the value out';
          value += args[i++];
        }
        if (i >= args.length) return 'unterminated double quote';
        i++;
      } else if (c === '\\' && i + 1 < args.length) { value += args[i + 1]; i += 2; }
      else if (c === '$') return 'variable substitution ($) is not replayed: write the value out';
      else { value += c; i++; }
    }
    pairs.push([name.slice(0, -1), value]);
  }
  return pairs.length ? pairs : 'no NAME=value';
}

const jsonArray = (s: string): string[] | undefined => {
  if (!s.startsWith('[')) return undefined;
  const v = JSON.parse(s) as unknown;
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
};

/** The files of the build context a Dockerfile copies (for a cache key). */
export function contextSources(stages: readonly Stage[]): string[] {
  const out = new Set<string>();
  for (const s of stages) for (const st of s.steps) {
    if (st.op !== 'COPY' || /^--from=/.test(st.args)) continue;
    for (const src of st.args.split(/\s+/).slice(0, -1)) out.add(src.replace(/\/$/, ''));
  }
  return [...out].sort();
}

export interface ReplayOptions {
  readonly context: string;
  /** Where stages are staged and the image's root file system is laid out (emptied first). */
  readonly work: string;
  readonly nodeBinary: string;
  readonly progress?: (line: string) => void;
}

export interface Replayed { readonly rootfs: string; readonly config: ImageConfig }

/** The default shell form: ["a","b"] or `a b` (run with /bin/sh -c, as Docker does). */
function shellForm(args: string): string[] {
  return jsonArray(args) ?? ['/bin/sh', '-c', args];
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): void {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error || r.status !== 0) throw new ImageBuildError(`${what} failed (exit ${r.status}): ${r.error?.message ?? ''}\n${`${r.stdout}${r.stderr}`.slice(-4000)}`);
}

export function replayDockerfile(dockerfile: string, opts: ReplayOptions): Replayed {
  const progress = opts.progress ?? (() => {});
  const stages = parseDockerfile(readFileSync(dockerfile, 'utf8'));
  if (stages.length === 0) throw new ImageBuildError('the Dockerfile has no FROM');
  rmSync(opts.work, { recursive: true, force: true });
  mkdirSync(opts.work, { recursive: true });
  // a build stage's file system: its WORKDIR is a staging folder; nothing else of it exists
  const staged = new Map<string, { workdir: string; dir: string }>();
  const last = stages.length - 1;
  const rootfs = join(opts.work, 'rootfs');
  const config: { entrypoint?: string[]; cmd?: string[]; env: string[]; user?: string; workdir?: string } = { env: [] };

  stages.forEach((stage, idx) => {
    const final = idx === last;
    const label = stage.name ?? `stage ${idx}`;
    const env: Record<string, string> = {};
    let workdir = '/';
    const stageDir = join(opts.work, `stage-${idx}`);
    if (final) { mkdirSync(rootfs, { recursive: true }); nodeBase(rootfs, opts.nodeBinary); } else mkdirSync(stageDir, { recursive: true });
    /** A path inside this stage's file system → a host path. */
    const here = (p: string): string => {
      const abs = posix.resolve(workdir, p);
      if (final) return join(rootfs, abs);
      if (abs === workdir || abs.startsWith(`${workdir}/`)) return join(stageDir, abs.slice(workdir.length));
      throw new ImageBuildError(`${label}: ${abs} is outside the stage's WORKDIR ${workdir}: the replay only stages the WORKDIR`);
    };
    for (const st of stage.steps) {
      const where = `Dockerfile line ${st.line} (${label})`;
      switch (st.op) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, st.args);
          if (final) { mkdirSync(here('.'), { recursive: true }); config.workdir = workdir; }
          break;
        case 'ENV': {
          const pairs = envPairs(st.args);
          if (typeof pairs === 'string') throw new ImageBuildError(`${where}: ENV ${st.args}: ${pairs}`);
          for (const [name, value] of pairs) {
            env[name] = value;
            if (final) config.env.push(`${name}=${value}`);
          }
          break;
        }
        case 'COPY': {
          const words = st.args.split(/\s+/);
          const from = /^--from=(\S+)$/.exec(words[0]!)?.[1];
          const parts = from ? words.slice(1) : words;
          if (parts.some((w) => w.startsWith('--'))) throw new ImageBuildError(`${where}: COPY option not understood: ${st.args}`);
          const dest = parts.at(-1)!;
          for (const src of parts.slice(0, -1)) {
            let source: string;
            if (from) {
              const s = staged.get(from);
              if (!s) throw new ImageBuildError(`${where}: no stage named ${from}`);
              const abs = posix.resolve(s.workdir, src);
              if (!(abs === s.workdir || abs.startsWith(`${s.workdir}/`))) throw new ImageBuildError(`${where}: ${abs} is outside stage ${from}'s WORKDIR`);
              source = join(s.dir, abs.slice(s.workdir.length));
            } else source = join(opts.context, src);
            if (!existsSync(source)) throw new ImageBuildError(`${where}: ${src} does not exist (${source})`);
            const isDirDest = dest.endsWith('/') || parts.length > 2;
            const target = isDirDest ? join(here(dest), posix.basename(src)) : here(dest);
            mkdirSync(dirname(target), { recursive: true });
            cpSync(source, target, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case 'RUN': {
          if (final) {
            run('/usr/sbin/chroot', [rootfs, ...shellForm(st.args)], '/', { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', ...env }, where);
            break;
          }
          // on the host: the stage's WORKDIR is the staging folder; apt-get steps are the base's
          const steps = st.args.split(/\s*&&\s*/).filter((s) => !/^(apt-get|rm -rf \/var\/lib\/apt)/.test(s));
          const cmd = steps.join(' && ').split(`${workdir}/`).join(`${stageDir}/`);
          if (!cmd.trim()) break;
          progress(`image: ${label}: ${cmd.replace(stageDir, '.')}`);
          run('/bin/sh', ['-c', cmd], stageDir, { ...process.env, ...env }, where);
          break;
        }
        case 'USER': if (final) config.user = st.args; break;
        case 'ENTRYPOINT': if (final) config.entrypoint = shellForm(st.args); break;
        case 'CMD': if (final) config.cmd = shellForm(st.args); break;
        case 'LABEL': case 'EXPOSE': case 'ARG': break;
        default: throw new ImageBuildError(`${where}: ${st.op} is not replayed by testenv/dockerfile.ts`);
      }
    }
    if (!final) staged.set(stage.name ?? String(idx), { workdir, dir: stageDir });
    if (!final && !isAbsolute(workdir)) throw new ImageBuildError(`${label}: WORKDIR must be absolute`);
  });
  return { rootfs, config };
}
