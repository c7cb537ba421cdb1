// unit-operator on a real node (testenv/node.ts: kubelet + containerd on this machine, the image
// built without Docker): installed from overlays/local as users install the base; units
// run on the host, outside the agent pod; the agent pod replaced (rollout restart, delete) and
// kubelet + containerd restarted with units running: nothing restarts, nothing doubles, an exit
// meanwhile is reported; logs through a real exec; uninstalled as the README says, nothing left.
// The tests run in order on one node; scripts/test.ts starts it (as root) and skips them otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, UNITCTL } from '../support/paths.ts';
import { until, sleep } from '../support/wait.ts';
import { manifestYaml } from '../support/builders.ts';
import { overlayDir, renderOverlay } from '../../testenv/overlay.ts';
import { PROJECT_IMAGE } from '../../testenv/projectimage.ts';
import { restartNodeProcess, type NodeState } from '../../testenv/node.ts';

const STATE_FILE = process.env['UNIT_OPERATOR_TEST_NODE'];
const SKIP = process.env['UNIT_OPERATOR_TEST_NODE_SKIP']
  ?? (STATE_FILE ? undefined : 'no real node: these tests run through npm test / node scripts/test.ts test/node (as root)');
const node: NodeState | undefined = STATE_FILE ? JSON.parse(readFileSync(STATE_FILE, 'utf8')) as NodeState : undefined;
const NODE = node?.nodeName ?? '';
const SYS = 'unit-operator-system';
const NS = 'node-e2e';
const opts = { skip: SKIP };
// the release installed first and upgraded from (scripts/test.ts builds it from test/node/previous-release)
const PREVIOUS = process.env['UNIT_OPERATOR_TEST_PREVIOUS_IMAGE'];
const PREVIOUS_SKIP = process.env['UNIT_OPERATOR_TEST_PREVIOUS_SKIP'] ?? (PREVIOUS ? undefined : 'no image of the previous release was built');

interface Run { status: number; stdout: string; stderr: string }
function kubectl(args: string[], input?: string, timeoutMs = 120_000): Run {
  const r = spawnSync(node!.kubectl, ['--kubeconfig', node!.kubeconfig, ...args], { encoding: 'utf8', input, timeout: timeoutMs });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}
function kubectlOk(args: string[], input?: string, timeoutMs?: number): string {
  const r = kubectl(args, input, timeoutMs);
  assert.equal(r.status, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const json = <T>(args: string[]): T => JSON.parse(kubectlOk([...args, '-o', 'json'])) as T;

interface Pod { metadata: { name: string; uid: string; deletionTimestamp?: string }; status: { phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ name: string; restartCount: number; ready: boolean; containerID?: string }> } }
const ready = (p: Pod): boolean => !p.metadata.deletionTimestamp && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const agentPods = (): Pod[] => json<{ items: Pod[] }>(['get', 'pods', '-n', SYS, '-l', 'app.kubernetes.io/name=unit-operator-agent']).items;
const readyAgent = (): Pod | undefined => { const ps = agentPods(); return ps.length === 1 && ready(ps[0]!) ? ps[0] : undefined; };

type Entry = Record<string, unknown>;
interface SU { metadata: { name: string; finalizers?: string[] }; status?: { nodes?: Entry[]; conditions?: Array<{ type: string; status: string }> } }
const su = (name: string): SU | undefined => { const r = kubectl(['get', 'su', name, '-n', NS, '-o', 'json']); return r.status === 0 ? JSON.parse(r.stdout) as SU : undefined; };
const entry = (name: string): Entry | undefined => su(name)?.status?.nodes?.find((n) => n['node'] === NODE);
const readyCond = (name: string): boolean => (su(name)?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const apply = (name: string, spec: Record<string, unknown>): void => { kubectlOk(['apply', '-f', '-'], manifestYaml(name, NS, { nodeName: NODE, ...spec })); };

const cmdline = (pid: number): string => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(); } catch { return ''; } };
const nsOf = (pid: number, ns: string): string => { try { return spawnSync('readlink', [`/proc/${pid}/ns/${ns}`], { encoding: 'utf8' }).stdout.trim(); } catch { return ''; } };
/** Host PIDs whose command line is exactly cmd (duplicates show up here). */
const pidsOf = (cmd: string): number[] => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => cmdline(p) === cmd);
const mainPid = (name: string): number => (entry(name)?.['mainPID'] as number | undefined) ?? 0;

