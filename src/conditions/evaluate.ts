// condition_test_list() of systemd's condition.c: the checks in order; a non-triggering one
// that fails ends the evaluation (the rest stay untested); among the triggering ones ("|"), at
// least one must hold. A check whose result cannot be determined counts as failed, negated or
// not, with a warning. Pure: every fact comes through `Facts`.

import { constants } from 'node:os';
import { getSystemErrorMessage } from 'node:util';
import { checkText, isErrno, type Check, type CheckState, type Facts } from './types.ts';
import * as paths from './paths.ts';
import * as sys from './system.ts';
import * as res from './resources.ts';

/** One check's raw result (before "!"): true, false, or why it could not be determined. */
export function testCheck(c: Check, f: Facts): paths.Outcome {
  const p = c.parameter;
  switch (c.type) {
    case 'PathExists': return paths.pathExists(f, p);
    case 'PathExistsGlob': return f.globExists(p);
    case 'PathIsDirectory': return paths.pathIsDirectory(f, p);
    case 'PathIsSymbolicLink': return paths.pathIsSymbolicLink(f, p);
    case 'PathIsMountPoint': return paths.pathIsMountPoint(f, p);
    case 'PathIsReadWrite': return paths.pathIsReadWrite(f, p);
    case 'PathIsEncrypted': return paths.pathIsEncrypted(f, p);
    case 'DirectoryNotEmpty': return paths.directoryNotEmpty(f, p);
    case 'FileNotEmpty': return paths.fileNotEmpty(f, p);
    case 'FileIsExecutable': return paths.fileIsExecutable(f, p);
    case 'NeedsUpdate': return paths.needsUpdate(f, p);
    case 'FirstBoot': return paths.firstBoot(f, p);
    case 'Credential': return paths.credential(f, p);
    case 'User': return sys.user(f, p);
    case 'Group': return sys.group(f, p);
    case 'Host': return sys.host(f, p);
    case 'KernelCommandLine': return sys.kernelCommandLine(f, p);
    case 'KernelVersion': return sys.kernelVersion(f, p);
    case 'Virtualization': return sys.virtualization(f, p);
    case 'Security': return sys.security(f, p);
    case 'Capability': return sys.capability(f, p);
    case 'ACPower': return sys.acPower(f, p);
    case 'Architecture': return sys.architecture(f, p);
    case 'Firmware': return sys.firmware(f, p);
    case 'CPUFeature': return sys.cpuFeature(f, p);
    case 'Environment': return sys.environment(f, p);
    case 'OSRelease': return sys.osRelease(f, p);
    case 'CPUs': return res.cpus(f, p);
    case 'Memory': return res.memory(f, p);
    case 'ControlGroupController': return res.controlGroupController(f, p);
    case 'MemoryPressure': return res.pressure(f, 'memory', p);
    case 'CPUPressure': return res.pressure(f, 'cpu', p);
    case 'IOPressure': return res.pressure(f, 'io', p);
  }
}

/** strerror(3)'s words for an errno name ("ENOENT" → "No such file or directory"). */
export function errnoText(name: string): string {
  const n = (constants.errno as Record<string, number>)[name];
  if (n === undefined) return name;
  try { const m = getSystemErrorMessage(-n); return m ? m[0]!.toUpperCase() + m.slice(1) : name; } catch { return name; }
}

export interface ListResult {
  /** The list holds (an empty list does). */
  readonly ok: boolean;
  /** Every check with its state, in evaluation order. */
  readonly states: readonly CheckState[];
  /** The non-triggering check that failed, when one did. */
  readonly failed: Check | undefined;
  /** The first triggering check that failed (when the list failed because none of them held). */
  readonly failedTrigger: Check | undefined;
  /** Warnings: checks whose result could not be determined (systemd's words). */
  readonly warnings: readonly string[];
}

export function evaluateList(checks: readonly Check[], f: Facts): ListResult {
  const states: CheckState[] = [];
  const warnings: string[] = [];
  let triggered: boolean | undefined;
  let failedTrigger: Check | undefined;
  const state = (c: Check, s: 1 | 0 | -1): CheckState => ({ type: `${c.family}${c.type}`, trigger: c.trigger, negate: c.negate, parameter: c.parameter, state: s });
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i]!;
    let r: paths.Outcome;
    try { r = testCheck(c, f); } catch (e) { r = { errno: typeof (e as NodeJS.ErrnoException).code === 'string' ? (e as NodeJS.ErrnoException).code! : 'EIO' }; }
    let met: boolean;
    if (isErrno(r)) {
      warnings.push(`Couldn't determine result for ${checkText(c)}, assuming failed: ${errnoText(r.errno)}`);
      met = false;
    } else met = r !== c.negate;
    states.push(state(c, met ? 1 : -1));
    if (!c.trigger && !met) {
      for (const rest of checks.slice(i + 1)) states.push(state(rest, 0));
      return { ok: false, states, failed: c, failedTrigger, warnings };
    }
    if (c.trigger) {
      if (!met && failedTrigger === undefined) failedTrigger = c;
      if (triggered !== true) triggered = met;
    }
  }
  return { ok: triggered !== false, states, failed: undefined, failedTrigger, warnings };
}
