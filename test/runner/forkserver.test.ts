// The fork server (issue 19: src/runner/forkserver.ts, shim/forksrv.c): shims forked by a small
// C process instead of the agent. Its socket is root's and executes what it is asked, so the
// hostile-peer cases come first: a peer of another uid, a root peer that is not the agent, an
// oversize request, garbage — each refused with an error line, nothing started. Then what the
// agent relies on: the shim is the server's child and runs the unit; a server killed mid-run is
// replaced (spawn meanwhile); one of another version is told to quit and replaced; one that
// cannot start leaves the agent on spawn(); one that outlives a kill -9'd agent serves the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, Socket, type SocketConstructorOpts } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ForkServer, forkServerPids, HELLO_MS, shimToken } from '../../src/runner/forkserver.ts';
import { UnitRunner } from '../../src/runner/unit.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import { exitWatched } from '../../src/runner/launch.ts';
import { harness, shimPath, subState, waitFor } from '../support/units.ts';
import { agentFixture, removeAgentCgroups } from '../support/agent.ts';
import { sleep, until } from '../support/wait.ts';

const children = (pid: number): number[] => {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
};
const ppid = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);

/** A fork server started by hand for `agentPid` in a fresh folder; killed (by pid) after the test. */
async function server(t: { after: (fn: () => void | Promise<void>) => void }, agentPid: number, token = shimToken(shimPath)): Promise<{ dir: string; sock: string; pid: number }> {
  const state = mkdtempSync(join(tmpdir(), 'uo-forksrv-'));
  const dir = join(state, 'fork-server');
  const c = spawn(shimPath, ['--fork-server', dir, join(state, 'agent.lock'), String(agentPid), token], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => { let out = ''; c.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(out); }); c.on('exit', () => resolve(out)); });
  assert.match(line, /^ready \d+\n/);
  t.after(async () => {
    // the shims it started (and their commands) first, by PID, then the server
    const started = (p: number): number[] => children(p).flatMap((x) => [x, ...started(x)]);
    for (const p of [...started(c.pid!), c.pid!]) { try { process.kill(p, 9); } catch { /* gone */ } }
    await sleep(50);
    rmSync(state, { recursive: true, force: true, maxRetries: 10 });
  });
  return { dir, sock: join(dir, 'sock'), pid: c.pid! };
}

/**
 * Connects, sends `bytes` once the server has said its first line (as the agent does: a refusal
 * is that line, and a write into a socket the server has closed would fail before it is read),
 * and returns what the server said until it closed (or 5 s passed).
 */
function talk(sock: string, bytes: Buffer | string, untilLines = Infinity): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(sock);
    let text = '';
    const done = (closed: boolean): void => { clearTimeout(timer); s.destroy(); resolve({ text, closed }); };
    const timer = setTimeout(() => done(false), 5000);
    let sent = false;
    s.on('data', (d) => {
      text += d.toString();
      if (!sent && text.includes('\n')) { sent = true; s.write(bytes); }
      if (text.split('\n').length - 1 >= untilLines) done(false);
    });
    s.on('close', () => done(true));
    s.on('error', () => done(true));
  });
}

const request = (id: number, argv: string[], env: string[]): Buffer => {
  const payload = Buffer.from([...argv, ...env].join('\0') + '\0');
  return Buffer.concat([Buffer.from(`spawn ${id} ${argv.length} ${env.length} ${payload.length}\n`), payload]);
};

