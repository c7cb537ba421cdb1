// What the agent does to a unit's cgroup: make it (before the first process of an invocation
// starts), list and signal its processes, tell whether it is empty, and remove it once empty.
// Synchronous file operations on cgroupfs, each a few system calls.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FOREIGN_BASE, holdersCgroup, type CgroupContext, type UnitCgroup } from './naming.ts';

const read = (f: string): string | undefined => { try { return readFileSync(f, 'utf8'); } catch { return undefined; } };
const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** A cgroup that could not be made, with the directory and the error. */
export class CgroupError extends Error {
  readonly dir: string;
  readonly code: string | undefined;
  constructor(dir: string, e: unknown, what = 'cannot make the cgroup') {
    super(`${what} ${dir}: ${(e as Error).message ?? String(e)}`);
    this.dir = dir;
    this.code = errCode(e);
  }
}

/** v1 cpuset: a new child has empty cpus/mems and refuses every process; copy the parent's. */
function fillCpuset(dir: string): void {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const mine = read(`${dir}/${f}`);
    if (mine === undefined || mine.trim() !== '') continue;
    const parent = read(`${dirname(dir)}/${f}`);
    if (parent !== undefined && parent.trim() !== '') writeFileSync(`${dir}/${f}`, parent.trim());
  }
}

/**
 * v2 with controllers: a cgroup's limits need the controllers enabled in every ancestor's
 * cgroup.subtree_control (never in the leaf: processes live there). Best effort: a controller
 * the parent does not offer is left out; what could not be enabled is returned.
 */
const LIMIT_CONTROLLERS = new Set(['cpu', 'cpuset', 'io', 'memory', 'pids']);

function enableControllers(dir: string): string[] {
  const offered = (read(`${dir}/cgroup.controllers`) ?? '').trim().split(/\s+/).filter((c) => LIMIT_CONTROLLERS.has(c));
  const enabled = new Set((read(`${dir}/cgroup.subtree_control`) ?? '').trim().split(/\s+/).filter(Boolean));
  const failed: string[] = [];
  for (const c of offered) {
    if (enabled.has(c)) continue;
    try { writeFileSync(`${dir}/cgroup.subtree_control`, `+${c}`); } catch { failed.push(c); }
  }
  return failed;
}

/**
 * Makes the cgroup in every hierarchy (and the slices above it), idempotent. Throws CgroupError.
 * Where no controller is to be enabled on the way (v1 hierarchies, a hybrid node's cgroup2), the
 * leaf is made first: one mkdir() per hierarchy when it exists or only it is missing (each start,
 * each automatic restart, each shim's holders' cgroup: issue 19's crash storm made ~60 a restart),
 * and the whole walk from the top only when a level above it is missing (ENOENT) — a cgroup or
 * slice removed behind the agent's back is made again all the same. True when this call made
 * the leaf in every hierarchy (its files then hold the kernel's initial values: applyLimits()).
 */
export function ensureUnitCgroup(cg: UnitCgroup, out?: { anyMade: boolean }): boolean {
  const levels = cg.rel.split('/');
  let made = true, anyMade = false;
  for (const h of cg.hierarchies) {
    const cpuset = h.version === 1 && h.controllers.includes('cpuset');
    const enable = h.version === 2 && cg.layout.mode === 'v2';
    const leaf = enable ? 'missing' : ensureLeaf(`${h.mount}/${cg.rel}`, cpuset, levels.length > 1);
    if (leaf !== 'missing') { made &&= leaf === 'made'; anyMade ||= leaf === 'made'; continue; }
    // another unit's stop may remove an emptied parent slice between two levels (ENOENT): the
    // walk starts again from the top, a bounded number of times
    for (let attempt = 1; ; attempt++) {
      try { const m = ensureLevels(h.mount, levels, enable, cpuset); made &&= m; anyMade ||= m; break; } catch (e) {
        if (attempt >= 5 || !(e instanceof CgroupError) || e.code !== 'ENOENT') throw e;
      }
    }
  }
  if (out) out.anyMade = anyMade;
  return made;
}

/** How long the holders' cgroup counts as there after it was made or found (ensureHolders()). */
const RECHECK_MS = 1000;
const holdersSeen = new WeakMap<CgroupContext, { cg: UnitCgroup; at: number; epoch: number }>();
let holdersEpoch = 0;

