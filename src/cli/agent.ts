// unitctl agent --manifests DIR: the standalone agent in the foreground.

import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { StandaloneAgent } from '../agent/standalone.ts';
import { ensureShim } from '../runner/shim.ts';
import { listTable, terminalStyle } from './format.ts';
import { resolveStateDir } from './client.ts';
import { untilSignal } from './signals.ts';
import { EXIT, UsageError, type Io } from './io.ts';
import { OBSERVABILITY_HELP } from './plugin-help.ts';
import { parseAllowUnenforced, unknownAllowed } from '../api/applied.ts';

export const AGENT_HELP = `Usage: unitctl agent --manifests DIR [--state-dir DIR] [--stop-on-exit] [--status-table] [--allow-unenforced LIST|all]
       unitctl agent --node NAME [--kubeconfig FILE] [--state-dir DIR] [--lease-namespace NS] [--host-root DIR] [--allow-unenforced LIST|all]
                     [--metrics-bind-address ADDR] [--log-format json|pretty]

With --node, runs as the node agent of a cluster: the ServiceUnits that target NAME (nodeName,
or nodeSelector against the Node's labels) run here and report in status.nodes[]. --host-root
DIR runs commands chroot()ed into DIR (the host's / mounted into the agent's container).

Runs every ServiceUnit YAML and .service file in DIR on this machine, with no cluster.
Files added, changed or removed are picked up; a file that does not validate is reported and
skipped. Unit state lives in the state folder, so a restarted agent re-adopts its services.

Options:
  --manifests DIR     the folder to run (required)
  --state-dir DIR     state, logs and the control socket (default: $UNIT_OPERATOR_STATE_DIR,
                      /var/lib/unit-operator as root, ~/.local/state/unit-operator otherwise)
  --stop-on-exit      on SIGINT/SIGTERM, stop every unit (ExecStop= runs) before exiting;
                      without it the services keep running and the next agent adopts them
  --status-table      redraw a status table on the terminal as units change
  --allow-unenforced LIST|all
                      directives that protect the host or the service (ProtectSystem=,
                      MemoryMax=, NoNewPrivileges=...) and that this agent does not apply yet
                      keep a unit that sets them from starting (fail closed); name them here,
                      comma-separated (ProtectSystem,PrivateTmp), or "all", to run such units
                      without them. Status still lists them as not applied.
${OBSERVABILITY_HELP}
                               (--log-format: cluster mode; standalone logs lines for people)
`;

export async function runAgent(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: {
    manifests: { type: 'string' }, 'state-dir': { type: 'string' }, 'stop-on-exit': { type: 'boolean' },
    'status-table': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    node: { type: 'string' }, kubeconfig: { type: 'string' }, 'lease-namespace': { type: 'string' }, 'host-root': { type: 'string' },
    'metrics-bind-address': { type: 'string' }, 'log-format': { type: 'string' }, 'allow-unenforced': { type: 'string' },
  } });
  const allowUnenforced = parseAllowUnenforced(values['allow-unenforced']);
  const unknown = unknownAllowed(allowUnenforced);
  if (unknown.length > 0) throw new UsageError(`agent: --allow-unenforced: ${unknown.map((n) => `${n}=`).join(', ')} ${unknown.length === 1 ? 'is not a directive' : 'are not directives'} of systemd.exec/resource-control/service/unit (names as in unit files: ProtectSystem,MemoryMax)`);
  if (values.help) { io.stdout(AGENT_HELP); return EXIT.ok; }
  if (values.node && values.manifests) throw new UsageError('agent: --node (cluster mode) and --manifests (standalone) exclude each other');
  if (values.node) return (await import('./cluster.ts')).runClusterAgent({ ...values, allowUnenforced }, io);
  if (!values.manifests) throw new UsageError('agent: give --manifests DIR (standalone) or --node NAME (cluster mode)');
  const stateDir = resolve(resolveStateDir(values['state-dir'], process.env));
  mkdirSync(stateDir, { recursive: true });
  const style = terminalStyle();
  const table = !!values['status-table'] && !!process.stdout.isTTY;
  const recent: string[] = [];
  const log = (level: string, message: string, fields?: Record<string, unknown>): void => {
    const line = `${new Date().toISOString()} ${level.padEnd(7)} ${fields?.['unit'] ? `${String(fields['unit'])}: ` : ''}${message}`;
    if (table) { recent.push(line); if (recent.length > 8) recent.shift(); } else io.stderr(line + '\n');
  };
  // metrics are loaded only when asked for (prom-client is not free)
  const wantMetrics = !!values['metrics-bind-address'] && values['metrics-bind-address'] !== '0';
  const metrics = wantMetrics ? new (await import('../observability/metrics.ts')).Metrics('agent') : undefined;
  const agent = new StandaloneAgent({ manifestsDir: resolve(values.manifests), stateDir, shimPath: ensureShim(), log, onChange: () => { dirty = true; }, ...(metrics ? { metrics } : {}), allowUnenforced });
  let dirty = true;
  let started = false;
  const ep = metrics ? await (await import('./observe.ts')).endpoint(values, metrics, () => (started ? undefined : 'still reading the manifest folder'), log) : undefined;
  await agent.start();
  started = true;
  log('info', `agent ${process.pid}: running ${agent.units.size} unit(s) from ${resolve(values.manifests)}; state in ${stateDir}`);
  log('info', `inspect with: npx unitctl list|status UNIT|logs UNIT --state-dir ${stateDir}`);
  let redraw: NodeJS.Timeout | undefined;
  if (table) {
    redraw = setInterval(() => {
      if (!dirty) return;
      dirty = false;
      const problems = agent.problems.map((p) => `  ! ${p.file}: ${p.message}`).join('\n');
      process.stdout.write(`\x1b[H\x1b[2J${listTable(agent.list(), style)}${problems ? `\nSkipped:\n${problems}\n` : ''}\n${recent.join('\n')}\n\nCtrl-C stops every unit and exits.\n`);
    }, 250);
  }
  const stop = !!values['stop-on-exit'];
  return untilSignal(async (sig) => {
    if (redraw) clearInterval(redraw);
    io.stderr(`\n${sig}: ${stop ? 'stopping every unit (ExecStop= runs), then exiting; a second Ctrl-C exits at once and leaves them running' : 'exiting; the services keep running and the next agent adopts them'}\n`);
    await agent.shutdown(stop);
    await ep?.close();
    if (stop) io.stderr(listTable(agent.list(), style));
  }, { signals: stop ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM'], deadlineMs: stop ? 45_000 : 15_000, log: (level, m) => io.stderr(`${level}: ${m}\n`) });
}
