// The cluster side of the CLI, which is also the kubectl plugin (`kubectl unit ...`, installed
// as kubectl-unit): list, status, restart / reload / reset-failed (the annotations the agents
// act on once per value), and logs (read on the node, through `kubectl exec` into the agent
// pod there, so reading a node's logs takes the same permission as exec into that pod).

import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { KubeClient, ApiError } from '../kube/client.ts';
import { ANNOTATIONS, type NodeStatus, type ServiceUnit } from '../api/types.ts';
import { SU_PATH } from '../api/contract.ts';
import { table, green, red, bullet, terminalStyle } from './format.ts';
import { clusterStatusView } from './clusterstatus.ts';
import { EXIT, UsageError, type Io } from './io.ts';
import type { UnitStatus } from '../agent/protocol.ts';
import { PLUGIN_HELP, AGENT_NAMESPACE } from './plugin-help.ts';

export const AGENT_POD_SELECTOR = 'app.kubernetes.io/name=unit-operator-agent';
/** Where the DaemonSet keeps unit state on each node (manifests/agent/daemonset.yaml). */
export const AGENT_STATE_DIR = '/var/lib/unit-operator';

const options = {
  namespace: { type: 'string', short: 'n' }, kubeconfig: { type: 'string' }, 'all-namespaces': { type: 'boolean', short: 'A' },
  output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' }, cluster: { type: 'boolean' },
  node: { type: 'string' }, tail: { type: 'string' }, lines: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, since: { type: 'string' },
  wait: { type: 'boolean' }, timeout: { type: 'string' }, 'agent-namespace': { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (args: string[]) => parseArgs({ args, allowPositionals: true, options });
const SU_LIST = '/apis/unit-operator.dev/v1alpha1';
const nameOf = (arg: string): string => arg.replace(/^(serviceunits?|su)\//, '').replace(/\.service$/, '');

function client(v: Values): KubeClient {
  try { return KubeClient.load(v.kubeconfig); } catch (e) { throw new UsageError(`cannot load a kubeconfig: ${(e as Error).message}`); }
}

async function getUnit(c: KubeClient, ns: string, name: string, io: Io): Promise<ServiceUnit | undefined> {
  try { return await c.request<ServiceUnit>(SU_PATH(ns, name)); } catch (e) {
    if (e instanceof ApiError && e.status === 404) io.stderr(`ServiceUnit ${ns}/${name} not found (kubectl get su -n ${ns} lists them)\n`);
    else io.stderr(`cannot read ServiceUnit ${ns}/${name} from ${c.server}: ${(e as Error).message}\n`);
    return undefined;
  }
}

export async function clusterList(args: string[], io: Io): Promise<number> {
  const { values: v } = parse(args);
  if (v.help) { io.stdout(PLUGIN_HELP); return EXIT.ok; }
  const c = client(v);
  const path = v['all-namespaces'] ? `${SU_LIST}/serviceunits` : `${SU_LIST}/namespaces/${v.namespace ?? 'default'}/serviceunits`;
  const list = await c.request<{ items: ServiceUnit[] }>(path);
  if (v.output === 'json') { io.stdout(JSON.stringify(list.items.map((u) => ({ namespace: u.metadata.namespace, name: u.metadata.name, nodes: u.status?.nodes ?? [] })), null, 2) + '\n'); return EXIT.ok; }
  const s = terminalStyle();
  const rows = [[...(v['all-namespaces'] ? ['NAMESPACE'] : []), 'UNIT', 'NODE', 'ACTIVE', 'SUB', 'RESULT', 'RESTARTS', 'MAIN PID']];
  let n = 0;
  for (const u of list.items) {
    const unit = u.spec.unitName ?? `${u.metadata.name}.service`;
    const entries: Array<NodeStatus | undefined> = u.status?.nodes?.length ? u.status.nodes : [undefined];
    for (const e of entries) {
      const active = e?.activeState ?? '-';
      const painted = active === 'failed' ? red(s, active) : active === 'active' ? green(s, active) : active;
      rows.push([...(v['all-namespaces'] ? [u.metadata.namespace ?? ''] : []), `${e ? bullet({ ActiveState: active } as UnitStatus, s) : ' '} ${unit}`, e?.node ?? '(none reported)', painted, e?.subState ?? '-', e?.result ?? '-', String(e?.nRestarts ?? 0), e?.mainPID ? String(e.mainPID) : '-']);
      n++;
    }
  }
  io.stdout(table(rows) + `\n${list.items.length} unit${list.items.length === 1 ? '' : 's'} on ${n} node entr${n === 1 ? 'y' : 'ies'} listed.\n`);
  return EXIT.ok;
}

export async function clusterStatus(args: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(args);
  if (v.help) { io.stdout(PLUGIN_HELP); return EXIT.ok; }
  if (positionals.length === 0) throw new UsageError('status: name a ServiceUnit (kubectl unit status web -n NAMESPACE)');
  const c = client(v);
  const ns = v.namespace ?? 'default';
  let code: number = EXIT.ok;
  for (const arg of positionals) {
    const su = await getUnit(c, ns, nameOf(arg), io);
    if (!su) { code = 4; continue; }
    if (v.output === 'json') io.stdout(JSON.stringify(su.status ?? {}, null, 2) + '\n');
    else io.stdout(clusterStatusView(su, terminalStyle()));
    if (su.status?.conditions?.find((x) => x.type === 'Ready')?.status !== 'True' && code === EXIT.ok) code = 3;
  }
  return code;
}

const VERB_ANNOTATION = { restart: ANNOTATIONS.restart, reload: ANNOTATIONS.reload, 'reset-failed': ANNOTATIONS.resetFailed } as const;

/** restart / reload / reset-failed: a new annotation value, acted on once by each node's agent. */
export function clusterVerb(verb: keyof typeof VERB_ANNOTATION) {
  return async (args: string[], io: Io): Promise<number> => {
    const { values: v, positionals } = parse(args);
    if (v.help) { io.stdout(PLUGIN_HELP); return EXIT.ok; }
    if (positionals.length === 0) throw new UsageError(`${verb}: name a ServiceUnit (kubectl unit ${verb} web -n NAMESPACE)`);
    const c = client(v);
    const ns = v.namespace ?? 'default';
    const key = VERB_ANNOTATION[verb];
    const value = new Date().toISOString();
    let code: number = EXIT.ok;
    for (const arg of positionals) {
      const name = nameOf(arg);
      try {
        await c.mergePatch(SU_PATH(ns, name), { metadata: { annotations: { [key]: value } } }, 'kubectl-unit');
      } catch (e) {
        io.stderr(e instanceof ApiError && e.status === 404 ? `ServiceUnit ${ns}/${name} not found\n` : `cannot annotate ServiceUnit ${ns}/${name}: ${(e as Error).message}\n`);
        code = 5;
        continue;
      }
      io.stdout(`serviceunit ${ns}/${name}: ${verb} requested (${key}=${value})\n`);
      if (v.wait && !(await waitHandled(c, ns, name, key, value, timeoutMs(v.timeout), io))) code = EXIT.failure;
    }
    return code;
  };
}

function timeoutMs(t: string | undefined): number {
  if (t === undefined) return 60_000;
  const m = /^(\d+)(ms|s|m)?$/.exec(t);
  if (!m) throw new UsageError(`--timeout "${t}": use a duration such as 30s or 2m`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm' ?? 's']);
}

async function waitHandled(c: KubeClient, ns: string, name: string, key: string, value: string, ms: number, io: Io): Promise<boolean> {
  const deadline = Date.now() + ms;
  let reported = new Set<string>();
  for (;;) {
    const su = await c.request<ServiceUnit>(SU_PATH(ns, name)).catch(() => undefined);
    const nodes = su?.status?.nodes ?? [];
    const done = nodes.filter((n) => n.lastHandledAnnotations?.[key] === value).map((n) => n.node);
    for (const n of done) if (!reported.has(n)) io.stdout(`  node ${n}: done (${nodes.find((x) => x.node === n)?.activeState ?? '?'})\n`);
    reported = new Set(done);
    if (nodes.length > 0 && done.length === nodes.length) return true;
    if (Date.now() > deadline) {
      const waiting = nodes.filter((n) => !done.includes(n.node)).map((n) => n.node);
      io.stderr(`timed out after ${ms / 1000} s: ${waiting.length ? `node(s) ${waiting.join(', ')} have not acted` : 'no node has reported this unit'}; check the agents (kubectl get pods -n ${AGENT_NAMESPACE} -l ${AGENT_POD_SELECTOR})\n`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The agent pod on a node, by the DaemonSet's label and the pod's spec.nodeName. */
export async function agentPod(c: KubeClient, node: string, agentNs: string): Promise<string | string[]> {
  const pods = await c.request<{ items: Array<{ metadata: { name: string }; status?: { phase?: string } }> }>(`/api/v1/namespaces/${agentNs}/pods`, { query: { labelSelector: AGENT_POD_SELECTOR, fieldSelector: `spec.nodeName=${node}` } });
  const running = pods.items.filter((p) => p.status?.phase === 'Running');
  const pick = running[0] ?? pods.items[0];
  return pick ? pick.metadata.name : [`no agent pod on node ${node} (kubectl get pods -n ${agentNs} -l ${AGENT_POD_SELECTOR} --field-selector spec.nodeName=${node})`];
}

export async function clusterLogs(args: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(args);
  if (v.help) { io.stdout(PLUGIN_HELP); return EXIT.ok; }
  if (positionals.length !== 1) throw new UsageError('logs: name one ServiceUnit (kubectl unit logs web -n NAMESPACE [--node NODE])');
  const c = client(v);
  const ns = v.namespace ?? 'default';
  const name = nameOf(positionals[0]!);
  const su = await getUnit(c, ns, name, io);
  if (!su) return 4;
  const nodes = (su.status?.nodes ?? []).map((n) => n.node);
  const node = v.node ?? (nodes.length === 1 ? nodes[0] : undefined);
  if (!node) {
    io.stderr(nodes.length === 0 ? `ServiceUnit ${ns}/${name} has not run on any node yet\n` : `ServiceUnit ${ns}/${name} runs on ${nodes.length} nodes (${nodes.join(', ')}); choose one with --node\n`);
    return EXIT.failure;
  }
  const agentNs = v['agent-namespace'] ?? AGENT_NAMESPACE;
  const pod = await agentPod(c, node, agentNs);
  if (Array.isArray(pod)) { io.stderr(`${pod[0]}\n`); return EXIT.failure; }
  const remote = ['unitctl', 'logs', `${ns}/${name}`, '--state-dir', AGENT_STATE_DIR,
    ...(v.tail ?? v.lines ? ['-n', (v.tail ?? v.lines)!] : []), ...(v.follow ? ['-f'] : []), ...(v.since ? ['--since', v.since] : [])];
  const kubectl = process.env['KUBECTL'] ?? 'kubectl';
  const argv = [...(v.kubeconfig ? ['--kubeconfig', v.kubeconfig] : []), 'exec', '-n', agentNs, pod, '-c', 'agent', '--', ...remote];
  return new Promise((resolve) => {
    const child = spawn(kubectl, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => io.stdout(d.toString()));
    child.stderr.on('data', (d: Buffer) => io.stderr(d.toString()));
    child.on('error', (e) => { io.stderr(`cannot run ${kubectl}: ${e.message}; logs are read through kubectl exec (set KUBECTL to its path)\n`); resolve(EXIT.failure); });
    child.on('close', (code) => resolve(code ?? EXIT.failure));
  });
}