/**
 * The holders' cgroup of the agent (naming.ts holdersCgroup()), made when missing: each shim
 * moves itself there as it starts, so every spawn wants it — but it is looked at (a stat() in
 * every hierarchy) at most once a second: one removed behind the agent's back in that second
 * leaves a shim where its parent is, said by the shim's CGROUP note. Throws CgroupError.
 */
export function ensureHolders(ctx: CgroupContext, now = Date.now()): UnitCgroup | undefined {
  const seen = holdersSeen.get(ctx);
  if (seen && seen.epoch === holdersEpoch && now - seen.at >= 0 && now - seen.at < RECHECK_MS) return seen.cg;
  const cg = seen?.cg ?? holdersCgroup(ctx);
  if (!cg) return undefined;
  ensureUnitCgroup(cg);
  holdersSeen.set(ctx, { cg, at: now, epoch: holdersEpoch });
  return cg;
}

/**
 * The leaf alone: 'made' by this call, or 'there' already; 'missing' when a level above it is
 * missing, or, in a v1 cpuset hierarchy, when its cpuset.cpus/mems could not be filled from its
 * parent (the walk then copies them down every level, as a new child's are empty).
 */
function ensureLeaf(dir: string, cpuset: boolean, parentIsOurs: boolean): 'made' | 'there' | 'missing' {
  // there already (a restart): a stat, not a mkdir() that fails with EEXIST — cgroupfs takes its
  // lock for the mkdir, and Node makes an Error (message, stack) of every EEXIST
  let made = false;
  // one this agent removed (an automatic restart's new cgroup): no stat, mkdir() at once
  if (removedLeaves.delete(dir) || !statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    try { mkdirSync(dir); made = true; killedDirs.delete(dir); } catch (e) {
      if (errCode(e) === 'ENOENT') return 'missing';
      if (errCode(e) !== 'EEXIST') throw new CgroupError(dir, e);
    }
  }
  const found = made ? 'made' : 'there';
  // v1 cpuset: the kernel filled a new child from a parent with cgroup.clone_children (the walk
  // sets it on every level above a leaf): two reads, no copy — each automatic restart makes the
  // leaf anew (a new cgroup per invocation), and a cpuset write is the dearest cgroup write
  if (!cpuset || cpusetFilled(dir)) return found;
  // a parent made before clone_children was set (an older agent): it is set now, for next time
  if (parentIsOurs) cloneChildren(dirname(dir));
  copyCpuset(dir);
  // a parent with empty cpus/mems (made by someone else and not filled): the walk fills every level
  return cpusetFilled(dir) ? found : 'missing';
}

const cpusetFilled = (dir: string): boolean => ['cpuset.cpus', 'cpuset.mems'].every((f) => (read(`${dir}/${f}`) ?? 'x').trim() !== '');

/** v1: new children of `dir` get its cpuset.cpus and cpuset.mems from the kernel at mkdir() (best effort: the copy stays the fallback). */
function cloneChildren(dir: string): void {
  try { writeFileSync(`${dir}/cgroup.clone_children`, '1'); } catch { /* copied by hand then */ }
}

/** fillCpuset() as a CgroupError naming the folder. */
function copyCpuset(dir: string): void {
  try { fillCpuset(dir); } catch (e) { throw new CgroupError(dir, e, 'cannot copy cpuset.cpus/cpuset.mems into'); }
}

/** The walk from the top; true when it made the leaf. */
function ensureLevels(mount: string, levels: readonly string[], enable: boolean, cpuset: boolean): boolean {
  let dir = mount, made = false;
  for (const [i, level] of levels.entries()) {
    // v2: the parent enables its controllers for its children before each level is made (not
    // in hybrid mode: its cgroup2 carries no limits, and the host's root is left as it is)
    if (enable) enableControllers(dir);
    dir = `${dir}/${level}`;
    try { mkdirSync(dir); made = true; killedDirs.delete(dir); } catch (e) { made = false; if (errCode(e) !== 'EEXIST') throw new CgroupError(dir, e); }
    if (cpuset) copyCpuset(dir);
    // every level above the leaf hands its cpus/mems down to new children itself (ensureLeaf());
    // the kernel gives the flag to the children made below it, the leaf too (a Delegate= subtree's
    // cgroups in the cpuset hierarchy then take processes without a copy by hand)
    if (cpuset && i < levels.length - 1) cloneChildren(dir);
  }
  return made;
}

