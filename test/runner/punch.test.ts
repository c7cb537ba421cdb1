// A long-lived command's event log is kept to what the agent has not read (punch.ts,
// shim/punch.c): with real processes, a Type=notify service floods STATUS= lines; once the agent
// has read and saved them, the read part is deallocated (the file keeps its size and offsets),
// the unit keeps running with the last STATUS=, and a recovery from a damaged state file still
// finds its holder and main process in the log's head (readTrustedEnds()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { harness, waitFor, sleep } from '../support/units.ts';
import { readTrustedEnds } from '../../src/runner/store.ts';
import { encodeSlot, loadSlots, slotPath } from '../../src/runner/stateslot.ts';

const python = spawnSync('python3', ['-c', '0']).status === 0;

test('readTrustedEnds(): a small file whole; a large one by its head and its end, the lines cut at either edge left out, a deallocated middle never read', { skip: process.getuid?.() !== 0 ? 'needs root (a file of the agent\'s uid)' : false }, () => {
  const d = mkdtempSync(join(tmpdir(), 'uo-ends-'));
  try {
    const f = join(d, 'events');
    const fd = openSync(f, 'w', 0o600);
    writeSync(fd, 'shim 10\nspawn 11\nexec 11\nnotify2 11 0 0 STATUS=a\nnoti');
    // 64 MiB further on (a hole between: as a punched log reads), the end of a cut line and the last lines
    writeSync(fd, 'fy2 11 0 0 STATUS=cut\nnotify2 11 0 0 STATUS=z\nexit 11 exited 0 5\nempty 6\nexit 1', 64 << 20);
    closeSync(fd);
    const size = statSync(f).size;
    const r = readTrustedEnds(f, 64 << 10, 4 << 20)!;
    assert.deepEqual(r.text.split('\n').filter(Boolean), ['shim 10', 'spawn 11', 'exec 11', 'notify2 11 0 0 STATUS=a', 'notify2 11 0 0 STATUS=z', 'exit 11 exited 0 5', 'empty 6']);
    assert.equal(r.end, size - 'exit 1'.length, 'the offset after the last whole line');
    // small: read whole, up to its last newline
    const g = join(d, 'small');
    const gd = openSync(g, 'w', 0o600);
    writeSync(gd, 'shim 1\nspawn 2\nexi');
    closeSync(gd);
    assert.deepEqual(readTrustedEnds(g, 64 << 10, 4 << 20), { text: 'shim 1\nspawn 2\n', end: 15 });
    assert.equal(readTrustedEnds(join(d, 'none'), 10, 10), undefined);
    // a line that begins exactly where the last `tail` bytes do is whole, not cut
    const e = join(d, 'edge');
    writeFileSync(e, `shim 1\nspawn 2\n${'X'.repeat(40)}\nexit 2 exited 0 555\nempty 60000\n`, { mode: 0o600 });
    assert.deepEqual(readTrustedEnds(e, 16, 32), { text: 'shim 1\nspawn 2\nexit 2 exited 0 555\nempty 60000\n', end: 88 });
    // no line end in the last part (all of it deallocated): the tail resumes at the end, never back at the head
    const z = join(d, 'holes');
    const zd = openSync(z, 'w', 0o600);
    writeSync(zd, 'shim 1\nspawn 2\n');
    closeSync(zd);
    truncateSync(z, 16 << 20);
    assert.deepEqual(readTrustedEnds(z, 64 << 10, 4 << 20), { text: 'shim 1\nspawn 2\n', end: 16 << 20 });
  } finally { rmSync(d, { recursive: true, force: true }); }
});

test('a STATUS= flood: the part of the event log read and saved is deallocated (its size kept), the unit runs on with its last status, and a recovery from a damaged state adopts it from the log\'s head', { skip: process.getuid?.() !== 0 ? 'needs root' : !python ? 'needs python3 (the notifier)' : false, timeout: 60_000 }, async (t) => {
  const h = harness(t);
  const dir = join(h.dir, 'flood');
  // READY=1, then ~900 KB of STATUS= (under the holder's 1 MiB notify burst), then a last one, then sleep
  const py = "import os,socket,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\na=os.environ['NOTIFY_SOCKET']\ns.sendto(b'READY=1',a)\nfor i in range(3000): s.sendto(b'STATUS=' + (b'%06d' % i) + b'x'*280,a)\ns.sendto(b'STATUS=last',a)\ntime.sleep(1000)\n";
  const spec = { service: { type: 'notify', execStart: [`/usr/bin/python3 -c "${py.replace(/\n/g, '\\n').replace(/'/g, "'")}"`] } } as const;
  const r = h.open('flood', JSON.parse(JSON.stringify(spec)), undefined, dir, { punchStep: 128 << 10 });
  r.start();
  await waitFor(r, 'the last STATUS=', (x) => x.machine.statusText === 'last', 30_000);
  const main = r.props.MainPID;
  const spawnDir = join(dir, 'run', readdirSync(join(dir, 'run')).find((n) => n.endsWith('-start-0'))!);
  const events = join(spawnDir, 'events');
  // the next state write after the last line read frees what was read (a helper process: a moment)
  let st = statSync(events);
  for (let i = 0; i < 100 && st.blocks * 512 > st.size / 4; i++) { await sleep(50); st = statSync(events); }
  t.diagnostic(`event log: ${st.size} bytes, ${st.blocks * 512} on disk`);
  assert.ok(st.size > 800_000, `the flood reached the log (${st.size} bytes)`);
  assert.ok(st.blocks * 512 < st.size / 4, `the read part was not deallocated: ${st.blocks * 512} of ${st.size} bytes on disk`);
  assert.equal(r.activeState, 'active');
  assert.equal(r.props.MainPID, main);
  // a damaged state file (its newest slot not JSON): recovery reads the punched log by its ends
  r.close();
  const top = loadSlots(dir, 64 << 20).newest!;
  const other = slotPath(dir, top.path === slotPath(dir, 0) ? 1 : 0);
  rmSync(other, { force: true });
  const fd = openSync(other, 'w', 0o600);
  writeSync(fd, encodeSlot(top.gen + 1, '{"version":3,"machine":'));
  closeSync(fd);
  const again = h.open('flood', JSON.parse(JSON.stringify(spec)), undefined, dir, { punchStep: 128 << 10 });
  assert.equal(again.activeState, 'active', h.logs.filter((l) => l.startsWith('flood: ')).slice(-5).join('\n'));
  assert.equal(again.props.MainPID, main, 'the main process adopted, not started again');
  assert.ok(h.logs.some((l) => /is damaged .*still runs and is adopted/.test(l)), 'the recovery said what it did');
  again.stop();
  await waitFor(again, 'stopped', (x) => x.activeState === 'inactive' || x.activeState === 'failed', 10_000);
  assert.ok(!existsSync(`/proc/${main}`) || /^State:\s+Z/m.test(String(spawnSync('cat', [`/proc/${main}/status`]).stdout)), 'the main process ended with the stop');
});