test('the socket is 0600 in a 0700 folder; the agent is greeted with the version and token, and a request runs a shim', async (t) => {
  const s = await server(t, process.pid);
  assert.equal(statSync(s.dir).mode & 0o7777, 0o700);
  assert.equal(statSync(s.sock).mode & 0o777, 0o600);
  const events = join(s.dir, '..', 'events');
  const r = await talk(s.sock, request(7, [shimPath, events, '--', '/bin/true', 'true'], ['UO_SHIM_STDOUT=null', 'UO_SHIM_STDERR=null', `UO_SHIM_LOG=${join(s.dir, '..', 'log')}`, 'UO_SHIM_LOG_MAX=1000']), 3);
  const [hello, ok, exit] = r.text.split('\n');
  assert.equal(hello, `uo-fork-server 1 ${shimToken(shimPath)} ${s.pid}`);
  assert.match(ok!, /^ok 7 \d+$/);
  assert.equal(exit, `exit ${ok!.split(' ')[2]}`, 'the shim it started was reaped and said');
  assert.match(readFileSync(events, 'utf8'), /^shim \d+\nspawn \d+\nexec \d+\nexit \d+ exited 0 \d+\nempty \d+\n$/);
});

test('an agent that reads late (busy for 3 s) is neither waited for nor dropped: 1,000 requests sent meanwhile all run and are all answered once it reads', async (t) => {
  const s = await server(t, process.pid);
  // a stream that buffers next to nothing while paused: the socket's own buffer is what fills
  const c = new Socket({ readableHighWaterMark: 64 } as SocketConstructorOpts).connect(s.sock);
  t.after(() => { c.destroy(); });
  let text = '', closed = false;
  c.on('data', (d) => { text += d.toString(); });
  c.on('close', () => { closed = true; });
  await until('greeted', () => text.includes('\n'), { timeoutMs: 3000 });
  // the agent busy: nothing read while the replies (an "ok" and an "exit" line each) fill the
  // socket's buffer (~280 lines) many times over
  c.pause();
  const n = 1000;
  c.write(Buffer.concat(Array.from({ length: n }, (_, i) => request(i + 1, [shimPath, '--features'], []))));
  await sleep(3000);
  c.resume();
  const oks = (): number => (text.match(/^ok \d+ \d+$/gm) ?? []).length;
  await until(`${n} answers`, () => oks() === n || closed, { timeoutMs: 15_000 });
  assert.equal(closed, false, `the server dropped the agent after ${oks()} answers`);
  assert.equal(oks(), n);
});

test('a peer of another uid is refused, even one that can reach the socket (CAP_DAC_OVERRIDE)', async (t) => {
  const s = await server(t, process.pid);
  const peer = `const s=require('net').connect(${JSON.stringify(s.sock)});let o='';s.on('data',d=>o+=d);s.on('error',()=>{});s.on('close',()=>console.log(o.trim()));s.once('data',()=>s.write(${JSON.stringify(request(1, [shimPath, join(s.dir, 'x'), '--', '/bin/true', 'true'], ['A=1']).toString('latin1'))}))`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_override,+dac_read_search', '--ambient-caps=+dac_override,+dac_read_search', process.execPath, '-e', peer], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'error - refused: the peer does not run as the agent\'s uid');
  assert.deepEqual(children(s.pid), [], 'nothing started');
});

test('a root peer that is not the agent (nor the state folder\'s lock holder) is refused', async (t) => {
  const other = spawn('/bin/sleep', ['60']);
  t.after(() => { other.kill('SIGKILL'); });
  const s = await server(t, other.pid!);
  const r = await talk(s.sock, request(1, [shimPath, join(s.dir, 'x'), '--', '/bin/true', 'true'], ['A=1']));
  assert.equal(r.text, 'error - refused: the peer is not the agent (its PID is neither the server\'s agent nor the one holding the state folder\'s lock)\n');
  assert.equal(r.closed, true);
  assert.deepEqual(children(s.pid), []);
});

