// The execution context of a unit's commands (systemd.exec(5)): everything the runner and the
// shim need from the [Service] section, parsed once per spec into typed values. Pure: no
// look-ups and no specifier expansion here (User=, %h and friends depend on the node and are
// resolved at spawn time, see launch.ts).

import type { ServiceUnitSpec } from '../api/types.ts';

export interface ExecContext {
  /** User=, Group=, SupplementaryGroups= as written (specifiers not yet expanded). */
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly supplementaryGroups: readonly string[];
  /** UMask= (octal, as written). */
  readonly umask: string | undefined;
  /** WorkingDirectory= as written ("-" prefix: optional; "~": the user's home). */
  readonly workingDirectory: string | undefined;
  /** Limit*= directives: RLIMIT name without the prefix (NOFILE, CORE...) and value, in spec order. */
  readonly limits: ReadonlyArray<readonly [string, string]>;
  /** StandardOutput=/StandardError= as the shim takes them: "null", "journal", "o:PATH", "a:PATH", "w:PATH". */
  readonly stdout: string;
  readonly stderr: string;
  readonly environment: readonly string[];
  readonly environmentFiles: readonly string[];
  readonly passEnvironment: readonly string[];
  readonly unsetEnvironment: readonly string[];
}

export function executionContext(spec: ServiceUnitSpec): ExecContext {
  const s = spec.service ?? {};
  const opt = (k: string): string | undefined => (s[k] !== undefined ? String(s[k]) : undefined);
  const list = (k: string): string[] => ((s[k] as unknown[] | undefined) ?? []).map(String);
  const limits: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(s)) {
    const m = /^limit([A-Z]+)$/.exec(k);
    if (m && v !== undefined) limits.push([m[1]!, String(v)]);
  }
  const stdout = outputSpec(s['standardOutput'], 'journal');
  const stderr = s['standardError'] === undefined || s['standardError'] === 'inherit' ? stdout : outputSpec(s['standardError'], stdout);
  return {
    user: opt('user'), group: opt('group'), supplementaryGroups: list('supplementaryGroups'),
    umask: opt('umask'), workingDirectory: opt('workingDirectory'), limits, stdout, stderr,
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
