// The rollout planner (issue 18), pure: the current revision, each targeted node's grant and
// report, and the strategy → the next grants, whether the rollout is halted, and what it waits
// for. The controller runs it on every reconcile (level-based: no memory but the grants it wrote).
//
// A node is available when its agent is alive, it runs the revision it was granted, and the unit
// has been active minReadySeconds (a oneshot: ended with success). At most maxUnavailable nodes
// are unavailable at a time: a node already unavailable at rest (its agent's lease expired, or
// its unit failed or stopped on its old revision) is granted the new revision at no cost, as a
// DaemonSet replaces its unavailable pods first; available ones are granted in name order while
// the budget lasts. A node granted the new revision that fails it, or is not available within
// progressDeadlineSeconds, halts the rollout: nothing more is granted until the spec changes (a
// fix, or a revert to the old revision) or the node recovers. The halt is recomputed on every
// pass, not remembered: it lifts once the failed node is available again — the unit active on
// it for minReadySeconds with no restart (a slow start that made it at last, or a host someone
// fixed and started the unit on), the proof every other node gives too, as a Deployment's
// ProgressDeadlineExceeded clears on progress; a unit that hit its start limit stays failed
// until someone starts it, so it does not lift by itself. Once every node is granted the target
// there is nothing to halt: a failure is the unit's own (Stalled with its Result). A node whose
// agent has been gone longer than the progress deadline stops counting (it takes its grant when
// it comes back). A target whose ControllerRevision conflicts (blocked) is granted to no node.

import type { Grant, NodeStatus, RolloutStatus } from '../api/types.ts';

export interface RolloutNode {
  readonly node: string;
  /** Its agent's Lease is current. */
  readonly alive: boolean;
  /** When its lease expired (ms since the epoch); 0 when it never had one. */
  readonly lostSinceMs?: number;
  readonly entry?: NodeStatus | undefined;
}

export interface Strategy {
  readonly maxUnavailable?: number | string | undefined;
  readonly minReadySeconds?: number | undefined;
  readonly progressDeadlineSeconds?: number | undefined;
  readonly paused?: boolean | undefined;
}

export interface RolloutInput {
  /** The revision of the current spec. */
  readonly target: string;
  /** The targeted nodes. */
  readonly nodes: readonly RolloutNode[];
  readonly previous: RolloutStatus | undefined;
  readonly strategy: Strategy;
  /** spec.state running and not masked (a stopped unit's revision goes everywhere at once). */
  readonly wantRunning: boolean;
  /** Type=oneshot: ended with success counts as available. */
  readonly oneshot: boolean;
  readonly nowMs: number;
  /** Why the target may not be granted (its ControllerRevision conflicts): nothing is granted. */
  readonly blocked?: string | undefined;
}

export interface Halt { readonly node: string; readonly revision: string; readonly result?: string; readonly message: string }

export interface RolloutPlan {
  readonly status: RolloutStatus;
  readonly halted: Halt | undefined;
  /** Nodes granted the target revision by this plan. */
  readonly granted: readonly string[];
  /** Nodes running the target revision (the UP-TO-DATE column). */
  readonly upToDate: number;
  /** Run the planner again after this long (a minReadySeconds or deadline that will pass), if anything waits on time. */
  readonly recheckAfterMs: number | undefined;
  readonly paused: boolean;
  /** The rollout has granted and proven the target everywhere. */
  readonly complete: boolean;
  /** The input's blocked: nothing was granted for this reason. */
  readonly blocked: string | undefined;
}

export const DEFAULT_PROGRESS_DEADLINE_S = 600;

/** maxUnavailable as a node count: a number, or a percentage of the targeted nodes rounded up; at least 1. */
export function resolveMaxUnavailable(v: number | string | undefined, nodes: number): number {
  if (v === undefined) return 1;
  if (typeof v === 'number') return Math.max(1, Math.floor(v));
  const m = /^(\d+)%$/.exec(v);
  const n = m ? Math.ceil((Number(m[1]) * nodes) / 100) : Number(v);
  return Number.isFinite(n) ? Math.max(1, n) : 1;
}

