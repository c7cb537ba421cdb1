// The Node.js flags the long-running commands (agent, controller) run with, wherever they are
// started: the image sets them in NODE_OPTIONS, `npm start` on its command line, and the tests
// and benchmarks pass them the same way (test/deploy checks the image and package.json).

/**
 * V8's young generation held to 4 MiB per semi-space (Node 24's default grows it to 16 MiB+).
 * Measured with 1,000 units on a cluster agent: heap 187 → 82–88 MB, RSS ~235 → ~190 MB, for
 * more but shorter scavenges (CPU while 1,000 units start: 58 → 46 % of a core; idle ~1 % either way).
 * These are the flags Node accepts in NODE_OPTIONS (the image sets them there).
 */
export const DAEMON_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * V8 flags Node refuses in NODE_OPTIONS, given on node's command line (the image's ENTRYPOINT,
 * npm start). --optimize-for-size: V8 sizes and grows the heap for memory over speed (issue 19):
 * a standalone agent with 1,000 idle units 156 → 112 MB RSS, heap committed 73 → 42 MB for
 * ~37-40 MB used either way (bench/results/agent-memory.txt); set at run time instead
 * (v8.setFlagsFromString) it saves only about half of that.
 */
export const DAEMON_NODE_ARGV_FLAGS: readonly string[] = ['--optimize-for-size'];

/** Every flag, for a command line (tests and benchmarks start the agent with these). */
export const DAEMON_NODE_FLAGS: readonly string[] = [...DAEMON_NODE_ARGV_FLAGS, ...DAEMON_NODE_OPTIONS];
