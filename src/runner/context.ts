// The execution context of a unit's commands (systemd.exec(5)): everything the runner and the
// shim need from the [Service] section, parsed once per spec into typed values. Pure: no
// look-ups and no specifier expansion here (User=, %h and friends depend on the node and are
// resolved at spawn time, see launch.ts).

import type { ServiceUnitSpec } from '../api/types.ts';
import { unescapeOne } from '../api/cescape.ts';
import { formatRlimit, parseRlimit, RlimitError } from '../api/rlimit.ts';

export interface ExecContext {
  /** User=, Group=, SupplementaryGroups= as written (specifiers not yet expanded). */
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly supplementaryGroups: readonly string[];
  /** UMask= (octal, as written). */
  readonly umask: string | undefined;
  /** WorkingDirectory= as written ("-" prefix: optional; "~": the user's home). */
  readonly workingDirectory: string | undefined;
  /** Limit*= directives: RLIMIT name without the prefix (NOFILE, CORE...) and the value converted as
   *  systemd's rlimit_parse() does ("64K" → "65536", LimitCPU=1min → "60"), "N", "infinity" or
   *  "SOFT:HARD", in spec order; a value systemd ignores is left out (the directive table reports it). */
  readonly limits: ReadonlyArray<readonly [string, string]>;
  /** IgnoreSIGPIPE= (default yes: the command starts with SIGPIPE ignored). */
  readonly ignoreSigpipe: boolean;
  /** StandardOutput=/StandardError= as the shim takes them: "null", "journal", "o:PATH", "a:PATH", "w:PATH". */
  readonly stdout: string;
  readonly stderr: string;
  readonly environment: readonly string[];
  readonly environmentFiles: readonly string[];
  readonly passEnvironment: readonly string[];
  readonly unsetEnvironment: readonly string[];
  /** RootDirectory=: chroot() before exec. */
  readonly rootDirectory: string | undefined;
  /** Nice=, OOMScoreAdjust=. */
  readonly nice: number | undefined;
  readonly oomScoreAdjust: number | undefined;
  /** IOSchedulingClass=/IOSchedulingPriority= as the shim takes them ("best-effort:4"), normalized as systemd does. */
  readonly ioScheduling: string | undefined;
  /** CPUSchedulingPolicy=/CPUSchedulingPriority=/CPUSchedulingResetOnFork= as "POLICY:PRIO:0|1". */
  readonly cpuScheduling: string | undefined;
  /** CPUAffinity= as "0-1,3". */
  readonly cpuAffinity: string | undefined;
  /** StandardInput= as the shim takes it: "null", "tty:PATH", "tty-force:PATH", "tty-fail:PATH", "file:PATH", "data:BASE64". */
  readonly stdin: string;
}

export function executionContext(spec: ServiceUnitSpec): ExecContext {
  const s = spec.service ?? {};
  const opt = (k: string): string | undefined => (s[k] !== undefined ? String(s[k]) : undefined);
  const list = (k: string): string[] => ((s[k] as unknown[] | undefined) ?? []).map(String);
  const limits: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(s)) {
    const m = /^limit([A-Z]+)$/.exec(k);
    if (!m || v === undefined) continue;
    try { limits.push([m[1]!, formatRlimit(parseRlimit(m[1]!, typeof v === 'number' ? v : String(v)))]); } catch (e) { if (!(e instanceof RlimitError)) throw e; }
  }
  const stdin = inputSpec(s);
  // StandardOutput=inherit means "what standard input is" when that is a terminal or a file
  // (and /dev/null when standard input is null or data, as systemd's setup_output() under PID 1)
  const inheritsInput = s['standardOutput'] === 'inherit' && /^(tty|file:)/.test(stdin);
  const stdout = inheritsInput ? 'inherit' : s['standardOutput'] === 'inherit' ? 'null' : outputSpec(s['standardOutput'], 'journal');
  const stderr = s['standardError'] === undefined || s['standardError'] === 'inherit' ? stdout : outputSpec(s['standardError'], stdout);
  const num = (k: string): number | undefined => (s[k] !== undefined ? Number(s[k]) : undefined);
  return {
    rootDirectory: opt('rootDirectory'), nice: num('nice'), oomScoreAdjust: num('oomScoreAdjust'),
    ioScheduling: ioScheduling(opt('ioSchedulingClass'), num('ioSchedulingPriority')),
    cpuScheduling: cpuScheduling(opt('cpuSchedulingPolicy'), num('cpuSchedulingPriority'), s['cpuSchedulingResetOnFork']),
    cpuAffinity: s['cpuAffinity'] !== undefined ? list('cpuAffinity').flatMap((x) => x.split(/[\s,]+/)).filter(Boolean).join(',') || undefined : undefined,
    stdin,
    user: opt('user'), group: opt('group'), supplementaryGroups: list('supplementaryGroups'),
    umask: opt('umask'), workingDirectory: opt('workingDirectory'), limits, ignoreSigpipe: s['ignoreSIGPIPE'] !== false, stdout, stderr,
    environment: list('environment'), environmentFiles: list('environmentFile'),
    passEnvironment: list('passEnvironment'), unsetEnvironment: list('unsetEnvironment'),
  };
}

