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

const CEL_MASKED = "(has(self.masked) && self.masked)";
const CEL_HAS_START = "(has(self.service) && has(self.service.execStart) && size(self.service.execStart) > 0)";
const CEL_HAS_STOP = "(has(self.service) && has(self.service.execStop) && size(self.service.execStop) > 0)";
const CEL_HAS_SUCCESS_ACTION = "(has(self.unit) && has(self.unit.successAction) && self.unit.successAction != 'none')";
const CEL_TYPE_ONESHOT = `(has(self.service) && has(self.service.type) ? self.service.type == 'oneshot' : !${CEL_HAS_START})`;

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
    rule: `${CEL_MASKED} || !(has(self.service) && has(self.service.execStart) && size(self.service.execStart) > 1) || (has(self.service.type) && self.service.type == 'oneshot')`,
    message: 'Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services',
    fieldPath: '.service.execStart',
    check: (s) => masked(s) || list(s.service?.['execStart']).length <= 1 || s.service?.['type'] === 'oneshot',
  },
  {
    rule: `${CEL_MASKED} || ${CEL_HAS_START} || ${CEL_TYPE_ONESHOT}`,
    message: 'Service has no ExecStart= setting, which is only allowed for Type=oneshot services',
    fieldPath: '.service.execStart',
    check: (s) => masked(s) || hasStart(s) || isOneshot(s),
  },
  {
    rule: `${CEL_MASKED} || ${CEL_HAS_START} || ${CEL_HAS_STOP} || ${CEL_HAS_SUCCESS_ACTION}`,
    message: 'Service has no ExecStart=, ExecStop=, or SuccessAction=',
    fieldPath: '.service',
    check: (s) => masked(s) || hasStart(s) || hasStop(s) || hasSuccessAction(s),
  },
  {
    rule: `${CEL_MASKED} || ${CEL_HAS_START} || ${CEL_HAS_SUCCESS_ACTION} || (has(self.service) && has(self.service.remainAfterExit) && self.service.remainAfterExit)`,
    message: 'Service has no ExecStart= and no SuccessAction= settings and does not have RemainAfterExit=yes set',
    fieldPath: '.service',
    check: (s) => masked(s) || hasStart(s) || hasSuccessAction(s) || s.service?.['remainAfterExit'] === true,
  },
  {
    rule: `!(has(self.service) && has(self.service.restart) && (self.service.restart == 'always' || self.service.restart == 'on-success')) || !${CEL_TYPE_ONESHOT}`,
    message: 'Service has Restart= set to either always or on-success, which isn\'t allowed for Type=oneshot services',
    fieldPath: '.service.restart',
    check: (s) => !(s.service?.['restart'] === 'always' || s.service?.['restart'] === 'on-success') || !isOneshot(s),
  },
  {
    rule: "!(has(self.service) && has(self.service.type) && self.service.type == 'dbus') || has(self.service.busName)",
    message: 'Service is of type D-Bus but no D-Bus service name has been specified (BusName=)',
    fieldPath: '.service.busName',
    check: (s) => s.service?.['type'] !== 'dbus' || s.service['busName'] !== undefined,
  },
];
