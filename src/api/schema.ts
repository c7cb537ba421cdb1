// The ServiceUnit OpenAPI v3 schema, built from the directive table. The same object is the
// CRD's structural schema and (after strictObjects()) the offline ajv validator's schema.

import { DIRECTIVES, directivesOf, LIMIT_PATTERN, SIZE_PATTERN, type Directive, type Kind, type Section } from './directives.ts';
import { TIMESPAN_PATTERN } from './timespan.ts';
import { SIGNAL_PATTERN, EXIT_STATUS_PATTERN } from './signals.ts';
import { SPEC_RULES } from './rules.ts';

export type Schema = Record<string, unknown>;

export const GROUP = 'unit-operator.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'ServiceUnit';
export const PLURAL = 'serviceunits';
export const SINGULAR = 'serviceunit';
export const SHORT_NAMES = ['su'];
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Bounds that keep the API server's CEL cost estimates finite. */
const MAX_LIST = 256;
const MAX_STRING = 4096;

const intOrString = (pattern: string, doc: string, extra: Schema = {}): Schema =>
  ({ 'x-kubernetes-int-or-string': true, pattern, description: doc, ...extra });

/** Words YAML 1.1 (kubectl, sigs.k8s.io/yaml → go-yaml v2) reads as booleans when bare. */
export const YAML11_BOOLEAN_WORDS = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;

/** The kubectl explain line for a string field one of whose words YAML 1.1 reads as a boolean. */
function quoteHint(values: readonly string[]): string {
  const words = values.filter((v) => YAML11_BOOLEAN_WORDS.test(v));
  return words.length > 0 ? ` Quote ${words.map((w) => `"${w}"`).join(', ')}: kubectl reads YAML 1.1, where a bare ${words.join('/')} is a boolean.` : '';
}

function kindSchema(kind: Kind, doc: string): Schema {
  switch (kind.t) {
    case 'string': return { type: 'string', maxLength: MAX_STRING, ...(kind.pattern ? { pattern: kind.pattern } : {}), description: doc };
    case 'list': return { type: 'array', maxItems: MAX_LIST, items: { type: 'string', minLength: 1, maxLength: MAX_STRING, ...(kind.pattern ? { pattern: kind.pattern } : {}) }, description: doc };
    case 'bool': return { type: 'boolean', description: doc };
    case 'timespan': return intOrString(TIMESPAN_PATTERN, `${doc} A time span ("5min 20s", "100ms", "infinity") or a number of seconds.`, { minimum: 0 });
    case 'int': return { type: 'integer', ...(kind.min !== undefined ? { minimum: kind.min } : {}), ...(kind.max !== undefined ? { maximum: kind.max } : {}), description: doc };
    case 'enum': return { type: 'string', enum: [...kind.values], description: doc + quoteHint(kind.values) };
    case 'boolOr': return kind.values
      ? { type: 'string', enum: ['true', 'false', ...kind.values], description: doc + quoteHint(['true', 'false']) }
      : { type: 'string', maxLength: MAX_STRING, description: doc + quoteHint(['true', 'false']) };
    case 'intOrString': return intOrString(kind.pattern, doc, { ...(kind.min !== undefined ? { minimum: kind.min } : {}), ...(kind.max !== undefined ? { maximum: kind.max } : {}) });
    case 'size': return intOrString(SIZE_PATTERN, doc, { minimum: 0 });
    case 'commands': return {
      type: 'array', maxItems: 64, description: doc,
      items: { type: 'string', minLength: 1, maxLength: MAX_STRING, pattern: '\\S' },
    };
    case 'environment': return {
      type: 'array', maxItems: MAX_LIST, description: doc,
      items: { type: 'string', maxLength: MAX_STRING, pattern: '^[^=\\s0-9][^=\\s]*=' },
    };
    case 'lines': return { type: 'array', maxItems: MAX_LIST, items: { type: 'string', minLength: 1, maxLength: MAX_STRING }, description: doc };
    case 'exitStatus': return {
      type: 'array', maxItems: MAX_LIST, description: doc,
      items: intOrString(EXIT_STATUS_PATTERN, 'An exit code 0–255, an exit status name (e.g. TEMPFAIL) or a signal name (e.g. SIGKILL).', { minimum: 0, maximum: 255 }),
    };
    case 'signal': return intOrString(SIGNAL_PATTERN, `${doc} A signal name (SIGTERM, TERM, SIGRTMIN+3) or number.`, { minimum: 1, maximum: 64 });
    case 'limit': return intOrString(LIMIT_PATTERN, doc, { minimum: 0 });
    case 'condition': return { type: 'array', maxItems: MAX_LIST, items: { type: 'string', maxLength: MAX_STRING }, description: doc };
  }
}

