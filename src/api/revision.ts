// Revisions of a ServiceUnit (issue 18): what runs, hashed. A revision holds the fields that
// shape the processes (unitName, [Unit] but Description=/Documentation=, [Service] with its
// limits); a change of anything else (description, documentation, placement, state, masking, the
// update strategy) is not a new revision and reaches every node at once. The hash, not
// metadata.generation, names a revision, so a GitOps revert is the old revision again. The hash
// is over the canonical form (src/api/canonical.ts): a re-spelling of the same spec is the same
// revision. The controller (its target, the ControllerRevision's name) and the agents (what
// they run and report) call this one function. Pure.

import { createHash } from 'node:crypto';
import { canonicalSection, sortedJson } from './canonical.ts';
import type { RolloutStatus, ServiceUnitSpec } from './types.ts';

export { sortedJson };

/** The fields of a revision, as stored in a ControllerRevision's data. */
export interface RevisionData {
  unitName?: string;
  unit?: Record<string, unknown>;
  service?: Record<string, unknown>;
}

/** Fields of the spec that steer the rollout; never handed to the node's runner. */
export const ROLLOUT_FIELDS = ['updateStrategy', 'minReadySeconds', 'progressDeadlineSeconds', 'paused'] as const;

/** [Unit] fields that do not touch what runs. */
const UNIT_INFO = ['description', 'documentation'];

export function revisionData(spec: ServiceUnitSpec): RevisionData {
  const unit = Object.fromEntries(Object.entries(spec.unit ?? {}).filter(([k]) => !UNIT_INFO.includes(k)));
  return {
    ...(spec.unitName !== undefined ? { unitName: spec.unitName } : {}),
    ...(Object.keys(unit).length > 0 ? { unit } : {}),
    ...(spec.service !== undefined ? { service: spec.service } : {}),
  };
}

/**
 * The revision's name part: 10 hex digits of sha256 over what runs, in canonical form. A spec
 * already written in that form hashes as before canonical hashing (the same text is hashed).
 */
export function hashRevision(data: RevisionData): string {
  return createHash('sha256').update(sortedJson({ unitName: data.unitName ?? null, unit: canonicalSection('Unit', data.unit), service: canonicalSection('Service', data.service) })).digest('hex').slice(0, 10);
}

/** The hash before canonical hashing (values as written): revisions named by an older controller. */
export function legacyHashRevision(data: RevisionData): string {
  return createHash('sha256').update(sortedJson({ unitName: data.unitName ?? null, unit: data.unit ?? {}, service: data.service ?? {} })).digest('hex').slice(0, 10);
}

/**
 * Whether a ControllerRevision's data holds revision `hash`: its canonical hash, or the hash an
 * older controller named it by (so the grants written before an upgrade stay readable).
 */
export const revisionHolds = (data: RevisionData, hash: string): boolean => hashRevision(data) === hash || legacyHashRevision(data) === hash;

export const revisionHash = (spec: ServiceUnitSpec): string => hashRevision(revisionData(spec));

/**
 * The ControllerRevision of a unit's revision: NAME-HASH in the unit's namespace (as a
 * DaemonSet's). A name too long for that (over 242 characters) is cut, so two long names may
 * meet on one object: the controller checks the labels and data of an object it finds there.
 */
export const revisionName = (unit: string, hash: string): string => `${unit.length + hash.length + 1 > 253 ? unit.slice(0, 252 - hash.length).replace(/[.-]+$/, '') : unit}-${hash}`;
export const CONTROLLER_REVISIONS_PATH = (ns: string): string => `/apis/apps/v1/namespaces/${ns}/controllerrevisions`;
/** Labels on a unit's ControllerRevisions. */
export const REVISION_LABELS = { unit: 'unit-operator.dev/serviceunit', hash: 'unit-operator.dev/revision-hash' } as const;

/** The spec without the rollout's own fields: what a node's runner is given. */
export function withoutRolloutFields(spec: ServiceUnitSpec): ServiceUnitSpec {
  const out: Record<string, unknown> = { ...spec };
  for (const k of ROLLOUT_FIELDS) delete out[k];
  return out as ServiceUnitSpec;
}

/**
 * The spec a node runs when it runs revision `data` while the object says `current`: what runs
 * from the revision, the rest (description, placement, state, masking) from the current spec.
 */
export function specAtRevision(current: ServiceUnitSpec, data: RevisionData): ServiceUnitSpec {
  const base = withoutRolloutFields(current) as Record<string, unknown>;
  const info = Object.fromEntries(Object.entries(current.unit ?? {}).filter(([k]) => UNIT_INFO.includes(k)));
  const unit = { ...(data.unit ?? {}), ...info };
  const out: Record<string, unknown> = { ...base };
  if (data.unitName !== undefined) out['unitName'] = data.unitName; else delete out['unitName'];
  if (Object.keys(unit).length > 0) out['unit'] = unit; else delete out['unit'];
  if (data.service !== undefined) out['service'] = data.service; else delete out['service'];
  return out as ServiceUnitSpec;
}

/** What a node's agent runs, given the object's current revision and the controller's grants. */
export type Choice =
  | { readonly t: 'current' }
  /** Keep the revision this node runs (no grant for it yet). */
  | { readonly t: 'keep' }
  /** Run this (other) revision: from what the node runs when it is that one, else its ControllerRevision. */
  | { readonly t: 'revision'; readonly hash: string };

/**
 * Which revision a node's agent runs (pure). No rollout status: the controller has not taken the
 * unit in yet (a new unit, or no controller runs): the current spec, as before revisions existed.
 * A grant: that revision. No grant: the revision the node runs; a node that never ran the unit
 * takes the revision last granted to all (stableRevision).
 */
export function chooseRevision(target: string, rollout: RolloutStatus | undefined, node: string, running: string | undefined): Choice {
  if (!rollout) return { t: 'current' };
  const grant = rollout.nodes?.find((g) => g.node === node)?.revision;
  const want = grant ?? (running !== undefined ? running : rollout.stableRevision);
  if (want === undefined || want === target) return { t: 'current' };
  if (want === running) return { t: 'keep' };
  return { t: 'revision', hash: want };
}
