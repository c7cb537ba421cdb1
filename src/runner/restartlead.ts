// How far ahead of its RestartSec= deadline an automatic restart is prepared (issue 19).
//
// A delayed restart is spawned early and its command waits in uo-shim until the deadline
// (UO_SHIM_NOT_BEFORE, unit.ts armTimer()), so that the agent's decision, the fork and the set-up
// are done by then. How long that takes is the node's: a few ms on a quiet node; ~18 ms (up to
// ~30) after a quiet spell where a cgroup move waits for an RCU grace period (a cgroup.procs
// write without favordynmods: shim/cgroup.c avoids it where the kernel lets it); far more under
// load. A fixed lead is either too short there or needlessly long elsewhere, so the lead follows
// what the node shows: each
// held command says how early it reached its hold (the "exec PID SLACK" line), which gives the
// time its preparation needed (lead used - slack, the timer's own lateness included); the lead
// is one and a half times the longest of the last WINDOW, within [MIN_US, MAX_US].
//
// Bounded on purpose: a prepared restart is already decided (the engine decides as of the
// deadline), so for the lead's length the unit reads as started while its command is held;
// MAX_US keeps that window short, and a set-up slower than that is late whatever the lead.

/** The lead with nothing measured yet, and the least it gets (µs). */
export const MIN_LEAD_US = 30_000;
/** The most it gets (µs). */
export const MAX_LEAD_US = 100_000;
/** How many of the latest prepared restarts it covers. */
export const LEAD_WINDOW = 64;

/** The most UNIT_OPERATOR_RESTART_LEAD_MS may fix (ms): uo-shim holds a command at most 1 s (shim/exec.c NOT_BEFORE_MAX_NS). */
export const MAX_FIXED_LEAD_MS = 1000;

export class RestartLead {
  private readonly needed: number[] = [];
  private next = 0;
  private lead = MIN_LEAD_US;
  private count = 0;
  private fixedUs: number | undefined;

  /** The lead for a restart prepared now (µs). */
  current(): number { return this.fixedUs ?? this.lead; }

  /** Fixes the lead (µs; 0: no restart is prepared ahead) instead of following what the node shows. */
  fix(us: number): void { this.fixedUs = us; }

  /** How many prepared restarts it has measured. */
  get measured(): number { return this.count; }

  /** A held command reached its hold `slackUs` before its deadline (negative: after) when prepared `leadUs` ahead. */
  observe(leadUs: number, slackUs: number): void {
    if (this.fixedUs !== undefined || !Number.isFinite(leadUs) || !Number.isFinite(slackUs) || leadUs <= 0) return;
    const needed = Math.max(0, leadUs - slackUs);
    this.count++;
    if (this.needed.length < LEAD_WINDOW) this.needed.push(needed);
    else { this.needed[this.next] = needed; this.next = (this.next + 1) % LEAD_WINDOW; }
    let longest = 0;
    for (const n of this.needed) if (n > longest) longest = n;
    this.lead = Math.min(MAX_LEAD_US, Math.max(MIN_LEAD_US, Math.ceil(longest * 1.5)));
  }
}

/** The agent's one estimate: the set-up's cost is the node's, not a unit's. */
export const restartLead = new RestartLead();

/**
 * UNIT_OPERATOR_RESTART_LEAD_MS=N fixes the agent's lead at N ms (0: no restart is prepared ahead,
 * every one is spawned at its deadline) instead of the node's estimate; still at most half the
 * delay (unit.ts armTimer()). A diagnostic (is a late or early restart the lead's?) and the tests'
 * way to make a lead long enough to see. Said in the log; a value that is not 0-1000 is refused
 * there and the estimate stays.
 */
export function configureRestartLead(env: Readonly<Record<string, string | undefined>>, log: (level: 'info' | 'warning', message: string) => void, lead: RestartLead = restartLead): void {
  const v = env['UNIT_OPERATOR_RESTART_LEAD_MS'];
  if (v === undefined || v === '') return;
  if (!/^[0-9]{1,4}$/.test(v) || Number(v) > MAX_FIXED_LEAD_MS) {
    log('warning', `UNIT_OPERATOR_RESTART_LEAD_MS=${JSON.stringify(v)} ignored: a whole number of ms from 0 to ${MAX_FIXED_LEAD_MS} is expected; the restart lead follows the node`);
    return;
  }
  lead.fix(Number(v) * 1000);
  log('info', Number(v) === 0 ? 'restart lead: off (UNIT_OPERATOR_RESTART_LEAD_MS=0): every automatic restart is spawned at its deadline' : `restart lead: fixed at ${Number(v)} ms (UNIT_OPERATOR_RESTART_LEAD_MS), at most half a unit's RestartSec=`);
}
