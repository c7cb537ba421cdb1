// Issue 12, finding 1, in pieces: the notify line of both shim generations, membership of a unit,
// the main-PID and PID-file rules (systemd 257 service_is_suitable_main_pid(),
// service_load_pid_file()), the judgement of notify messages and its rate limit, process
// identity (start time, boot ID), and the shim's own notify lines for hostile datagrams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, existsSync, mkdirSync, statSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNotifyLine, parseShimLine } from '../../src/runner/shimproto.ts';
import { shimTreeMembership } from '../../src/runner/membership.ts';
import { judgeMainPid, judgePidFile, parsePid, readPidFile } from '../../src/runner/control.ts';
import { NotifyJudge } from '../../src/runner/notifyaccess.ts';
import { bootId, identify, sameProcess, startTime } from '../../src/runner/procfs.ts';
import { INITIAL_MACHINE, type Machine } from '../../src/engine/index.ts';
import { shimPath } from '../support/units.ts';
import { until } from '../support/wait.ts';
import { isEmptyLine } from '../../src/runner/shimproto.ts';

const IS_ROOT = process.getuid?.() === 0;
const tmp = (t: { after: (fn: () => void) => void }): string => {
  const d = mkdtempSync(join(tmpdir(), 'uo-notify-access-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
};
const sleeper = (t: { after: (fn: () => void) => void }): number => {
  const c = spawn('/bin/sleep', ['1000'], { stdio: 'ignore' });
  t.after(() => { c.kill('SIGKILL'); });
  return c.pid!;
};

test('notify lines: the previous release\'s "notify PID MESSAGE" and the new "notify2 PID UID GID MESSAGE"', () => {
  // version 1: newlines as \x1e, no uid
  assert.deepEqual(parseShimLine('notify 9 READY=1\x1eSTATUS=up and running'), { t: 'notify', pid: 9, fields: { READY: '1', STATUS: 'up and running' } });
  // version 3: credentials; the message escaped, so a raw \x1e or a backslash is data, not a separator
  assert.deepEqual(parseShimLine('notify2 9 1000 1001 READY=1\\x0aSTATUS=a b\\x1eMAINPID=5\\x5cx0a'), { t: 'notify', pid: 9, uid: 1000, gid: 1001, fields: { READY: '1', STATUS: 'a b\x1eMAINPID=5\\x0a' } });
  assert.deepEqual(parseShimLine('notify2 9 -1 -1 READY=1'), { t: 'notify', pid: 9, fields: { READY: '1' } });
  assert.deepEqual(parseShimLine('notify2 9 0 0 '), { t: 'notify', pid: 9, uid: 0, gid: 0, fields: {} });
  // a repeated key keeps its first value (systemd's strv_find_startswith())
  assert.deepEqual(parseShimLine('notify2 9 0 0 MAINPID=5\\x0aMAINPID=6')?.t === 'notify' && (parseShimLine('notify2 9 0 0 MAINPID=5\\x0aMAINPID=6') as { fields: object }).fields, { MAINPID: '5' });
  assert.deepEqual(parseShimLine('notify-dropped 9 1000 1000 oversized 6000'), { t: 'notify-dropped', pid: 9, uid: 1000, gid: 1000, reason: 'oversized', bytes: 6000 });
  // the encoder is the decoder's inverse
  const msg = 'READY=1\nSTATUS=\\ \x1e\x7f é';
  const ev = parseShimLine(encodeNotifyLine(4, 5, 6, msg));
  assert.deepEqual(ev, { t: 'notify', pid: 4, uid: 5, gid: 6, fields: { READY: '1', STATUS: '\\ \x1e\x7f é' } });
  // __proto__ is a field like any other
  assert.deepEqual({ ...(parseShimLine('notify2 1 0 0 __proto__=x') as { fields: object }).fields }, JSON.parse('{"__proto__":"x"}'));
});

test('membership: the process tree under the live shims, the shims themselves excluded', async (t) => {
  // a shell stands in for a shim: its child and grandchild belong, it does not, nor does a stranger
  const holder = spawn('/bin/sh', ['-c', '/bin/sh -c "sleep 1000" & sleep 1000; wait'], { stdio: 'ignore' });
  t.after(() => { spawnSync('pkill', ['-9', '-P', String(holder.pid)]); holder.kill('SIGKILL'); });
  const stranger = sleeper(t);
  const m = shimTreeMembership(() => [holder.pid!]);
  const kids = await until('the holder\'s processes', () => { const p = m.pids(); return p.length >= 3 ? p : undefined; });
  for (const p of kids) assert.ok(m.has(p), `${p} belongs`);
  assert.equal(m.has(holder.pid!), false, 'a holder is not a process of the unit');
  assert.equal(m.has(stranger), false);
  assert.equal(m.has(process.pid), false);
  assert.equal(m.has(1), false);
  assert.equal(m.has(0), false);
  assert.equal(m.has(-1), false);
  assert.equal(m.has(4_194_305), false);
  assert.equal(shimTreeMembership(() => []).has(kids[0]!), false, 'no live shim, no member');
  assert.deepEqual(m.holders(), [holder.pid]);
});

test('main-PID rules: the agent, PID 1, a shim, the control process and the dead are refused; outsiders are foreign', (t) => {
  const inside = sleeper(t);
  const outside = sleeper(t);
  const m = { has: (p: number) => p === inside, pids: () => [inside], holders: () => [777_777] };
  assert.match((judgeMainPid(process.pid, m, 0) as { why: string }).why, /is the manager, refusing/);
  assert.match((judgeMainPid(1, m, 0) as { why: string }).why, /is the manager, refusing/);
  assert.match((judgeMainPid(777_777, m, 0) as { why: string }).why, /uo-shim, refusing/);
  assert.match((judgeMainPid(inside, m, inside) as { why: string }).why, /is the control process, refusing/);
  assert.match((judgeMainPid(4_194_305, m, 0) as { why: string }).why, /does not exist or is a zombie/);
  assert.deepEqual(judgeMainPid(inside, m, 0), { t: 'member' });
  assert.deepEqual(judgeMainPid(outside, m, 0), { t: 'foreign' });
  for (const bad of ['', ' ', 'abc', '-1', '0', '1.5', '99999999999', '12 13', `${inside}\0`]) assert.equal(parsePid(bad), undefined, JSON.stringify(bad));
  assert.equal(parsePid(` ${inside}\n`), inside);
});

test('PID files are read as hostile: regular files only, never blocking, bounded; an outside PID only from a root-owned file', { skip: !IS_ROOT && 'needs root (chown)' }, (t) => {
  const d = tmp(t);
  const inside = sleeper(t);
  const outside = sleeper(t);
  const m = { has: (p: number) => p === inside, pids: () => [inside], holders: () => [] };
  const file = (name: string, text: string, uid = 0): string => { const p = join(d, name); writeFileSync(p, text); chownSync(p, uid, uid); return p; };

  assert.deepEqual(judgePidFile(file('in.pid', `${inside}\n`, 65534), m, 0), { t: 'take', pid: inside }, 'a PID of the unit is taken from any file');
  assert.deepEqual(judgePidFile(file('root.pid', `${outside}\n`), m, 0), { t: 'take', pid: outside }, 'an outside PID from a root-owned file is taken (systemd trusts root)');
  const refused = judgePidFile(file('user.pid', `${outside}\n`, 65534), m, 0);
  assert.equal(refused.t, 'wait');
  assert.match((refused as { why: string }).why, new RegExp(`New main PID ${outside} from PID file ${join(d, 'user.pid')} does not belong to service, and PID file is owned by 65534 \\(must be owned by 0\\)\\. Refusing\\.`));
  assert.match((judgePidFile(file('agent.pid', `${process.pid}`), m, 0) as { why: string }).why, /is the manager/);
  assert.match((judgePidFile(file('garbage.pid', 'x\n'), m, 0) as { why: string }).why, /Failed to parse PID from file/);
  assert.deepEqual(judgePidFile(join(d, 'missing.pid'), m, 0), { t: 'wait' });

  // a FIFO does not block, /dev/zero is not read, a folder is not a file
  spawnSync('mkfifo', [join(d, 'fifo.pid')]);
  const t0 = Date.now();
  assert.equal(readPidFile(join(d, 'fifo.pid')).t, 'bad');
  assert.ok(Date.now() - t0 < 1000, 'a FIFO froze the reader');
  symlinkSync('/dev/zero', join(d, 'zero.pid'));
  assert.equal(readPidFile(join(d, 'zero.pid')).t, 'bad');
  mkdirSync(join(d, 'dir.pid'));
  assert.equal(readPidFile(join(d, 'dir.pid')).t, 'bad');
  // only the first line of a bounded prefix is read
  assert.deepEqual(readPidFile(file('long.pid', `${inside}\n${'9'.repeat(1 << 20)}`)), { t: 'pid', pid: inside, owner: 0, questionable: false });

  // a user's folder holding a root-owned file (or a link to one) is an unsafe chain: outside PIDs refused
  const userDir = join(d, 'user');
  mkdirSync(userDir);
  chownSync(userDir, 65534, 65534);
  file('user/root.pid', `${outside}`);
  assert.equal((readPidFile(join(userDir, 'root.pid')) as { questionable: boolean }).questionable, true);
  assert.match((judgePidFile(join(userDir, 'root.pid'), m, 0) as { why: string }).why, /unsafe symlink chain/);
  symlinkSync(join(d, 'root.pid'), join(userDir, 'link.pid'));
  assert.match((judgePidFile(join(userDir, 'link.pid'), m, 0) as { why: string }).why, /unsafe symlink chain/);
  assert.deepEqual(judgePidFile(join(userDir, 'root.pid'), { ...m, has: (p: number) => p === outside }, 0), { t: 'take', pid: outside }, 'a PID of the unit is fine from anywhere');
  // a user's own link, in the user's own folder, to a root-owned PID file elsewhere (found by review): unsafe_transition(link, /)
  const ownDir = join(d, 'own');
  mkdirSync(ownDir);
  chownSync(ownDir, 65534, 65534);
  symlinkSync(join(d, 'root.pid'), join(ownDir, 'svc.pid'));
  lchownSync(join(ownDir, 'svc.pid'), 65534, 65534);
  assert.match((judgePidFile(join(ownDir, 'svc.pid'), m, 0) as { why: string }).why, /unsafe symlink chain/);
});

test('notify judgement: NotifyAccess=, MAINPID= by sender and membership; one log line per sender, rate-limited', (t) => {
  const inside = sleeper(t);
  const outside = sleeper(t);
  const mainPid = sleeper(t);
  const membership = { has: (p: number) => p === inside || p === mainPid, pids: () => [inside, mainPid], holders: () => [] };
  const machine: Machine = { ...INITIAL_MACHINE, state: 'running', mainPid, mainPidKnown: true };
  const logs: string[] = [];
  const now = { t: 0 };
  const j = new NotifyJudge((_l, m) => logs.push(m), () => now.t);
  const all = { access: 'all' as const, machine, membership };

  assert.deepEqual(j.judge({ pid: inside, uid: 1000, fields: { READY: '1' } }, all), { READY: '1' });
  assert.equal(j.judge({ pid: outside, uid: 1000, fields: { MAINPID: String(outside), STOPPING: '1' } }, all), undefined, 'a sender outside the unit is refused whole');
  assert.match(logs.at(-1)!, new RegExp(`PID ${outside} \\(uid 1000\\).*refused`));
  // the same sender again: not logged again
  j.judge({ pid: outside, uid: 1000, fields: { READY: '1' } }, all);
  assert.equal(logs.length, 1);
  // MAINPID= of the agent from inside: the field is refused, the rest is taken
  assert.deepEqual(j.judge({ pid: inside, uid: 0, fields: { MAINPID: String(process.pid), STOPPING: '1' } }, all), { STOPPING: '1' });
  assert.match(logs.at(-1)!, /is the manager, refusing.*MAINPID=/);
  // a foreign MAINPID= from an unprivileged process of the unit is refused; from root it is taken
  assert.deepEqual(j.judge({ pid: mainPid, uid: 1000, fields: { MAINPID: String(outside) } }, { ...all, access: 'main' }), {});
  assert.match(logs.at(-1)!, new RegExp(`New main PID ${outside} does not belong to service, refusing.*PID ${mainPid} \\(uid 1000\\)`));
  assert.deepEqual(j.judge({ pid: mainPid, uid: 0, fields: { MAINPID: String(outside) } }, { ...all, access: 'main' }), { MAINPID: String(outside) });
  // an old shim's line (uid unknown) is not trusted as root
  assert.deepEqual(j.judge({ pid: inside, fields: { MAINPID: String(outside) } }, { ...all, machine: { ...machine, mainPid: inside } }), {});
  // a PID of the unit is taken from anyone of the unit
  assert.deepEqual(j.judge({ pid: mainPid, uid: 1000, fields: { MAINPID: String(inside) } }, { ...all, access: 'main' }), { MAINPID: String(inside) });
  // MAINPID= outside START…RELOAD is ignored; garbage is ignored
  assert.deepEqual(j.judge({ pid: mainPid, uid: 0, fields: { MAINPID: String(inside), READY: '1' } }, { ...all, machine: { ...machine, state: 'stop-sigterm' } }), { READY: '1' });
  assert.deepEqual(j.judge({ pid: mainPid, uid: 0, fields: { MAINPID: 'x\ny' } }, all), {});
  // main/none: only the main PID; none: nobody; no credentials: nobody
  assert.equal(j.judge({ pid: inside, uid: 1000, fields: { READY: '1' } }, { ...all, access: 'main' }), undefined);
  assert.equal(j.judge({ pid: mainPid, uid: 1000, fields: { READY: '1' } }, { ...all, access: 'none' }), undefined);
  assert.equal(j.judge({ pid: 0, fields: { READY: '1' } }, all), undefined);

  // a flood from many senders: at most 20 named a minute, then one summary line
  const before = logs.length;
  for (let p = 100_000; p < 100_500; p++) j.judge({ pid: p, uid: 1000, fields: { READY: '1' } }, all);
  assert.ok(logs.length - before <= 20, `${logs.length - before} lines for a flood`);
  now.t += 61_000;
  j.judge({ pid: 200_000, uid: 1000, fields: {} }, all);
  assert.ok(logs.some((l) => /more refused notification messages in the last minute were not logged/.test(l)));
});

test('process identity: start time and boot ID tell a reused PID apart', (t) => {
  const p = sleeper(t);
  const id = identify(p)!;
  assert.equal(id.boot, bootId());
  assert.match(bootId(), /^[0-9a-f-]{36}$/);
  assert.equal(startTime(p), id.start);
  assert.ok(sameProcess(p, id));
  assert.ok(sameProcess(p, {}), 'an older record without identity is not checked');
  assert.equal(sameProcess(p, { start: id.start + 1 }), false, 'another start time: another process');
  assert.equal(sameProcess(p, { ...id, boot: '00000000-0000-0000-0000-000000000000' }), false, 'recorded before a reboot');
  assert.equal(sameProcess(4_194_305, {}), false);
});

test('the shim reports each datagram with its sender\'s uid, escaped; oversized and NUL-holding ones are dropped', { skip: !existsSync('/usr/bin/python3') && 'needs python3' }, async (t) => {
  const d = tmp(t);
  const events = join(d, 'events');
  const sock = join(d, 'n.sock');
  const sender = [
    'import os, socket, time',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    'for m in [b"READY=1\\nSTATUS=a\\x1eMAINPID=1 \\\\x0a", b"A" * 5000, b"X=1\\x00MAINPID=1", b"DONE=1"]:',
    '    s.sendto(m, os.environ["NOTIFY_SOCKET"])',
  ].join('\n');
  const c = spawn(shimPath, [events, '--', '/usr/bin/python3', 'python3', '-c', sender], {
    stdio: 'ignore', env: { UO_SHIM_NOTIFY_SOCKET: sock, UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null', UO_SHIM_LOG: join(d, 'log'), UO_SHIM_LOG_MAX: '1024' },
  });
  t.after(() => { c.kill('SIGKILL'); });
  const lines = await until('the shim is done', () => { const l = existsSync(events) ? readFileSync(events, 'utf8').trimEnd().split('\n') : []; return l.some(isEmptyLine) ? l : undefined; });
  const notes = lines.map(parseShimLine).filter((e) => e?.t === 'notify' || e?.t === 'notify-dropped');
  const uid = process.getuid!();
  assert.deepEqual(notes.map((e) => ({ ...e, pid: 0, gid: 0 })), [
    { t: 'notify', pid: 0, uid, gid: 0, fields: { READY: '1', STATUS: 'a\x1eMAINPID=1 \\x0a' } },
    { t: 'notify-dropped', pid: 0, uid, gid: 0, reason: 'oversized', bytes: 5000 },
    { t: 'notify-dropped', pid: 0, uid, gid: 0, reason: 'nul', bytes: 13 },
    { t: 'notify', pid: 0, uid, gid: 0, fields: { DONE: '1' } },
  ]);
  assert.ok(notes.every((e) => e !== undefined && 'pid' in e && e.pid > 0), 'each names its sender');
});

test('kill never signals a main or control PID whose start time no longer matches, nor one outside the unit without a record', async (t) => {
  const { killTargets } = await import('../../src/runner/control.ts');
  const { isAlive } = await import('../../src/runner/procfs.ts');
  const a = sleeper(t), b = sleeper(t), c = sleeper(t);
  const none = { has: () => false, pids: () => [], holders: () => [] };
  const skipped: number[] = [];
  const scope = (ids: Record<number, { start?: number }>) => ({ membership: none, identity: (p: number) => ids[p], skipped: (p: number) => skipped.push(p) });
  // a: recorded with another start time (reused); b: no record and not in the unit; c: recorded, itself
  killTargets({ ...INITIAL_MACHINE, mainPid: a, controlPid: b }, ['main', 'control'], 9, false, scope({ [a]: { start: startTime(a)! + 1 } }));
  killTargets({ ...INITIAL_MACHINE, mainPid: process.pid, controlPid: 1 }, ['main', 'control'], 0, false, scope({}));
  assert.deepEqual(skipped, [a, b, process.pid, 1]);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(isAlive(a) && isAlive(b), 'a reused or foreign PID was signalled');
  killTargets({ ...INITIAL_MACHINE, mainPid: c }, ['main'], 9, false, scope({ [c]: { start: startTime(c)! } }));
  await until('the recorded main process is killed', () => !isAlive(c));
  // why each was skipped: a reused PID is said so; a process that has exited is "gone" (the runner logs nothing for it: systemd's kill() meets ESRCH)
  const { PROCESS_GONE } = await import('../../src/runner/control.ts');
  const whys = new Map<number, string>();
  const told = (ids: Record<number, { start?: number }>) => ({ membership: none, identity: (p: number) => ids[p], skipped: (p: number, why: string) => whys.set(p, why) });
  const cStart = 1; // c is gone: any recorded start
  killTargets({ ...INITIAL_MACHINE, mainPid: a, controlPid: c }, ['main', 'control'], 0, false, told({ [a]: { start: startTime(a)! + 1 }, [c]: { start: cStart } }));
  assert.match(whys.get(a)!, /the PID was reused/);
  assert.equal(whys.get(c), PROCESS_GONE);
  // without a recorded start time: a live process outside the unit is said so; a gone one is just gone
  whys.clear();
  killTargets({ ...INITIAL_MACHINE, mainPid: b, controlPid: c }, ['main', 'control'], 0, false, told({}));
  assert.match(whys.get(b)!, /does not belong to the unit/);
  assert.equal(whys.get(c), PROCESS_GONE);
});

test('the shim writes no datagram of a process that is neither root nor of the unit, and cuts a flood to its byte budget (the event log is root\'s disk)', { skip: (!existsSync('/usr/bin/python3') || process.getuid?.() !== 0) && 'needs python3 and root' }, async (t) => {
  const d = tmp(t);
  chmodSync(d, 0o755);
  const events = join(d, 'unit', 'run', '1-start-0', 'events');
  mkdirSync(join(d, 'unit', 'run', '1-start-0'), { recursive: true });
  const sock = join(d, 'n.sock');
  // the unit's own process: 2,000 datagrams of 1,000 bytes (2 MB, over the 1 MiB burst), then waits
  const flood = ['import os, socket, time', 's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    'for i in range(2000): s.sendto(b"STATUS=" + b"x" * 993, os.environ["NOTIFY_SOCKET"])', 'time.sleep(30)'].join('\n');
  const c = spawn(shimPath, [events, '--', '/usr/bin/python3', 'python3', '-c', flood], {
    stdio: 'ignore', env: { UO_SHIM_NOTIFY_SOCKET: sock, UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null', UO_SHIM_LOG: join(d, 'log'), UO_SHIM_LOG_MAX: '1024' },
  });
  t.after(() => { c.kill('SIGKILL'); });
  const read = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').trimEnd().split('\n') : []);
  await until('the flood is read', () => read().some((l) => /^notify-dropped \S+ \S+ \S+ rate /.test(l)) || undefined, { timeoutMs: 10_000 });
  // an outsider (uid 65534, not a descendant of the unit's holders) and root from outside
  const send = (args: string[]): void => { const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' }); assert.equal(r.status, 0, r.stderr); };
  const py = (msg: string): string[] => ['/usr/bin/python3', '-c', `import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"${msg}", "${sock}")`];
  await new Promise((r) => setTimeout(r, 1100)); // a new second for the once-a-second summaries
  send(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...py('MAINPID=1')]);
  const lines = await until('the outsider is counted', () => { const l = read(); return l.some((x) => /^notify-dropped \d+ 65534 65534 foreign /.test(x)) ? l : undefined; }, { timeoutMs: 5000 });
  const written = lines.map(parseShimLine).filter((e) => e?.t === 'notify');
  assert.ok(written.length > 100 && written.length < 2000, `a flood is cut to the budget, not written whole nor dropped whole (${written.length} of 2000 written)`);
  assert.ok(written.every((e) => e?.t === 'notify' && e.uid === 0), 'nothing of the outsider was written');
  assert.ok(statSync(events).size < 3 * 1024 * 1024, 'the event log stays bounded');
});
