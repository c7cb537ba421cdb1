// /proc helpers: who is alive, and every descendant of a set of processes (a unit's
// "control group": the shims are child subreapers, so orphans stay below them).

import { readdirSync, readFileSync } from 'node:fs';

export function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch { return undefined; }
}

/**
 * Children by parent PID, from one scan of /proc. A scan reads every process's stat file, so
 * it is shared by every caller within one turn of the event loop (stopping 1,000 units scans
 * once, not 1,000 times); the next turn scans again.
 */
let tree: Map<number, number[]> | undefined;
function processTree(): Map<number, number[]> {
  if (tree) return tree;
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

/** All live descendants of the given roots (not the roots themselves). */
export function descendants(roots: readonly number[]): number[] {
  if (roots.length === 0) return [];
  const children = processTree();
  const out: number[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const p = stack.pop()!;
    for (const c of children.get(p) ?? []) { out.push(c); stack.push(c); }
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
