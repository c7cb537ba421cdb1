// unitctl: the one binary. Parses the subcommand and hands over; errors become messages and
// exit codes here, never stack traces.

// Commands load their modules when they run: the Kubernetes client alone costs ~90 MB of RSS,
// which a standalone agent or `unitctl list` should not pay.
import { processIo, EXIT, UsageError, type Io } from './io.ts';
import { PLUGIN_HELP } from './plugin-help.ts';
import { daemonReexec } from './runtime.ts';
export { daemonReexec };

export const HELP = `unitctl — systemd service units, run declaratively on Kubernetes or standalone

Usage: unitctl COMMAND [options]

Unit files:
  convert FILE.service...   convert unit files (+ drop-ins, templates) to ServiceUnit YAML
  render FILE.yaml          write ServiceUnits back as unit files
  validate FILE.yaml...     validate ServiceUnit manifests offline (same rules as the API server)
  security --offline FILE.service...  systemd-analyze security of unit files (exposure 0.0-10.0)

Cluster:
  agent --node NAME         the node agent: runs the ServiceUnits that target NAME
  controller                conditions, summaries, node loss, finalizers (leader-elected)

In a cluster (as the kubectl plugin "kubectl unit", or with --cluster / --namespace / --kubeconfig):
  list [-A] | status NAME | restart|reload|reset-failed NAME [--wait] | logs NAME [--node N]
  rollout status|pause|resume NAME | security NAME

Standalone (no cluster), systemctl's habits:
  agent --manifests DIR     run the units of a folder on this machine
  list                      UNIT, LOAD, ACTIVE, SUB, RESULT, RESTARTS, DESCRIPTION
  status UNIT [-o json]     the systemctl status view (or the systemd properties as JSON)
  start|stop|restart|reload|reset-failed UNIT [--no-block] [--job-mode=MODE]
  isolate UNIT              start UNIT (AllowIsolate=yes) and stop the folder's other units
  list-jobs                 JOB, UNIT, TYPE, STATE of the queued and running jobs
  list-dependencies UNIT    the dependency tree (--reverse: what needs UNIT)
  is-active|is-failed UNIT  exit status 0 when it is, 3 when not
  logs UNIT [-f] [-n N] [--since SPAN]
  cat UNIT                  the unit as a systemd unit file
  security [UNIT...]        systemd-analyze security: what the unit may do on the node, and its level

Run "unitctl COMMAND --help" for a command's options.
`;

type Command = (args: string[], io: Io) => number | Promise<number>;
type Lazy = () => Promise<Command>;

const convert = (): Promise<typeof import('./convert.ts')> => import('./convert.ts');
const systemctl = (): Promise<typeof import('./systemctl.ts')> => import('./systemctl.ts');
const plugin = (): Promise<typeof import('./plugin.ts')> => import('./plugin.ts');

const COMMANDS: Record<string, Lazy> = {
  convert: async () => (await convert()).runConvert,
  render: async () => (await convert()).runRender,
  validate: async () => (await convert()).runValidate,
  agent: async () => (await import('./agent.ts')).runAgent,
  controller: async () => (await import('./cluster.ts')).runController,
  list: async () => (await systemctl()).runList,
  status: async () => (await systemctl()).runStatus,
  start: async () => (await systemctl()).verb('start'),
  stop: async () => (await systemctl()).verb('stop'),
  restart: async () => (await systemctl()).verb('restart'),
  reload: async () => (await systemctl()).verb('reload'),
  'reset-failed': async () => (await systemctl()).verb('reset-failed'),
  isolate: async () => (await systemctl()).runIsolate,
  'is-active': async () => (await systemctl()).isState('active'),
  'is-failed': async () => (await systemctl()).isState('failed'),
  logs: async () => (await systemctl()).runLogs,
  cat: async () => (await systemctl()).runCat,
  'list-jobs': async () => (await systemctl()).runListJobs,
  'list-dependencies': async () => (await systemctl()).runListDependencies,
  security: async () => (await import('./security.ts')).runSecurity,
};

/** The same commands against the cluster (the kubectl plugin's default). */
const CLUSTER_COMMANDS: Record<string, Lazy> = {
  list: async () => (await plugin()).clusterList,
  status: async () => (await plugin()).clusterStatus,
  restart: async () => (await plugin()).clusterVerb('restart'),
  reload: async () => (await plugin()).clusterVerb('reload'),
  'reset-failed': async () => (await plugin()).clusterVerb('reset-failed'),
  logs: async () => (await plugin()).clusterLogs,
  rollout: async () => (await import('./plugin-rollout.ts')).clusterRollout,
  security: async () => (await import('./security.ts')).clusterSecurity,
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
  const load = (cluster ? CLUSTER_COMMANDS[cmd] : undefined) ?? COMMANDS[cmd];
  if (!load && CLUSTER_COMMANDS[cmd]) { io.stderr(`unitctl ${cmd}: a cluster command — add --cluster, --namespace NS or --kubeconfig FILE (or run it as kubectl unit ${cmd})\n`); return EXIT.usage; }
  if (!load) { io.stderr(`unitctl: unknown command "${cmd}"\n\n${HELP}`); return EXIT.usage; }
  try {
    const run = await load();
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
  daemonReexec(process.argv.slice(2));
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
