// unitctl: the one binary. Parses the subcommand and hands over; errors become messages and
// exit codes here, never stack traces.

import { processIo, EXIT, UsageError, type Io } from './io.ts';
import { runConvert, runRender, runValidate } from './convert.ts';
import { runAgent } from './agent.ts';
import { runController } from './cluster.ts';
import { runList, runStatus, verb, isState, runLogs, runCat } from './systemctl.ts';
import { clusterList, clusterStatus, clusterVerb, clusterLogs, PLUGIN_HELP } from './plugin.ts';

export const HELP = `unitctl — systemd service units, run declaratively on Kubernetes or standalone

Usage: unitctl COMMAND [options]

Unit files:
  convert FILE.service...   convert unit files (+ drop-ins, templates) to ServiceUnit YAML
  render FILE.yaml          write ServiceUnits back as unit files
  validate FILE.yaml...     validate ServiceUnit manifests offline (same rules as the API server)

Cluster:
  agent --node NAME         the node agent: runs the ServiceUnits that target NAME
  controller                conditions, summaries, node loss, finalizers (leader-elected)

In a cluster (as the kubectl plugin "kubectl unit", or with --cluster / --namespace / --kubeconfig):
  list [-A] | status NAME | restart|reload|reset-failed NAME [--wait] | logs NAME [--node N]

Standalone (no cluster), systemctl's habits:
  agent --manifests DIR     run the units of a folder on this machine
  list                      UNIT, LOAD, ACTIVE, SUB, RESULT, RESTARTS, DESCRIPTION
  status UNIT [-o json]     the systemctl status view (or the systemd properties as JSON)
  start|stop|restart|reload|reset-failed UNIT
  is-active|is-failed UNIT  exit status 0 when it is, 3 when not
  logs UNIT [-f] [-n N] [--since SPAN]
  cat UNIT                  the unit as a systemd unit file

Run "unitctl COMMAND --help" for a command's options.
`;

type Command = (args: string[], io: Io) => number | Promise<number>;

const COMMANDS: Record<string, Command> = {
  convert: runConvert,
  render: runRender,
  validate: runValidate,
  agent: runAgent,
  controller: runController,
  list: runList,
  status: runStatus,
  start: verb('start'),
  stop: verb('stop'),
  restart: verb('restart'),
  reload: verb('reload'),
  'reset-failed': verb('reset-failed'),
  'is-active': isState('active'),
  'is-failed': isState('failed'),
  logs: runLogs,
  cat: runCat,
};

/** The same commands against the cluster (the kubectl plugin's default). */
const CLUSTER_COMMANDS: Record<string, Command> = {
  list: clusterList,
  status: clusterStatus,
  restart: clusterVerb('restart'),
  reload: clusterVerb('reload'),
  'reset-failed': clusterVerb('reset-failed'),
  logs: clusterLogs,
};
const NOT_IN_CLUSTER: Record<string, string> = {
  start: 'set spec.state: running in the ServiceUnit (the declarative systemctl start)',
  stop: 'set spec.state: stopped in the ServiceUnit (the declarative systemctl stop)',
  cat: 'kubectl unit cat is not needed: unitctl render reads kubectl get su NAME -o yaml',
};
const CLUSTER_FLAGS = new Set(['--cluster', '--namespace', '--kubeconfig', '-A', '--all-namespaces']);

export interface MainOptions {
  /** Invoked as kubectl-unit: commands address the cluster, -n is the namespace. */
  readonly plugin?: boolean;
}

export async function main(argv: string[], io: Io = processIo, opts: MainOptions = {}): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') { io.stdout(opts.plugin ? PLUGIN_HELP : HELP); return cmd === undefined ? EXIT.usage : EXIT.ok; }
  const cluster = cmd !== 'agent' && cmd !== 'controller' && (opts.plugin === true || rest.some((a) => CLUSTER_FLAGS.has(a.split('=')[0]!)));
  if (cluster && NOT_IN_CLUSTER[cmd]) { io.stderr(`${opts.plugin ? 'kubectl unit' : 'unitctl'} ${cmd}: ${NOT_IN_CLUSTER[cmd]}\n`); return EXIT.usage; }
  const run = (cluster ? CLUSTER_COMMANDS[cmd] : undefined) ?? COMMANDS[cmd];
  if (!run) { io.stderr(`unitctl: unknown command "${cmd}"\n\n${HELP}`); return EXIT.usage; }
  try {
    return await run(rest, io);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`unitctl ${cmd}: ${(e as Error).message}\nRun "unitctl ${cmd} --help" for usage.\n`);
      return EXIT.usage;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') {
      io.stderr(`unitctl ${cmd}: ${err.message}\n`);
      return EXIT.usage;
    }
    io.stderr(`unitctl ${cmd}: internal error: ${err.message}\nThis is a bug in unitctl; please report it with the command line you ran.\n`);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