test('an oversize request and garbage are answered with an error line and the connection closed; nothing runs; the server serves on', async (t) => {
  const s = await server(t, process.pid);
  const cases: [string, Buffer | string, RegExp][] = [
    ['oversize', 'spawn 1 1 0 9000000\n', /^error - malformed request: 9000000 bytes, more than 8388608$/],
    ['not a request', 'GET / HTTP/1.0\n', /^error - malformed request: not "spawn ID NARGS NENV BYTES" nor "quit"$/],
    ['a long header', `spawn ${'1'.repeat(300)}\n`, /^error - malformed request: a header line longer than 127 bytes$/],
    ['a NUL in the header', 'spawn 1\0 1 0 2\n', /^error - malformed request: a NUL in a header line$/],
    ['no arguments', 'spawn 1 0 0 0\n', /^error - malformed request: a field is not a number in its range$/],
    ['a sign', 'spawn -1 1 0 2\n', /^error - malformed request: a field is not a number in its range$/],
    ['too few strings', Buffer.from('spawn 1 2 0 4\nabc\0'), /^error - malformed request: fewer strings than NARGS \+ NENV$/],
    ['an environment string without =', request(1, [shimPath], ['NOEQUALS']), /^error - malformed request: an environment string is not NAME=value$/],
    ['bytes after the strings', Buffer.from('spawn 1 1 0 4\na\0bc'), /^error - malformed request: bytes after the last string$/],
  ];
  for (const [what, bytes, answer] of cases) {
    const r = await talk(s.sock, bytes);
    const lines = r.text.split('\n');
    assert.equal(lines[0]!.startsWith('uo-fork-server 1 '), true, what);
    assert.match(lines[1]!, answer, what);
    assert.equal(r.closed, true, `${what}: the connection is closed`);
  }
  // a request cut short is never run: the server waits for its last byte
  const cut = request(2, [shimPath, join(s.dir, '..', 'cut'), '--', '/bin/true', 'true'], ['A=1']);
  const r = await new Promise<string>((resolve) => { const c = connect(s.sock); let o = ''; c.on('data', (d) => { o += d; }); c.on('connect', () => { c.write(cut.subarray(0, cut.length - 3)); setTimeout(() => { c.destroy(); resolve(o); }, 300); }); });
  assert.equal(r.split('\n').filter(Boolean).length, 1, 'only the greeting');
  assert.deepEqual(children(s.pid), [], 'nothing started by any of them');
  assert.equal(isAlive(s.pid), true);
  const ok = await talk(s.sock, request(3, [shimPath, join(s.dir, '..', 'ev'), '--', '/bin/true', 'true'], ['UO_SHIM_STDOUT=null', 'UO_SHIM_STDERR=null']), 2);
  assert.match(ok.text.split('\n')[1]!, /^ok 3 \d+$/, 'a good request after all that runs');
});

test('through the fork server, the shim is its child; killed mid-run, the units go on, spawn() meanwhile, and it is re-created', async (t) => {
  const h = harness(t);
  assert.ok(h.forkServer, 'the harness runs shims through a fork server (UNIT_OPERATOR_FORK_SERVER is not off)');
  const a = h.open('a.service', { service: { execStart: ['/bin/sleep 1000'] } });
  a.start();
  await waitFor(a, 'a running', subState('running'));
  const first = h.forkServer.pid;
  const shimA = a.spawns[0]!.shimPid;
  assert.equal(ppid(shimA), first, 'the shim is the fork server\'s child');
  assert.equal(exitWatched(shimA, h.forkServer), true, 'its exit will be reported by the server (unit.ts reads its lines without /proc checks)');
  process.kill(first, 'SIGKILL');
  await until('the server gone', () => !isAlive(first) || undefined, 5000);
  await until('the agent knows', () => !h.forkServer!.ready || undefined, 5000);
  assert.equal(exitWatched(shimA, h.forkServer), false, 'no one reports it now: its liveness is looked at again at every read');
  const b = h.open('b.service', { service: { execStart: ['/bin/sleep 1000'] } });
  b.start();
  await waitFor(b, 'b running', subState('running'));
  assert.equal(exitWatched(b.spawns[0]!.shimPid, h.forkServer), true, 'a spawn()ed shim\'s exit is Node\'s to report');
  assert.ok(h.logs.some((l) => l.includes(`fork server: the server PID ${first} went away; shims are started by the agent itself (spawn) until it is back`)), h.logs.join('\n'));
  await until('a new fork server', () => (h.forkServer!.ready && h.forkServer!.pid !== first) || undefined, 10_000);
  const c = h.open('c.service', { service: { execStart: ['/bin/sleep 1000'] } });
  c.start();
  await waitFor(c, 'c running', subState('running'));
  assert.equal(ppid(c.spawns[0]!.shimPid), h.forkServer.pid, 'the new server starts the next shims');
  assert.equal(exitWatched(c.spawns[0]!.shimPid, h.forkServer), true);
  assert.equal(exitWatched(shimA, h.forkServer), false, 'the new server never reports a shim the killed one forked');
  assert.equal(isAlive(a.props.MainPID), true, 'the unit started by the killed server still runs');
  a.stop();
  await waitFor(a, 'a stopped', subState('dead'));
  assert.deepEqual([a.props.Result, a.machine.mainExec?.code], ['success', 'killed'], 'its exit is still reported (the event log)');
});

