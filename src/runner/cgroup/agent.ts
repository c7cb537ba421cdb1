// An agent's cgroups, decided once at start: the node's layout (said in the log, mount by
// mount) and the agent's top slice. UNIT_OPERATOR_CGROUPS=off runs without (the process tree
// under the shims, as before issue 13); so does a node without a hierarchy the agent can write.

import { describeLayout, detectCgroups } from './layout.ts';
import { agentBase, type CgroupContext } from './naming.ts';

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
  log('info', `cgroups: units in ${base}/<unit>.service, their uo-shims in ${base}/uo-holders.scope, in every hierarchy above`);
  return { layout, base };
}