function sectionSchema(section: Section, doc: string): Schema {
  const properties: Record<string, Schema> = {};
  for (const x of directivesOf(section)) properties[x.field] = kindSchema(x.kind, x.doc);
  return { type: 'object', description: doc, properties };
}

const CHECK_STATE: Schema = {
  type: 'object',
  required: ['type', 'parameter', 'state'],
  properties: {
    type: { type: 'string', maxLength: 64, description: 'ConditionPathExists, AssertHost…' },
    trigger: { type: 'boolean', description: 'A triggering check ("|").' },
    negate: { type: 'boolean', description: 'A negated check ("!").' },
    parameter: { type: 'string', maxLength: MAX_STRING },
    state: { type: 'integer', minimum: -1, maximum: 1, description: '1 met, -1 not met, 0 not tested.' },
  },
};

const NODE_STATUS: Schema = {
  type: 'object',
  required: ['node'],
  description: 'What one node reports about the unit, as systemctl show would.',
  properties: {
    node: { type: 'string', description: 'The node this entry describes.' },
    activeState: { type: 'string', enum: ['active', 'reloading', 'inactive', 'failed', 'activating', 'deactivating', 'maintenance', 'refreshing', 'Unknown'], description: 'ActiveState; Unknown when the node stopped reporting (its Lease expired).' },
    subState: { type: 'string', description: 'SubState, e.g. running, exited, auto-restart, dead, failed.' },
    result: { type: 'string', description: 'Result: success, protocol, timeout, exit-code, signal, core-dump, watchdog, start-limit-hit, resources, oom-kill.' },
    nRestarts: { type: 'integer', minimum: 0, description: 'NRestarts: automatic restarts since the last manual start.' },
    mainPID: { type: 'integer', minimum: 0, description: 'MainPID, 0 when there is none.' },
    controlPID: { type: 'integer', minimum: 0, description: 'ControlPID: the running ExecStartPre=/ExecStop=/... process, 0 when none.' },
    execMainCode: { type: 'integer', description: 'ExecMainCode: 1 exited, 2 killed, 3 dumped (CLD_*).' },
    execMainStatus: { type: 'integer', description: 'ExecMainStatus: exit code or signal number of the main process.' },
    execMainStartTimestamp: { type: 'string', format: 'date-time' },
    execMainExitTimestamp: { type: 'string', format: 'date-time' },
    activeEnterTimestamp: { type: 'string', format: 'date-time' },
    activeExitTimestamp: { type: 'string', format: 'date-time' },
    inactiveEnterTimestamp: { type: 'string', format: 'date-time' },
    inactiveExitTimestamp: { type: 'string', format: 'date-time' },
    stateChangeTimestamp: { type: 'string', format: 'date-time' },
    statusText: { type: 'string', description: 'StatusText: the last STATUS= sent over sd_notify.' },
    conditionResult: { type: 'boolean', description: 'ConditionResult: whether the Condition*= checks held at the last start (false: the start was skipped).' },
    conditionTimestamp: { type: 'string', format: 'date-time', description: 'ConditionTimestamp: when the conditions were last checked.' },
    conditions: { type: 'array', maxItems: 256, items: CHECK_STATE, description: 'Conditions: each Condition*= in evaluation order with its state (1 met, -1 not met, 0 not tested).' },
    assertResult: { type: 'boolean', description: 'AssertResult: whether the Assert*= checks held at the last start (false: the start job failed).' },
    assertTimestamp: { type: 'string', format: 'date-time', description: 'AssertTimestamp: when the asserts were last checked.' },
    asserts: { type: 'array', maxItems: 256, items: CHECK_STATE, description: 'Asserts: each Assert*= in evaluation order with its state.' },
    tasksCurrent: { type: 'integer', minimum: 0, description: 'TasksCurrent: the tasks in the unit\'s cgroup (pids.current), when the entry was written.' },
    memoryCurrent: { type: 'integer', minimum: 0, description: 'MemoryCurrent: bytes the unit\'s cgroup uses (memory.current, v1 memory.usage_in_bytes), when the entry was written.' },
    memoryPeak: { type: 'integer', minimum: 0, description: 'MemoryPeak: the most the unit\'s cgroup used (memory.peak, v1 memory.max_usage_in_bytes), when the entry was written.' },
    cpuUsageNSec: { type: 'integer', minimum: 0, description: 'CPUUsageNSec: CPU time of the unit\'s cgroup in ns (cpu.stat usage_usec, v1 cpuacct.usage), when the entry was written. The entry is written when the unit\'s state changes, not when only these four figures do; the agent\'s metrics endpoint has them live.' },
    message: { type: 'string', description: 'Why the agent could not run the unit, when it could not (for a refused start: which directives and the agent flag that allows them).' },
    notStarted: { type: 'string', enum: ['StartRefused', 'UnitNameConflict'], description: 'Why the agent does not start the unit on this node until something changes: StartRefused (it asks for a protection this node does not apply), UnitNameConflict (another ServiceUnit of the namespace runs the unit of that name here). The controller reports the unit Stalled.' },
    notApplied: {
      type: 'array', description: 'Directives the unit sets that this node does not apply: refused ones keep the unit from starting (they protect the host or the service), allowed ones were let through by the agent\'s --allow-unenforced, reported ones only shape sharing or are informative.',
      items: {
        type: 'object', required: ['directive', 'enforcement'],
        properties: {
          directive: { type: 'string', description: 'The systemd name with "=", e.g. ProtectSystem=.' },
          applier: { type: 'string', description: 'Who will apply it: cgroup, sandbox, dependency, not-yet, carried.' },
          reason: { type: 'string', description: 'Why it is not applied.' },
          enforcement: { type: 'string', enum: ['refused', 'allowed', 'reported'] },
        },
      },
    },
    observedGeneration: { type: 'integer', format: 'int64', description: 'The spec generation this entry reflects.' },
    revision: { type: 'string', maxLength: 64, description: 'The revision (hash of what runs) the current invocation on this node was started with.' },
    lastHandledAnnotations: { type: 'object', additionalProperties: { type: 'string' }, description: 'The restart/reload/reset-failed annotation values already acted on, so each acts once.' },
    stoppedForDeletion: { type: 'boolean', description: 'The agent stopped the unit because the object is being deleted; the controller then releases this node\'s finalizer.' },
    lastHeartbeatTime: { type: 'string', format: 'date-time', description: 'When the agent last wrote this entry.' },
  },
};

