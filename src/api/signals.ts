// Signal names and exit-status names as systemd accepts them (signal_from_string(),
// exit_status_from_string()), shared by the schema patterns and the engine.

export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6, SIGBUS: 7,
  SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14,
  SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21,
  SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28,
  SIGIO: 29, SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
};

export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

const NAMES = Object.keys(SIGNALS).map((n) => n.slice(3)).join('|');

/** "SIGTERM", "TERM", "15", "SIGRTMIN+3", "RTMAX-1". */
export const SIGNAL_PATTERN = `^((SIG)?(${NAMES}|RTMIN(\\+[0-9]+)?|RTMAX(-[0-9]+)?)|[0-9]+)$`;

/** Returns the signal number for a name or number systemd would accept, or undefined. */
export function signalNumber(name: string): number | undefined {
  if (/^[0-9]+$/.test(name)) {
    const n = Number(name);
    return n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const s = name.startsWith('SIG') ? name : `SIG${name}`;
  const fixed = SIGNALS[s];
  if (fixed !== undefined) return fixed;
  const rt = /^SIGRTMIN(?:\+([0-9]+))?$/.exec(s);
  if (rt) { const n = SIGRTMIN + Number(rt[1] ?? 0); return n <= SIGRTMAX ? n : undefined; }
  const rtmax = /^SIGRTMAX(?:-([0-9]+))?$/.exec(s);
  if (rtmax) { const n = SIGRTMAX - Number(rtmax[1] ?? 0); return n >= SIGRTMIN ? n : undefined; }
  return undefined;
}

/** The canonical name of a signal number ("SIGTERM"), as systemd prints it. */
export function signalName(n: number): string {
  for (const [name, num] of Object.entries(SIGNALS)) if (num === n && name !== 'SIGIOT' && name !== 'SIGPOLL') return name;
  if (n >= SIGRTMIN && n <= SIGRTMAX) return n === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${n - SIGRTMIN}`;
  return String(n);
}

/** Exit status names from systemd.exec(5) "Process Exit Codes" usable in *ExitStatus= lists. */
export const EXIT_STATUS_NAMES: Readonly<Record<string, number>> = {
  SUCCESS: 0, FAILURE: 1, INVALIDARGUMENT: 2, NOTIMPLEMENTED: 3, NOPERMISSION: 4, NOTINSTALLED: 5,
  NOTCONFIGURED: 6, NOTRUNNING: 7, USAGE: 64, DATAERR: 65, NOINPUT: 66, NOUSER: 67, NOHOST: 68,
  UNAVAILABLE: 69, SOFTWARE: 70, OSERR: 71, OSFILE: 72, CANTCREAT: 73, IOERR: 74, TEMPFAIL: 75,
  PROTOCOL: 76, NOPERM: 77, CONFIG: 78, CHDIR: 200, NICE: 201, FDS: 202, EXEC: 203, MEMORY: 204,
  LIMITS: 205, OOM_ADJUST: 206, SIGNAL_MASK: 207, STDIN: 208, STDOUT: 209, CHROOT: 210, IOPRIO: 211,
  TIMERSLACK: 212, SECUREBITS: 213, SETSCHEDULER: 214, CPUAFFINITY: 215, GROUP: 216, USER: 217,
  CAPABILITIES: 218, CGROUP: 219, SETSID: 220, CONFIRM: 221, STDERR: 222, PAM: 224, NETWORK: 225,
  NAMESPACE: 226, NO_NEW_PRIVILEGES: 227, SECCOMP: 228, SELINUX_CONTEXT: 229, PERSONALITY: 230,
  APPARMOR_PROFILE: 231, ADDRESS_FAMILIES: 232, RUNTIME_DIRECTORY: 233, CHOWN: 235, SMACK_PROCESS_LABEL: 236,
  KEYRING: 237, STATE_DIRECTORY: 238, CACHE_DIRECTORY: 239, LOGS_DIRECTORY: 240, CONFIGURATION_DIRECTORY: 241,
  NUMA_POLICY: 242, CREDENTIALS: 243, BPF: 245,
};

/** An entry of SuccessExitStatus= and friends: a number 0–255, an exit status name or a signal. */
export const EXIT_STATUS_PATTERN = `^([0-9]{1,3}|${Object.keys(EXIT_STATUS_NAMES).join('|')}|(SIG)?(${NAMES}))$`;

export interface ExitStatusSet {
  readonly statuses: ReadonlySet<number>;
  readonly signals: ReadonlySet<number>;
}

/** The empty list, shared: most units set none of the three lists (issue 19: ~1 KB a unit otherwise). */
const NO_EXIT_STATUSES: ExitStatusSet = Object.freeze({ statuses: new Set<number>(), signals: new Set<number>() });

/** Reads a SuccessExitStatus=-style list into exit codes and signals. */
export function parseExitStatusList(items: ReadonlyArray<string | number>): ExitStatusSet {
  if (items.length === 0) return NO_EXIT_STATUSES;
  const statuses = new Set<number>();
  const signals = new Set<number>();
  for (const item of items) {
    const s = String(item);
    if (/^[0-9]+$/.test(s)) { statuses.add(Number(s)); continue; }
    const named = EXIT_STATUS_NAMES[s];
    if (named !== undefined) { statuses.add(named); continue; }
    const sig = signalNumber(s);
    if (sig !== undefined && !/^[0-9]+$/.test(s)) signals.add(sig);
  }
  return { statuses, signals };
}
