// Issue 12: who may talk to the root agent. agent.sock is 0600 (the agent's uid) in a folder
// others cannot enter: an unprivileged user can neither stop a unit nor list them through it,
// whatever the agent's umask. With --read-socket-group, agent-ro.sock (0660, that group) lets
// the group's members list and read status, and refuses every state change. And a state folder
// whose agent.sock path is longer than the kernel's 107 bytes works (bound and reached through
// /proc/self/fd), for the agent and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { MAX_CONNECTIONS, MAX_REQUEST_BYTES } from '../../src/agent/socket.ts';
import { join } from 'node:path';
import { SKIP, PYTHON, agentDirs, asUserArgv, createUser, killPids, isAlive, modeOf, running, runAs, scope, sleep, startAgent, tempRoot, token, unitProcesses, type User } from './support.ts';
import { UNITCTL } from '../support/paths.ts';

/** One JSON request on a unix socket, sent as the user with python3: what came back, or the error. */
function askAs(user: User, socket: string, req: object): { answer: string; error: string } {
  const r = runAs(user, PYTHON, ['-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    's.settimeout(5)',
    'try:',
    '    s.connect(sys.argv[1])',
    'except OSError as e:',
    '    print("ERR", e.__class__.__name__, e.errno, file=sys.stderr); sys.exit(3)',
    's.sendall(sys.argv[2].encode() + b"\\n")',
    'print(s.recv(1 << 20).decode())',
  ].join('\n'), socket, JSON.stringify(req)]);
  return { answer: r.stdout, error: r.stderr };
}

/** unitctl run as the user (the repository is world-readable). */
const unitctlAs = (user: User, state: string, ...args: string[]): ReturnType<typeof runAs> => runAs(user, process.execPath, [UNITCTL, ...args, '--state-dir', state], { timeoutMs: 20_000 });

test('an unprivileged user cannot stop a unit, nor list units, through agent.sock (umask 000)', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  writeFileSync(join(manifests, 'good.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);
  const a = await startAgent(s, { manifests, state, umask: '000' });
  const good = await running(a, 'good');

  const sock = join(state, 'agent.sock');
  assert.equal(modeOf(sock), 0o600, `agent.sock is mode ${modeOf(sock).toString(8)} under umask 000`);
  assert.equal(statSync(sock).uid, 0);
  assert.equal(existsSync(join(state, 'agent-ro.sock')), false, 'no read-only socket without --read-socket-group');

  const stop = askAs(user, sock, { cmd: 'stop', unit: 'good.service' });
  const list = askAs(user, sock, { cmd: 'list' });
  await sleep(500);
  assert.ok(isAlive(good.MainPID), `the user stopped good.service: ${stop.answer}`);
  assert.doesNotMatch(stop.answer, /"ok"/, `stop answered: ${stop.answer}`);
  assert.match(stop.error, /ERR PermissionError 13/, `connect() is refused by the kernel: ${stop.error}`);
  assert.doesNotMatch(list.answer, /good\.service/, `list answered: ${list.answer}`);

  // the CLI says so, as that user
  const cli = unitctlAs(user, state, 'stop', 'good');
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /Access denied|permission denied/i, cli.stderr);
  assert.ok(isAlive(good.MainPID));
  assert.deepEqual(unitProcesses(tok).map((p) => p.pid), [good.MainPID]);
});

