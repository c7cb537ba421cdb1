// descendants() (procfs.ts), the process tree under a unit's shims: walked down through the
// kernel's children lists (issue 19: no scan of every process per restart). A child belongs to
// the thread that forked it, so every thread's list is read: a child forked by a second thread
// of a service, and a grandchild, are found as a scan of /proc finds them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { descendants } from '../../src/runner/procfs.ts';
import { until } from '../support/wait.ts';

test('a child forked by a second thread and a grandchild are descendants; the root and a stranger are not', { skip: spawnSync('python3', ['-c', '1']).status !== 0 ? 'python3 is needed (a process that forks from a thread)' : false }, async (t) => {
  const py = spawn('python3', ['-u', '-c', [
    'import os, subprocess, threading, time',
    'def run():',
    '    p = subprocess.Popen(["/bin/sh", "-c", "sleep 1000 & wait"])',
    '    print(p.pid, flush=True)',
    '    time.sleep(1000)',
    'threading.Thread(target=run, daemon=True).start()',
    'time.sleep(1000)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stranger = spawn('/bin/sleep', ['1000']);
  const seen: number[] = [];
  t.after(() => {
    for (const p of [...seen, ...descendants([py.pid!])]) { try { process.kill(p, 9); } catch { /* gone */ } }
    py.kill('SIGKILL');
    stranger.kill('SIGKILL');
  });
  const sh = Number(await new Promise<string>((resolve) => { let o = ''; py.stdout!.on('data', (d: Buffer) => { o += d.toString(); if (o.includes('\n')) resolve(o.trim()); }); }));
  seen.push(sh);
  const grandchild = await until('the shell\'s sleep', () => descendants([sh])[0], 5000);
  seen.push(grandchild);
  const found = descendants([py.pid!]);
  assert.ok(found.includes(sh), `the second thread's child ${sh} in ${JSON.stringify(found)}`);
  assert.ok(found.includes(grandchild), 'the grandchild');
  assert.ok(!found.includes(py.pid!) && !found.includes(stranger.pid!), 'not the root, not a stranger');
  assert.deepEqual(descendants([]), []);
});
