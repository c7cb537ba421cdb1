// A cgroup the agent killed through cgroup.kill is not cloned into again before it is made anew
// (ops.ts cgroupKilled(), UO_SHIM_CGROUP_FORK): Linux 6.18 kills at birth a child clone3()d with
// CLONE_INTO_CGROUP into a cgroup2 once killed (the target's kill sequence is compared with the
// parent's). With real processes and cgroups: an ExecStopPost= after a stop that ended in SIGKILL
// runs (it was killed at birth: "Control process exited, code=killed, status=9/KILL").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor } from '../support/units.ts';
import { detectCgroups } from '../../src/runner/cgroup/layout.ts';

const layout = detectCgroups();
const skip = process.getuid?.() !== 0 ? 'needs root' : !layout.unified || !layout.hasKill ? 'needs a cgroup2 hierarchy with cgroup.kill' : false;

test('ExecStopPost= after a stop that ended in SIGKILL (cgroup.kill) runs in the same cgroup, not killed at birth', { skip, timeout: 30_000 }, async (t) => {
  const h = harness(t, { cgroups: true });
  const out = join(h.dir, 'post');
  const r = h.open('kp', {
    service: {
      execStart: [`/bin/sh -c 'trap "" TERM; echo > ${out}.ready; sleep 100 & wait; sleep 100'`], timeoutStopSec: '300ms',
      execStopPost: [`/bin/sh -c 'echo ran >> ${out}'`],
    },
  });
  r.start();
  // (SIGTERM ignored from then on)
  await waitFor(r, 'running', (x) => x.props.SubState === 'running' && x.props.MainPID > 0 && existsSync(`${out}.ready`), 5000);
  r.stop();
  await waitFor(r, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 10_000);
  const log = h.logs.filter((l) => l.startsWith('kp: ')).join('\n');
  assert.match(log, /State 'stop-sigterm' timed out\. Killing\./, 'the stop ended in SIGKILL');
  assert.ok(existsSync(out) && readFileSync(out, 'utf8') === 'ran\n', `ExecStopPost= did not run:\n${log}`);
  assert.doesNotMatch(log, /Control process exited, code=killed/);
});
