// The daemon Node flags (src/cli/runtime.ts) hold however the agent is launched: `unitctl agent`
// started by a plain `node bin/unitctl.js` re-executes itself (same PID) with them (issue 19).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../support/paths.ts';
import { DAEMON_NODE_ARGV_FLAGS, DAEMON_NODE_FLAGS, DAEMON_NODE_OPTIONS, daemonReexecArgs, missingDaemonFlags } from '../../src/cli/runtime.ts';
import { removeAgentCgroups } from '../support/agent.ts';

test('missingDaemonFlags: the command-line-only flags count on the command line only, the others in NODE_OPTIONS too', () => {
  assert.deepEqual(missingDaemonFlags([], ''), [...DAEMON_NODE_FLAGS]);
  assert.deepEqual(missingDaemonFlags([...DAEMON_NODE_FLAGS], ''), []);
  assert.deepEqual(missingDaemonFlags([...DAEMON_NODE_ARGV_FLAGS], DAEMON_NODE_OPTIONS.join(' ')), []);
  assert.deepEqual(missingDaemonFlags([...DAEMON_NODE_OPTIONS], DAEMON_NODE_ARGV_FLAGS.join(' ')), [...DAEMON_NODE_ARGV_FLAGS]);
  assert.ok(DAEMON_NODE_ARGV_FLAGS.includes('--no-concurrent-recompilation'));
  // a flag the operator set to another value is theirs: not added again over it
  assert.deepEqual(missingDaemonFlags([...DAEMON_NODE_ARGV_FLAGS], '--max-semi-space-size=8 --v8-pool-size=2'), []);
  assert.deepEqual(missingDaemonFlags([...DAEMON_NODE_ARGV_FLAGS, '--max-semi-space-size=16'], ''), DAEMON_NODE_OPTIONS.filter((f) => !f.startsWith('--max-semi-space-size')));
});

test('daemonReexecArgs: agent and controller only, not --help, the flags before the script and its arguments', () => {
  assert.deepEqual(daemonReexecArgs(['agent', '--manifests', 'd'], '/x/unitctl.js', ['--inspect'], ''), [...DAEMON_NODE_FLAGS, '--inspect', '/x/unitctl.js', 'agent', '--manifests', 'd']);
  assert.deepEqual(daemonReexecArgs(['controller'], 's', [], ''), [...DAEMON_NODE_FLAGS, 's', 'controller']);
  assert.equal(daemonReexecArgs(['agent'], 's', [...DAEMON_NODE_FLAGS], ''), undefined);
  assert.equal(daemonReexecArgs(['list'], 's', [], ''), undefined);
  assert.equal(daemonReexecArgs(['agent', '--help'], 's', [], ''), undefined);
  assert.equal(daemonReexecArgs([], 's', [], ''), undefined);
});

test('`node bin/unitctl.js agent` without the flags runs with them, in the same process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-daemon-flags-'));
  const manifests = join(dir, 'manifests'), state = join(dir, 'state');
  mkdirSync(manifests);
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const agent = spawn(process.execPath, [join(REPO, 'bin', 'unitctl.js'), 'agent', '--manifests', manifests, '--state-dir', state, '--stop-on-exit'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  agent.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const gone = new Promise((r) => agent.once('exit', r));
  try {
    for (let i = 0; i < 400 && !existsSync(join(state, 'agent.sock')) && agent.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(existsSync(join(state, 'agent.sock')), `the agent is up (${stderr})`);
    const cmdline = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').split('\0');
    for (const f of DAEMON_NODE_FLAGS) assert.ok(cmdline.includes(f), `${f} in the agent's command line (${cmdline.join(' ')})`);
    assert.ok(cmdline.includes('agent'));
  } finally {
    agent.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))]);
    if (agent.exitCode === null && agent.signalCode === null) { agent.kill('SIGKILL'); await gone; }
    rmSync(dir, { recursive: true, force: true });
    await removeAgentCgroups(state); // what a fork server still quitting at the agent's exit kept
  }
});
