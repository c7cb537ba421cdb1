// Agents (one per fake node) and controllers as real processes against the test control plane.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO } from './paths.ts';
import { clusterState, kubectl, kubectlOk } from './cluster.ts';
import { sleep, until } from './wait.ts';
import { killLeftovers } from '../../src/runner/leftovers.ts';
import { removeAgentCgroups } from './agent.ts';
import { stopChild } from '../../testenv/processes.ts';
import { DAEMON_NODE_FLAGS } from '../../src/cli/runtime.ts';

export const SYSTEM_NS = 'unit-operator-system';

export interface Proc { readonly name: string; child: ChildProcess; readonly logs: string[]; readonly stateDir?: string }

export class ClusterProcs {
  readonly procs: Proc[] = [];
  readonly root = mkdtempSync(join(tmpdir(), 'uo-cluster-'));

  ensureNamespace(): void {
    if (kubectl(['get', 'namespace', SYSTEM_NS]).status !== 0) kubectlOk(['create', 'namespace', SYSTEM_NS]);
  }

  node(name: string, labels: Record<string, string> = {}): void {
    const obj = { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
    kubectlOk(['apply', '-f', '-'], JSON.stringify(obj));
  }

  private spawnUnitctl(name: string, args: string[], stateDir?: string): Proc {
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(REPO, 'src', 'cli', 'main.ts'), ...args, '--kubeconfig', clusterState().kubeconfig], { stdio: ['ignore', 'ignore', 'pipe'] });
    const p: Proc = { name, child, logs: [], ...(stateDir ? { stateDir } : {}) };
    child.stderr!.on('data', (d: Buffer) => p.logs.push(d.toString()));
    this.procs.push(p);
    return p;
  }

  agent(node: string, stateDir = join(this.root, `state-${node}`), extra: string[] = []): Proc {
    return this.spawnUnitctl(`agent/${node}`, ['agent', '--node', node, '--state-dir', stateDir, '--lease-namespace', SYSTEM_NS, ...extra], stateDir);
  }

  controller(id: string, extra: string[] = []): Proc {
    return this.spawnUnitctl(`controller/${id}`, ['controller', '--namespace', SYSTEM_NS, '--id', id, '--lease-duration', '6', ...extra]);
  }

  /** The URL a process logged for its /metrics endpoint (started with --metrics-bind-address). */
  async endpoint(p: Proc): Promise<string> {
    return until(`${p.name} to serve /metrics`, () => /serving \/metrics, \/healthz and \/readyz on (http:\/\/[0-9.:]+)/.exec(p.logs.join(''))?.[1], 20_000);
  }

  async kill(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    const gone = new Promise((r) => p.child.once('exit', r));
    p.child.kill(signal);
    await Promise.race([gone, sleep(20_000)]);
  }

  /**
   * Stops everything started (SIGTERM; SIGKILL after 20 s), and every process the agents' units
   * left (by pid). A process that needed SIGKILL fails the file: a daemon must end on SIGTERM.
   */
  async cleanup(): Promise<void> {
    const stuck: string[] = [];
    for (const p of this.procs) {
      if ((await stopChild(p.child, 20_000)) === 'kill') stuck.push(`${p.name} did not exit within 20 s of SIGTERM and was killed; its log ends:\n${p.logs.join('').split('\n').slice(-15).join('\n')}`);
    }
    for (const p of this.procs) if (p.stateDir) { await killLeftovers(join(p.stateDir, 'units')); await removeAgentCgroups(p.stateDir); }
    rmSync(this.root, { recursive: true, force: true });
    // the exit a daemon had to force after its shutdown (a handle left open): shown, to be fixed
    for (const p of this.procs) {
      const forced = /did not end by itself[^\n]*/.exec(p.logs.join(''));
      if (forced) process.stderr.write(`# ${p.name}: ${forced[0]}\n`);
    }
    if (stuck.length > 0) throw new Error(stuck.join('\n\n'));
  }
}

export interface SU {
  metadata: { name: string; generation?: number; finalizers?: string[]; annotations?: Record<string, string> };
  status?: { nodes?: Array<Record<string, unknown> & { node: string }>; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>; summary?: Record<string, unknown>; rollout?: import('../../src/api/types.ts').RolloutStatus };
}

export function getSU(ns: string, name: string): SU | undefined {
  const r = kubectl(['get', 'su', name, '-n', ns, '-o', 'json']);
  return r.status === 0 ? (JSON.parse(r.stdout) as SU) : undefined;
}

export const entry = (su: SU | undefined, node: string): (Record<string, unknown> & { node: string }) | undefined => su?.status?.nodes?.find((n) => n.node === node);
export const cond = (su: SU | undefined, type: string): string | undefined => su?.status?.conditions?.find((c) => c.type === type)?.status;
