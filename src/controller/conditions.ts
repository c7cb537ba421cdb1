// kstatus conditions and the printer-column summary of a ServiceUnit, from its nodes' entries
// (pure). Ready: every targeted node reports the unit in its desired state for the current
// generation. Stalled: a node failed it for good (failed, no automatic restart pending), or will
// not start it until something changes (notStarted: a refused protection, a unit name conflict).
// Reconciling: neither yet.

import type { Condition, NodeStatus, ServiceUnit } from '../api/types.ts';
import type { RolloutPlan } from './rollout.ts';
import { unitSecurity } from '../security/index.ts';

export interface Computed {
  readonly conditions: Condition[];
  readonly summary: { nodes: string; upToDate?: string; activeState: string; subState: string; result: string; nRestarts: number; exposure: string; exposureLevel: string; exposureApplied: string };
}

const RANK: Record<string, number> = { failed: 6, Unknown: 5, activating: 4, deactivating: 3, reloading: 2, inactive: 1, active: 0 };

/**
 * With a rollout plan (issue 18): Ready also needs every node on the current revision; a halted
 * rollout is Stalled with reason RolloutHalted naming the node and its Result; a rollout in
 * progress (or paused) is Reconciling, saying what it waits for.
 */
export function compute(su: ServiceUnit, targeted: readonly string[], now: string, previous: readonly Condition[] = [], rollout?: RolloutPlan): Computed {
  const generation = su.metadata.generation ?? 0;
  const wantRunning = (su.spec.state ?? 'running') === 'running' && !su.spec.masked;
  const entries = new Map((su.status?.nodes ?? []).map((n) => [n.node, n]));
  const mine = targeted.map((n) => entries.get(n) ?? ({ node: n } as NodeStatus));
  const current = (e: NodeStatus): boolean => e.observedGeneration === generation;
  const oneshotDone = (e: NodeStatus): boolean => e.activeState === 'inactive' && e.result === 'success' && su.spec.service?.['type'] === 'oneshot';
  const target = rollout?.status.updatedRevision;
  const good = (e: NodeStatus): boolean => current(e) && (target === undefined || e.revision === target) && (wantRunning ? e.activeState === 'active' || oneshotDone(e) : e.activeState === 'inactive' || e.activeState === 'failed');
  const failed = mine.filter((e) => e.activeState === 'failed' && wantRunning);
  // a node that will not start it until something changes (a protection it does not apply, another unit of the name)
  const notStarted = wantRunning ? mine.filter((e) => current(e) && e.notStarted !== undefined && e.activeState !== 'active') : [];
  const ready = targeted.length > 0 && mine.every(good);
  const active = mine.filter((e) => e.activeState === 'active').length;
  const worst = [...mine].sort((a, b) => (RANK[b.activeState ?? 'Unknown'] ?? 5) - (RANK[a.activeState ?? 'Unknown'] ?? 5))[0];
  const cond = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
    const prev = previous.find((c) => c.type === type);
    return { type, status, reason, message, observedGeneration: generation, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime ?? now : now };
  };
  let readyMsg: string;
  if (targeted.length === 0) readyMsg = 'no node matches the placement';
  else if (ready) readyMsg = wantRunning ? `active on ${active}/${targeted.length} node(s)` : `stopped on ${targeted.length} node(s)`;
  else readyMsg = mine.filter((e) => !good(e)).map((e) => `${e.node}: ${e.activeState ?? 'no report yet'}${e.subState ? ` (${e.subState})` : ''}${e.observedGeneration !== undefined && e.observedGeneration !== generation ? `, generation ${e.observedGeneration} of ${generation}` : ''}${target !== undefined && e.revision !== target ? `, revision ${e.revision ?? '(none)'} of ${target}` : ''}`).join('; ');
  const halted = rollout?.halted;
  const conflict = rollout?.blocked;
  const stalled = failed.length > 0 || notStarted.length > 0 || halted !== undefined || conflict !== undefined;
  const stalledReason = failed.length > 0 ? failed[0]!.result ?? 'failed' : notStarted[0]?.notStarted ?? 'failed';
  const stalledMsg = [...failed.map((e) => `${e.node}: failed with result '${e.result}' after ${e.nRestarts ?? 0} restart(s)`), ...notStarted.map((e) => `${e.node}: ${e.message ?? `not started (${e.notStarted})`}`)].join('; ');
  const rolling = rollout !== undefined && !rollout.complete && !ready;
  const reconcilingMsg = rolling ? `${rollout.status.message ?? ''}${readyMsg ? `; ${readyMsg}` : ''}` : readyMsg;
  const conditions = [
    cond('Ready', ready ? 'True' : 'False', ready ? 'Active' : conflict !== undefined ? 'RevisionConflict' : halted ? 'RolloutHalted' : stalled ? (failed.length > 0 ? 'Failed' : stalledReason) : targeted.length === 0 ? 'NoMatchingNode' : rolling ? (rollout.paused ? 'RolloutPaused' : 'RollingOut') : 'NotActive', readyMsg),
    cond('Stalled', stalled ? 'True' : 'False', conflict !== undefined ? 'RevisionConflict' : halted ? 'RolloutHalted' : stalled ? stalledReason : 'NotFailed',
      conflict !== undefined ? `revision ${rollout!.status.updatedRevision} is granted to no node: ${conflict}`
      : halted ? `rollout halted: ${halted.message}; no other node is granted revision ${halted.revision} until the spec changes (a fix, or a revert) or ${halted.node} has it available again` : stalled ? stalledMsg : 'no node failed it'),
    cond('Reconciling', !ready && !stalled ? 'True' : 'False', !ready && !stalled ? (rolling ? (rollout.paused ? 'RolloutPaused' : 'RollingOut') : 'Converging') : 'Done', !ready && !stalled ? reconcilingMsg : ''),
  ];
  return {
    conditions,
    summary: {
      nodes: `${active}/${targeted.length}`,
      ...(rollout ? { upToDate: `${rollout.upToDate}/${targeted.length}` } : {}),
      activeState: worst?.activeState ?? (targeted.length === 0 ? 'inactive' : 'Unknown'),
      subState: worst?.subState ?? '',
      result: worst?.result ?? '',
      nRestarts: mine.reduce((a, e) => a + (e.nRestarts ?? 0), 0),
      ...exposureOf(su),
    },
  };
}

type Exposure = { exposure: string; exposureLevel: string; exposureApplied: string };
/** Per uid and generation (the spec changes only with the generation): ~1 ms saved per reconcile of a sandboxed unit. */
const exposures = new Map<string, Exposure>();

/** systemd-analyze security of the spec (src/security): systemd's figure and level, and the figure without what the nodes do not apply. */
function exposureOf(su: ServiceUnit): Exposure {
  const key = su.metadata.uid !== undefined && su.metadata.generation !== undefined ? `${su.metadata.uid}/${su.metadata.generation}` : undefined;
  const known = key === undefined ? undefined : exposures.get(key);
  if (known) return known;
  const s = unitSecurity(su.spec, su.spec.unitName ?? `${su.metadata.name}.service`);
  const e = { exposure: s.systemd.exposureText, exposureLevel: s.systemd.level, exposureApplied: `${s.applied.exposureText} ${s.applied.level}` };
  if (key !== undefined) { if (exposures.size >= 10_000) exposures.clear(); exposures.set(key, e); }
  return e;
}