test('--read-socket-group: the group lists through agent-ro.sock, and every state change is refused', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s); // its own group, of the same name, is the read group
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  writeFileSync(join(manifests, 'good.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);
  const a = await startAgent(s, { manifests, state, umask: '000', extra: ['--read-socket-group', user.name] });
  const good = await running(a, 'good');

  const ro = join(state, 'agent-ro.sock');
  assert.equal(modeOf(ro), 0o660, `agent-ro.sock is mode ${modeOf(ro).toString(8)}`);
  assert.equal(statSync(ro).gid, user.gid, 'agent-ro.sock belongs to the read group');
  assert.equal(modeOf(join(state, 'agent.sock')), 0o600);
  assert.equal(modeOf(state), 0o710, `the state folder is mode ${modeOf(state).toString(8)}: the group passes through, cannot list`);
  assert.equal(statSync(state).gid, user.gid);

  // read-only: answered
  const list = askAs(user, ro, { cmd: 'list' });
  assert.match(list.answer, /"ok":true/, `list through agent-ro.sock: ${list.answer}${list.error}`);
  assert.match(list.answer, /good\.service/);
  const cliList = unitctlAs(user, state, 'list');
  assert.equal(cliList.status, 0, `unitctl list as a member of the read group: ${cliList.stderr}`);
  assert.match(cliList.stdout, /good\.service/);
  const cliStatus = unitctlAs(user, state, 'is-active', 'good');
  assert.equal(cliStatus.stdout.trim(), 'active', cliStatus.stderr);

  // state changes: refused on both sockets, by the CLI too
  for (const cmd of ['stop', 'restart', 'start', 'reload', 'reset-failed']) {
    const r = askAs(user, ro, { cmd, unit: 'good.service' });
    assert.match(r.answer, /"ok":false/, `${cmd} through agent-ro.sock: ${r.answer}`);
    assert.match(r.answer, /Access denied/);
  }
  assert.match(askAs(user, join(state, 'agent.sock'), { cmd: 'stop', unit: 'good.service' }).error, /PermissionError/);
  const cliStop = unitctlAs(user, state, 'stop', 'good');
  assert.notEqual(cliStop.status, 0);
  assert.match(cliStop.stderr, /Access denied/, cliStop.stderr);
  // the group can reach the socket, not the rest of the folder
  assert.notEqual(runAs(user, '/bin/ls', [state]).status, 0, 'the group cannot list the state folder');
  assert.notEqual(runAs(user, '/bin/ls', [join(state, 'units')]).status, 0, 'nor enter units/');
  await sleep(500);
  assert.ok(isAlive(good.MainPID));
  assert.deepEqual(unitProcesses(tok).map((p) => p.pid), [good.MainPID]);
  // root still does everything
  assert.equal(a.unitctl('restart', 'good').status, 0);
});