/** Leaf folders removeUnitCgroup() removed and ensureLeaf() has not made again (bounded: a unit removed for good stays in it). */
const removedLeaves = new Set<string>();
const forgetLeaf = (dir: string): void => { if (removedLeaves.size >= 100_000) removedLeaves.clear(); removedLeaves.add(dir); killedDirs.delete(dir); };

/**
 * cgroup2 directories this agent wrote cgroup.kill to, not made anew since: Linux (6.18 here)
 * kills at birth a child clone3()d into such a cgroup with CLONE_INTO_CGROUP from outside it
 * (the target's kill sequence is compared with the parent's cgroup's), while fork() and a move
 * through cgroup.procs are spared: a spawn into one tells its shim (UO_SHIM_CGROUP_FORK). An
 * ExecStopPost= after a SIGKILL, a restart into a cgroup kept between runs, died with SIGKILL.
 */
const killedDirs = new Set<string>();
export const cgroupKilled = (cg: UnitCgroup): boolean => cg.dirs['unified'] !== undefined && killedDirs.has(cg.dirs['unified']);

/**
 * Removes the (empty) cgroup in every hierarchy, and (unless leafOnly: a unit waiting to restart
 * keeps its slices) the slices between it and the base when they are empty. Returns the
 * directories that stay (busy). The kernel refuses to remove a cgroup with processes (EBUSY).
 */
export function removeUnitCgroup(cg: UnitCgroup, leafOnly = false): string[] {
  const busy: string[] = [];
  const baseDepth = leafOnly ? cg.rel.split('/').length - 1 : cg.base.split('/').length;
  const levels = cg.rel.split('/');
  for (const dir of cg.placement) {
    let d = dir;
    for (let depth = levels.length; depth > baseDepth; depth--, d = dirname(d)) {
      try { rmdirSync(d); if (depth === levels.length) forgetLeaf(d); } catch (e) {
        if (errCode(e) === 'ENOENT') continue;
        // the leaf's own children first (a Delegate= subtree), deepest first, then the leaf again
        if (depth === levels.length && errCode(e) === 'EBUSY' && removeBelow(d)) { try { rmdirSync(d); continue; } catch { /* busy */ } }
        if (depth === levels.length) busy.push(d);
        break; // a slice with other units in it stays
      }
    }
  }
  return busy;
}

/** Removes every cgroup below dir, deepest first; true when there was one (its removal is worth a retry). */
function removeBelow(dir: string): boolean {
  const below = subdirs(dir);
  for (const sub of below.reverse()) { try { rmdirSync(sub); } catch { /* busy: the leaf stays too */ } }
  return below.length > 0;
}

/** Every cgroup below dir (not dir itself), parents before children. */
function subdirs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 32) return;
    let names: import('node:fs').Dirent[];
    try { names = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const n of names) if (n.isDirectory()) { out.push(`${d}/${n.name}`); walk(`${d}/${n.name}`, depth + 1); }
  };
  walk(dir, 0);
  return out;
}

/** Whether the cgroup exists (in its primary hierarchy). */
export const cgroupExists = (cg: UnitCgroup): boolean => existsSync(cg.primary);

/** The PIDs of the cgroup and of every cgroup below it (a Delegate= subtree), from cgroup.procs of the primary hierarchy. */
export function cgroupPids(cg: UnitCgroup): number[] {
  // cgroup2 says in one read whether any process is in the subtree (the kernel updates it as a
  // process joins or exits, under the same lock as cgroup.procs): an empty group (each crash's
  // kill of what is left, issue 19) skips the walk of the folder and the cgroup.procs reads
  if (cg.primary === cg.dirs['unified'] && /^populated 0$/m.test(read(`${cg.primary}/cgroup.events`) ?? '')) return [];
  const pids: number[] = [];
  for (const d of [cg.primary, ...subdirs(cg.primary)]) {
    for (const l of (read(`${d}/cgroup.procs`) ?? '').split('\n')) if (l !== '') pids.push(Number(l));
  }
  return pids;
}

/** Whether any process is in the cgroup or below it: cgroup.events "populated" on cgroup2, cgroup.procs on v1. */
export function isPopulated(cg: UnitCgroup): boolean {
  const ev = cg.layout.unified ? read(`${cg.primary}/cgroup.events`) : undefined;
  if (ev !== undefined) return /^populated 1$/m.test(ev);
  return cgroupPids(cg).length > 0;
}

