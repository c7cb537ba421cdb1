// Which hierarchies a unit's cgroup is made in. systemd realizes a unit's cgroup in the cgroup v1
// controllers its target mask holds, not in every mounted one (unit_get_target_mask(),
// cg_create_everywhere()): on a hybrid node, as systemd 257 shows it (the oracle's
// /proc/PID/cgroup for a plain service: 0::, name=systemd, pids, memory at the unit; cpu, cpuacct,
// cpuset, freezer at "/"). The agent makes it in:
//
//   always      cgroup2 (membership, kills, "empty"), name=systemd, memory and pids
//               (DefaultMemoryAccounting= and DefaultTasksAccounting= are on), and cpu and blkio:
//               systemd realizes a controller for every sibling of a unit that needs it
//               (unit_get_siblings_mask()), so that a unit's weight (CPUWeight=, IOWeight=)
//               competes with its neighbours as groups, never with their single threads in the
//               slice above; the agent keeps that fairness without tracking siblings by making
//               these two weight-bearing hierarchies for every unit (a superset of systemd's)
//   directives  the hierarchy of each other controller a directive writes to (resources.ts
//               limitWrites(): AllowedCPUs= cpuset), and devices for DevicePolicy=/DeviceAllow=
//               (PrivateDevices= among them)
//   Delegate=   every hierarchy (the delegated subtree is the service's to use)
//   v1 only     freezer too (a SIGKILL holds the group still with it) and cpuacct (the CPU
//               figure of the status: with no cgroup2, nothing else counts a unit's CPU time)
//
// A hierarchy left out (here cpuacct, cpuset, devices, freezer; net_cls, perf_event and the like
// where mounted) costs nothing at each start and each restart (a mkdir, a rmdir, the resets:
// issue 19); the unit's commands are placed in the agent's base slice there (naming.ts joins),
// never in the holders'. A live change that asks for one more makes it and moves the processes in
// (systemd's cg_migrate_v1_controllers()); one that asks for fewer keeps the cgroup until the
// invocation ends (the next one is made in the new set).

import type { ServiceUnitSpec } from '../../api/types.ts';
import type { Hierarchy } from './layout.ts';
import type { Realize } from './naming.ts';
import { limitWrites, type Resources } from './resources.ts';
import { restricts, type DeviceContext } from './devices.ts';
import { delegationOf } from './delegate.ts';

const ALWAYS = ['name=systemd', 'memory', 'pids', 'cpu', 'blkio'] as const;

/** The v1 controllers a unit's cgroup is made in, or 'all' (Delegate=). */
export function realizedControllers(spec: ServiceUnitSpec, r: Resources, unified: boolean): ReadonlySet<string> | 'all' {
  if (delegationOf(spec.service).on) return 'all';
  const want = new Set<string>(ALWAYS);
  if (!unified) { want.add('freezer'); want.add('cpuacct'); }
  for (const w of limitWrites(r, 'v1')) if (w.directive !== '') want.add(w.controller);
  const dev = (r as Resources & { devices?: DeviceContext }).devices;
  if (dev && restricts(dev)) want.add('devices');
  return want;
}

/** realizedControllers() as naming.ts takes it: a hierarchy is made when one of its controllers is wanted (cgroup2 always). */
export function realizeFor(spec: ServiceUnitSpec, r: Resources, unified: boolean): Realize {
  const want = realizedControllers(spec, r, unified);
  return (h: Hierarchy) => want === 'all' || h.version === 2 || h.controllers.some((c) => want.has(c));
}
