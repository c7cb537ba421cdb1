// A standalone agent as a real child process (so it can be kill -9'd), and unitctl against it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO, UNITCTL } from './paths.ts';
import { sleep, until } from './wait.ts';
import type { UnitStatus } from '../../src/api/status.ts';
import { killLeftovers } from '../../src/runner/leftovers.ts';
import { detectCgroups } from '../../src/runner/cgroup/layout.ts';
import { agentBase } from '../../src/runner/cgroup/naming.ts';
import { removeBaseTree } from '../../src/runner/cgroup/ops.ts';
import { SYSTEM_STATE_DIR } from '../../src/runner/cgroup/agent.ts';
import { stopChild } from '../../testenv/processes.ts';
import { DAEMON_NODE_FLAGS } from '../../src/cli/runtime.ts';

export interface AgentFixture {
  readonly manifests: string;
  readonly state: string;
  proc: ChildProcess | undefined;
  readonly stderr: string[];
  /** A command the agent is started through (it execs the agent's argv given after it), e.g. a shell that first moves itself into a cgroup. */
  launcher: string[] | undefined;
  start(extra?: string[]): Promise<void>;
  kill9(): Promise<void>;
  unitctl(...args: string[]): { status: number | null; stdout: string; stderr: string };
  json<T>(...args: string[]): T;
}

export function agentFixture(t: { after: (fn: () => void | Promise<void>) => void }): AgentFixture {
  const root = mkdtempSync(join(tmpdir(), 'uo-agent-'));
  const manifests = join(root, 'manifests');
  const state = join(root, 'state');
  mkdirSync(manifests);
  const f: AgentFixture = {
    manifests, state, proc: undefined, stderr: [], launcher: undefined,
    async start(extra = []) {
      const argv = [process.execPath, ...DAEMON_NODE_FLAGS, join(REPO, 'src', 'cli', 'main.ts'), 'agent', '--manifests', manifests, '--state-dir', state, ...extra];
      const [cmd, ...args] = [...(f.launcher ?? []), ...argv];
      const p = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      p.stderr!.on('data', (d: Buffer) => f.stderr.push(d.toString()));
      f.proc = p;
      for (let i = 0; i < 200; i++) {
        if (p.exitCode !== null) throw new Error(`agent exited with status ${p.exitCode}: ${f.stderr.join('')}`);
        if (existsSync(join(state, 'agent.sock')) && f.unitctl('list').status === 0) return;
        await sleep(25);
      }
      throw new Error(`agent did not come up: ${f.stderr.join('')}`);
    },
    async kill9() {
      const p = f.proc;
      if (!p || p.exitCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
      rmSync(join(state, 'agent.sock'), { force: true });
    },
    unitctl(...args) {
      const r = spawnSync(process.execPath, [UNITCTL, ...args, '--state-dir', state], { encoding: 'utf8', timeout: 20_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    json<T>(...args: string[]): T {
      const r = f.unitctl(...args, '-o', 'json');
      if (r.status !== 0 && r.status !== 3) throw new Error(`unitctl ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
  };
  t.after(async () => {
    const how = f.proc ? await stopChild(f.proc, 20_000) : 'term';
    await killLeftovers(join(state, 'units')); // whatever the units left, by pid
    rmSync(root, { recursive: true, force: true });
    await removeAgentCgroups(state);
    if (how === 'kill') throw new Error(`the agent did not exit within 20 s of SIGTERM and was killed; its log ends:\n${f.stderr.join('').split('\n').slice(-15).join('\n')}`);
  });
  return f;
}

/**
 * The cgroups of a test's agent with state folder `state`, when it could not remove them itself
 * (killed, or a unit still ran at its exit): empty ones only (rmdir refuses the others), its
 * holders given a moment (≤ 1 s) to exit. Called once the units' processes were killed.
 */
export async function removeAgentCgroups(state: string): Promise<void> {
  const layout = detectCgroups();
  if (layout.mode === 'none') return;
  const base = agentBase(state, SYSTEM_STATE_DIR, process.env);
  for (let i = 0; i < 25 && removeBaseTree(layout, base).length > 0; i++) await sleep(40);
}

/** Waits (bounded) until every unit of `names` has run and ended (inactive or failed after a main process); their status. */
export async function untilEnded(a: AgentFixture, names: readonly string[], timeoutMs = 90_000): Promise<Map<string, UnitStatus>> {
  const ended = new Map<string, UnitStatus>();
  await until('every probe unit ended', () => {
    for (const n of names) {
      if (ended.has(n)) continue;
      const s = a.json<UnitStatus>('status', n);
      if ((s.ActiveState === 'inactive' || s.ActiveState === 'failed') && s.ExecMainCode !== 0) ended.set(n, s);
    }
    return ended.size === names.length;
  }, { timeoutMs, everyMs: 100, detail: () => `still running: ${names.filter((n) => !ended.has(n)).join(', ')}; agent: ${a.stderr.join('').slice(-2000)}` });
  return ended;
}
