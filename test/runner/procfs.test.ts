// procfs.ts descendants() with real processes: a tree is read from its roots down through each
// thread's children file (issue 19: not a scan of every process on the node at each kill), so a
// child forked by a thread other than the main one, grandchildren, and nothing outside the tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { commOf, descendants, parentOf } from '../../src/runner/procfs.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('descendants(): children forked by any thread, grandchildren, and no process outside the tree', { skip: spawnable() ? false : 'needs python3', timeout: 20_000 }, async (t) => {
  // python: a thread forks sleep 101, the main thread forks a shell that forks sleep 102
  const py = "import threading,subprocess,time\ndef f():\n  subprocess.Popen(['sleep','101'])\n  time.sleep(60)\nthreading.Thread(target=f).start()\nsubprocess.Popen(['/bin/sh','-c','sleep 102 & wait'])\ntime.sleep(60)\n";
  const root = spawn('python3', ['-c', py], { stdio: 'ignore' });
  const outside = spawn('sleep', ['103'], { stdio: 'ignore' });
  t.after(() => { for (const p of [...descendants([root.pid!]), root.pid!, outside.pid!]) { try { process.kill(p, 9); } catch { /* gone */ } } });
  let found: number[] = [];
  for (let i = 0; i < 200; i++) { found = descendants([root.pid!]); if (found.filter((p) => commOf(p) === 'sleep').length >= 2) break; await sleep(10); }
  assert.ok(readdirSync(`/proc/${root.pid}/task`).length >= 2, 'the root runs a second thread');
  const byComm = found.map(commOf).sort();
  assert.deepEqual(byComm, ['sh', 'sleep', 'sleep'], `the tree under the root: ${found.map((p) => `${p}:${commOf(p)}`).join(' ')}`);
  // each found process really descends from the root; the process beside it is not found
  for (const p of found) {
    let q: number | undefined = p;
    for (let d = 0; d < 10 && q !== undefined && q !== root.pid; d++) q = parentOf(q);
    assert.equal(q, root.pid, `${p} does not descend from the root`);
  }
  assert.ok(!found.includes(outside.pid!));
  assert.deepEqual(descendants([outside.pid!]), []);
  assert.deepEqual(descendants([]), []);
});

function spawnable(): boolean { return spawnSync('python3', ['-c', '0']).status === 0; }