/** The file to watch for the "empty" event (cgroup.events on cgroup2); undefined on v1 (polled). */
export const eventsFile = (cg: UnitCgroup): string | undefined => (cg.layout.unified ? `${cg.primary}/cgroup.events` : undefined);

const sleepMs = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

/**
 * Freezes (true) or thaws the cgroup: cgroup.freeze on cgroup2, freezer.state on v1; waits
 * (bounded, 100 ms) for frozen. 'asked': the freeze was asked for but not seen done in that time
 * (a task stuck in the kernel: its siblings may still fork; thaw it all the same); false when
 * it cannot be asked.
 */
export function freezeCgroup(cg: UnitCgroup, frozen: boolean): boolean | 'asked' {
  try {
    if (cg.layout.unified) {
      writeFileSync(`${cg.dirs['unified']}/cgroup.freeze`, frozen ? '1' : '0');
      const done = (): boolean => /^frozen 1$/m.test(read(`${cg.dirs['unified']}/cgroup.events`) ?? '');
      for (let i = 0; frozen && i < 100 && !done(); i++) sleepMs(1);
      return !frozen || done() || 'asked';
    }
    const f = cg.dirs['freezer'];
    if (!f) return false;
    writeFileSync(`${f}/freezer.state`, frozen ? 'FROZEN' : 'THAWED');
    const done = (): boolean => (read(`${f}/freezer.state`) ?? '').trim() === 'FROZEN';
    for (let i = 0; frozen && i < 100 && !done(); i++) sleepMs(1);
    return !frozen || done() || 'asked';
  } catch { return false; }
}

const signal = (pid: number, sig: number): boolean => { try { process.kill(pid, sig); return true; } catch { return false; } };

export interface KillOptions {
  /** PIDs not to signal (the main and control processes, already signalled by the caller). */
  readonly exclude?: ReadonlySet<number>;
  /** Follow with SIGCONT (so stopped processes see the signal), as systemd does. */
  readonly cont?: boolean;
  /** Follow with SIGHUP (SendSIGHUP=). */
  readonly hup?: boolean;
  /** SIGKILL without cgroup.kill: the cgroup frozen, each process killed (a cgroup forked into again without being made anew: cgroupKilled()). */
  readonly noKillFile?: boolean;
}

/**
 * Signals every process of the cgroup; returns the PIDs signalled. SIGKILL through cgroup.kill
 * where the kernel has it (atomic: a forking process cannot escape); otherwise, as systemd's
 * cg_kill_recursive(), cgroup.procs is read and signalled again until no new process appears,
 * and for SIGKILL on v1 the freezer holds the cgroup still meanwhile (freeze, signal, thaw).
 */
export function killCgroup(cg: UnitCgroup, sig: number, o: KillOptions = {}): number[] {
  const done = new Set<number>(o.exclude ?? []);
  const sent: number[] = [];
  if (sig === 9 && cg.layout.unified && cg.layout.hasKill && !o.noKillFile) {
    const before = cgroupPids(cg).filter((p) => !done.has(p));
    try { writeFileSync(`${cg.dirs['unified']}/cgroup.kill`, '1'); killedDirs.add(cg.dirs['unified']!); return before; } catch { /* an older kernel: signal each */ }
  }
  const frozen = sig === 9 && (!cg.layout.unified || o.noKillFile === true) ? freezeCgroup(cg, true) : false;
  try {
    for (let round = 0; round < 64; round++) {
      const fresh = cgroupPids(cg).filter((p) => !done.has(p) && p !== process.pid);
      if (fresh.length === 0) break;
      for (const p of fresh) {
        done.add(p);
        if (!signal(p, sig)) continue;
        sent.push(p);
        if (o.cont && sig !== 9 && sig !== 18) signal(p, 18);
        if (o.hup) signal(p, 1);
      }
      if (frozen === true) break; // nothing forks while frozen (not so when the freeze was not seen done)
    }
  } finally { if (frozen !== false) freezeCgroup(cg, false); }
  return sent;
}

