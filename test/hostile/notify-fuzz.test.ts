// Issue 12, acceptance (fast-check): random notify datagrams sent to a unit's notify socket never
// crash the agent, never start a duplicate, never kill a process outside the unit.
// The unit (Type=notify, NotifyAccess=all, User=<the test's user>, Restart=always) is a relay:
// it sends READY=1, then forwards every datagram the test drops in its inbox to NOTIFY_SOCKET,
// so a message comes either from inside the unit (its main process, unprivileged) or from the
// same user outside the unit (python3 under setpriv). Messages mix sd_notify's fields (READY,
// STOPPING, RELOADING, WATCHDOG=1/trigger, WATCHDOG_USEC, EXTEND_TIMEOUT_USEC, STATUS, ERRNO,
// FDSTORE, BARRIER…) with random bytes; MAINPID= only ever names processes the test owns (a
// root victim, a process of the user outside the unit, the agent itself) or PIDs that cannot
// exist — never a random small PID, which could be anyone's on this machine. After each run:
// the agent answers, the victims live, the unit does not claim a foreign main PID, at most one
// copy of the relay runs. 50 runs, no shrinking (real processes; the counterexample is printed).
//
// On the current tree it fails in the first runs. Seen: run 1, from the user outside the unit,
// "MAINPID=<the agent's pid>\nSTOPPING=1\nWATCHDOG_USEC=1000": the agent SIGTERMs itself ("SIGTERM:
// exiting; the services keep running and the next agent adopts them") — any local user stops the
// node's agent; run 2 of other seeds, "MAINPID=1767\nMAINPID=1768…" from outside: "the unit
// claims a foreign MainPID 1768" (the user's own sleep, outside the unit), from which the next
// stop or watchdog would kill it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { request } from '../../src/cli/client.ts';
import {
  SKIP, agentDirs, asUserArgv, createUser, isAlive, killPids, notifySocketOfPid, running, scope, sendDatagramAs, sleep, startAgent, tempRoot, token, unitProcesses, victim, PYTHON,
} from './support.ts';

const RELAY = [
  'import os, socket, sys, time',
  'inbox = sys.argv[1]',
  'addr = os.environ["NOTIFY_SOCKET"]',
  'if addr.startswith("@"): addr = "\\0" + addr[1:]',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.sendto(b"READY=1", addr)',
  'while True:',
  '    for n in sorted(os.listdir(inbox)):',
  '        if not n.endswith(".req"): continue',
  '        p = os.path.join(inbox, n)',
  '        try:',
  '            data = bytes.fromhex(open(p).read())',
  '            os.unlink(p)',
  '            s.sendto(data, addr)',
  '        except OSError: pass',
  '        except ValueError: pass',
  '    time.sleep(0.02)',
].join('\n');