const CONDITION: Schema = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string', description: 'Ready, Reconciling or Stalled (kstatus).' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string' },
    message: { type: 'string' },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    observedGeneration: { type: 'integer', format: 'int64' },
  },
};

export function specSchema(): Schema {
  return {
    type: 'object',
    description: 'The unit as systemd would read it, plus where and whether to run it. kubectl reads YAML 1.1: a bare yes/no/on/off/y/n is a boolean, so quote it in a string field (restart: "no").',
    properties: {
      unitName: { type: 'string', pattern: '^[A-Za-z0-9:_.\\\\@-]+\\.service$', maxLength: 255, description: 'The systemd unit name (e.g. getty@tty1.service), used for %n and friends; default <metadata.name>.service.' },
      nodeName: { type: 'string', maxLength: 253, description: 'Run on this one node.' },
      nodeSelector: { type: 'object', additionalProperties: { type: 'string' }, description: 'Run on every node whose labels match (like a DaemonSet).' },
      state: { type: 'string', enum: ['running', 'stopped'], description: 'running (default) is the declarative systemctl start; stopped is systemctl stop.' },
      masked: { type: 'boolean', description: 'A masked unit (systemctl mask, or an empty unit file) is never started.' },
      unit: sectionSchema('Unit', 'The [Unit] section (systemd.unit(5)).'),
      service: sectionSchema('Service', 'The [Service] section (systemd.service(5), systemd.exec(5), systemd.kill(5)).'),
      install: sectionSchema('Install', 'The [Install] section, kept for rendering the unit back; not acted on.'),
      updateStrategy: {
        type: 'object', description: 'How a change of what runs (anything but Description=, Documentation=, placement and state) reaches the targeted nodes: RollingUpdate, node by node (a DaemonSet\'s shape).',
        properties: {
          type: { type: 'string', enum: ['RollingUpdate'], description: 'RollingUpdate (the default).' },
          rollingUpdate: {
            type: 'object', properties: {
              maxUnavailable: { 'x-kubernetes-int-or-string': true, pattern: '^(100|[1-9]?[0-9])%$', minimum: 1, description: 'At most this many targeted nodes (a number, or a percentage rounded up) updating or not available at a time; default 1.' },
            },
          },
        },
      },
      minReadySeconds: { type: 'integer', minimum: 0, maximum: 86400, description: 'A node counts as updated once the unit has been active this long without a restart; default 0.' },
      progressDeadlineSeconds: { type: 'integer', minimum: 1, maximum: 86400, description: 'A node granted a new revision that is not available within this time halts the rollout; default 600.' },
      paused: { type: 'boolean', description: 'No node is granted a new revision while true (kubectl unit rollout pause|resume).' },
    },
    'x-kubernetes-validations': SPEC_RULES.map((r) => ({ rule: r.rule, message: r.message, fieldPath: r.fieldPath })),
  };
}