/** Moves a process into the cgroup in every hierarchy (the agent's own tool: tests, adoption); the base slice where the cgroup is not made (joins). */
export function attachPid(cg: UnitCgroup, pid: number): void {
  for (const d of cg.joins) writeFileSync(`${d}/cgroup.procs`, String(pid));
}

/**
 * A running unit's cgroup made in the hierarchies `wider` adds (a live change asks for a
 * controller: realize.ts), its processes moved in (systemd's cg_migrate_v1_controllers()).
 * `made`: the wider cgroup is there (false: it could not be made, the unit keeps `cg`);
 * `problems`: what failed, one line each (a process not moved stays where it was there).
 */
export function widenCgroup(cg: UnitCgroup, wider: UnitCgroup): { made: boolean; problems: string[] } {
  const added = wider.hierarchies.filter((h) => !cg.hierarchies.includes(h));
  if (added.length === 0) return { made: true, problems: [] };
  try { ensureUnitCgroup(wider); } catch (e) { return { made: false, problems: [(e as Error).message] }; }
  const problems: string[] = [];
  // as cg_migrate(): again until a pass finds no process not moved yet (a child forked meanwhile), a bounded number of times
  const moved = new Set<number>();
  for (let pass = 0; pass < 16; pass++) {
    const fresh = cgroupPids(cg).filter((p) => !moved.has(p));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      moved.add(pid);
      for (const h of added) {
        try { writeFileSync(`${h.mount}/${wider.rel}/cgroup.procs`, String(pid)); } catch (e) {
          if (errCode(e) !== 'ESRCH') problems.push(`cannot move PID ${pid} into ${h.mount}/${wider.rel}: ${(e as Error).message}`);
        }
      }
    }
  }
  return { made: true, problems };
}

/**
 * Empty folders of the cgroup in the hierarchies it is no longer made in (an agent before
 * realize.ts made every unit's cgroup in every hierarchy; a spec that asked for a controller
 * before): removed at the unit's first start under this agent. A cgroup with processes stays.
 */
export function removeUnrealized(cg: UnitCgroup): void {
  for (const h of cg.layout.hierarchies) {
    if (cg.hierarchies.includes(h)) continue;
    const dir = `${h.mount}/${cg.rel}`;
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
    try { rmdirSync(dir); } catch { /* busy (processes, a subtree): left as it is */ }
  }
}


/** The cgroups of the agent's tree (<base> and below), parents first; other agents' nested bases left out. */
function baseTree(top: string): string[] {
  let names: import('node:fs').Dirent[];
  try { names = readdirSync(top, { withFileTypes: true }); } catch { return []; }
  const out = [top];
  for (const n of names) if (n.isDirectory() && !FOREIGN_BASE.test(n.name)) out.push(`${top}/${n.name}`, ...subdirs(`${top}/${n.name}`));
  return out;
}

/**
 * Removes the agent's whole tree (<base> and every empty cgroup below it) in every hierarchy,
 * deepest first; returns the directories that stay (a cgroup with processes, another agent's
 * nested base). For uninstall and for tests; the processes are the caller's to end first.
 */
export function removeBaseTree(layout: import('./layout.ts').CgroupLayout, base: string): string[] {
  holdersEpoch++; // the holders' cgroup may go with it: looked at again at the next spawn
  const stay: string[] = [];
  for (const h of layout.hierarchies) {
    for (const d of baseTree(`${h.mount}/${base}`).reverse()) {
      try { rmdirSync(d); } catch (e) { if (errCode(e) !== 'ENOENT') stay.push(d); }
    }
    // and the slices above a nested base (unit-operator.slice above unit-operator-<hash>.slice)
    // once no other agent uses them: rmdir refuses a cgroup that still has children or processes
    for (let up = base.split('/').slice(0, -1); up.length > 0; up = up.slice(0, -1)) {
      try { rmdirSync(`${h.mount}/${up.join('/')}`); } catch { break; }
    }
  }
  return stay;
}

/** Every PID in the agent's tree (<base> and below, other agents' nested bases left out) of the primary hierarchy. */
export function basePids(layout: import('./layout.ts').CgroupLayout, base: string): number[] {
  const h = layout.hierarchies[0];
  if (!h) return [];
  const pids: number[] = [];
  for (const d of baseTree(`${h.mount}/${base}`)) for (const l of (read(`${d}/cgroup.procs`) ?? '').split('\n')) if (l !== '') pids.push(Number(l));
  return pids;
}
