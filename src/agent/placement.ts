// Which nodes a ServiceUnit targets: spec.nodeName, or spec.nodeSelector matched against a
// node's labels (every label must match, like a DaemonSet's nodeSelector).

import type { ServiceUnitSpec } from '../api/types.ts';

export function targetsNode(spec: ServiceUnitSpec, node: string, labels: Readonly<Record<string, string>>): boolean {
  if (spec.nodeName !== undefined) return spec.nodeName === node;
  if (spec.nodeSelector !== undefined) return Object.entries(spec.nodeSelector).every(([k, v]) => labels[k] === v);
  return false;
}