let overlay: { dir: string; done: () => void } | undefined;
const SLEEPERS = Array.from({ length: 20 }, (_, i) => `sleeper-${i}`);
const sleepCmd = (i: number): string => `/bin/sleep ${200_000 + i}`;

/** The tests build on each other: after a failure the rest skip (saying which failed) instead of timing out one by one. */
let broken: string | undefined;
function step(name: string, fn: () => Promise<void>, skip?: string): void {
  test(name, opts, async (t) => {
    if (broken) { t.skip(`skipped: it needs "${broken}", which failed`); return; }
    if (skip) { t.skip(`skipped: ${skip}`); return; }
    try { await fn(); } catch (e) {
      broken = name;
      // what the pods said: printed with the failure (the agent's refusal to start, a crash …)
      const pods = kubectl(['get', 'pods', '-n', SYS, '-o', 'wide']).stdout.trim();
      const logs = ['app.kubernetes.io/name=unit-operator-agent', 'app.kubernetes.io/name=unit-operator-controller']
        .map((l) => kubectl(['logs', '-n', SYS, '-l', l, '--tail=10', '--all-containers', '--prefix']).stdout.trim()).filter(Boolean).join('\n');
      for (const line of `${pods}\n${logs}`.split('\n')) if (line.trim()) t.diagnostic(line.slice(0, 600));
      throw e;
    }
  });
}

before(() => {
  if (SKIP) return;
  overlay = overlayDir(REPO);
});
after(() => { overlay?.done(); });

