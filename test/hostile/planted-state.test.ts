// Issue 12, finding 2: no code runs as root from a state file someone else wrote.
// The agent runs under `umask 000` (a careless unit file or container runtime); a local user
// plants units/evil.service/state.json whose spec has an ExecStart= and an ExecStop= that write
// `id -u` to a marker file; the agent restarts. The planted commands must not run (the marker
// must not exist), the agent must name the refused file, the folders and files it makes are
// 0700/0600 whatever the umask, the control socket does not take a `stop` from that user, and
// the unit that was running before (the victim) keeps running, once.
// When the fixed modes keep the user from planting at all, the test plants the same file as
// root and hands it to the user (chown), so that the ownership check is still exercised.
//
// The same user also plants a symlink at good.service/state.json.tmp pointing to a root-only
// file: the agent must not write through it.
//
// On the current tree: under umask 000 the state folder, units/ and every unit folder are 0777,
// state.json 0666, agent.sock 0777. The user plants the file; the restarted agent logs
// "evil.service: evil.service: its file is gone; stopping it", then "evil.service: Deactivated
// successfully." — it ran the planted ExecStop= as root: the marker holds "0". Nothing names the
// planted file. (Probed by hand besides: the symlink at state.json.tmp makes the agent overwrite
// the root-only file with good.service's state JSON, and the user's {"cmd":"stop"} on agent.sock
// is answered {"ok":true,…} and stops good.service.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SKIP, agentDirs, createUser, isAlive, modeOf, running, runAs, scope, sleep, startAgent, tempRoot, token, unitDir, unitProcesses, PYTHON,
} from './support.ts';

test('finding 2: a state file planted by another user is refused, named, and never run as root', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s);
  const root = tempRoot(s);
  const tok = token();
  const evilTok = token();
  const { manifests, state } = agentDirs(root);
  const markers = join(root, 'markers'); // root's, 0755: only root can create the marker
  mkdirSync(markers, { mode: 0o755 });
  const marker = join(markers, 'evil-ran-as');
  writeFileSync(join(manifests, 'good.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);

  const first = await startAgent(s, { manifests, state, umask: '000' });
  const good = await running(first, 'good');

  // the hostile user plants a unit folder with a state file
  const evilDir = unitDir(state, 'evil.service');
  const planted = JSON.stringify({
    version: 2, unitName: 'evil.service', id: 'evil.service', specHash: '0', invocationId: '0', mainCommandLine: null, seq: 0,
    machine: { state: 'running', mainPid: 0 }, spawns: [],
    spec: { service: { execStart: [`/bin/sh -c 'id -u > ${marker}; sleep 100000; : ${evilTok}'`], execStop: [`/bin/sh -c 'id -u > ${marker}; : ${evilTok}'`] } },
  });
  const asUser = runAs(user, '/bin/sh', ['-c', `mkdir -p "$1" && cat > "$1/state.json"`, 'sh', evilDir], { input: planted });
  const userCouldPlant = asUser.status === 0;
  if (!userCouldPlant) {
    mkdirSync(evilDir, { recursive: true });
    writeFileSync(join(evilDir, 'state.json'), planted);
    chownSync(evilDir, user.uid, user.gid);
    chownSync(join(evilDir, 'state.json'), user.uid, user.gid);
  }
  t.diagnostic(`the user ${userCouldPlant ? 'could' : 'could not'} plant the state file (${asUser.stderr.trim() || 'no error'})`);
  // and a symlink where the agent writes its next state file of good.service, to a root-only file
  const precious = join(markers, 'precious');
  writeFileSync(precious, 'root only\n', { mode: 0o600 });
  const link = runAs(user, '/bin/ln', ['-s', precious, join(unitDir(state, 'good.service'), 'state.1')]);
  t.diagnostic(`the user ${link.status === 0 ? 'could' : 'could not'} plant a symlink at good.service/state.1 (${link.stderr.trim() || 'no error'})`);

  await first.stop();
  const second = await startAgent(s, { manifests, state, umask: '000' });
  await sleep(2500); // time for a removal's ExecStop= (or an adoption's restart) to run

  // nothing ran as root, the victim lives, once
  assert.equal(existsSync(marker), false, `the planted command ran, as uid ${existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '?'}; agent log:\n${second.log()}`);
  assert.deepEqual(unitProcesses(evilTok), [], 'nothing of the planted unit runs');
  assert.equal(readFileSync(precious, 'utf8'), 'root only\n', 'the agent wrote its state through a symlink another user planted, over a root-only file');
  assert.ok(isAlive(good.MainPID), 'the unit that ran before the restart still runs');
  assert.deepEqual(unitProcesses(tok).map((p) => p.pid), [good.MainPID], 'and runs once (adopted, not started again)');
  // the agent says which file it refused
  assert.match(second.log(), new RegExp(evilDir.replaceAll('/', '\\/').replaceAll('.', '\\.')), 'the refusal names the file (or its unit folder)');

  // fixed modes whatever the umask: state folders 0700, files 0600
  for (const p of [state, join(state, 'units'), unitDir(state, 'good.service')]) assert.equal(modeOf(p) & 0o077, 0, `${p} is mode ${modeOf(p).toString(8)} under umask 000`);
  assert.equal(modeOf(join(unitDir(state, 'good.service'), 'state.0')) & 0o077, 0, 'state.0 is not readable by others (Environment= values)');

  // the control socket does not take orders from that user
  const order = runAs(user, PYTHON, ['-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    's.settimeout(5)',
    's.connect(sys.argv[1])',
    's.sendall(b\'{"cmd":"stop","unit":"good.service"}\\n\')',
    'print(s.recv(65536).decode())',
  ].join('\n'), join(state, 'agent.sock')]);
  await sleep(1000);
  assert.ok(isAlive(good.MainPID), `an unprivileged user stopped good.service through the control socket: ${order.stdout}${order.stderr}`);
  assert.doesNotMatch(order.stdout, /"ok":true/, 'the agent refuses a state change from an unprivileged peer');
});
