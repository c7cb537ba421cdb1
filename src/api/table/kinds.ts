// The shape of one row of the directive table (src/api/directives.ts): how a directive's value
// is typed, and who applies it on the node — the engine, the runner, the shim, or nobody yet
// (and why), and whether running without it would leave the host or the service unprotected.

export type Section = 'Unit' | 'Service' | 'Install';

/** How a directive's value is read, stored in the spec and written back. */
export type Kind =
  | { readonly t: 'string'; readonly pattern?: string }
  | { readonly t: 'list'; readonly pattern?: string }
  | { readonly t: 'bool' }
  /** A boolean or one of some words (ProtectSystem=yes|strict|full): stored as a string, "true"/"false" for booleans. */
  | { readonly t: 'boolOr'; readonly values?: readonly string[] }
  | { readonly t: 'timespan' }
  | { readonly t: 'int'; readonly min?: number; readonly max?: number }
  /** A number or a word (CPUWeight=idle|1…10000, TasksMax=512|80%|infinity). */
  | { readonly t: 'intOrString'; readonly pattern: string; readonly min?: number; readonly max?: number }
  /** Bytes with a K/M/G/T/P/E suffix (base 1024), "infinity", or a percentage of physical memory. */
  | { readonly t: 'size' }
  | { readonly t: 'enum'; readonly values: readonly string[] }
  | { readonly t: 'commands' }
  | { readonly t: 'environment' }
  | { readonly t: 'lines' }
  | { readonly t: 'exitStatus' }
  | { readonly t: 'signal' }
  | { readonly t: 'limit' }
  | { readonly t: 'condition' };

/**
 * Who applies a directive on the node.
 * - engine: the pure service state machine (src/engine): Type=, Restart=, timeouts, kill signals.
 * - runner: the TypeScript runner (src/runner): User= lookup, Environment*=, PIDFile=.
 * - shim: the C process holder (src/runner/shim/, the set-up steps in exec.c) between fork() and execve().
 * - status: nothing to apply; shown by unitctl status and kubectl get, as systemctl shows it.
 * - cgroup: a cgroup per unit, issue 13 (resource control).
 * - sandbox: namespaces, capabilities, seccomp, directories, credentials, issues 14 and 15.
 * - dependency: the job and dependency engine, issue 16 (ordering, requirements, conditions).
 * - carried: kept so the unit renders back unchanged; nothing on a node acts on it.
 * - not-yet: no applier planned yet; the reason says why.
 */
export type Applier = 'engine' | 'runner' | 'shim' | 'status' | 'cgroup' | 'sandbox' | 'dependency' | 'carried' | 'not-yet';

/** The appliers that act on a directive today. */
export const APPLYING: ReadonlySet<Applier> = new Set<Applier>(['engine', 'runner', 'shim', 'status']);

export interface Directive {
  readonly section: Section;
  /** The systemd name, e.g. "ExecStart". */
  readonly name: string;
  /** The spec field, e.g. "execStart". */
  readonly field: string;
  readonly kind: Kind;
  readonly doc: string;
  /** Who applies it (see Applier). */
  readonly applier: Applier;
  /** Why it is not applied (set for every applier outside APPLYING). */
  readonly reason?: string;
  /**
   * Whether it protects the host or the service (sandboxing, capabilities, identity, resource
   * limits, IP/device access): a unit asking for it while it is not applied does not start
   * (fail closed). false: it only shapes sharing or informs; not applying it is reported.
   */
  readonly protects: boolean;
  /**
   * For an applied directive: the reason a given value is not applied (StandardOutput=kmsg),
   * or undefined when it is. For one that is not applied: undefined when the value asks for
   * nothing the node does not do already (PrivateTmp=no), so it is not reported.
   */
  readonly gap?: (value: unknown) => string | undefined;
}

