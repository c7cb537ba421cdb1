// Services in the host's namespaces (issue 17 item 3; issue 13's cgroup-namespace trap), with
// real namespaces on this machine. A container is simulated: the agent (a UnitRunner, as the
// agent's UnitHost opens it) runs inside `unshare --mount --uts --ipc --net --cgroup` after
// joining a "pod" cgroup of its own in every hierarchy, so its cgroup namespace is rooted at
// that pod cgroup (as containerd gives a pod on a cgroup v2 node); in its mount namespace a
// private tmpfs hides a folder of the host's and /etc/passwd is replaced (nobody is uid 4242
// there), and its hostname differs. Its runner is given hostRoot /proc/HOST/root, the form
// --host-namespaces gives (/proc/1/root), so its shims enter HOST's namespaces.
//
// HOST is this test process, which runs in the machine's own namespaces; it stands for PID 1
// because this VM's PID 1 refuses /proc/1/ns/* even to root (EACCES: it holds a capability,
// CAP_SYS_RESOURCE, that our bounding set lacks, so the ptrace access check fails). The code
// path is the same for any PID: hostNamespacePid() reads it from the host root.
//
// Checked: the unit's process and its holder are members of HOST's mount, UTS, IPC, network
// and cgroup namespaces (readlink /proc/PID/ns/*), see the host's folder and hostname, run as
// the host's `nobody`, reach their notify socket (Type=notify gets READY=1), and are placed in
// the unit's (and holders') cgroup outside the pod in every hierarchy, the cgroup2 `unified`
// one included; without the host namespaces the same container cannot place its unit there
// (CGROUP, 219: the kernel refuses a move outside the writer's cgroup namespace); a namespace
// that cannot be entered fails the spawn at step NAMESPACE, exit status 226.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { REPO } from '../support/paths.ts';
import { shimPath } from '../support/units.ts';
import { sleep, until } from '../support/wait.ts';
import { isEmptyLine } from '../../src/runner/shimproto.ts';
import { basePids, detectCgroups, holdersCgroup, realizeFor, removeBaseTree, unitCgroup, type CgroupLayout } from '../../src/runner/cgroup/index.ts';
import { unitResources } from '../../src/runner/cgroup/apply.ts';
import { HOST_NAMESPACES_ROOT, hostNamespacePid, hostShimPath, installHostShim } from '../../src/runner/hostns.ts';
import { encodeShimEnv } from '../../src/runner/shimproto.ts';
import { removeNotifyFolder } from '../../src/runner/notifysock.ts';
import { UntrustedShim } from '../../src/runner/shim.ts';
import { DAEMON_NODE_FLAGS } from '../../src/cli/runtime.ts';

const HOST = process.pid;
const NS = ['mnt', 'uts', 'ipc', 'net', 'cgroup'] as const;
const isRoot = process.geteuid?.() === 0;
const canUnshare = isRoot && spawnSync('unshare', ['--mount', '--uts', '--ipc', '--net', '--cgroup', 'true']).status === 0;
const canSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !isRoot ? 'needs root (namespaces, cgroups)' : !canUnshare ? 'unshare --mount --uts --ipc --net --cgroup does not work here' : false;
if (skip) console.log(`# host-namespace tests skipped: ${skip}`);
const LAYOUT: CgroupLayout = detectCgroups();

const ns = (pid: number, t: string): string => readlinkSync(`/proc/${pid}/ns/${t}`);
const procs = (dir: string): number[] => { try { return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; } };
const kill = (pid: number): void => { try { if (pid > 1) process.kill(pid, 'SIGKILL'); } catch { /* gone */ } };
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

