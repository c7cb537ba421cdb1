// unitctl agent --node NAME (cluster mode) and unitctl controller.

import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { KubeClient } from '../kube/client.ts';
import { ClusterAgent } from '../agent/cluster.ts';
import { Controller } from '../controller/controller.ts';
import { ensureShim } from '../runner/shim.ts';
import { resolveStateDir } from './client.ts';
import { EXIT, type Io } from './io.ts';

export const CONTROLLER_HELP = `Usage: unitctl controller [--kubeconfig FILE] [--namespace NS] [--id NAME]

Runs the ServiceUnit controller: kstatus conditions (Ready, Stalled, Reconciling), the summary
behind kubectl get su, Unknown for nodes whose agent stopped renewing its Lease, and one
finalizer per targeted node. Leader-elected through a Lease in NS (default unit-operator-system),
so several replicas are safe.
`;

type Log = (level: string, message: string, fields?: Record<string, unknown>) => void;
const logger = (io: Io, component: string): Log => (level, message, fields) => {
  io.stderr(`${new Date().toISOString()} ${level.padEnd(7)} ${component} ${fields?.['unit'] ? `${String(fields['unit'])}: ` : ''}${message}\n`);
};

function waitForSignal(onExit: (sig: string) => Promise<void>): Promise<number> {
  return new Promise((done) => {
    let exiting = false;
    const quit = (sig: string): void => {
      if (exiting) return;
      exiting = true;
      void onExit(sig).then(() => done(EXIT.ok));
    };
    process.on('SIGINT', () => quit('SIGINT'));
    process.on('SIGTERM', () => quit('SIGTERM'));
  });
}

export async function runClusterAgent(values: { node?: string; kubeconfig?: string; 'state-dir'?: string; 'lease-namespace'?: string; 'stop-on-exit'?: boolean; 'host-root'?: string }, io: Io): Promise<number> {
  const log = logger(io, `agent/${values.node}`);
  const client = KubeClient.load(values.kubeconfig);
  const stateDir = resolve(resolveStateDir(values['state-dir'], process.env));
  const agent = new ClusterAgent({
    client, node: values.node!, stateDir, shimPath: ensureShim(), leaseNamespace: values['lease-namespace'] ?? 'unit-operator-system',
    ...(values['host-root'] ? { hostRoot: values['host-root'] } : {}),
    log: (l, m, f) => log(l, m, f),
  });
  await agent.start();
  log('info', `watching ServiceUnits for node ${values.node} on ${client.server}; state in ${stateDir}`);
  return waitForSignal(async (sig) => {
    log('info', `${sig}: ${values['stop-on-exit'] ? 'stopping every unit, then exiting' : 'exiting; services keep running and the next agent adopts them'}`);
    await agent.shutdown(!!values['stop-on-exit']);
  });
}

export async function runController(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { kubeconfig: { type: 'string' }, namespace: { type: 'string' }, id: { type: 'string' }, 'lease-duration': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout(CONTROLLER_HELP); return EXIT.ok; }
  const log = logger(io, 'controller');
  const client = KubeClient.load(values.kubeconfig);
  const c = new Controller({
    client, namespace: values.namespace ?? 'unit-operator-system', identity: values.id ?? `${hostname()}-${process.pid}`,
    leaseDurationS: values['lease-duration'] ? Number(values['lease-duration']) : 15, log: (l, m) => log(l, m),
  });
  c.start();
  log('info', `controller ${values.id ?? process.pid} started against ${client.server}`);
  return waitForSignal(async () => { await c.stop(); });
}
