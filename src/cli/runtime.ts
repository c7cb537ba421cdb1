// The Node.js flags the long-running commands (agent, controller) run with, wherever they are
// started: the image sets them in NODE_OPTIONS and on its ENTRYPOINT, `npm start` on its command
// line, and the tests and benchmarks pass them the same way (test/deploy checks the image and
// package.json); started any other way (`unitctl agent` from a shell or a unit file), the command
// re-executes itself with them (daemonReexec(), from bin/unitctl.js and src/cli/main.ts).

/**
 * V8's young generation held to 4 MiB per semi-space (Node 24's default grows it to 16 MiB+).
 * Measured with 1,000 units on a cluster agent: heap 187 → 82–88 MB, RSS ~235 → ~190 MB, for
 * more but shorter scavenges (CPU while 1,000 units start: 58 → 46 % of a core; idle ~1 % either way).
 * --v8-pool-size=1: one V8 worker thread instead of 4 (GC's parallel tasks; TurboFan no longer uses
 * them, below): at 1,000 idle units RSS 100.5/100.6 → 97.9/99.3 MB (the main malloc heap ~10 → 8-9 MB,
 * one thread's arena instead of 4), restarts unchanged (bench/results/agent-memory.txt, 2026-12-06).
 * These are the flags Node accepts in NODE_OPTIONS (the image sets them there).
 */
export const DAEMON_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4', '--v8-pool-size=1'];

/**
 * V8 flags Node refuses in NODE_OPTIONS, given on node's command line (the image's ENTRYPOINT,
 * npm start). --optimize-for-size: V8 sizes and grows the heap for memory over speed (issue 19):
 * a standalone agent with 1,000 idle units 156 → 112 MB RSS, heap committed 73 → 42 MB for
 * ~37-40 MB used either way (bench/results/agent-memory.txt); set at run time instead
 * (v8.setFlagsFromString) it saves only about half of that.
 * --no-concurrent-recompilation: TurboFan optimizes on the main thread instead of V8's worker
 * threads (issue 19). Each worker's compilations leave their zone memory in that thread's own
 * glibc malloc arena (64 MiB reserved, ~5 MB resident each, never given back): at 1,000 idle units
 * 4 arenas held 18-20 MB of the agent's RSS; without them RSS 119-120 → 100 MB, restarts and the
 * start of 1,000 units unchanged (bench/results/agent-memory.txt, 2026-12-06 second section).
 * MALLOC_ARENA_MAX=1 or --v8-pool-size=1 save about half of that, --single-threaded-gc nothing.
 */
export const DAEMON_NODE_ARGV_FLAGS: readonly string[] = ['--optimize-for-size', '--no-concurrent-recompilation'];

/** Every flag, for a command line (tests and benchmarks start the agent with these). */
export const DAEMON_NODE_FLAGS: readonly string[] = [...DAEMON_NODE_ARGV_FLAGS, ...DAEMON_NODE_OPTIONS];

/** The commands that run for long and get the flags above. */
const DAEMONS = new Set(['agent', 'controller']);

/**
 * The flags of DAEMON_NODE_FLAGS a process started with `execArgv` and `nodeOptions` (NODE_OPTIONS)
 * lacks: the command-line-only ones must be in execArgv, the others in either.
 */
export function missingDaemonFlags(execArgv: readonly string[], nodeOptions: string): string[] {
  // by name: a value the operator gave (--max-semi-space-size=8 in NODE_OPTIONS) is theirs, not replaced
  const name = (f: string): string => f.split('=')[0]!;
  const given = (list: readonly string[], f: string): boolean => list.some((x) => name(x) === name(f));
  const options = nodeOptions.split(/\s+/).filter(Boolean);
  return [
    ...DAEMON_NODE_ARGV_FLAGS.filter((f) => !given(execArgv, f)),
    ...DAEMON_NODE_OPTIONS.filter((f) => !given(execArgv, f) && !given(options, f)),
  ];
}

/**
 * The command line that runs `argv` (unitctl's arguments) again with the daemon flags it lacks, or
 * undefined when nothing is missing or the command is not a daemon. `script` is the entry file.
 */
export function daemonReexecArgs(argv: readonly string[], script: string, execArgv: readonly string[], nodeOptions: string): string[] | undefined {
  if (!DAEMONS.has(argv[0] ?? '') || argv.includes('--help') || argv.includes('-h')) return undefined;
  const missing = missingDaemonFlags(execArgv, nodeOptions);
  return missing.length ? [...missing, ...execArgv, script, ...argv] : undefined;
}

/**
 * For the entry points (bin/unitctl.js, src/cli/main.ts run directly), before any command runs: an
 * agent or controller started without DAEMON_NODE_FLAGS (a shell, a unit file, `npx unitctl agent`)
 * replaces itself (process.execve: same PID, same environment) with node running it with them, so the
 * memory settings hold however it is launched. Costs one Node start-up (~40 ms) in that case only.
 * Where process.execve is missing (Node < 23.11) or fails, it runs on as it is and says so.
 */
export function daemonReexec(argv: readonly string[], warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  const args = daemonReexecArgs(argv, process.argv[1] ?? '', process.execArgv, process.env['NODE_OPTIONS'] ?? '');
  if (!args) return;
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  const missing = missingDaemonFlags(process.execArgv, process.env['NODE_OPTIONS'] ?? '').join(' ');
  if (!execve) { warn(`unitctl ${argv[0]}: started without the Node flags ${missing} and this Node (${process.version}) cannot re-execute itself with them: it runs with more memory`); return; }
  try { execve(process.execPath, [process.execPath, ...args], process.env); } catch (e) {
    warn(`unitctl ${argv[0]}: re-executing with the Node flags ${missing} failed (${(e as Error).message}): it runs with more memory`);
  }
}