test('a state folder whose agent.sock path passes 107 bytes works, for the agent and the CLI', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const tok = token();
  const { manifests } = agentDirs(root);
  const deep = join(root, 'x'.repeat(60), 'y'.repeat(50));
  mkdirSync(deep, { recursive: true });
  const state = join(deep, 'state');
  assert.ok(Buffer.byteLength(join(state, 'agent.sock')) > 107, 'the test needs a long path');
  writeFileSync(join(manifests, 'long.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);
  const a = await startAgent(s, { manifests, state });
  const st = await running(a, 'long');
  assert.equal(modeOf(join(state, 'agent.sock')), 0o600);
  const stop = a.unitctl('stop', 'long');
  assert.equal(stop.status, 0, stop.stderr);
  assert.ok(!isAlive(st.MainPID) || (await sleep(1000), !isAlive(st.MainPID)));
  assert.doesNotMatch(a.log(), /EINVAL|internal error/);
  await a.stop();
  assert.equal(existsSync(join(state, 'agent.sock')), false, 'the socket is removed on exit');
});

// A hostile probe (issue 19's session): a member of the read group opening ~20,000 idle connections
// ran the root agent out of descriptors; its /proc reads failed, a live holder read as vanished, and
// the next start ran a second copy. And a request line of hundreds of MiB without a newline grew
// the agent by as much. Now: at most MAX_CONNECTIONS a socket (the rest refused at once, said in
// the log), a line over MAX_REQUEST_BYTES closes its connection, and the unit keeps one copy.
test('--read-socket-group: thousands of idle connections and an endless request line cost the agent no descriptors and no memory; its unit keeps one copy', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  writeFileSync(join(manifests, 'good.service'), `[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);
  const a = await startAgent(s, { manifests, state, extra: ['--read-socket-group', user.name] });
  const good = await running(a, 'good');
  const fds = (): number => readdirSync(`/proc/${a.pid}/fd`).length;
  const rss = (): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${a.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  const fdsBefore = fds(), rssBefore = rss();
  const ro = join(state, 'agent-ro.sock');
  // the flood, as the user, held open while root works: 3,000 connections (as many as the user's descriptors allow)
  const flood = spawn(...asUserArgv(user, PYTHON, ['-c', [
    'import socket, resource, sys, time',
    'soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)',
    'resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))',
    'held = []',
    'for i in range(3000):',
    '    try:',
    '        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(sys.argv[1]); held.append(c)',
    '    except OSError:',
    '        break',
    'big = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
    'try:',
    '    big.connect(sys.argv[1])',
    '    big.settimeout(10)',
    '    chunk = b"x" * 65536',
    '    for i in range(64):',  // 4 MiB, no newline
    '        big.sendall(chunk)',
    '    print("big", big.recv(4096).decode().strip(), flush=True)',
    'except OSError as e:',
    '    print("big closed", e.__class__.__name__, flush=True)',
    'print("held", len(held), flush=True)',
    'time.sleep(30)',
  ].join('\n'), ro]), { stdio: ['ignore', 'pipe', 'pipe'] });
  s.defer(() => killPids([flood.pid!]));
  let out = '';
  flood.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  for (let i = 0; i < 300 && !/held \d+/.test(out); i++) await sleep(100);
  assert.match(out, /held \d+/, `the flood ran: ${out}`);
  const during = fds();
  assert.ok(during <= fdsBefore + MAX_CONNECTIONS + 16, `the agent holds ${during} descriptors during the flood (${fdsBefore} before): at most ${MAX_CONNECTIONS} connections a socket`);
  // a connection is only full when the agent refuses it: the flood's 64 read-only slots are taken, root's socket is its own
  assert.equal(a.unitctl('restart', 'good').status, 0, 'root still restarts the unit');
  const again = await running(a, 'good');
  await sleep(500);
  assert.deepEqual(unitProcesses(tok).map((p) => p.pid), [again.MainPID], 'one copy of the unit');
  assert.notEqual(again.MainPID, good.MainPID);
  assert.match(out, /big (closed|\{"ok":false,"error":"bad request: a request line longer than)/, `the endless line: ${out}`);
  assert.ok(rss() < rssBefore + 32 * 1024 * 1024, `the agent's RSS ${rss()} after a ${64 * 65536}-byte line (before ${rssBefore}; the cap is ${MAX_REQUEST_BYTES})`);
  assert.match(a.log(), /agent-ro\.sock: a connection refused: \d+ are open already/, 'the refusals are said in the log');
  await killPids([flood.pid!]);
});

// A review of the caps above: a peer pipelining small requests with large answers (list) and never
// reading them made the agent queue every answer (234 MB here before). Now a connection is not read
// past MAX_PENDING_REQUESTS unanswered requests or MAX_UNSENT_BYTES of answers its peer has not taken.
test('a peer that pipelines 20,000 list requests and reads no answer costs the agent at most a bounded buffer; others are served meanwhile', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const root = tempRoot(s);
  const tok = token();
  const { manifests, state } = agentDirs(root);
  for (let i = 0; i < 30; i++) writeFileSync(join(manifests, `idle${i}.service`), `[Unit]\nDescription=${'an idle unit with a long description '.repeat(6)}\n[Service]\nExecStart=/bin/sh -c 'sleep 100000; : ${tok}'\n`);
  const a = await startAgent(s, { manifests, state });
  await running(a, 'idle29');
  const rss = (): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${a.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  const one = a.unitctl('list', '-o', 'json').stdout.length;
  const before = rss();
  const flood = spawn(PYTHON, ['-c', [
    'import socket, sys, time',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])',
    's.setblocking(False)',
    'data = b\'{"cmd":"list"}\\n\' * 20000',
    'sent = 0',
    'deadline = time.time() + 5',
    'while sent < len(data) and time.time() < deadline:',
    '    try:',
    '        sent += s.send(data[sent:])',
    '    except BlockingIOError:',
    '        time.sleep(0.01)',
    'print("sent", sent, flush=True)',
    'time.sleep(30)',
  ].join('\n'), join(state, 'agent.sock')], { stdio: ['ignore', 'pipe', 'inherit'] });
  s.defer(() => killPids([flood.pid!]));
  let out = '';
  flood.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  for (let i = 0; i < 100 && !/sent \d+/.test(out); i++) await sleep(100);
  await sleep(2000);
  const during = rss();
  assert.ok(during - before < 64 * 1024 * 1024, `the agent grew by ${((during - before) / 1048576).toFixed(1)} MB holding answers of ~${one} bytes for a peer that reads none (${out.trim()})`);
  const other = a.unitctl('list');
  assert.equal(other.status, 0, `another client is served meanwhile: ${other.stderr}`);
  await killPids([flood.pid!]);
});
