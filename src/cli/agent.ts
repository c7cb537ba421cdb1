// unitctl agent --manifests DIR: the standalone agent in the foreground.

import { agentCgroups } from '../runner/cgroup/index.ts';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { prepareStateDir } from '../runner/store.ts';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { StandaloneAgent } from '../agent/standalone.ts';
import { lockStateDir } from '../agent/lock.ts';
import { ControlSocketError } from '../agent/socket.ts';
import { ensureShim } from '../runner/shim.ts';
import { agentForkServer } from '../runner/forkserver.ts';
import { configureRestartLead } from '../runner/restartlead.ts';
import { listTable, terminalStyle } from './format.ts';
import { resolveStateDir } from './client.ts';
import { untilSignal } from './signals.ts';
import { EXIT, UsageError, type Io } from './io.ts';
import { OBSERVABILITY_HELP } from './plugin-help.ts';
import { parseAllowUnenforced, unknownAllowed } from '../api/applied.ts';
import { parseByteSize } from '../unitfile/read.ts';

export const AGENT_HELP = `Usage: unitctl agent --manifests DIR [--state-dir DIR] [--stop-on-exit] [--status-table] [--allow-unenforced LIST|all]
                     [--read-socket-group GROUP] [--max-file-size SIZE]
       unitctl agent --node NAME [--kubeconfig FILE] [--state-dir DIR] [--lease-namespace NS] [--host-namespaces | --host-root DIR]
                     [--allow-unenforced LIST|all]
                     [--metrics-bind-address ADDR] [--log-format json|pretty]

With --node, runs as the node agent of a cluster: the ServiceUnits that target NAME (nodeName,
or nodeSelector against the Node's labels) run here and report in status.nodes[].

In a container (the DaemonSet), services are to run on the host, not in the agent's container:
  --host-namespaces   each service (and its uo-shim holder) enters the mount, cgroup, UTS, IPC
                      and network namespaces of PID 1, the host's init (the pod needs hostPID
                      and privileged): it sees the host's file system, mounts, hostname and
                      network, and its cgroup is placed in the host's hierarchy. User=/Group=
                      are the host's (/proc/1/root/etc/passwd, /etc/group). The holders run a
                      copy of the shim in STATE-DIR/bin, so that nothing of the agent's image
                      stays in use after an upgrade. A namespace that cannot be entered fails
                      the spawn ("Failed at step NAMESPACE", exit status 226).
  --host-root DIR     (older) each command runs chroot()ed into DIR, the host's / mounted into
                      the container, but in the container's namespaces (its mounts, hostname,
                      cgroup namespace); a chroot also pins the container's file system. Kept
                      for manifests that still pass it; --host-namespaces replaces it.

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
  --max-file-size SIZE
                      manifest, unit and drop-in files larger than SIZE (default 1M; 512K,
                      2M...) are reported and skipped without being read
  --read-socket-group GROUP
                      also open a read-only socket, agent-ro.sock (0660, this group), serving
                      list, status and problems to the group's members; the state folder
                      becomes 0710 with that group so that they can reach it. Without it only
                      root and the agent's user can talk to the agent (agent.sock is 0600).

One agent per state folder: the folder is locked (agent.lock) for the agent's life; a second
agent on it exits 1 naming the first one's PID (with --node it waits for the lock instead).
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
    node: { type: 'string' }, kubeconfig: { type: 'string' }, 'lease-namespace': { type: 'string' }, 'host-root': { type: 'string' }, 'host-namespaces': { type: 'boolean' },
    'metrics-bind-address': { type: 'string' }, 'log-format': { type: 'string' }, 'allow-unenforced': { type: 'string' },
    'read-socket-group': { type: 'string' }, 'max-file-size': { type: 'string' },
  } });
  const maxFileSize = values['max-file-size'] !== undefined ? parseByteSize(values['max-file-size']) : undefined;
  if (values['max-file-size'] !== undefined && maxFileSize === undefined) throw new UsageError(`agent: --max-file-size: "${values['max-file-size']}" is not a size (bytes, or with K, M, G: 512K, 1M, 2MiB)`);
  const allowUnenforced = parseAllowUnenforced(values['allow-unenforced']);
  const unknown = unknownAllowed(allowUnenforced);
  if (unknown.length > 0) throw new UsageError(`agent: --allow-unenforced: ${unknown.map((n) => `${n}=`).join(', ')} ${unknown.length === 1 ? 'is not a directive' : 'are not directives'} of systemd.exec/resource-control/service/unit (names as in unit files: ProtectSystem,MemoryMax)`);
  if (values.help) { io.stdout(AGENT_HELP); return EXIT.ok; }
  if (values.node && values.manifests) throw new UsageError('agent: --node (cluster mode) and --manifests (standalone) exclude each other');
  if (values['host-namespaces'] && values['host-root'] !== undefined) throw new UsageError('agent: --host-namespaces and --host-root exclude each other (--host-namespaces replaces --host-root)');
  if (!values.node && (values['host-namespaces'] || values['host-root'] !== undefined)) throw new UsageError(`agent: ${values['host-namespaces'] ? '--host-namespaces' : '--host-root'} is for the node agent of a cluster (--node NAME)`);
  if (values.node) return (await import('./cluster.ts')).runClusterAgent({ ...values, allowUnenforced }, io);
  if (!values.manifests) throw new UsageError('agent: give --manifests DIR (standalone) or --node NAME (cluster mode)');
  const stateDir = resolve(resolveStateDir(values['state-dir'], process.env));
  // the state folder: 0700 whatever the umask, the agent's alone, writable; else what is wrong and what to do (exit 1)
  const unusable = prepareStateDir(stateDir);
  if (unusable !== undefined) { io.stderr(`unitctl agent: ${unusable}\n`); return EXIT.failure; }
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
  const readSocketGid = values['read-socket-group'] === undefined ? undefined : groupId(values['read-socket-group']);
  let shimPath: string;
  try {
    shimPath = ensureShim(process.env, (m) => log('warning', m));
    // one agent per state folder, before anything in it is touched (src/agent/lock.ts): a
    // second agent exits 1 naming the holder's PID and the folder
    await lockStateDir(stateDir, shimPath);
  } catch (e) {
    io.stderr(`unitctl agent: ${(e as Error).message}\n`);
    return EXIT.failure;
  }
  const cgroups = agentCgroups(stateDir, process.env, log);
  configureRestartLead(process.env, log);
  const forkServer = agentForkServer({ shimPath, stateDir, cgroups, env: process.env, log });
  const agent = new StandaloneAgent({ manifestsDir: resolve(values.manifests), stateDir, shimPath, forkServer, log, cgroups, onChange: () => { dirty = true; }, ...(metrics ? { metrics } : {}), allowUnenforced, ...(readSocketGid !== undefined ? { readSocketGid } : {}), ...(maxFileSize !== undefined ? { maxFileSize } : {}) });
  let dirty = true;
  let started = false;
  const ep = metrics ? await (await import('./observe.ts')).endpoint(values, metrics, () => (started ? undefined : 'still reading the manifest folder'), log) : undefined;
  try { await agent.start(); } catch (e) {
    if (!(e instanceof ControlSocketError)) throw e;
    // the socket is bound first: nothing was started
    io.stderr(`unitctl agent: ${e.message}\n`);
    await agent.shutdown(false);
    await ep?.close();
    return EXIT.failure;
  }
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

/** A group's id from its name or number (/etc/group, else getent for NSS groups). */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , gid] = line.split(':');
      if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
    }
  } catch { /* no /etc/group: ask NSS */ }
  const r = spawnSync('getent', ['group', group], { encoding: 'utf8' });
  const gid = r.status === 0 ? r.stdout.split(':')[2] : undefined;
  if (gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  throw new UsageError(`agent: --read-socket-group: no group named "${group}"`);
}
