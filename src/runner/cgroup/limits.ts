// Writes a unit's resource limits (resources.ts limitWrites()) into its cgroup directories, at
// start and again when the spec changes while it runs (systemctl set-property: no restart).
// Effectful and small: what to write, and in which order, is decided in resources.ts.

import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { limitWrites, type Available, type HostFacts, type LimitLayout, type LimitWrite, type Resources } from './resources.ts';

/** A unit's cgroup directory per hierarchy: 'unified' and/or v1 controller names ("memory", "cpu", …). */
export type CgroupDirs = Readonly<Record<string, string>>;

export interface LimitProblem {
  /** The directive the write expressed ("MemoryMax"), or "" for a reset to the default. */
  readonly directive: string;
  readonly path: string;
  readonly value: string;
  /** errno code ("EINVAL", "EBUSY", "ENOENT"), or "ENODIR" when the unit has no cgroup in that hierarchy. */
  readonly code: string;
  /** systemd's words: "Failed to set 'memory.max' attribute on '…' to '…': Invalid argument". */
  readonly message: string;
}

/** The directory a controller's files are in: the unified one on v2, the controller's hierarchy on v1. */
export function dirFor(dirs: CgroupDirs, layout: LimitLayout, controller: string): string | undefined {
  return layout === 'v2' ? dirs['unified'] ?? dirs[controller] : dirs[controller];
}

const ERRNO_TEXT: Record<string, string> = {
  EINVAL: 'Invalid argument', EBUSY: 'Device or resource busy', ENOENT: 'No such file or directory', EACCES: 'Permission denied',
  EPERM: 'Operation not permitted', EROFS: 'Read-only file system', ENOSPC: 'No space left on device', ERANGE: 'Numerical result out of range',
};

/** Optional files a unit's cgroup was found without (parent folder/file → when): the same for every cgroup made below that parent. */
const lacked = new Map<string, number>();
/** How long a file found missing is not looked for again (a module loaded since, as bfq, adds it). */
const LACKED_MS = 60_000;
const lacks = (k: string): boolean => { const at = lacked.get(k); return at !== undefined && Date.now() - at < LACKED_MS; };

function write(dirs: CgroupDirs, layout: LimitLayout, x: LimitWrite): LimitProblem | undefined {
  const dir = dirFor(dirs, layout, x.controller);
  const path = dir === undefined ? `(${x.controller})/${x.file}` : join(dir, x.file);
  const fail = (code: string, text: string): LimitProblem =>
    ({ directive: x.directive, path, value: x.value, code, message: `Failed to set '${x.file}' attribute on '${dir ?? `(no ${x.controller} hierarchy)`}' to '${x.value}': ${text}` });
  // a reset into a hierarchy the unit's cgroup is not made in (realize.ts): nothing of its own to reset there
  if (dir === undefined) return x.optional || x.directive === '' ? undefined : fail('ENODIR', `the unit has no cgroup in the ${x.controller} hierarchy`);
  // a reset (no directive asks for it) into an optional file this kernel's controller lacks
  // (blkio.bfq.weight without BFQ): not tried again at every start for a while (each try is an
  // ENOENT, and Node makes an Error of it); a directive's write is always tried
  // (keyed by the cgroup's parent: on cgroup2 which files a cgroup has is its parent's subtree_control)
  const lacking = `${dirname(dir)}/${x.file}`;
  if (x.optional && x.directive === '' && lacks(lacking)) return undefined;
  try {
    // a cgroup file takes one value per write(2); no O_CREAT (a missing file is ENOENT, not created)
    writeFileSync(path, x.value, { flag: 'r+' });
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    // only a file missing from a cgroup that is there (not a cgroup removed behind the agent's back)
    if (code === 'ENOENT' && x.optional) { if (existsSync(dir)) lacked.set(lacking, Date.now()); return undefined; }
    return fail(code, ERRNO_TEXT[code] ?? code);
  }
}

/**
 * What a cgroup's file holds when the kernel has just made the cgroup, written as limitWrites()
 * writes its reset (test/runner/storm-cuts.test.ts checks each against the running kernel). The
 * io/blkio weights are not here: their initial value is not the reset (blkio.bfq.weight 100 vs 136).
 */
export const INITIAL: Readonly<Record<LimitLayout, Readonly<Record<string, string>>>> = {
  v1: { 'memory.memsw.limit_in_bytes': '-1', 'memory.limit_in_bytes': '-1', 'cpu.shares': '1024', 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '-1', 'pids.max': 'max' },
  v2: { 'memory.min': '0', 'memory.low': '0', 'memory.high': 'max', 'memory.max': 'max', 'memory.swap.max': 'max', 'memory.oom.group': '0', 'cpu.idle': '0', 'cpu.weight': '100', 'cpu.max': 'max 100000', 'pids.max': 'max' },
};

