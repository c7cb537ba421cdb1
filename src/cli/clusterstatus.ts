// unitctl status NAME --namespace NS (or --kubeconfig / --cluster): the systemctl-status view of
// a ServiceUnit, one block per node, read from the cluster.

import type { ServiceUnit, NodeStatus } from '../api/types.ts';
import { bullet, bold, red, green, type Style } from './format.ts';
import { signalName } from '../api/signals.ts';
import type { UnitStatus } from '../agent/protocol.ts';

function nodeBlock(su: ServiceUnit, n: NodeStatus, s: Style, now: number): string {
  const fake = { ActiveState: n.activeState ?? 'Unknown' } as UnitStatus;
  const when = n.activeState === 'active' ? n.activeEnterTimestamp : n.inactiveEnterTimestamp ?? n.stateChangeTimestamp;
  const ago = when ? `; ${Math.max(0, Math.round((now - Date.parse(when)) / 1000))}s ago` : '';
  const state = n.activeState === 'failed' ? red(s, `failed (Result: ${n.result})`) : n.activeState === 'active' ? green(s, `active (${n.subState})`) : `${n.activeState ?? 'Unknown'}${n.subState ? ` (${n.subState})` : ''}`;
  const lines = [`  ${bullet(fake, s)} node ${bold(s, n.node)}`, `       Active: ${state}${when ? ` since ${new Date(when).toUTCString()}${ago}` : ''}`];
  if ((n.nRestarts ?? 0) > 0) lines.push(`     Restarts: ${n.nRestarts}`);
  if ((n.mainPID ?? 0) > 0) lines.push(`     Main PID: ${n.mainPID}`);
  else if ((n.execMainCode ?? 0) > 0) lines.push(`      Process: ${n.execMainCode === 1 ? `code=exited, status=${n.execMainStatus}` : `code=${n.execMainCode === 2 ? 'killed' : 'dumped'}, signal=${signalName(n.execMainStatus ?? 0).replace(/^SIG/, '')}`}`);
  if (n.statusText) lines.push(`       Status: "${n.statusText}"`);
  if (n.message) lines.push(`      Message: ${n.message}`);
  if (n.observedGeneration !== undefined && n.observedGeneration !== su.metadata.generation) lines.push(`   Generation: ${n.observedGeneration} of ${su.metadata.generation} (converging)`);
  return lines.join('\n');
}

export function clusterStatusView(su: ServiceUnit, s: Style, now = Date.now()): string {
  const ready = su.status?.conditions?.find((c) => c.type === 'Ready');
  const stalled = su.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  const out = [
    `${bold(s, su.spec.unitName ?? `${su.metadata.name}.service`)} - ${String(su.spec.unit?.['description'] ?? su.metadata.name)}`,
    `     Resource: serviceunit ${su.metadata.namespace}/${su.metadata.name} (generation ${su.metadata.generation ?? '?'})`,
    `    Placement: ${su.spec.nodeName ? `node ${su.spec.nodeName}` : su.spec.nodeSelector ? `nodes with ${Object.entries(su.spec.nodeSelector).map(([k, v]) => `${k}=${v}`).join(',')}` : 'none'}; state ${su.spec.state ?? 'running'}`,
    `        Ready: ${ready ? `${ready.status === 'True' ? green(s, 'True') : red(s, ready.status)} (${ready.reason}: ${ready.message})` : 'unknown (no controller has reported)'}`,
  ];
  if (stalled) out.push(`      Stalled: ${red(s, 'True')} (${stalled.message})`);
  out.push(`      Summary: ${su.status?.summary?.nodes ?? '?'} nodes active, ${su.status?.summary?.nRestarts ?? 0} restarts`, '');
  for (const n of su.status?.nodes ?? []) out.push(nodeBlock(su, n, s, now), '');
  if ((su.status?.nodes ?? []).length === 0) out.push('  (no node has reported yet)', '');
  return out.join('\n');
}
