// Did the kernel's OOM killer kill a process of the unit? The counter of OOM kills in the unit's
// memory cgroup: cgroup v2 `memory.events` "oom_kill N" (what systemd 257's unit_check_oom()
// reads), cgroup v1 `memory.oom_control` "oom_kill N" (Linux 4.13+). The counter only grows
// while the cgroup lives: a rise since the last reading is an OOM kill, which the runner sends
// to the engine as { t: 'oom-kill' } — before the SIGCHLD of the killed process, as systemd's
// manager_dispatch_sigchld() checks unit_check_oom() first ("in case we got SIGCHLD before the
// oom notification").
//
// systemd on a v1 or hybrid node reads memory.events in the v1 memory hierarchy, where it does
// not exist, so it never reports Result=oom-kill there (the oracle on this machine says
// "signal"); the v1 reader here lets the agent report it as systemd does on v2.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LimitLayout } from './resources.ts';
import { dirFor, type CgroupDirs } from './limits.ts';

/** A flat-keyed cgroup file ("key value" lines) as numbers; lines that are not are skipped. */
export function parseKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) ([0-9]+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The file holding the OOM kill counter on a layout, relative to the memory cgroup. */
export const OOM_FILE: Readonly<Record<LimitLayout, string>> = { v2: 'memory.events', v1: 'memory.oom_control' };

/** The oom_kill counter of a memory.events (v2) or memory.oom_control (v1) text; undefined when the kernel has none. */
export function oomKillCount(text: string): number | undefined {
  return parseKeyed(text)['oom_kill'];
}

/** Whether the counter rose between two readings (a first reading is a baseline, not a kill). */
export function oomKilled(before: number | undefined, after: number | undefined): boolean {
  return before !== undefined && after !== undefined && after > before;
}

/** Reads the unit's OOM kill counter; undefined when the cgroup, the memory controller or the counter is missing. */
export function readOomKills(dirs: CgroupDirs, layout: LimitLayout): number | undefined {
  const dir = dirFor(dirs, layout, 'memory');
  if (dir === undefined) return undefined;
  try { return oomKillCount(readFileSync(join(dir, OOM_FILE[layout]), 'utf8')); } catch { return undefined; }
}