/** StandardOutput=/StandardError= → the shim's output spec; what the shim cannot do goes to the journal. */
export function outputSpec(v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  const s = String(v);
  if (s === 'null') return 'null';
  if (s === 'inherit') return fallback;
  if (s.startsWith('file:')) return `o:${s.slice(5)}`;
  if (s.startsWith('append:')) return `a:${s.slice(7)}`;
  if (s.startsWith('truncate:')) return `w:${s.slice(9)}`;
  return 'journal';
}

/** IOSchedulingClass= none (or only a priority) is best-effort, as systemd's ioprio_normalize() makes it. */
function ioScheduling(cls: string | undefined, prio: number | undefined): string | undefined {
  if (cls === undefined && prio === undefined) return undefined;
  const c = cls === undefined || cls === 'none' ? 'best-effort' : cls;
  return `${c}:${c === 'idle' ? 0 : prio ?? 4}`;
}

function cpuScheduling(policy: string | undefined, prio: number | undefined, resetOnFork: unknown): string | undefined {
  if (policy === undefined && prio === undefined && resetOnFork === undefined) return undefined;
  return `${policy ?? 'other'}:${prio ?? 0}:${resetOnFork === true ? 1 : 0}`;
}

/** StandardInput= (default null; data when StandardInputText=/StandardInputData= are set, as systemd's default). */
function inputSpec(s: Readonly<Record<string, unknown>>): string {
  const text = (s['standardInputText'] as unknown[] | undefined) ?? [];
  const data = (s['standardInputData'] as unknown[] | undefined) ?? [];
  const v = s['standardInput'] !== undefined ? String(s['standardInput']) : text.length + data.length > 0 ? 'data' : 'null';
  const tty = s['ttyPath'] !== undefined ? String(s['ttyPath']) : '/dev/console';
  if (v === 'tty' || v === 'tty-force' || v === 'tty-fail') return `${v}:${tty}`;
  if (v === 'data') {
    // StandardInputText= lines are C-unescaped and end in a newline; StandardInputData= is base64
    const bytes = Buffer.concat([...text.map((t) => unescapeText(String(t))), ...data.map((b) => Buffer.from(String(b).replace(/\s+/g, ''), 'base64'))]);
    return `data:${bytes.toString('base64')}`;
  }
  // socket and fd need socket activation, which there is none of: systemd's fixup_input() makes them null
  if (v === 'socket' || v.startsWith('fd')) return 'null';
  return v;
}

/** One StandardInputText= line as bytes, with its newline: \xNN and \NNN are raw bytes (cunescape's eight_bit), the rest UTF-8. */
function unescapeText(t: string): Buffer {
  const parts: Buffer[] = [];
  let run = '';
  const flush = (): void => { if (run) { parts.push(Buffer.from(run, 'utf8')); run = ''; } };
  for (let i = 0; i < t.length; i++) {
    if (t[i] !== '\\') { run += t[i]; continue; }
    const u = unescapeOne(t, i + 1);
    if (u.text === undefined) { run += t[i]; continue; }
    if (t[i + 1] === 'x' || /[0-7]/.test(t[i + 1] ?? '')) { flush(); parts.push(Buffer.from([u.text.charCodeAt(0)])); } else run += u.text;
    i += u.length;
  }
  run += '\n';
  flush();
  return Buffer.concat(parts);
}