export function statusSchema(): Schema {
  return {
    type: 'object',
    properties: {
      observedGeneration: { type: 'integer', format: 'int64' },
      nodes: { type: 'array', items: NODE_STATUS, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['node'] },
      conditions: { type: 'array', items: CONDITION, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
      rollout: {
        type: 'object', description: 'The controller\'s record of the rollout: the revision each node may run (only the controller writes it; the node-restriction policy keeps agents from changing it).',
        properties: {
          updatedRevision: { type: 'string', maxLength: 64, description: 'The revision of the current spec (ControllerRevision <name>-<hash>).' },
          stableRevision: { type: 'string', maxLength: 64, description: 'The revision last granted to every targeted node; a node that never ran the unit starts it.' },
          nodes: {
            type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['node'], description: 'Per node, the revision it may run.',
            items: { type: 'object', required: ['node', 'revision', 'time'], properties: { node: { type: 'string', maxLength: 253 }, revision: { type: 'string', maxLength: 64 }, time: { type: 'string', format: 'date-time', description: 'When it was granted.' } } },
          },
          updatedNodes: { type: 'integer', minimum: 0, description: 'Nodes running updatedRevision and available.' },
          halted: {
            type: 'object', required: ['node', 'revision', 'message'], description: 'Set while the rollout is halted.',
            properties: { node: { type: 'string' }, revision: { type: 'string' }, result: { type: 'string' }, message: { type: 'string' } },
          },
          message: { type: 'string', description: 'What the rollout waits for.' },
        },
      },
      summary: {
        type: 'object', description: 'Aggregate over nodes, for the printer columns.',
        properties: {
          nodes: { type: 'string', description: 'Nodes active / nodes targeted, e.g. 2/3.' },
          upToDate: { type: 'string', description: 'Nodes running the current revision / nodes targeted.' },
          activeState: { type: 'string' }, subState: { type: 'string' }, result: { type: 'string' },
          nRestarts: { type: 'integer' },
          exposure: { type: 'string', description: 'Overall exposure 0.0-10.0 of systemd-analyze security (systemd 257), computed from the spec, e.g. 9.6.' },
          exposureLevel: { type: 'string', description: 'Its level: PERFECT, SAFE, OK, MEDIUM, EXPOSED, UNSAFE or DANGEROUS.' },
          exposureApplied: { type: 'string', description: 'The exposure and level without the directives unit-operator does not apply (what runs with --allow-unenforced), e.g. 9.8 UNSAFE.' },
        },
      },
    },
  };
}

export function serviceUnitSchema(): Schema {
  return {
    type: 'object',
    description: 'ServiceUnit: a systemd service unit run by unit-operator on the nodes it targets.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: specSchema(),
      status: statusSchema(),
    },
  };
}

/** Adds additionalProperties: false to every object with fixed properties (ajv only; CRDs forbid it). */
export function strictObjects(schema: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([pk, pv]) => [pk, strictObjects(pv)]));
    } else if ((k === 'items' || k === 'additionalProperties') && v && typeof v === 'object') {
      out[k] = strictObjects(v as Schema);
    } else out[k] = v;
  }
  if (out['properties'] && out['additionalProperties'] === undefined && schema !== undefined && !isMetadata(out)) out['additionalProperties'] = false;
  return out;
}

function isMetadata(s: Schema): boolean {
  return s['type'] === 'object' && s['properties'] === undefined;
}

export const ALL_DIRECTIVES: readonly Directive[] = DIRECTIVES;