/** Whether a write is a reset (no directive asked for it) to what a new cgroup's file holds already. */
export const initialValue = (layout: LimitLayout, x: LimitWrite): boolean => x.directive === '' && INITIAL[layout][x.file] === x.value;

/**
 * Writes every file of limitWrites(resources, layout) in order into the unit's cgroups; returns
 * what failed (empty: all applied). A failed write does not stop the next ones, as systemd's
 * cgroup_context_apply() goes on after set_attribute_and_warn(). `fresh`: the cgroups were made
 * just now in every hierarchy (ensureUnitCgroup()), so a reset to the kernel's initial value is
 * left out (each automatic restart makes the cgroup anew: 6 of a default unit's 9 v1 writes).
 */
export function applyLimits(dirs: CgroupDirs, resources: Resources, layout: LimitLayout, fresh = false): LimitProblem[] {
  const problems: LimitProblem[] = [];
  for (const x of limitWrites(resources, layout)) {
    if (fresh && initialValue(layout, x)) continue;
    const p = write(dirs, layout, x);
    if (p) problems.push(p);
  }
  return problems;
}

/**
 * A changed spec on a running unit (set-property): the whole list is written again (each file
 * holds the new value or the kernel default, so a directive removed from the spec is reset),
 * and the directives whose files changed are returned for the log.
 */
export function reapplyLimits(dirs: CgroupDirs, before: Resources, after: Resources, layout: LimitLayout): { changed: string[]; problems: LimitProblem[] } {
  const key = (x: LimitWrite): string => `${x.controller}/${x.file}=${x.value}`;
  const old = new Set(limitWrites(before, layout).map(key));
  const changed = [...new Set(limitWrites(after, layout).filter((x) => !old.has(key(x))).map((x) => x.directive || x.file))];
  return { changed, problems: applyLimits(dirs, after, layout) };
}

/** What the unit's cgroups offer, for unappliable(): a file exists in the directory it would be written in. */
export function availableIn(dirs: CgroupDirs, layout: LimitLayout): Available {
  return {
    layout,
    has: (controller, file) => {
      const dir = dirFor(dirs, layout, controller);
      return dir !== undefined && existsSync(join(dir, file));
    },
  };
}

const readNumber = (path: string): number | undefined => {
  try {
    const t = readFileSync(path, 'utf8').trim();
    return /^[0-9]+$/.test(t) ? Number(t) : undefined; // "max" and -1 (v1 unlimited, 9223372036854771712) read as none
  } catch { return undefined; }
};

/** The kernel's page size, from the first mapping of /proc/self/smaps ("KernelPageSize: 4 kB"). */
function pageSize(proc: string): number {
  try {
    const fd = openSync(join(proc, 'self', 'smaps'), 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, 0);
      const m = /KernelPageSize:\s+([0-9]+) kB/.exec(buf.subarray(0, n).toString('latin1'));
      if (m) return Number(m[1]) * 1024;
    } finally { closeSync(fd); }
  } catch { /* below */ }
  return 4096;
}

export interface HostFactsOptions {
  readonly proc?: string;
  /** The memory hierarchy's root directory (v1 /sys/fs/cgroup/memory; v2 the cgroup2 mount). */
  readonly memoryRoot?: string;
  /** The pids hierarchy's root directory. */
  readonly pidsRoot?: string;
}

/**
 * systemd's physical_memory() (bounded by the root cgroup's memory limit, whole pages) and
 * system_tasks_max() (min of kernel.threads-max, kernel.pid_max − 1 and the root's pids.max),
 * src/basic/limits-util.c: what MemoryMax=50% and TasksMax=15% are fractions of.
 */
export function readHostFacts(opts: HostFactsOptions = {}): HostFacts {
  const proc = opts.proc ?? '/proc';
  const ps = pageSize(proc);
  let mem = totalmem();
  if (opts.memoryRoot !== undefined) {
    const lim = readNumber(join(opts.memoryRoot, 'memory.limit_in_bytes')) ?? readNumber(join(opts.memoryRoot, 'memory.max'));
    if (lim !== undefined && lim < mem) mem = Math.floor(lim / ps) * ps;
  }
  const threads = readNumber(join(proc, 'sys', 'kernel', 'threads-max')) ?? Number.MAX_SAFE_INTEGER;
  const pidMax = readNumber(join(proc, 'sys', 'kernel', 'pid_max'));
  const rootPids = opts.pidsRoot !== undefined ? readNumber(join(opts.pidsRoot, 'pids.max')) : undefined;
  const tasks = Math.min(threads, pidMax !== undefined && pidMax > 0 ? pidMax - 1 : Number.MAX_SAFE_INTEGER, rootPids ?? Number.MAX_SAFE_INTEGER);
  return { physicalMemory: mem, pageSize: ps, tasksMax: tasks };
}
