// The cluster contract between the node agents, the controller and the tools: where the
// ServiceUnits live in the API, which nodes a unit targets, the names of the Leases, the
// finalizers and the server-side-apply field managers each party writes under. Both sides read
// it from here, so the controller and observability need nothing from agent/ (which loads the
// runner and the engine). No I/O.

import { GROUP, VERSION, PLURAL } from './schema.ts';
import type { ServiceUnit, ServiceUnitSpec } from './types.ts';

/** Every ServiceUnit of the cluster (list and watch). */
export const SU_LIST_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;

/** One ServiceUnit; `${SU_PATH(ns, name)}/status` is its status subresource. */
export const SU_PATH = (ns: string, name: string): string => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}/${name}`;

/** The unit's systemd name: spec.unitName, or NAME.service after the object. */
export function unitNameOf(su: Pick<ServiceUnit, 'spec' | 'metadata'>): string {
  return su.spec.unitName ?? `${su.metadata.name}.service`;
}

/** Which nodes a ServiceUnit targets: spec.nodeName, or spec.nodeSelector matched against a
 *  node's labels (every label must match, like a DaemonSet's nodeSelector). */
export function targetsNode(spec: ServiceUnitSpec, node: string, labels: Readonly<Record<string, string>>): boolean {
  if (spec.nodeName !== undefined) return spec.nodeName === node;
  if (spec.nodeSelector !== undefined) return Object.entries(spec.nodeSelector).every(([k, v]) => labels[k] === v);
  return false;
}

/**
 * The two ServiceUnit watches of a node's agent: the units that name its node, and the units
 * placed by nodeSelector (no nodeName). The API server filters on spec.nodeName (a selectable
 * field of the CRD, Kubernetes ≥ 1.31), so an agent never lists or watches units pinned to other
 * nodes: its cost does not grow with the rest of the cluster.
 */
export const agentUnitSelectors = (node: string): { pinned: string; placed: string } => ({ pinned: `spec.nodeName=${node}`, placed: 'spec.nodeName=' });

/** The API server's answer to a field selector on a field the CRD does not declare selectable. */
export const FIELD_NOT_SELECTABLE = /field label not supported/;

/** The Lease a node's agent renews (its heartbeat; the controller reads it to tell a lost node). */
export const AGENT_LEASE = (node: string): string => `unit-operator-agent-${node}`;

/** The Lease the controller replicas elect their leader with. */
export const CONTROLLER_LEASE = 'unit-operator-controller';

/** One finalizer per targeted node: `${FINALIZER_PREFIX}NODE`, released once that node is done. */
export const FINALIZER_PREFIX = 'node.unit-operator.dev/';

/** Field manager of the controller's writes (conditions, summary, finalizers). */
export const CONTROLLER_FIELD_MANAGER = 'unit-operator-controller';

/** Field manager of a node agent's status entry: one per node, so the nodes' server-side
 *  applies of their own entries never conflict. */
export const AGENT_FIELD_MANAGER = (node: string): string => `unit-operator-agent/${node}`;