const ms = (iso: string | undefined): number | undefined => { if (!iso) return undefined; const t = Date.parse(iso); return Number.isNaN(t) ? undefined : t; };

interface View {
  readonly n: RolloutNode;
  grant: Grant;
  /** Runs its grant. */
  readonly runs: boolean;
  readonly available: boolean;
  /** Why it is not available, in words. */
  readonly why: string;
  /** ms until it becomes available if it stays as it is (minReadySeconds pending). */
  readonly readyInMs: number | undefined;
  /** Gone longer than the deadline: not counted. */
  readonly givenUp: boolean;
}

export function planRollout(input: RolloutInput): RolloutPlan {
  const { target, nowMs } = input;
  const now = new Date(nowMs).toISOString();
  const minReadyMs = (input.strategy.minReadySeconds ?? 0) * 1000;
  const deadlineMs = (input.strategy.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_S) * 1000;
  const paused = input.strategy.paused === true;
  const prev = input.previous;
  const prevGrants = new Map((prev?.nodes ?? []).map((g) => [g.node, g]));
  // a unit the controller has not taken in yet (new): every node runs what the spec says now
  const fresh = prev === undefined || prev.updatedRevision === undefined;
  const stable = fresh ? target : prev.stableRevision ?? target;
  const granted: string[] = [];
  let recheck: number | undefined;
  const soon = (d: number): void => { if (d > 0) recheck = recheck === undefined ? d : Math.min(recheck, d); };

  const views: View[] = input.nodes.map((n) => {
    const grant = prevGrants.get(n.node) ?? { node: n.node, revision: fresh ? target : stable, time: now };
    const e = n.entry;
    const runs = e?.revision !== undefined && e.revision === grant.revision;
    let available = false;
    let why = '';
    let readyInMs: number | undefined;
    if (!n.alive) why = 'its agent\'s lease expired';
    else if (!e || e.activeState === undefined) why = 'no report yet';
    else if (!runs) why = `still runs revision ${e.revision ?? '(none)'}, granted ${grant.revision}`;
    else if (!input.wantRunning) available = true;
    else if (e.activeState === 'active') {
      const since = ms(e.activeEnterTimestamp) ?? nowMs;
      const left = since + minReadyMs - nowMs;
      if (left <= 0) available = true;
      else { readyInMs = left; why = `active for less than minReadySeconds ${minReadyMs / 1000}`; }
    } else if (input.oneshot && e.activeState === 'inactive' && e.result === 'success') available = true;
    else why = `${e.activeState}${e.subState ? ` (${e.subState})` : ''}`;
    const lost = n.lostSinceMs ?? 0;
    const givenUp = !n.alive && lost + deadlineMs <= nowMs;
    if (!n.alive && !givenUp) soon(lost + deadlineMs - nowMs);
    if (readyInMs !== undefined) soon(readyInMs);
    return { n, grant, runs, available, why, readyInMs, givenUp };
  });

  // halted: a node granted the target fails it, or is not available within the deadline
  // (only while the target is not yet granted to all: a unit that fails once everywhere has it —
  // a new unit, or the last node of a rollout — is a failed unit, with nothing left to hold back)
  let halted: Halt | undefined;
  const rolling = !fresh && prev.stableRevision !== target && input.nodes.some((n) => prevGrants.get(n.node)?.revision !== target);
  if (input.wantRunning && rolling) {
    for (const v of views) {
      if (v.grant.revision !== target || v.available || !v.n.alive) continue;
      const e = v.n.entry;
      if (v.runs && e?.activeState === 'failed') {
        halted = { node: v.n.node, revision: target, ...(e.result ? { result: e.result } : {}), message: `${v.n.node}: revision ${target} failed with result '${e.result ?? 'unknown'}'${e.execMainStatus !== undefined ? ` (ExecMainStatus ${e.execMainStatus})` : ''} after ${e.nRestarts ?? 0} restart(s)` };
        break;
      }
      const since = ms(v.grant.time) ?? nowMs;
      if (since + deadlineMs <= nowMs) {
        halted = { node: v.n.node, revision: target, ...(e?.result ? { result: e.result } : {}), message: `${v.n.node}: revision ${target} not available within progressDeadlineSeconds ${deadlineMs / 1000} (${v.why})` };
        break;
      }
      soon(since + deadlineMs - nowMs);
    }
  }

  const grant = (v: View): void => { v.grant = { node: v.n.node, revision: target, time: now }; granted.push(v.n.node); };
  const pending = views.filter((v) => v.grant.revision !== target);
  const blocked = input.blocked;
  if (blocked !== undefined) { /* the revision is not stored as it should be: no node is granted it */ } else if (!input.wantRunning && !paused) for (const v of pending) grant(v); // nothing runs: nothing to protect
  else if (!halted && !paused) {
    // unavailable at rest: down already, so the new revision costs nothing
    for (const v of pending) {
      const e = v.n.entry;
      if (!v.available && (!v.n.alive || (v.runs && (e?.activeState === 'failed' || e?.activeState === 'inactive')))) grant(v);
    }
    let budget = resolveMaxUnavailable(input.strategy.maxUnavailable, views.length) - views.filter((v) => !v.available && !v.givenUp).length;
    for (const v of pending) {
      if (budget <= 0) break;
      if (v.grant.revision === target || !v.available) continue;
      grant(v);
      budget--;
    }
  }

  const grants = views.map((v) => v.grant);
  const allGranted = grants.every((g) => g.revision === target);
  const updated = views.filter((v) => v.grant.revision === target && v.available).length;
  const upToDate = views.filter((v) => v.n.alive && v.n.entry?.revision === target).length;
  const complete = allGranted && views.every((v) => v.available || v.givenUp);
  const waiting = views.filter((v) => !v.available).map((v) => `${v.n.node} (${v.givenUp ? `${v.why}; not waited for` : v.why})`);
  const message = blocked !== undefined ? `blocked: ${blocked}`
    : halted ? `halted: ${halted.message}`
    : paused && !allGranted ? `paused at ${updated}/${views.length} node(s) updated`
    : complete ? `revision ${target} on ${updated}/${views.length} node(s)${views.some((v) => v.givenUp) ? `; not waited for: ${views.filter((v) => v.givenUp).map((v) => `${v.n.node} (${v.why})`).join(', ')}` : ''}`
    : `rolling out revision ${target}: ${updated}/${views.length} node(s) updated${waiting.length > 0 ? `; waiting for ${waiting.join(', ')}` : ''}`;
  const status: RolloutStatus = {
    updatedRevision: target,
    stableRevision: allGranted ? target : stable,
    nodes: grants,
    updatedNodes: updated,
    ...(halted ? { halted } : {}),
    message,
  };
  return { status, halted, granted, upToDate, recheckAfterMs: complete ? undefined : recheck, paused, complete, blocked };
}

/** ControllerRevisions kept per unit (a DaemonSet's default revisionHistoryLimit). */
export const REVISION_HISTORY_LIMIT = 10;

/**
 * The ControllerRevisions to delete (pure): the oldest beyond `limit`, never one a node is granted,
 * the stable revision or the current one (an agent may still have to read it).
 */
export function revisionsToPrune(revisions: ReadonlyArray<{ name: string; hash: string; revision: number }>, inUse: ReadonlySet<string>, limit = REVISION_HISTORY_LIMIT): string[] {
  const spare = revisions.filter((r) => !inUse.has(r.hash)).sort((a, b) => a.revision - b.revision || a.name.localeCompare(b.name));
  const excess = revisions.length - limit;
  return excess > 0 ? spare.slice(0, excess).map((r) => r.name) : [];
}