test('random notify datagrams never crash the agent, never start a duplicate, never kill outside the unit', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  const v = victim(s); // root, outside the unit
  // a process of the same user, outside the unit
  const [bin, argv] = asUserArgv(user, '/bin/sleep', ['100000']);
  const sibling = spawn(bin, argv, { stdio: 'ignore', detached: true });
  sibling.unref();
  s.defer(() => killPids([sibling.pid!]));
  const inbox = join(root, 'inbox');
  mkdirSync(inbox, { mode: 0o755 });
  chownSync(inbox, user.uid, user.gid);
  const relay = join(root, 'relay.py');
  writeFileSync(relay, RELAY, { mode: 0o644 });
  writeFileSync(join(manifests, 'target.service'), [
    '[Unit]', 'StartLimitIntervalSec=0',
    '[Service]', 'Type=notify', 'NotifyAccess=all', `User=${user.name}`, `ExecStart=${PYTHON} ${relay} ${inbox} ${tok}`,
    'Restart=always', 'RestartSec=100ms', 'TimeoutStartSec=3s', 'TimeoutStopSec=2s', '',
  ].join('\n'));
  const a = await startAgent(s, { manifests, state });
  const first = await running(a, 'target');
  const sock = notifySocketOfPid(first.MainPID);
  assert.ok(sock, 'the relay has a NOTIFY_SOCKET');
  const foreign = [v.pid, sibling.pid!, a.pid];

  const safePid = fc.constantFrom(...foreign.map(String), '0', '-1', '4194305', '99999999999', '', 'abc', `${v.pid} `, ` ${v.pid}`, `${v.pid}\u0000`);
  const field = fc.oneof(
    fc.constantFrom('READY=1', 'STOPPING=1', 'RELOADING=1', 'WATCHDOG=1', 'WATCHDOG=trigger', 'BARRIER=1', 'FDSTORE=1', 'FDSTOREREMOVE=1', 'ERRNO=2', 'BUSERROR=org.x.Y', 'EXIT_STATUS=3', 'MONOTONIC_USEC=1'),
    safePid.map((p) => `MAINPID=${p}`),
    fc.constantFrom('0', '1', '1000', '18446744073709551615', '-5', 'x').map((n) => `WATCHDOG_USEC=${n}`),
    fc.constantFrom('0', '1', '5000000', '99999999999999', 'x').map((n) => `EXTEND_TIMEOUT_USEC=${n}`),
    fc.string({ maxLength: 200 }).map((x) => `STATUS=${x}`),
    fc.string({ maxLength: 40 }).filter((x) => !/MAINPID/i.test(x)),
  );
  const datagram = fc.oneof(
    { weight: 4, arbitrary: fc.array(field, { minLength: 1, maxLength: 6 }).map((fs) => ({ text: fs.join('\n'), enc: 'utf8' as const })) },
    // raw bytes, as a latin1 string so that a counterexample prints readably
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 6000 }).map((b) => ({ text: Buffer.from(b).toString('latin1'), enc: 'latin1' as const })).filter((d) => !d.text.includes('MAINPID')) },
  );
  const message = fc.record({ from: fc.constantFrom('inside', 'outside'), data: datagram });

  let n = 0;
  const check = async (when: string): Promise<void> => {
    assert.ok(!a.exited() && isAlive(a.pid), `${when}: the agent died:\n${a.log().slice(-3000)}`);
    for (const p of foreign) assert.ok(isAlive(p), `${when}: ${p === v.pid ? 'the root victim' : p === a.pid ? 'the agent' : 'the user\'s process outside the unit'} (${p}) was killed:\n${a.log().slice(-3000)}`);
    const r = await request(state, { cmd: 'status', unit: 'target.service' }, 5000);
    assert.ok(r.ok, `${when}: status: ${JSON.stringify(r)}`);
    const main = r.ok ? r.unit?.MainPID ?? 0 : 0;
    assert.ok(!foreign.includes(main), `${when}: the unit claims a foreign MainPID ${main}`);
    const copies = unitProcesses(tok);
    assert.ok(copies.length <= 1, `${when}: ${copies.length} copies of the unit run: ${JSON.stringify(copies)}`);
    assert.ok(copies.every((p) => p.uid === user.uid), `${when}: the unit runs as ${JSON.stringify(copies.map((p) => p.uid))}, not as its User= (${user.uid})`);
  };

  await fc.assert(fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 4 }), async (msgs) => {
    const run = ++n;
    for (const [i, m] of msgs.entries()) {
      const bytes = Buffer.from(m.data.text, m.data.enc);
      if (m.from === 'outside') sendDatagramAs(user, sock!, bytes);
      else {
        const f = join(inbox, `${String(run).padStart(4, '0')}-${i}`);
        writeFileSync(`${f}.tmp`, bytes.toString('hex'));
        renameSync(`${f}.tmp`, `${f}.req`);
      }
    }
    await sleep(250);
    await check(`run ${run}`);
  }), { numRuns: 50, endOnFailure: true, interruptAfterTimeLimit: 200_000 });

  await sleep(3000); // the timeouts the runs armed (start, stop, watchdog) run out
  await check('at the end');
});
