// unitctl agent --node NAME (cluster mode) and unitctl controller.

import { agentCgroups } from '../runner/cgroup/index.ts';
import type { AllowUnenforced } from '../api/applied.ts';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { prepareStateDir } from '../runner/store.ts';
import { lockStateDir } from '../agent/lock.ts';
import { KubeClient } from '../kube/client.ts';
import { ClusterAgent } from '../agent/cluster.ts';
import { Controller } from '../controller/controller.ts';
import { ensureShim } from '../runner/shim.ts';
import { agentForkServer } from '../runner/forkserver.ts';
import { configureRestartLead } from '../runner/restartlead.ts';
import { hostNamespacesTarget, hostShimPath, installHostShim, sharedNamespaces } from '../runner/hostns.ts';
import { readlinkSync } from 'node:fs';
import { resolveStateDir } from './client.ts';
import { EXIT, type Io } from './io.ts';
import { untilSignal } from './signals.ts';
import { OBSERVABILITY_HELP } from './plugin-help.ts';
import { Metrics } from '../observability/metrics.ts';
import { logger, endpoint, type ObservabilityFlags } from './observe.ts';

export const CONTROLLER_HELP = `Usage: unitctl controller [--kubeconfig FILE] [--namespace NS] [--id NAME]
                         [--metrics-bind-address ADDR] [--log-format json|pretty]

Runs the ServiceUnit controller: kstatus conditions (Ready, Stalled, Reconciling), the summary
behind kubectl get su, Unknown for nodes whose agent stopped renewing its Lease, and one
finalizer per targeted node. Leader-elected through a Lease in NS (default unit-operator-system),
so several replicas are safe.

${OBSERVABILITY_HELP}
`;

export async function runClusterAgent(values: { node?: string; kubeconfig?: string; 'state-dir'?: string; 'lease-namespace'?: string; 'stop-on-exit'?: boolean; 'host-root'?: string; 'host-namespaces'?: boolean; allowUnenforced?: AllowUnenforced } & ObservabilityFlags, io: Io): Promise<number> {
  const node = values.node!;
  const log = logger(io, values, { component: 'agent', node });
  const client = KubeClient.load(values.kubeconfig);
  const stateDir = resolve(resolveStateDir(values['state-dir'], process.env));
  const metrics = new Metrics('agent', { node });
  let shimPath: string;
  try {
    shimPath = ensureShim(process.env, (m) => log('warning', m));
    // one agent per state folder (src/agent/lock.ts); a second agent pod on the node (a DaemonSet
    // update overlapping) waits for the first to go instead of crash-looping
    // the state folder: 0700 whatever the umask, the agent's alone, writable; else what is wrong and what to do
    const unusable = prepareStateDir(stateDir);
    if (unusable !== undefined) throw new Error(unusable);
    await lockStateDir(stateDir, shimPath, {
      wait: true,
      onWait: (holder) => log('info', `waiting for the lock on the state folder ${stateDir}: agent PID ${holder || 'unknown'} holds it (an agent pod being replaced?); this agent starts when it exits`),
    });
  } catch (e) {
    log('error', (e as Error).message);
    return EXIT.failure;
  }
  log('info', `locked the state folder ${stateDir} (agent.lock) for this agent, PID ${process.pid}`);
  // --host-namespaces: services enter the host init's namespaces (launch.ts), from a host copy of the shim
  let hostRoot = values['host-root'];
  if (values['host-namespaces']) {
    const target = hostNamespacesTarget();
    if ('problem' in target) { log('error', `--host-namespaces: ${target.problem}`); return EXIT.failure; }
    if (target.note) log('notice', `--host-namespaces: ${target.note}`);
    hostRoot = `/proc/${target.pid}/root`;
    try { shimPath = hostShimPath(installHostShim(shimPath, stateDir), hostRoot); } catch (e) { log('error', `--host-namespaces: ${(e as Error).message}`); return EXIT.failure; }
    const shared = sharedNamespaces(target.pid);
    log('info', `services run in the namespaces of PID ${target.pid} (cgroup, ipc, uts, net, mnt)${shared.length > 0 ? `; this agent already shares ${shared.join(', ')} with it` : ''}; their uo-shims run ${shimPath}`);
  } else if (hostRoot === undefined && process.geteuid?.() === 0) {
    let other = false;
    try { other = readlinkSync('/proc/1/ns/mnt') !== readlinkSync('/proc/self/ns/mnt'); } catch { /* cannot tell */ }
    if (other) log('warning', 'this agent runs in a mount namespace other than PID 1\'s (a container?): services run in the agent\'s own namespaces and file system; --host-namespaces runs them on the host');
  }
  const cgroups = agentCgroups(stateDir, process.env, (l, m) => log(l, m));
  configureRestartLead(process.env, (l, m) => log(l, m));
  const agent = new ClusterAgent({
    client, node, stateDir, shimPath, cgroups, forkServer: agentForkServer({ shimPath, stateDir, cgroups, env: process.env, log: (l, m) => log(l, m) }), leaseNamespace: values['lease-namespace'] ?? 'unit-operator-system',
    ...(hostRoot ? { hostRoot } : {}),
    ...(values.allowUnenforced ? { allowUnenforced: values.allowUnenforced } : {}),
    log, metrics,
  });
  const ep = await endpoint(values, metrics, () => (agent.ready ? undefined : `the ServiceUnit and Node caches have not been filled from ${client.server} yet`), log);
  await agent.start();
  log('info', `watching ServiceUnits for node ${node} on ${client.server}; state in ${stateDir}`);
  const stop = !!values['stop-on-exit'];
  return untilSignal(async (sig) => {
    log('info', `${sig}: ${stop ? 'stopping every unit, then exiting' : 'exiting; services keep running and the next agent adopts them'}`);
    await agent.shutdown(stop);
    await ep?.close();
  }, { deadlineMs: stop ? 45_000 : 15_000, log });
}

export async function runController(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: {
    kubeconfig: { type: 'string' }, namespace: { type: 'string' }, id: { type: 'string' }, 'lease-duration': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    'metrics-bind-address': { type: 'string' }, 'log-format': { type: 'string' },
  } });
  if (values.help) { io.stdout(CONTROLLER_HELP); return EXIT.ok; }
  const identity = values.id ?? `${hostname()}-${process.pid}`;
  const log = logger(io, values, { component: 'controller', id: identity });
  const client = KubeClient.load(values.kubeconfig);
  const metrics = new Metrics('controller');
  const c = new Controller({
    client, namespace: values.namespace ?? 'unit-operator-system', identity,
    leaseDurationS: values['lease-duration'] ? Number(values['lease-duration']) : 15, log: (l, m) => log(l, m), metrics,
  });
  const ep = await endpoint(values, metrics, () => (c.ready ? undefined : `leading, but the ServiceUnit, Node and Lease caches have not been filled from ${client.server} yet`), log);
  c.start();
  log('info', `controller ${identity} started against ${client.server}`);
  return untilSignal(async (sig) => {
    log('info', `${sig}: stepping down and exiting`);
    await c.stop();
    await ep?.close();
  }, { deadlineMs: 15_000, log });
}