step(`${PREVIOUS ? 'the previous release (overlays/local with its image)' : 'kubectl apply -k overlays/local'}: the controller and the agent pod become Ready on the node`, async () => {
  const started = Date.now();
  // installed at the previous release (upgraded below, as users upgrade: apply -k of the new one)
  if (PREVIOUS) kubectlOk(['apply', '-f', '-'], renderOverlay(REPO, node!.kubectl).replaceAll(PROJECT_IMAGE, PREVIOUS));
  else kubectlOk(['apply', '-k', overlay!.dir]);
  // Ready, or fail at the first crash loop (no point waiting out a timeout)
  const crashing = (): string | undefined => json<{ items: Pod[] }>(['get', 'pods', '-n', SYS]).items
    .flatMap((p) => (p.status.containerStatuses ?? []).filter((c) => c.restartCount >= 2).map((c) => `${p.metadata.name}/${c.name} restarted ${c.restartCount} times`))[0];
  await until('the controller and the agent Ready', () => {
    const bad = crashing();
    if (bad) throw new Error(`crash loop: ${bad}`);
    const ctl = json<{ items: Pod[] }>(['get', 'pods', '-n', SYS, '-l', 'app.kubernetes.io/name=unit-operator-controller']).items;
    return ctl.length === 1 && ready(ctl[0]!) && readyAgent() !== undefined;
  }, { timeoutMs: 180_000, everyMs: 500 });
  const agent = readyAgent()!;
  assert.equal(agent.status.containerStatuses?.[0]?.restartCount, 0, 'the agent did not crash on its way up');
  process.stdout.write(`# installed and Ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (kubectl(['get', 'ns', NS]).status !== 0) kubectlOk(['create', 'ns', NS]);
});

step('a ServiceUnit for the node runs its process on the host, outside the agent pod, and is Ready', async () => {
  apply('on-host', { service: { execStart: ['/bin/sleep 199999'] } });
  const pid = await until('the main PID reported', () => mainPid('on-host') || undefined, 60_000);
  await until('Ready', () => readyCond('on-host'), 30_000);
  assert.equal(cmdline(pid), '/bin/sleep 199999', 'the PID the status reports is the host\'s process (hostPID)');
  // in the host's mount namespace (not the agent container's), and not in the pod's cgroup
  assert.equal(nsOf(pid, 'mnt'), nsOf(process.pid, 'mnt'), 'the service sees the host\'s file system');
  const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  assert.doesNotMatch(cgroup, /kubepods/, `the service is out of the pod's cgroup:\n${cgroup}`);
  const e = entry('on-host')!;
  assert.deepEqual([e['activeState'], e['subState']], ['active', 'running']);
});

/** Waits until every sleeper runs with a PID, returns name → PID. */
async function sleepersUp(): Promise<Map<string, number>> {
  const pids = new Map<string, number>();
  await until('20 units running', () => {
    for (const n of SLEEPERS) { const p = mainPid(n); if (p > 0 && entry(n)?.['subState'] === 'running') pids.set(n, p); }
    return pids.size === SLEEPERS.length;
  }, { timeoutMs: 90_000, everyMs: 500, detail: () => `${pids.size} running` });
  return pids;
}

function sameUnits(pids: ReadonlyMap<string, number>, what: string): void {
  SLEEPERS.forEach((n, i) => {
    const e = entry(n)!;
    assert.equal(e['mainPID'], pids.get(n), `${what}: ${n} kept its main PID`);
    assert.equal(e['nRestarts'] ?? 0, 0, `${what}: ${n} did not restart`);
    assert.equal(e['subState'], 'running', `${what}: ${n} runs`);
    assert.deepEqual(pidsOf(sleepCmd(i)), [pids.get(n)], `${what}: one process for ${n}, the same`);
  });
}

/** Replaces the agent pod with `replace`, kills `victim`'s process while no agent runs, and checks. */
async function replaceAgent(how: string, replace: () => void, victim: string, victimCmd: string): Promise<void> {
  const old = readyAgent()!;
  const pids = await sleepersUp();
  const victimPid = await until(`${victim} running`, () => mainPid(victim) || undefined, 60_000);
  replace();
  // the old pod going away: the window in which no agent watches the units
  await until('the old agent pod terminating', () => agentPods().every((p) => p.metadata.uid !== old.metadata.uid || !!p.metadata.deletionTimestamp), 60_000);
  process.kill(victimPid, 'SIGTERM');
  const fresh = await until('a new agent pod Ready', () => { const p = readyAgent(); return p && p.metadata.uid !== old.metadata.uid ? p : undefined; }, { timeoutMs: 180_000, everyMs: 500 });
  assert.equal(fresh.status.containerStatuses?.[0]?.restartCount, 0);
  // the exit that happened meanwhile is reported, with its status
  const e = await until(`${victim}'s exit reported (${how})`, () => { const x = entry(victim); return x && x['mainPID'] !== victimPid && x['subState'] !== 'running' ? x : undefined; }, 60_000);
  assert.notEqual(e['activeState'], 'active', `${victim} is reported stopped: ${JSON.stringify(e)}`);
  assert.match(String(e['result']), /signal|exit-code|success/, `${victim} reports how it ended: ${JSON.stringify(e)}`);
  assert.deepEqual(pidsOf(victimCmd), [], `${victim} was not started again behind the status's back`);
  sameUnits(pids, how);
}

step('the agent pod replaced (rollout restart, then delete pod) with 20 units: same PIDs, 0 restarts, 0 duplicates, an exit meanwhile reported', async () => {
  SLEEPERS.forEach((n, i) => apply(n, { service: { execStart: [sleepCmd(i)] } }));
  apply('victim-1', { service: { execStart: ['/bin/sleep 210001'], restart: 'no' } });
  apply('victim-2', { service: { execStart: ['/bin/sleep 210002'], restart: 'no' } });
  await replaceAgent('rollout restart', () => { kubectlOk(['rollout', 'restart', '-n', SYS, 'daemonset/unit-operator-agent']); }, 'victim-1', '/bin/sleep 210001');
  await replaceAgent('delete pod', () => { kubectlOk(['delete', 'pod', '-n', SYS, '-l', 'app.kubernetes.io/name=unit-operator-agent', '--wait=false']); }, 'victim-2', '/bin/sleep 210002');
});

const imageOf = (p: Pod): string => (p as unknown as { spec: { containers: Array<{ image: string }> } }).spec.containers[0]!.image;

step('upgraded from the previous release (kubectl apply -k overlays/local) with 20 units: same PIDs, 0 restarts, 0 duplicates, an exit meanwhile reported; the holders run the shim copy in the host\'s state folder', async () => {
  assert.equal(imageOf(readyAgent()!), PREVIOUS, 'the previous release runs');
  apply('victim-3', { service: { execStart: ['/bin/sleep 210003'], restart: 'no' } });
  await replaceAgent('upgrade', () => { kubectlOk(['apply', '-k', overlay!.dir]); }, 'victim-3', '/bin/sleep 210003');
  assert.equal(imageOf(readyAgent()!), PROJECT_IMAGE, 'the current release runs');
  // nothing of an image stays in use by the units' holders (it would pin the old container's file system)
  for (const n of SLEEPERS) {
    const holder = Number(readFileSync(`/proc/${mainPid(n)}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
    const exe = spawnSync('readlink', [`/proc/${holder}/exe`], { encoding: 'utf8' }).stdout.trim();
    assert.match(exe, /^\/var\/lib\/unit-operator\/bin\/uo-shim-[0-9a-f]{16}$/, `${n}'s holder (PID ${holder}) runs ${exe}`);
  }
}, PREVIOUS_SKIP);

step('kubelet and containerd restarted: the agent pod and the units are untouched', async () => {
  const pids = await sleepersUp();
  const agent = readyAgent()!;
  for (const what of ['kubelet', 'containerd'] as const) {
    await restartNodeProcess(STATE_FILE!, what);
    await sleep(1000);
    await until(`node Ready after the ${what} restart`, () => {
      const n = json<{ status: { conditions: Array<{ type: string; status: string }> } }>(['get', 'node', NODE]);
      return n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    }, 60_000);
  }
  const after = await until('the agent pod Ready', readyAgent, 60_000);
  assert.equal(after.metadata.uid, agent.metadata.uid, 'the same agent pod');
  assert.equal(after.status.containerStatuses?.[0]?.restartCount, 0, 'its container was not restarted');
  assert.equal(after.status.containerStatuses?.[0]?.containerID, agent.status.containerStatuses?.[0]?.containerID);
  sameUnits(pids, 'kubelet + containerd restart');
});

step('kubectl unit logs reads the journal through a real exec into the agent pod', async () => {
  apply('talker', { service: { execStart: ['/bin/sh -c \'echo hello-from-the-node; exec sleep 220000\''] } });
  await until('talker running', () => entry('talker')?.['subState'] === 'running', 60_000);
  const bin = mkdtempSync(join(tmpdir(), 'uo-plugin-'));
  try {
    symlinkSync(UNITCTL, join(bin, 'kubectl-unit'));
    symlinkSync(node!.kubectl, join(bin, 'kubectl'));
    const env = { ...process.env, PATH: `${bin}:${join(REPO, 'node_modules', '.bin')}:${process.env['PATH']}`, KUBECONFIG: node!.kubeconfig };
    const out = await until('the line in kubectl unit logs', () => {
      const r = spawnSync(join(bin, 'kubectl'), ['unit', 'logs', 'talker', '-n', NS], { encoding: 'utf8', env, timeout: 60_000 });
      return r.status === 0 && /hello-from-the-node/.test(r.stdout) ? r.stdout : undefined;
    }, 60_000);
    assert.match(out, /hello-from-the-node/);
  } finally { rmSync(bin, { recursive: true, force: true }); }
});

step('uninstall as the README says: units stopped, finalizers released, nothing of the units left on the host', async () => {
  const names = ['on-host', 'talker', ...SLEEPERS];
  const pids = names.map(mainPid).filter((p) => p > 0);
  assert.ok(pids.length >= SLEEPERS.length);
  kubectlOk(['delete', 'serviceunits', '--all', '-A', '--wait', '--timeout=120s'], undefined, 150_000);
  assert.deepEqual(json<{ items: unknown[] }>(['get', 'su', '-A']).items, [], 'every ServiceUnit is gone: finalizers released');
  await until('every unit process gone', () => pids.every((p) => !existsSync(`/proc/${p}`) || cmdline(p) === ''), 30_000);
  kubectlOk(['delete', '-k', overlay!.dir, '--wait', '--timeout=120s'], undefined, 150_000);
  await until('the agent and controller pods gone', () => json<{ items: unknown[] }>(['get', 'pods', '-n', SYS]).items.length === 0, 120_000);
  // what stays on the host is the agent's state folder (README: rm -rf /var/lib/unit-operator)
  // and its top slice; the harness removes both and checks the host against its record afterwards
  const left = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => /^\/bin\/sleep (19|20|21|22)\d{4}$/.test(cmdline(p)));
  assert.deepEqual(left, [], 'no unit process left');
});
