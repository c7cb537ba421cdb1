// unitctl status NAME --namespace NS (or --kubeconfig / --cluster): the systemctl-status view of
// a ServiceUnit, one block per node, read from the cluster.

import type { ServiceUnit, NodeStatus } from '../api/types.ts';
import { fromNodeStatus } from '../api/status.ts';
import { bullet, bold, green, red, statusLines, type Style } from './format.ts';

function nodeBlock(su: ServiceUnit, n: NodeStatus, s: Style, now: number): string {
  const u = fromNodeStatus(n);
  const lines = [`  ${bullet(u, s)} node ${bold(s, n.node)}`, ...statusLines({ ...u, NotApplied: n.notApplied ?? [] }, s, now, { indent: 2, commands: false })];
  if (n.message) lines.push(`      Message: ${n.message}`);
  if (n.observedGeneration !== undefined && n.observedGeneration !== su.metadata.generation) lines.push(`   Generation: ${n.observedGeneration} of ${su.metadata.generation} (converging)`);
  const target = su.status?.rollout?.updatedRevision;
  if (target !== undefined && n.revision !== undefined && n.revision !== target) {
    const granted = su.status?.rollout?.nodes?.find((g) => g.node === n.node)?.revision;
    lines.push(`     Revision: ${n.revision}, not yet ${target}${granted !== undefined && granted !== target ? ' (not granted yet)' : ''}`);
  }
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
  const rollout = su.status?.rollout;
  if (rollout?.updatedRevision !== undefined) out.push(`      Rollout: ${rollout.message ?? `revision ${rollout.updatedRevision}`}${su.spec.paused ? ' (paused)' : ''}`);
  out.push(`      Summary: ${su.status?.summary?.nodes ?? '?'} nodes active, ${su.status?.summary?.upToDate !== undefined ? `${su.status.summary.upToDate} up to date, ` : ''}${su.status?.summary?.nRestarts ?? 0} restarts`, '');
  for (const n of su.status?.nodes ?? []) out.push(nodeBlock(su, n, s, now), '');
  if ((su.status?.nodes ?? []).length === 0) out.push('  (no node has reported yet)', '');
  return out.join('\n');
}