// The agent in the container: opens a UnitRunner as the agent's UnitHost does, starts the unit,
// prints its state once it is running or failed, and closes when its stdin ends.
const SIM = `
import { UnitRunner } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/runner/unit.ts')).href)};
import { detectCgroups } from ${JSON.stringify(pathToFileURL(join(REPO, 'src/runner/cgroup/index.ts')).href)};
import { readFileSync, readlinkSync } from 'node:fs';
const cfg = JSON.parse(process.argv[2]);
const logs = [];
const layout = detectCgroups();
const r = UnitRunner.open({ unitName: cfg.name, spec: cfg.spec, dir: cfg.dir, shimPath: cfg.shim, pollMs: 50,
  ...(cfg.hostRoot ? { hostRoot: cfg.hostRoot } : {}),
  ...(cfg.base && layout.mode !== 'none' ? { cgroups: { layout, base: cfg.base } } : {}),
  onLog: (l, m) => logs.push(l + ': ' + m) });
r.start();
const end = Date.now() + 15000;
while (Date.now() < end && !((r.props.SubState === 'running' && r.props.MainPID > 0) || r.props.SubState === 'failed' || r.props.SubState === 'dead')) await new Promise((ok) => setTimeout(ok, 25));
const ns = {}; for (const t of ['mnt', 'uts', 'ipc', 'net', 'cgroup']) ns[t] = readlinkSync('/proc/self/ns/' + t);
console.log(JSON.stringify({ props: r.props, logs, problems: r.problems, shims: r.spawns.map((s) => s.shimPid), ns, selfCgroup: readFileSync('/proc/self/cgroup', 'utf8') }));
process.stdin.on('end', () => { r.close(); process.exit(0); });
process.stdin.resume();
`;

const CONTAINER = `set -e
mount -t tmpfs uo-shadow "$SHADOW"
touch "$SHADOW/container-marker"
mount --bind "$FAKE_PASSWD" /etc/passwd
hostname "$CONTAINER_HOST"
exec $PRIV "$NODE" $NODE_FLAGS "$SIM" "$CFG"
`;

interface SimResult {
  props: { SubState: string; Result: string; MainPID: number; ExecMainStatus: number };
  logs: string[]; problems: string[]; shims: number[]; ns: Record<string, string>; selfCgroup: string;
}

interface Container {
  readonly top: string;
  readonly shadow: string;
  readonly out: string;
  readonly units: string;
  readonly name: string;
  readonly pod: readonly string[];
  readonly base: string;
  run(spec: Record<string, unknown>, o: { hostRoot?: string; shim?: string; dropSysAdmin?: boolean; cgroups?: boolean }): Promise<{ sim: ChildProcess; r: SimResult }>;
}

