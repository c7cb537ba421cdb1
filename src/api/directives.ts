// The directives a ServiceUnit expresses: the one table from which the CRD schema, the offline
// validator, the converter and the renderer are all derived, and which says, per directive, who
// applies it on a node (engine, runner, shim) or why nobody does yet, and whether running
// without it leaves the host or the service unprotected (then the unit fails closed).
// Names, types, defaults and docs follow systemd 257: systemd.unit(5) and [Install]
// (table/unit.ts), systemd.service(5) and systemd.kill(5) (table/service.ts), systemd.exec(5)
// (table/exec.ts, table/sandbox.ts) and systemd.resource-control(5) (table/resource.ts).

import { TIMESPAN_PATTERN } from './timespan.ts';
import { SIGNAL_PATTERN, EXIT_STATUS_PATTERN } from './signals.ts';
import type { Directive, Section } from './table/kinds.ts';
import { UNIT, CONDITIONS, INSTALL } from './table/unit.ts';
import { SERVICE } from './table/service.ts';
import { EXEC, OUTPUT_PATTERN, LIMIT_PATTERN } from './table/exec.ts';
import { SANDBOX } from './table/sandbox.ts';
import { RESOURCE } from './table/resource.ts';

export { fieldName, APPLYING, EMERGENCY_ACTIONS, SIZE_PATTERN, type Applier, type Directive, type Kind, type Section } from './table/kinds.ts';
export { CONDITION_TYPES } from './table/unit.ts';
export { SERVICE_TYPES, RESTART_VALUES, RESTART_MODES, KILL_MODES, NOTIFY_ACCESS } from './table/service.ts';
export { OUTPUT_PATTERN, INPUT_PATTERN, LIMIT_PATTERN, UMASK_PATTERN } from './table/exec.ts';
export const FILE_MODE_PATTERN = '^0?[0-7]{1,4}$';

export const DIRECTIVES: readonly Directive[] = [...UNIT, ...CONDITIONS, ...SERVICE, ...EXEC, ...SANDBOX, ...RESOURCE, ...INSTALL];

/** Older names systemd still reads, mapped to where they land. */
export const ALIASES: Readonly<Record<string, { readonly section: Section; readonly name: string }>> = {
  'Unit.StartLimitInterval': { section: 'Unit', name: 'StartLimitIntervalSec' },
  'Service.StartLimitInterval': { section: 'Unit', name: 'StartLimitIntervalSec' },
  'Service.StartLimitIntervalSec': { section: 'Unit', name: 'StartLimitIntervalSec' },
  'Service.StartLimitBurst': { section: 'Unit', name: 'StartLimitBurst' },
  'Service.StartLimitAction': { section: 'Unit', name: 'StartLimitAction' },
  'Service.FailureAction': { section: 'Unit', name: 'FailureAction' },
  'Service.SuccessAction': { section: 'Unit', name: 'SuccessAction' },
  'Unit.PropagateReloadTo': { section: 'Unit', name: 'PropagatesReloadTo' },
  'Unit.PropagateReloadFrom': { section: 'Unit', name: 'ReloadPropagatedFrom' },
  'Unit.BindTo': { section: 'Unit', name: 'BindsTo' },
  'Service.RebootArgument': { section: 'Unit', name: 'RebootArgument' },
  'Service.ReadWriteDirectories': { section: 'Service', name: 'ReadWritePaths' },
  'Service.ReadOnlyDirectories': { section: 'Service', name: 'ReadOnlyPaths' },
  'Service.InaccessibleDirectories': { section: 'Service', name: 'InaccessiblePaths' },
  'Service.MemoryLimit': { section: 'Service', name: 'MemoryMax' },
};

const BY_NAME = new Map(DIRECTIVES.map((x) => [`${x.section}.${x.name}`, x]));
const BY_FIELD = new Map(DIRECTIVES.map((x) => [`${x.section}.${x.field}`, x]));

/** Finds a directive by section and systemd name, following the compatibility aliases. */
export function lookupDirective(section: string, name: string): Directive | undefined {
  const direct = BY_NAME.get(`${section}.${name}`);
  if (direct) return direct;
  const alias = ALIASES[`${section}.${name}`];
  return alias ? BY_NAME.get(`${alias.section}.${alias.name}`) : undefined;
}

export function directiveByField(section: Section, field: string): Directive | undefined {
  return BY_FIELD.get(`${section}.${field}`);
}

export function directivesOf(section: Section): Directive[] {
  return DIRECTIVES.filter((x) => x.section === section);
}

/** The spec key holding each section. */
export const SECTION_FIELD: Readonly<Record<Section, 'unit' | 'service' | 'install'>> = { Unit: 'unit', Service: 'service', Install: 'install' };

export const PATTERNS = { TIMESPAN_PATTERN, SIGNAL_PATTERN, EXIT_STATUS_PATTERN, OUTPUT_PATTERN, LIMIT_PATTERN };

/** Edit distance, for "did you mean" hints on unknown directives. */
export function suggestDirective(section: string, name: string): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const x of DIRECTIVES) {
    if (x.section !== section) continue;
    const dist = levenshtein(x.name.toLowerCase(), name.toLowerCase());
    if (dist < bestDist) { bestDist = dist; best = x.name; }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
