// An agent's cgroups, decided once at start: the node's layout (said in the log, mount by
// mount) and the agent's top slice. UNIT_OPERATOR_CGROUPS=off runs without (the process tree
// under the shims, as before issue 13); so does a node without a hierarchy the agent can write.
// At exit, an agent none of whose units runs removes its top slice (releaseAgentCgroups).

import { describeLayout, detectCgroups } from './layout.ts';
import { agentBase, holdersCgroup, type CgroupContext } from './naming.ts';
import { basePids, cgroupExists, cgroupPids, removeBaseTree } from './ops.ts';

/** The system state folder: its agent uses unit-operator.slice itself; any other folder one below it. */
export const SYSTEM_STATE_DIR = '/var/lib/unit-operator';

export function agentCgroups(stateDir: string, env: Readonly<Record<string, string | undefined>>, log: (level: 'info' | 'warning', message: string) => void): CgroupContext | undefined {
  if (env['UNIT_OPERATOR_CGROUPS'] === 'off' || env['UNIT_OPERATOR_CGROUPS'] === '0') {
    log('info', 'cgroups: off (UNIT_OPERATOR_CGROUPS); a unit\'s processes are the process tree under its shims');
    return undefined;
  }
  const layout = detectCgroups();
  for (const line of describeLayout(layout)) log(layout.mode === 'none' && layout.notes.length > 0 ? 'warning' : 'info', line);
  if (layout.mode === 'none') return undefined;
  const base = agentBase(stateDir, SYSTEM_STATE_DIR, env);
  log('info', `cgroups: units in ${base}/<unit>.service (in the hierarchies each needs), their uo-shims in ${base}/uo-holders.scope (in every hierarchy above)`);
  return { layout, base };
}

/**
 * Uninstall leaves nothing: at the agent's exit, when no unit of its tree has a process left
 * (every unit stopped: --stop-on-exit, an uninstall), its top slice(s) and the holders' scope
 * are removed in every hierarchy (removeBaseTree: deepest first, other agents' nested slices
 * left alone). A unit still running keeps the whole tree: its cgroup and the slices above it
 * stay for the next agent. The uo-shims of stopped units exit once they have reported; they
 * are waited for (bounded). Best effort: rmdir refuses a cgroup with processes or children, and
 * what stays is logged at debug.
 */
export async function releaseAgentCgroups(ctx: CgroupContext, log: (level: 'info' | 'debug', message: string) => void, waitMs = 2000): Promise<string[]> {
  const holders = holdersCgroup(ctx);
  const held = (): Set<number> => new Set(holders && cgroupExists(holders) ? cgroupPids(holders) : []);
  const running = (): number[] => { const h = held(); return basePids(ctx.layout, ctx.base).filter((p) => !h.has(p)); };
  const units = running();
  if (units.length > 0) {
    log('debug', `cgroups: ${ctx.base} is kept: processes of units still run in it (PID ${units.slice(0, 10).join(', ')}${units.length > 10 ? ', …' : ''})`);
    return [];
  }
  for (const deadline = Date.now() + waitMs; Date.now() < deadline && held().size > 0;) await new Promise((r) => setTimeout(r, 20));
  if (running().length > 0) { log('debug', `cgroups: ${ctx.base} is kept: a unit's process appeared in it meanwhile`); return []; }
  let stay = removeBaseTree(ctx.layout, ctx.base);
  // a process that just exited leaves its cgroup2 cgroup a moment after its PID is gone (rmdir:
  // EBUSY): the fork server told to quit, a holder just reaped — looked at again for ≤ 1 s
  for (const deadline = Date.now() + 1000; stay.length > 0 && Date.now() < deadline && running().length === 0;) {
    await new Promise((r) => setTimeout(r, 40));
    stay = removeBaseTree(ctx.layout, ctx.base);
  }
  if (stay.length === 0) log('info', `cgroups: no unit runs: removed ${ctx.base} in every hierarchy`);
  else log('debug', `cgroups: removing ${ctx.base}: ${stay.length} cgroup(s) stay (busy, or not empty): ${stay.slice(0, 5).join(', ')}${stay.length > 5 ? ', …' : ''}`);
  return stay;
}
