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
  /** Directives the unit sets that this node does not apply (src/api/applied.ts NotAppliedEntry). */
  notApplied?: NotAppliedEntry[];
  observedGeneration?: number;
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

export interface ServiceUnitStatus {
  observedGeneration?: number;
  nodes?: NodeStatus[];
  conditions?: Condition[];
  summary?: { nodes?: string; activeState?: string; subState?: string; result?: string; nRestarts?: number };
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
