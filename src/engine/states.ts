// systemd's service states, results and their ActiveState mapping (service.c,
// state_translation_table), one to one.

export const SERVICE_STATES = [
  'dead', 'condition', 'start-pre', 'start', 'start-post', 'running', 'exited', 'reload', 'reload-signal',
  'reload-notify', 'stop', 'stop-watchdog', 'stop-sigterm', 'stop-sigkill', 'stop-post', 'final-watchdog',
  'final-sigterm', 'final-sigkill', 'failed', 'dead-before-auto-restart', 'failed-before-auto-restart',
  'auto-restart', 'auto-restart-queued',
] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

export type ActiveState = 'active' | 'reloading' | 'inactive' | 'failed' | 'activating' | 'deactivating';

export const ACTIVE_STATE = {
  'dead': 'inactive',
  'condition': 'activating',
  'start-pre': 'activating',
  'start': 'activating',
  'start-post': 'activating',
  'running': 'active',
  'exited': 'active',
  'reload': 'reloading',
  'reload-signal': 'reloading',
  'reload-notify': 'reloading',
  'stop': 'deactivating',
  'stop-watchdog': 'deactivating',
  'stop-sigterm': 'deactivating',
  'stop-sigkill': 'deactivating',
  'stop-post': 'deactivating',
  'final-watchdog': 'deactivating',
  'final-sigterm': 'deactivating',
  'final-sigkill': 'deactivating',
  'failed': 'failed',
  'dead-before-auto-restart': 'inactive',
  'failed-before-auto-restart': 'failed',
  'auto-restart': 'activating',
  'auto-restart-queued': 'activating',
} as const satisfies Record<ServiceState, ActiveState>;

/** ServiceResult, by the names systemctl show prints for Result=. */
export type ServiceResult =
  | 'success' | 'resources' | 'protocol' | 'timeout' | 'exit-code' | 'signal' | 'core-dump'
  | 'watchdog' | 'start-limit-hit' | 'oom-kill' | 'exec-condition';

/** CLD_* codes as ExecMainCode= shows them. */
export type ExitCode = 'exited' | 'killed' | 'dumped';
export const CLD = { exited: 1, killed: 2, dumped: 3 } as const satisfies Record<ExitCode, number>;

export type ExecKind = 'condition' | 'startPre' | 'start' | 'startPost' | 'reload' | 'stop' | 'stopPost';

/** The systemd directive behind each command list, for logs ("ExecStartPre="). */
export const EXEC_DIRECTIVE = {
  condition: 'ExecCondition', startPre: 'ExecStartPre', start: 'ExecStart', startPost: 'ExecStartPost',
  reload: 'ExecReload', stop: 'ExecStop', stopPost: 'ExecStopPost',
} as const satisfies Record<ExecKind, string>;