test('a server of another version (or shim) is told to quit and replaced', async (t) => {
  const s = await server(t, process.pid, '0000000000000000');
  const logs: string[] = [];
  const fs = new ForkServer({ shimPath, stateDir: join(s.dir, '..'), log: (_l, m) => logs.push(m) });
  t.after(() => fs.close());
  await until('the new server', () => fs.ready || undefined, 10_000);
  assert.notEqual(fs.pid, s.pid);
  await until('the old server gone', () => !isAlive(s.pid) || undefined, 5000);
  assert.ok(logs.includes(`fork server PID ${s.pid} in ${s.dir} not used: it is version 1 of shim 0000000000000000, not 1 of ${shimToken(shimPath)}; starting a new one`), logs.join('\n'));
  assert.deepEqual(forkServerPids(join(s.dir, '..')), [fs.pid]);
});

// A listener that accepts and never greets (a stalled server; a hostile probe put a fake one in a
// state folder it could reach): the agent's requests queued meanwhile waited for ever. Now it is
// replaced after HELLO_MS, as one of another version is.
test('a server that accepts and never greets is replaced within HELLO_MS; a request made meanwhile runs', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'uo-forksrv-mute-'));
  const dir = join(state, 'fork-server');
  mkdirSync(dir, { mode: 0o700 });
  const held: Socket[] = [];
  const mute = createServer((c) => { held.push(c); }); // accepts, says nothing
  await new Promise<void>((r) => mute.listen(join(dir, 'sock'), r));
  const logs: string[] = [];
  const fs = new ForkServer({ shimPath, stateDir: state, log: (_l, m) => logs.push(m) });
  t.after(async () => { fs.close(); for (const c of held) c.destroy(); mute.close(); await removeAgentCgroups(state); rmSync(state, { recursive: true, force: true }); });
  const started = Date.now();
  await until('a server that greets', () => fs.ready || undefined, HELLO_MS + 8000);
  assert.ok(Date.now() - started >= HELLO_MS - 100, 'the mute one was given its time');
  assert.ok(logs.some((m) => m === `fork server in ${dir} not used: no greeting within ${HELLO_MS} ms; starting a new one`), logs.join('\n'));
  assert.deepEqual(forkServerPids(state), [fs.pid]);
});

test('closed while waiting for a greeting, the agent starts no server afterwards', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'uo-forksrv-mute2-'));
  const dir = join(state, 'fork-server');
  mkdirSync(dir, { mode: 0o700 });
  const held: Socket[] = [];
  let said = '', ended = false;
  const mute = createServer((c) => { held.push(c); c.on('data', (d) => { said += d.toString(); }); c.on('end', () => { ended = true; }); });
  await new Promise<void>((r) => mute.listen(join(dir, 'sock'), r));
  t.after(async () => { for (const c of held) c.destroy(); mute.close(); for (const p of forkServerPids(state)) { try { process.kill(p, 9); } catch { /* gone */ } } await removeAgentCgroups(state); rmSync(state, { recursive: true, force: true }); });
  const logs: string[] = [];
  const fs = new ForkServer({ shimPath, stateDir: state, log: (_l, m) => logs.push(m) });
  await until('connected', () => held.length > 0 || undefined, 5000);
  fs.close();
  await sleep(HELLO_MS + 1000);
  assert.deepEqual(forkServerPids(state), [], `no server started after close(): ${logs.join('\n')}`);
  assert.equal(said, 'quit\n', 'the server it was waiting for is told to quit (it reads that once it has greeted)');
  assert.equal(ended, true, 'and the connection ended');
});

