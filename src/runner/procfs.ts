// /proc helpers: who is alive, and every descendant of a set of processes (a unit's
// "control group": the shims are child subreapers, so orphans stay below them).

import { existsSync, readdirSync, readFileSync } from 'node:fs';

export function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

/** The fields of /proc/PID/stat after the command name (index 0 is field 3, the state). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch { return undefined; }
}

/**
 * Whether this process can read /proc now. A read of another process's files that failed for
 * want of descriptors or memory (EMFILE, ENFILE, ENOMEM) reads as "gone" to the helpers here;
 * before a caller concludes that a process it holds is gone, it asks this: false means nothing
 * read just now tells, look again later (a hostile probe ran the agent out of descriptors and a
 * live holder was taken for vanished, its unit started a second time).
 */
export function procReadable(): boolean {
  try { readFileSync('/proc/self/stat'); return true; } catch { return false; }
}

export function parentOf(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[1]) : undefined;
}

// ---- process identity: a PID is only a name; (boot ID, start time) tells a reused one apart ----

let boot: string | undefined;
/** This boot's ID (/proc/sys/kernel/random/boot_id); '' when the kernel does not say. */
export function bootId(): string {
  if (boot === undefined) {
    try { boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { boot = ''; }
  }
  return boot;
}

/** The process's start time (/proc/PID/stat field 22, clock ticks since boot); undefined when gone. */
export function startTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const f = statFields(pid);
  const t = f ? Number(f[19]) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** The start time of a live process (not a zombie: its stat's state is neither Z nor X); undefined otherwise. One read. */
export function liveStart(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const f = statFields(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X') return undefined;
  const t = Number(f[19]);
  return Number.isFinite(t) ? t : undefined;
}

/** What identifies a process across agent restarts; fields a record lacks are not checked (older records). */
export interface ProcessIdentity { readonly start?: number | undefined; readonly boot?: string | undefined }

/** The identity of a live process now (undefined when it is gone). */
export function identify(pid: number): { start: number; boot: string } | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : { start, boot: bootId() };
}

/**
 * Whether pid still names the process that was recorded: alive (not a zombie), recorded in
 * this boot, and started at the recorded time. A record from before a reboot never matches.
 */
export function sameProcess(pid: number, id: ProcessIdentity): boolean {
  if (id.boot !== undefined && id.boot !== '' && bootId() !== '' && id.boot !== bootId()) return false;
  if (!isAlive(pid)) return false;
  return id.start === undefined || startTime(pid) === id.start;
}

/** PF_KTHREAD (include/linux/sched.h): a kernel thread, which has no command line either. */
const PF_KTHREAD = 0x00200000;

/**
 * Whether `pid` is caught inside execve() right now: alive (no zombie), no kernel thread, and its
 * command line reads empty. The kernel shows no command line from the moment the new image
 * replaces the old memory until it has laid out the new arguments (get_mm_cmdline(): "not
 * spawned far enough"); the comm then reads as the executed file's name ("3" for fexecve() of
 * descriptor 3). With `start`, also started at that time (execve() keeps the start time; a PID
 * reused since has another).
 */
export function insideExecve(pid: number, start?: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  const f = statFields(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X' || (Number(f[6]) & PF_KTHREAD) !== 0) return false;
  if (start !== undefined && Number(f[19]) !== start) return false;
  try { return readFileSync(`/proc/${pid}/cmdline`).length === 0; } catch { return false; }
}

/** The real uid of a process (/proc/PID/status), undefined when gone. */
export function uidOf(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+([0-9]+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch { return undefined; }
}

/**
 * Children by parent PID, from one scan of /proc. A scan reads every process's stat file, so
 * it is shared by every caller within one turn of the event loop (stopping 1,000 units scans
 * once, not 1,000 times); the next turn scans again.
 */
let tree: Map<number, number[]> | undefined;
function processTree(fresh = false): Map<number, number[]> {
  if (tree && !fresh) return tree;
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid);
    if (list) list.push(pid); else children.set(ppid, [pid]);
  }
  tree = children;
  setImmediate(() => { tree = undefined; });
  return children;
}

/**
 * Whether the kernel lists a task's children (/proc/PID/task/TID/children, CONFIG_PROC_CHILDREN):
 * a tree is then read from its roots down, not from a scan of every process on the node (issue
 * 19: each crash's kill walked all of /proc).
 */
let childFiles: boolean | undefined;
const hasChildFiles = (): boolean => (childFiles ??= existsSync(`/proc/${process.pid}/task/${process.pid}/children`));

/** Only a process or thread that is gone: any other failure (EMFILE, ENOMEM) is the agent's own and says nothing about the tree. */
const gone = (e: unknown): boolean => { const c = (e as NodeJS.ErrnoException).code; return c === 'ENOENT' || c === 'ESRCH'; };

/** A process's children, from each of its threads' children file; undefined when it is gone. Throws when /proc cannot be read now. */
function childrenOf(pid: number): number[] | undefined {
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch (e) { if (gone(e)) return undefined; throw e; }
  const out: number[] = [];
  for (const tid of tids) {
    let text: string;
    try { text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1'); } catch (e) { if (gone(e)) continue; throw e; } // a thread that ended
    for (const c of text.split(/\s+/)) if (c !== '') out.push(Number(c));
  }
  return out;
}

/**
 * All live descendants of the given roots (not the roots themselves). A child is walked only while
 * its parent is still the process it was listed under (a PID freed and reused between the two
 * reads is another process: neither it nor its tree is the roots'). fresh: the /proc scan of
 * kernels without children files is made anew, not the one this turn of the event loop made (a
 * caller that signals round after round). Throws when /proc cannot be read now (EMFILE…), as the
 * scan does: an empty tree is not a guess.
 */
export function descendants(roots: readonly number[], fresh = false): number[] {
  if (roots.length === 0) return [];
  const tree = hasChildFiles() ? undefined : processTree(fresh);
  const out: number[] = [];
  const seen = new Set<number>(roots);
  const stack = [...roots];
  while (stack.length > 0) {
    const p = stack.pop()!;
    for (const c of (tree ? tree.get(p) : childrenOf(p)) ?? []) {
      if (seen.has(c)) continue; // (a PID reused between two reads: never walked twice)
      if (!tree && parentOf(c) !== p) continue;
      seen.add(c);
      out.push(c);
      stack.push(c);
    }
  }
  return out.filter(isAlive);
}

export function children(pid: number): number[] {
  return descendants([pid]).filter((c) => parentOf(c) === pid);
}

export function signal(pid: number, sig: number): boolean {
  try { process.kill(pid, sig); return true; } catch { return false; }
}

/** Resident memory (bytes) and CPU time (ns) summed over processes, from /proc. */
export function usage(pids: readonly number[]): { rssBytes: number; cpuNs: number } {
  let rssBytes = 0;
  let cpuNs = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = /^VmRSS:\s+([0-9]+) kB/m.exec(status);
      if (rss) rssBytes += Number(rss[1]) * 1024;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuNs += (Number(f[11]) + Number(f[12])) * 10_000_000; // clock ticks (USER_HZ=100) → ns
    } catch { /* gone */ }
  }
  return { rssBytes, cpuNs };
}

/** The command name of a process (/proc/PID/comm), '' when gone. */
export function commOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; }
}