/** systemd's name to our camelCase field: ExecStart → execStart, PIDFile → pidFile. */
export function fieldName(name: string): string {
  const special: Record<string, string> = { UMask: 'umask', TTYPath: 'ttyPath', TTYReset: 'ttyReset', TTYVHangup: 'ttyVHangup', TTYVTDisallocate: 'ttyVTDisallocate', TTYRows: 'ttyRows', TTYColumns: 'ttyColumns' };
  if (special[name]) return special[name];
  const m = /^([A-Z]+)(?=[A-Z][a-z]|$)/.exec(name);
  if (m && m[1]!.length > 1) return m[1]!.toLowerCase() + name.slice(m[1]!.length);
  return name[0]!.toLowerCase() + name.slice(1);
}

export interface Applied { readonly applier: 'engine' | 'runner' | 'shim' | 'status'; readonly protects?: boolean; readonly gap?: (value: unknown) => string | undefined }
export interface NotApplied { readonly applier: Exclude<Applier, 'engine' | 'runner' | 'shim' | 'status'>; readonly reason: string; readonly protects: boolean; readonly gap?: (value: unknown) => string | undefined }

/** One row. `how` says who applies it; a not-applied boolean asking for "no" is not reported unless `how.gap` says otherwise. */
export function row(section: Section, name: string, kind: Kind, doc: string, how: Applied | NotApplied): Directive {
  const applied = APPLYING.has(how.applier);
  const gap = how.gap ?? (applied ? undefined : defaultGap(kind, (how as NotApplied).reason));
  return {
    section, name, field: fieldName(name), kind, doc, applier: how.applier,
    ...(applied ? {} : { reason: (how as NotApplied).reason }),
    protects: how.protects ?? false,
    ...(gap ? { gap } : {}),
  };
}

/** A boolean set to no (or a bool-or-word set to "false") asks for nothing: the node already does without. */
function defaultGap(kind: Kind, reason: string): (value: unknown) => string | undefined {
  if (kind.t === 'bool') return (v) => (v === false ? undefined : reason);
  if (kind.t === 'boolOr') return (v) => (v === 'false' ? undefined : reason);
  return () => reason;
}

/** A not-applied directive whose listed values ask for what the node does anyway. */
export function honours(reason: string, ...values: ReadonlyArray<string | boolean | number>): (value: unknown) => string | undefined {
  return (v) => (values.includes(v as string) ? undefined : reason);
}

export const STR = { t: 'string' } as const;
export const LIST = { t: 'list' } as const;
export const LINES = { t: 'lines' } as const;
export const BOOL = { t: 'bool' } as const;
export const SPAN = { t: 'timespan' } as const;
export const SIZE = { t: 'size' } as const;
export const CMDS = { t: 'commands' } as const;
export const SIG = { t: 'signal' } as const;
export const LIMIT = { t: 'limit' } as const;
export const EXIT = { t: 'exitStatus' } as const;
export const enumOf = (values: readonly string[]): Kind => ({ t: 'enum', values });
export const boolOr = (...values: string[]): Kind => (values.length > 0 ? { t: 'boolOr', values } : { t: 'boolOr' });
export const intRange = (min?: number, max?: number): Kind => ({ t: 'int', ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
export const modeKind = { t: 'string', pattern: '^0?[0-7]{1,4}$' } as const;

/** The words of systemd's emergency actions (StartLimitAction=, FailureAction=, ...). */
export const EMERGENCY_ACTIONS = ['none', 'reboot', 'reboot-force', 'reboot-immediate', 'poweroff', 'poweroff-force',
  'poweroff-immediate', 'exit', 'exit-force', 'soft-reboot', 'soft-reboot-force', 'kexec', 'kexec-force', 'halt',
  'halt-force', 'halt-immediate'] as const;

export const SIZE_PATTERN = '^(infinity|[0-9]+(\\.[0-9]+)?[KMGTPE]?|[0-9]+(\\.[0-9]+)?%)$';
export const PERCENT_PATTERN = '^[0-9]+(\\.[0-9]+)?%$';