test('closed before its server greeted it, the client stays closed and the server quits', async (t) => {
  const s = await server(t, process.pid);
  t.after(() => { for (const p of forkServerPids(join(s.dir, '..'))) { try { process.kill(p, 9); } catch { /* gone */ } } });
  const fs = new ForkServer({ shimPath, stateDir: join(s.dir, '..'), log: () => {} });
  fs.close(); // at once: the greeting has not come yet
  await until('the server gone', () => !isAlive(s.pid) || undefined, 5000);
  await sleep(1500); // a client revived by the greeting would take the server's end for a loss and start another
  assert.equal(fs.ready, false, 'a greeting after close() does not make the client ready again');
  assert.deepEqual(forkServerPids(join(s.dir, '..')), [], 'no server started after close()');
});

test('a shim without a fork-server mode: the agent says so and spawns the shims itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-forksrv-old-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const old = join(dir, 'old-shim');
  writeFileSync(old, '#!/bin/sh\necho "usage: uo-shim EVENTS_FILE -- PATH ARGV0 [ARGS...]" >&2\nexit 2\n', { mode: 0o755 });
  const logs: string[] = [];
  const fs = new ForkServer({ shimPath: old, stateDir: dir, log: (_l, m) => logs.push(m) });
  t.after(() => fs.close());
  const r = UnitRunner.open({ unitName: 's.service', spec: { service: { execStart: ['/bin/sleep 1000'] } }, dir: join(dir, 's'), shimPath, forkServer: fs, pollMs: 50 });
  t.after(() => { for (const p of [r.props.MainPID, ...r.spawns.map((x) => x.shimPid)]) { try { process.kill(p, 9); } catch { /* gone */ } } r.close(); });
  r.start();
  await waitFor(r, 'running', subState('running'));
  assert.ok(logs.includes(`fork server: ${old} --fork-server exited 2: usage: uo-shim EVENTS_FILE -- PATH ARGV0 [ARGS...]; shims are started by the agent itself (spawn) until it is back (not retried)`), logs.join('\n'));
  assert.equal(ppid(r.spawns[0]!.shimPid), process.pid, 'spawned by the agent');
});

test('a fork server outlives a kill -9\'d agent and serves the next one (the state folder\'s lock holder): same MainPID, same server', async (t) => {
  const f = agentFixture(t);
  writeFileSync(join(f.manifests, 'keep.service'), '[Service]\nExecStart=/bin/sleep 1000\n');
  await f.start();
  const status = (): { MainPID: number; SubState: string } => f.json<{ MainPID: number; SubState: string }>('status', 'keep.service');
  const main = await until('keep running', () => { const s = status(); return s.SubState === 'running' && s.MainPID > 0 ? s.MainPID : undefined; });
  const [srv] = forkServerPids(f.state);
  assert.ok(srv, 'the agent started a fork server');
  await f.kill9();
  await sleep(200);
  assert.equal(isAlive(srv), true, 'the server outlives the agent');
  await f.start();
  assert.equal(status().MainPID, main, 'adopted, not started again');
  await until('the next agent uses it', () => f.stderr.join('').includes(`fork server PID ${srv} (`) || undefined, 10_000);
  assert.equal(f.unitctl('restart', 'keep.service').status, 0);
  const next = await until('restarted', () => { const s = status(); return s.SubState === 'running' && s.MainPID !== main && s.MainPID > 0 ? s.MainPID : undefined; });
  assert.equal(ppid(ppid(next)), srv, 'its new shim was forked by the same server');
  assert.deepEqual(forkServerPids(f.state), [srv]);
});
