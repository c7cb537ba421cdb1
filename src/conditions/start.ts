// The checks before a start, as systemd's unit_start(): the conditions first (unmet: the unit
// is skipped, stays inactive with Result=success, the start job is done), then the asserts
// (failed: the start job fails with result "assert"). What was evaluated is kept as systemd's
// ConditionResult/ConditionTimestamp/Conditions and AssertResult/AssertTimestamp/Asserts.

import { checksFromSpec } from './parse.ts';
import { evaluateList, type ListResult } from './evaluate.ts';
import { checkText, type CheckState, type Facts } from './types.ts';

/** One family's last evaluation. */
export interface CheckRecord {
  readonly result: boolean;
  /** When it was evaluated (µs, the runner's clock). */
  readonly timestampUs: number;
  /** Every check with its state, in evaluation order (systemd's D-Bus Conditions=/Asserts=). */
  readonly states: readonly CheckState[];
}

export interface StartChecks {
  readonly condition?: CheckRecord | undefined;
  readonly assert?: CheckRecord | undefined;
}

export interface StartCheckOutcome {
  /** start: every condition and assert holds; condition: skipped; assert: the start job fails. */
  readonly verdict: 'start' | 'condition' | 'assert';
  /** The records to keep (an assert not evaluated keeps its previous record, as systemd does). */
  readonly checks: StartChecks;
  /** What systemd logs, with its levels. */
  readonly logs: ReadonlyArray<{ readonly level: 'info' | 'notice' | 'warning'; readonly message: string }>;
  /** The one-line reason ("unmet condition check ConditionPathExists=/x", "Assertion failed for u.service"). */
  readonly reason: string | undefined;
}

export function startChecks(unitName: string, unit: Readonly<Record<string, unknown>> | undefined, facts: Facts, nowUs: number, previous: StartChecks | undefined): StartCheckOutcome {
  const parsed = checksFromSpec(unit);
  const logs: Array<{ level: 'info' | 'notice' | 'warning'; message: string }> = parsed.ignored.map((m) => ({ level: 'warning' as const, message: `${unitName}: ${m}` }));
  const record = (r: ListResult): CheckRecord => ({ result: r.ok, timestampUs: nowUs, states: r.states });
  const cond = evaluateList(parsed.conditions, facts);
  for (const w of cond.warnings) logs.push({ level: 'warning', message: `${unitName}: ${w}` });
  if (!cond.ok) {
    const reason = cond.failed ? `unmet condition check ${checkText(cond.failed)}` : 'no trigger condition checks were met';
    logs.push({ level: 'info', message: cond.failed ? `${unitName} skipped, ${reason}` : `${unitName} skipped, ${reason}.` });
    return { verdict: 'condition', checks: { condition: record(cond), assert: previous?.assert }, logs, reason };
  }
  const asrt = evaluateList(parsed.asserts, facts);
  for (const w of asrt.warnings) logs.push({ level: 'warning', message: `${unitName}: ${w}` });
  const checks = { condition: record(cond), assert: record(asrt) };
  if (!asrt.ok) {
    logs.push({ level: 'notice', message: `${unitName}: Starting requested but asserts failed.` }, { level: 'warning', message: `Assertion failed for ${unitName}.` });
    const which = asrt.failed ? checkText(asrt.failed) : 'none of the trigger assertions were met';
    return { verdict: 'assert', checks, logs, reason: `Assertion failed for ${unitName} (${which})` };
  }
  return { verdict: 'start', checks, logs, reason: undefined };
}
