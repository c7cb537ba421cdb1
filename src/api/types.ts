// TypeScript shapes of the ServiceUnit resource. Section fields are typed loosely here (the
// directive table is their source of truth); the engine reads them through its config builder.

import type { NotAppliedEntry } from './applied.ts';
import type { CheckState } from './status.ts';

export type SectionValues = Record<string, unknown>;

export interface ServiceUnitSpec {
  unitName?: string;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  state?: 'running' | 'stopped';
  masked?: boolean;
  unit?: SectionValues;
  service?: SectionValues;
  install?: SectionValues;
  /** How a change of what runs reaches the targeted nodes (issue 18); default RollingUpdate, maxUnavailable 1. */
  updateStrategy?: UpdateStrategy;
  /** A node counts as updated once the unit has been active this long without a restart (default 0). */
  minReadySeconds?: number;
  /** A node granted a new revision that is not available within this time halts the rollout (default 600). */
  progressDeadlineSeconds?: number;
  /** No node is granted a new revision while paused (kubectl unit rollout pause|resume). */
  paused?: boolean;
}

export interface UpdateStrategy {
  type?: 'RollingUpdate';
  rollingUpdate?: { maxUnavailable?: number | string };
}

export interface NodeStatus {
  node: string;
  activeState?: string;
  subState?: string;
  result?: string;
  nRestarts?: number;
  mainPID?: number;
  controlPID?: number;
  execMainCode?: number;
  execMainStatus?: number;
  execMainStartTimestamp?: string;
  execMainExitTimestamp?: string;
  activeEnterTimestamp?: string;
  activeExitTimestamp?: string;
  inactiveEnterTimestamp?: string;
  inactiveExitTimestamp?: string;
  stateChangeTimestamp?: string;
  statusText?: string;
  /** The last Condition*=/Assert*= evaluation before a start (src/conditions). */
  conditionResult?: boolean;
  conditionTimestamp?: string;
  conditions?: CheckState[];
  assertResult?: boolean;
  assertTimestamp?: string;
  asserts?: CheckState[];
  /** Accounting from the unit's cgroup (issue 13), sampled when the entry was written. */
  tasksCurrent?: number;
  memoryCurrent?: number;
  memoryPeak?: number;
  cpuUsageNSec?: number;
  message?: string;
  /** Why the agent does not start the unit on this node until something changes (StartRefused, UnitNameConflict); `message` says more. */
  notStarted?: 'StartRefused' | 'UnitNameConflict';
  /** Directives the unit sets that this node does not apply (src/api/applied.ts NotAppliedEntry). */
  notApplied?: NotAppliedEntry[];
  observedGeneration?: number;
  /** The revision (hash of what runs) the unit's current invocation on this node was started with. */
  revision?: string;
  lastHandledAnnotations?: Record<string, string>;
  stoppedForDeletion?: boolean;
  lastHeartbeatTime?: string;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/** The revision one node may run, as the controller granted it (the agent cannot write these). */
export interface Grant {
  node: string;
  revision: string;
  /** When the controller granted it (the progress deadline counts from here). */
  time: string;
}

/** The controller's record of the rollout (issue 18); agents read the grants, only the controller writes. */
export interface RolloutStatus {
  /** The revision of the current spec. */
  updatedRevision?: string;
  /** The revision last granted to every targeted node: a node that never ran the unit starts it. */
  stableRevision?: string;
  /** Per node: the revision it may run. */
  nodes?: Grant[];
  /** Nodes running updatedRevision and available. */
  updatedNodes?: number;
  /** Set while the rollout is halted: the node and the Result that stopped it. */
  halted?: { node: string; revision: string; result?: string; message: string };
  /** What the rollout waits for, in words. */
  message?: string;
}

export interface ServiceUnitStatus {
  observedGeneration?: number;
  nodes?: NodeStatus[];
  conditions?: Condition[];
  rollout?: RolloutStatus;
  summary?: { nodes?: string; upToDate?: string; activeState?: string; subState?: string; result?: string; nRestarts?: number; exposure?: string; exposureLevel?: string; exposureApplied?: string };
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
}

export interface ServiceUnit {
  apiVersion: 'unit-operator.dev/v1alpha1';
  kind: 'ServiceUnit';
  metadata: ObjectMeta;
  spec: ServiceUnitSpec;
  status?: ServiceUnitStatus;
}

/** Annotations the tools read and write. */
export const ANNOTATIONS = {
  /** Directives (unit-file syntax) that the spec can't express yet, kept for render. */
  unsupported: 'unit-operator.dev/unsupported-directives',
  /** "dbus-service" when converted from a D-Bus activation file. */
  sourceFormat: 'unit-operator.dev/source-format',
  /** Where the unit came from (file path), informational. */
  source: 'unit-operator.dev/source',
  restart: 'unit-operator.dev/restart',
  reload: 'unit-operator.dev/reload',
  resetFailed: 'unit-operator.dev/reset-failed',
} as const;
