// The Node.js flags the long-running commands (agent, controller) run with, wherever they are
// started: the image sets them in NODE_OPTIONS, `npm start` on its command line, and the tests
// and benchmarks pass them the same way (test/deploy checks the image and package.json).

/**
 * V8's young generation held to 4 MiB per semi-space (Node 24's default grows it to 16 MiB+).
 * Measured with 1,000 units on a cluster agent: heap 187 → 82–88 MB, RSS ~235 → ~190 MB, for
 * more but shorter scavenges (CPU while 1,000 units start: 58 → 46 % of a core; idle ~1 % either way).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
