// Cross-field rules of the ServiceUnit spec, each written twice side by side: as CEL for the
// API server (x-kubernetes-validations) and as a JS predicate for the offline validator.
// A test runs the same table of manifests through both and expects the same verdicts.
// The messages are systemd's own refusals (service.c, service_verify()).

export interface SpecRule {
  /** CEL, evaluated with `self` = spec. */
  readonly rule: string;
  readonly message: string;
  /** Where the API server reports the error, relative to spec. */
  readonly fieldPath: string;
  /** The same rule in JS: true when the spec is acceptable. */
  readonly check: (spec: SpecView) => boolean;
}

export interface SpecView {
  readonly nodeName?: unknown;
  readonly nodeSelector?: unknown;
  readonly masked?: unknown;
  readonly unit?: Record<string, unknown>;
  readonly service?: Record<string, unknown>;
}

// The API server evaluates every rule on every write of a ServiceUnit (status writes and
// finalizer patches too), and each field access in CEL copies the schema of every property of
// the object it reads (kube-apiserver 1.34, UnstructuredToVal/Find → Structural.Properties():
// 264 for spec.service, 109 for spec.unit). Read naively (has(self.service.x) && self.service.x,
// 40 times over the rules) that cost 4-5 ms of API-server CPU per write, more than the rest of
// the write (bench/apiserver-cost.ts, issue19-perf.txt §10). So each rule reads spec.service
// once (bound by a one-element list's all(): the API server's CRD rules have no
// cel.bind) as the optional self.?service and each field of it at most once (optional
// selection: one lookup, where has() and the read are two), cheapest test first.
const CEL_MASKED = 'self.?masked.orValue(false)';
/** `body` with `sv` bound to the optional spec.service (one lookup of it for the whole rule). */
const withService = (body: string): string => `[self.?service].all(sv, ${body})`;
const CEL_N_START = 'size(sv.?execStart.orValue([]))';
const CEL_HAS_STOP = 'size(sv.?execStop.orValue([])) > 0';
const CEL_HAS_SUCCESS_ACTION = "self.?unit.?successAction.orValue('none') != 'none'";
/** Type=oneshot, given or implied (no Type= and no ExecStart=). */
const CEL_TYPE_ONESHOT = `[sv.?type].all(t, t.hasValue() ? t.value() == 'oneshot' : ${CEL_N_START} == 0)`;

const masked = (s: SpecView): boolean => s.masked === true;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const hasStart = (s: SpecView): boolean => list(s.service?.['execStart']).length > 0;
const hasStop = (s: SpecView): boolean => list(s.service?.['execStop']).length > 0;
const hasSuccessAction = (s: SpecView): boolean => s.unit?.['successAction'] !== undefined && s.unit['successAction'] !== 'none';
const isOneshot = (s: SpecView): boolean => (s.service?.['type'] !== undefined ? s.service['type'] === 'oneshot' : !hasStart(s));

export const SPEC_RULES: readonly SpecRule[] = [
  {
    rule: '!(has(self.nodeName) && has(self.nodeSelector))',
    message: 'nodeName and nodeSelector exclude each other: set nodeName for one node or nodeSelector for every matching node',
    fieldPath: '.nodeSelector',
    check: (s) => !(s.nodeName !== undefined && s.nodeSelector !== undefined),
  },
  {
    rule: `${CEL_MASKED} || ${withService(`${CEL_N_START} <= 1 || sv.?type.orValue('') == 'oneshot'`)}`,
    message: 'Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services',
    fieldPath: '.service.execStart',
    check: (s) => masked(s) || list(s.service?.['execStart']).length <= 1 || s.service?.['type'] === 'oneshot',
  },
  {
    rule: `${CEL_MASKED} || ${withService(`${CEL_N_START} > 0 || sv.?type.orValue('oneshot') == 'oneshot'`)}`,
    message: 'Service has no ExecStart= setting, which is only allowed for Type=oneshot services',
    fieldPath: '.service.execStart',
    check: (s) => masked(s) || hasStart(s) || isOneshot(s),
  },
  {
    rule: `${CEL_MASKED} || ${withService(`${CEL_N_START} > 0 || ${CEL_HAS_STOP}`)} || ${CEL_HAS_SUCCESS_ACTION}`,
    message: 'Service has no ExecStart=, ExecStop=, or SuccessAction=',
    fieldPath: '.service',
    check: (s) => masked(s) || hasStart(s) || hasStop(s) || hasSuccessAction(s),
  },
  {
    rule: `${CEL_MASKED} || ${withService(`${CEL_N_START} > 0 || sv.?remainAfterExit.orValue(false)`)} || ${CEL_HAS_SUCCESS_ACTION}`,
    message: 'Service has no ExecStart= and no SuccessAction= settings and does not have RemainAfterExit=yes set',
    fieldPath: '.service',
    check: (s) => masked(s) || hasStart(s) || hasSuccessAction(s) || s.service?.['remainAfterExit'] === true,
  },
  {
    rule: withService(`!(sv.?restart.orValue('') in ['always', 'on-success']) || !${CEL_TYPE_ONESHOT}`),
    message: 'Service has Restart= set to either always or on-success, which isn\'t allowed for Type=oneshot services',
    fieldPath: '.service.restart',
    check: (s) => !(s.service?.['restart'] === 'always' || s.service?.['restart'] === 'on-success') || !isOneshot(s),
  },
  {
    rule: withService("sv.?type.orValue('') != 'dbus' || sv.?busName.hasValue()"),
    message: 'Service is of type D-Bus but no D-Bus service name has been specified (BusName=)',
    fieldPath: '.service.busName',
    check: (s) => s.service?.['type'] !== 'dbus' || s.service['busName'] !== undefined,
  },
];