/** A simulated container and everything it leaves, removed after the test (processes by PID, cgroups, folders). */
function container(t: TestContext, name = 'hostns.service'): Container {
  const top = mkdtempSync(join(tmpdir(), 'uo-hostns-'));
  chmodSync(top, 0o711); // `nobody` reaches out/ and shadow/, not the state folder (0700)
  const shadow = join(top, 'shadow'), out = join(top, 'out'), state = join(top, 'state'), units = join(state, 'units');
  mkdirSync(shadow, { mode: 0o755 });
  writeFileSync(join(shadow, 'host-marker'), '');
  mkdirSync(out);
  chmodSync(out, 0o777);
  mkdirSync(units, { recursive: true, mode: 0o700 });
  chmodSync(state, 0o700);
  const fake = join(top, 'passwd');
  writeFileSync(fake, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:4242:4242:fake nobody of the container:/nonexistent:/usr/sbin/nologin\n');
  chmodSync(fake, 0o644);
  const tag = randomBytes(4).toString('hex');
  const podName = `uo-test-pod-${tag}`;
  const pod = LAYOUT.hierarchies.map((h) => `${h.mount}/${podName}`);
  for (const [i, d] of pod.entries()) {
    mkdirSync(d);
    if (LAYOUT.hierarchies[i]!.controllers.includes('cpuset')) for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(`${d}/${f}`, readFileSync(`${LAYOUT.hierarchies[i]!.mount}/${f}`, 'utf8').trim());
  }
  const base = `unit-operator.slice/uo-test-${tag}.slice`;
  const sims: ChildProcess[] = [];
  const pids = new Set<number>();
  t.after(async () => {
    for (const s of sims) s.stdin?.end();
    for (const s of sims) {
      for (let i = 0; i < 100 && s.exitCode === null && s.signalCode === null; i++) await sleep(20);
      if (s.exitCode === null && s.signalCode === null && s.pid) kill(s.pid);
    }
    for (let i = 0; i < 100; i++) {
      const left = [...pids].filter(alive).concat(LAYOUT.mode === 'none' ? [] : basePids(LAYOUT, base), pod.flatMap(procs));
      if (left.length === 0) break;
      for (const p of left) kill(p);
      await sleep(20);
    }
    if (LAYOUT.mode !== 'none') removeBaseTree(LAYOUT, base);
    for (const d of pod) { try { rmdirSync(d); } catch { /* named by the failure that left it */ } }
    removeNotifyFolder(units);
    rmSync(top, { recursive: true, force: true });
  });
  return {
    top, shadow, out, units, name, pod, base,
    async run(spec, o) {
      const cfg = { name, spec, dir: join(units, name), shim: o.shim ?? shimPath, ...(o.hostRoot ? { hostRoot: o.hostRoot } : {}), ...(o.cgroups === false ? {} : { base }) };
      const sim = join(top, `sim-${sims.length}.mjs`), script = join(top, 'container.sh');
      writeFileSync(sim, SIM);
      writeFileSync(script, CONTAINER);
      // into the pod cgroup in every hierarchy, then the new namespaces: the cgroup namespace is rooted at the pod
      const p = spawn('/bin/sh', ['-c', `for d in ${pod.join(' ')}; do echo $$ > "$d/cgroup.procs" || exit 99; done; exec unshare --mount --uts --ipc --net --cgroup --propagation private /bin/sh "${script}"`], {
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin', SHADOW: shadow, FAKE_PASSWD: fake, CONTAINER_HOST: `uo-container-${tag}`,
          NODE: process.execPath, NODE_FLAGS: DAEMON_NODE_FLAGS.join(' '), SIM: sim, CFG: JSON.stringify(cfg),
          PRIV: o.dropSysAdmin ? 'setpriv --bounding-set -sys_admin --inh-caps -sys_admin' : '',
          HOME: process.env['HOME'] ?? '/root',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      sims.push(p);
      let stdout = '', stderr = '';
      p.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
      p.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const line = await until('the simulated agent\'s report', () => (stdout.includes('\n') ? stdout.slice(0, stdout.indexOf('\n')) : p.exitCode !== null ? (() => { throw new Error(`the simulated agent exited ${p.exitCode}: ${stderr}`); })() : undefined), { timeoutMs: 25_000 });
      const r = JSON.parse(line) as SimResult;
      for (const x of [...r.shims, r.props.MainPID]) if (x > 0) pids.add(x);
      return { sim: p, r };
    },
  };
}

/**
 * The cgroup2 hierarchy mounted with nsdelegate for the test, as systemd mounts it on a v2 node:
 * only then does the kernel make a cgroup namespace a boundary for moves (a process may be
 * moved only between cgroups below the writer's namespace root: cgroup_procs_write_permission()).
 * This machine's `unified` mount has no nsdelegate; it is set for the test (a remount from the
 * initial cgroup namespace: processes there are not affected) and cleared after it.
 */
function nsDelegate(t: TestContext): void {
  if (!LAYOUT.unified) return;
  const mount = LAYOUT.unified.mount;
  const has = (): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mount && / - cgroup2 \S+ \S*\bnsdelegate\b/.test(l));
  if (has()) return;
  const r = spawnSync('mount', ['-o', 'remount,nsdelegate', mount], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount -o remount,nsdelegate ${mount}: ${r.stderr}`);
  assert.ok(has(), 'nsdelegate set');
  t.after(() => {
    // libmount would carry the current nsdelegate over into a plain remount: its options are not read
    const u = spawnSync('mount', ['--options-source', 'disable', '-o', 'remount', mount], { encoding: 'utf8' });
    if (u.status !== 0 || has()) throw new Error(`could not clear nsdelegate on ${mount} again (mount --options-source disable -o remount ${mount}): ${u.stderr}`);
  });
}

const hostNobody = (): number | undefined => { const l = readFileSync('/etc/passwd', 'utf8').split('\n').find((x) => x.startsWith('nobody:')); return l ? Number(l.split(':')[2]) : undefined; };

test('a unit started from a container with the host\'s namespaces runs in them: mounts, hostname, IPC, network, cgroup namespace; host users; notify socket; placed outside the pod', { skip, timeout: 60_000 }, async (t) => {
  nsDelegate(t);
  const c = container(t);
  const hostRoot = `/proc/${HOST}/root`;
  assert.equal(hostNamespacePid(hostRoot), HOST);
  // the main process reports what it sees, then READY=1 through NOTIFY_SOCKET (a path in the host's /run)
  const PY = '/usr/bin/python3';
  const py = existsSync(PY);
  writeFileSync(join(c.out, 'unit.py'), `import os, socket, time
open(${JSON.stringify(join(c.out, 'hostname'))}, 'w').write(socket.gethostname())
open(${JSON.stringify(join(c.out, 'shadow'))}, 'w').write('\\n'.join(sorted(os.listdir(${JSON.stringify(c.shadow)}))))
open(${JSON.stringify(join(c.out, 'uid'))}, 'w').write(str(os.getuid()))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ['NOTIFY_SOCKET'])
s.send(b'READY=1')
time.sleep(1000)
`);
  chmodSync(join(c.out, 'unit.py'), 0o644);
  const { sim, r } = await c.run({
    service: py
      ? { type: 'notify', user: 'nobody', execStart: [`${PY} ${join(c.out, 'unit.py')}`] }
      : { user: 'nobody', execStart: [`/bin/sh -c 'hostname > ${c.out}/hostname; ls ${c.shadow} > ${c.out}/shadow; id -u > ${c.out}/uid; exec sleep 1000'`] },
  }, { hostRoot, shim: hostShimPath(installHostShim(shimPath, c.top), hostRoot) });
  if (!py) t.diagnostic(`no ${PY}: Type=simple, the notify socket is not exercised`);
  await until('the unit\'s report', () => existsSync(join(c.out, 'uid')) || undefined, { timeoutMs: 5000 });
  assert.equal(r.props.SubState, 'running', `the unit runs${py ? ' (READY=1 reached it through its notify socket)' : ''}; ${JSON.stringify(r)}`);
  const main = r.props.MainPID, shim = r.shims[0]!;
  // the simulated agent is in other namespaces than the host, and its unit and holder in the host's
  for (const k of NS) {
    assert.notEqual(r.ns[k], ns(HOST, k), `the simulated agent has a ${k} namespace of its own`);
    assert.equal(ns(sim.pid!, k) === ns(HOST, k), false);
    assert.equal(ns(main, k), ns(HOST, k), `the unit's process ${main} is in the host's ${k} namespace`);
    assert.equal(ns(shim, k), ns(HOST, k), `its holder ${shim} is in the host's ${k} namespace`);
  }
  assert.match(readlinkSync(`/proc/${shim}/exe`), /\/bin\/uo-shim-[0-9a-f]{16}$/, 'the holder runs the host copy of the shim');
  assert.equal(readFileSync(join(c.out, 'hostname'), 'utf8').trim(), hostname(), 'the host\'s hostname, not the container\'s');
  assert.deepEqual(readFileSync(join(c.out, 'shadow'), 'utf8').split('\n').filter(Boolean), ['host-marker'], 'the host\'s folder, not the container\'s tmpfs over it');
  const nobody = hostNobody();
  if (nobody !== undefined) assert.equal(Number(readFileSync(join(c.out, 'uid'), 'utf8')), nobody, 'User=nobody is the host\'s nobody (the container\'s /etc/passwd says 4242)');
  // placement: outside the pod's cgroup, in the unit's cgroup of each hierarchy a plain unit's is
  // made in (realize.ts: the agent's slice in the others) and the holders' cgroup of every hierarchy
  if (LAYOUT.mode !== 'none') {
    const cg = unitCgroup({ layout: LAYOUT, base: c.base }, c.name, undefined, undefined, realizeFor({ service: {} }, unitResources({ service: {} }, undefined), LAYOUT.unified !== undefined))!;
    assert.ok(cg.placement.length >= 1 && cg.joins.length === LAYOUT.hierarchies.length);
    const holders = holdersCgroup({ layout: LAYOUT, base: c.base })!;
    // the simulated agent's cgroup namespace is rooted at its pod cgroup, as a v2 pod's is
    if (LAYOUT.unified) {
      assert.ok(r.selfCgroup.split('\n').includes('0::/'), `inside, the agent sees itself at its namespace's root: ${r.selfCgroup}`);
      assert.ok(procs(c.pod[0]!).includes(sim.pid!), 'outside, it is in the pod cgroup');
    }
    for (const d of cg.joins) assert.ok(procs(d).includes(main), `${main} in ${d}`);
    for (const d of holders.placement) assert.ok(procs(d).includes(shim), `holder ${shim} in ${d}`);
    for (const d of c.pod) assert.ok(!procs(d).includes(main) && !procs(d).includes(shim), `neither in the pod cgroup ${d}`);
    // seen from the host's cgroup namespace: a path from the hierarchy's root, no "/.."
    const line = readFileSync(`/proc/${main}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    if (LAYOUT.unified) assert.equal(line, `0::/${c.base}/${c.name}`);
  }
});

test('from a container with the host\'s namespaces, EnvironmentFile= and PIDFile= are the host\'s files (read through the host\'s root), not the container\'s', { skip, timeout: 60_000 }, async (t) => {
  nsDelegate(t);
  const c = container(t, 'hostfiles.service');
  const hostRoot = `/proc/${HOST}/root`;
  // only the host sees these: the container has a tmpfs over c.shadow
  writeFileSync(join(c.shadow, 'env'), 'GREETING=from-the-host\n');
  const pidFile = join(c.shadow, 'daemon.pid');
  const { r } = await c.run({
    service: {
      type: 'forking', pidFile, environmentFile: [join(c.shadow, 'env')],
      execStart: [`/bin/sh -c 'echo "$GREETING" > ${c.out}/greeting; sleep 1000 & echo $! > ${pidFile}'`],
    },
  }, { hostRoot, shim: hostShimPath(installHostShim(shimPath, c.top), hostRoot) });
  assert.equal(r.props.SubState, 'running', `the forking unit runs with its PID file read on the host: ${JSON.stringify(r)}`);
  assert.equal(readFileSync(join(c.out, 'greeting'), 'utf8').trim(), 'from-the-host', 'the EnvironmentFile= the host has');
  assert.equal(r.props.MainPID, Number(readFileSync(pidFile, 'utf8').trim()), 'MainPID from the host\'s PID file');
  assert.deepEqual(readFileSync(`/proc/${r.props.MainPID}/cmdline`, 'utf8').split('\0').filter(Boolean), ['sleep', '1000']);
});

test('without the host\'s cgroup namespace, the same container cannot place its unit outside the pod on cgroup2: CGROUP (219) — the reason for the setns', { skip: skip || (!LAYOUT.unified ? 'no writable cgroup2 mount' : false), timeout: 60_000 }, async (t) => {
  nsDelegate(t);
  const c = container(t, 'nons.service');
  const { r } = await c.run({ service: { execStart: ['/bin/sleep 1000'] } }, {});
  assert.equal(r.props.SubState, 'failed', JSON.stringify(r));
  assert.equal(r.props.ExecMainStatus, 219);
  assert.ok(r.logs.some((l) => /Failed at step CGROUP spawning \/bin\/sleep/.test(l)), r.logs.join('\n'));
  assert.ok(r.logs.some((l) => /could not join the holders' cgroup .*unified/.test(l)), `the holder could not leave the pod either: ${r.logs.join('\n')}`);
});

test('a namespace that cannot be entered fails the spawn at step NAMESPACE, exit status 226, nothing started', { skip: skip || (!canSetpriv ? 'no setpriv' : false), timeout: 60_000 }, async (t) => {
  const c = container(t, 'nocap.service');
  // the agent (and so its shim) without CAP_SYS_ADMIN: setns() is refused (EPERM)
  const { r } = await c.run({ service: { execStart: ['/bin/sleep 1000'] } }, { hostRoot: `/proc/${HOST}/root`, dropSysAdmin: true, cgroups: false });
  assert.equal(r.props.SubState, 'failed', JSON.stringify(r));
  assert.equal(r.props.Result, 'exit-code');
  assert.equal(r.props.ExecMainStatus, 226);
  assert.ok(r.logs.some((l) => l.includes('Failed at step NAMESPACE spawning /bin/sleep: Operation not permitted')), r.logs.join('\n'));
});

// ---- the shim alone: what UO_SHIM_NAMESPACES accepts -------------------------------------------

async function shimRun(t: TestContext, nsValue: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'uo-hostns-shim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events');
  const env = { PATH: '/usr/bin:/bin', ...encodeShimEnv({ env: {}, rlimits: [], stdout: 'null', stderr: 'null', log: join(dir, 'log'), logMaxBytes: 1 << 20 }), UO_SHIM_NAMESPACES: nsValue };
  const p = spawn(shimPath, [events, '--', '/bin/sleep', 'sleep', '1000'], { env, stdio: 'ignore', detached: true });
  t.after(() => { if (p.exitCode === null && p.pid) kill(p.pid); });
  const lines = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : []);
  await until('empty', () => lines().some(isEmptyLine) || undefined, { timeoutMs: 5000, detail: () => lines().join('\n') });
  return lines();
}

test('UO_SHIM_NAMESPACES: a malformed value or a process without namespaces fails at step NAMESPACE (226), never ignored', { skip: !isRoot ? 'needs root' : false, timeout: 30_000 }, async (t) => {
  for (const [value, errno] of [[`${HOST}:cgroup,bogus`, 22], [`${HOST}:mnt,mnt`, 22], [`${HOST}:`, 22], ['0:mnt', 22], ['x:mnt', 22], ['', 22], ['4194305:mnt', 2]] as const) {
    const lines = await shimRun(t, value);
    const failed = lines.find((l) => l.startsWith('exec-failed '));
    assert.ok(failed, `${value}: ${lines.join(' | ')}`);
    const [, pid, err, status, step] = failed!.split(' ');
    assert.deepEqual([Number(err), Number(status), step], [errno, 226, 'NAMESPACE'], `${JSON.stringify(value)}: ${failed}`);
    assert.ok(lines.some((l) => l.startsWith(`exit ${pid} exited 226 `)), `the command exited 226: ${lines.join(' | ')}`);
    assert.ok(!lines.some((l) => l.startsWith('exec ')), 'nothing was executed');
  }
  // well formed, this process's own namespaces: runs
  const ok = await (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uo-hostns-shim-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const events = join(dir, 'events');
    const p = spawn(shimPath, [events, '--', '/bin/true', 'true'], { env: { PATH: '/usr/bin:/bin', UO_SHIM_STDOUT: 'null', UO_SHIM_STDERR: 'null', UO_SHIM_NAMESPACES: `${HOST}:cgroup,ipc,uts,net,mnt` }, stdio: 'ignore' });
    t.after(() => { if (p.exitCode === null && p.pid) kill(p.pid); });
    const lines = (): string[] => (existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter(Boolean) : []);
    return until('empty', () => (lines().some(isEmptyLine) ? lines() : undefined), { timeoutMs: 5000 });
  })();
  assert.ok(ok.some((l) => l.startsWith('exec ')) && ok.some((l) => / exited 0 \d+$/.test(l)), ok.join(' | '));
  assert.throws(() => encodeShimEnv({ env: {}, rlimits: [], stdout: 'null', stderr: 'null', log: '/x', logMaxBytes: 1, namespaces: { pid: 0, types: ['mnt'] } }), /not a namespace setting/);
  assert.equal(encodeShimEnv({ env: {}, rlimits: [], stdout: 'null', stderr: 'null', log: '/x', logMaxBytes: 1, namespaces: { pid: 1, types: ['cgroup', 'mnt'] } })['UO_SHIM_NAMESPACES'], '1:cgroup,mnt');
});

test('--host-namespaces: hostRoot /proc/N/root names process N; the shim the holders run is a verified, hash-named copy in the state folder', { skip: !isRoot ? 'needs root' : false }, (t) => {
  assert.equal(hostNamespacePid(HOST_NAMESPACES_ROOT), 1);
  assert.equal(hostNamespacePid('/proc/42/root/'), 42);
  for (const x of [undefined, '/host', '/proc/self/root', '/proc/0/root', '/proc/1/root/etc', '/proc/01/root', '//proc/1/root']) assert.equal(hostNamespacePid(x), undefined, String(x));
  const state = mkdtempSync(join(tmpdir(), 'uo-hostns-state-'));
  t.after(() => rmSync(state, { recursive: true, force: true }));
  const copy = installHostShim(shimPath, state);
  const sha = spawnSync('sha256sum', [shimPath], { encoding: 'utf8' }).stdout.split(' ')[0]!;
  assert.equal(copy, join(state, 'bin', `uo-shim-${sha.slice(0, 16)}`));
  assert.deepEqual(readFileSync(copy), readFileSync(shimPath));
  assert.equal(statSync(copy).mode & 0o7777, 0o755);
  assert.equal(installHostShim(shimPath, state), copy, 'reused when it verifies');
  // started through the host's root when that reaches the same file (here: this process's root)
  assert.equal(hostShimPath(copy, `/proc/${HOST}/root`), `/proc/${HOST}/root${copy}`);
  assert.equal(hostShimPath(copy, `/proc/${HOST}/root/nonexistent`), copy);
  // tampered with: replaced by the verified bytes
  writeFileSync(copy, '#!/bin/sh\necho pwned\n');
  assert.equal(installHostShim(shimPath, state), copy);
  assert.deepEqual(readFileSync(copy), readFileSync(shimPath), 'a copy that does not match its name is made again');
  // older copies: removed once no process runs them, kept while a holder of an older agent does
  const stale = join(state, 'bin', 'uo-shim-0000000000000000');
  const running = join(state, 'bin', 'uo-shim-1111111111111111');
  writeFileSync(stale, readFileSync('/bin/sleep'), { mode: 0o755 });
  writeFileSync(running, readFileSync('/bin/sleep'), { mode: 0o755 });
  const holder = spawn(running, ['60'], { stdio: 'ignore' });
  t.after(() => { if (holder.pid) kill(holder.pid); });
  rmSync(copy);
  assert.equal(installHostShim(shimPath, state), copy);
  assert.equal(existsSync(stale), false, 'an older copy no process runs is removed');
  assert.equal(existsSync(running), true, 'an older copy a holder still runs is kept');
  assert.ok(existsSync(copy));
  // a bin folder others may write to is refused
  chmodSync(join(state, 'bin'), 0o777);
  assert.throws(() => installHostShim(shimPath, state), (e: unknown) => e instanceof UntrustedShim && /others may write/.test((e as Error).message));
});
