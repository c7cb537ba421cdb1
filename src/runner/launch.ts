// Launching one spawn effect: resolves the execution context on this node (accounts in
// /etc/passwd and /etc/group, environment files, specifiers), builds the command line and the
// environment as systemd would, encodes it all for uo-shim and starts the shim.
//
// Where the agent runs in a container (the DaemonSet), "this node" is the host, reached in one
// of two ways, both through the runner's hostRoot (the host's root as the agent sees it):
//   --host-namespaces  hostRoot is /proc/N/root (N = 1: the host's init, visible with hostPID):
//                      the shim enters process N's cgroup, ipc, uts, net and mnt namespaces
//                      (UO_SHIM_NAMESPACES) and the service runs in them, as if started on the
//                      host; the host's files (/etc/passwd, the notify socket's folder) are
//                      reached through /proc/N/root.
//   --host-root DIR    (older) hostRoot is where the host's / is mounted: the command is
//                      chroot()ed there (UO_SHIM_ROOT) but stays in the container's namespaces.
// hostNamespacePid() (hostns.ts) tells which.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { expandCommand } from '../api/cmdline.ts';
import type { ServiceConfig } from '../engine/index.ts';
import type { ExecContext } from './context.ts';
import { buildEnvironment, expandSpecifiers, lookupGroup, lookupUser, memberGroups, type Account, type EnvironmentFailure } from './environment.ts';
import { encodeShimArgs, encodeShimEnv, NAMESPACE_TYPES } from './shimproto.ts';
import { hostNamespacePid } from './hostns.ts';
import { keyringSetting, privsPlan } from './privs.ts';
import { namespaceEnv, runtimeGaps, type SharedRuntime } from './nsruntime.ts';
import { removePrivateTmp, sandboxGuard, sandboxPlan } from './sandbox.ts';
import { delegateCommand } from './cgroup/delegate.ts';
import { directoryEnv, hasExecDirectories, setupExecDirectories, type ExecDirectories, type SetupFailure } from './directories.ts';
import { credentialsDirectory, hasCredentials, setupCredentials, type CredentialPlan } from './credentials.ts';
import { isShimOf, type SpawnEffect } from './store.ts';
import type { ForkServer } from './forkserver.ts';
import { hasDynamicUser } from '../api/dynamicuser.ts';
import { resolveDynamicUser } from './dynuser.ts';

export interface LaunchInput {
  readonly effect: SpawnEffect;
  readonly exec: ExecContext;
  readonly cfg: ServiceConfig;
  readonly unitName: string;
  readonly invocationId: string;
  readonly notifySocket: string;
  readonly journal: string;
  readonly logMaxBytes: number;
  readonly agentEnv: Readonly<Record<string, string | undefined>>;
  /** The host's root as the agent sees it; /proc/N/root: enter process N's namespaces (see above). */
  readonly hostRoot: string | undefined;
  /** What the command joins, one directory a hierarchy (UnitCgroup.joins), and the holders' cgroup (issue 13); absent: no cgroup. */
  readonly cgroups?: readonly string[] | undefined;
  readonly holderCgroups?: readonly string[] | undefined;
  /** spec.service, for the mount namespace's directives (sandbox.ts, issue 14); absent: none. */
  readonly service?: Readonly<Record<string, unknown>> | undefined;
  /** RuntimeDirectory= and friends (directories.ts): made before the command, their variables set. */
  readonly directories?: ExecDirectories | undefined;
  /** LoadCredential=/SetCredential=/ImportCredential= (credentials.ts): written at an invocation's first command. */
  readonly credentials?: CredentialPlan | undefined;
  /** The exec runtime the unit holds (nsruntime.ts): its PrivateTmp= folders and namespaces. */
  readonly runtime?: SharedRuntime | undefined;
  /** The unit's state folder: DynamicUser='s allocation is recorded there (dynuser.ts). */
  readonly unitDir?: string | undefined;
}

export interface Launch {
  readonly path: string;
  readonly argv: readonly string[];
  /** The shim's whole environment (the service's plus its UO_SHIM_* settings). */
  readonly shimEnv: Record<string, string>;
  /** Reasons the command can't run as written (unknown User=, missing EnvironmentFile=...), in order. */
  readonly problems: readonly string[];
  /**
   * Set when the command must not be spawned at all (an EnvironmentFile= without "-" that is
   * missing, too large or not a regular file): systemd's service_spawn() fails before fork(),
   * and the engine is told ('spawn-failed': Result=resources).
   */
  readonly failure?: EnvironmentFailure;
  /**
   * An exec directory or the credentials could not be set up (systemd's exec_invoke() fails the
   * command with 233…241 or 243): the shim fails the command with that status (UO_SHIM_FAIL).
   */
  readonly setupFailure?: SetupFailure;
}

interface Credentials { user: Account | undefined; gid: number | undefined; groups: number[]; failure?: number; dynamic?: boolean }

function credentials(exec: ExecContext, unitName: string, hostRoot: string | undefined, problems: string[], dynamic?: { unitDir: string | undefined }): Credentials {
  const ctx = { unitName };
  const etc = (f: string): string => join(hostRoot ?? '/', 'etc', f);
  const userName = exec.user !== undefined ? expandSpecifiers(exec.user, ctx) : undefined;
  if (dynamic && userName !== undefined) {
    // DynamicUser=: the user and group allocated (or a static account of the name), only
    // initgroups()' own group and SupplementaryGroups= (a dynamic user is a member of nothing)
    const groupName = exec.group !== undefined ? expandSpecifiers(exec.group, ctx) : userName;
    const r = dynamic.unitDir === undefined ? { error: 'the unit has no state folder to record its dynamic user in' } : resolveDynamicUser({ unitDir: dynamic.unitDir, user: userName, group: groupName, passwd: etc('passwd'), groupFile: etc('group') });
    if ('error' in r) {
      problems.push(`Failed to acquire dynamic user: ${r.error}`);
      return { user: undefined, gid: undefined, groups: [], failure: 217 };
    }
    const supplementary = exec.supplementaryGroups.map((g) => lookupGroup(g, etc('group'))).filter((g): g is number => g !== undefined);
    const groups = [...new Set([...(r.gid !== 0 ? [r.gid] : []), ...(r.dynamic ? [] : memberGroups(r.account.name, etc('group'))), ...supplementary])];
    return { user: r.account, gid: r.gid, groups, dynamic: r.dynamic };
  }
  const user = userName !== undefined ? lookupUser(userName, etc('passwd')) : undefined;
  if (userName !== undefined && !user) {
    problems.push(`Failed to determine user credentials: No such process (User=${userName} does not exist on this node)`); // systemd 257: "…: No such process" (ESRCH)
    return { user: undefined, gid: undefined, groups: [], failure: 217 };
  }
  const groupName = exec.group !== undefined ? expandSpecifiers(exec.group, ctx) : undefined;
  const gid = groupName !== undefined ? lookupGroup(groupName, etc('group')) : user?.gid;
  if (groupName !== undefined && gid === undefined) {
    problems.push(`Failed to determine group credentials: No such process (Group=${groupName} does not exist on this node)`);
    return { user, gid: undefined, groups: [], failure: 216 };
  }
  const supplementary = exec.supplementaryGroups.map((g) => lookupGroup(g, etc('group'))).filter((g): g is number => g !== undefined);
  // initgroups(user, gid) as systemd's get_supplementary_groups(): the group itself (unless root's)
  // and every group that lists the user, then SupplementaryGroups=
  const initial = user && gid !== undefined && gid !== 0 ? [gid] : [];
  const groups = user ? [...new Set([...initial, ...memberGroups(user.name, etc('group')), ...supplementary])] : supplementary;
  return { user, gid, groups };
}

/** Everything needed to start the shim for one spawn effect. */
export function prepareLaunch(i: LaunchInput): Launch {
  const { effect: e, exec, cfg } = i;
  const problems: string[] = [];
  const privileged = e.command.flags.fullPrivileges || e.command.flags.noSetuid;
  const acct = credentials(exec, i.unitName, i.hostRoot, problems, hasDynamicUser(i.service) ? { unitDir: i.unitDir } : undefined);
  const user = privileged ? undefined : acct.user;
  const ctx = { unitName: i.unitName, user: acct.user };
  const manager: Record<string, string> = { INVOCATION_ID: i.invocationId, ...e.env };
  // Delegate=/DelegateSubgroup= (issue 13): the command's cgroup (the unit's, its subgroup or .control), handed to User=/Group=
  const cgroup = delegateCommand(i.cgroups, i.service, e.kind, acct.user?.uid, acct.gid);
  const setupFailure = acct.failure === undefined || privileged ? cgroup.failure ?? execSetup(i, acct, ctx, manager) : undefined;
  const wantsNotify = cfg.notifyAccess !== 'none' || cfg.type === 'notify' || cfg.type === 'notify-reload';
  if (wantsNotify) manager['NOTIFY_SOCKET'] = i.notifySocket;
  if (e.role === 'main' && cfg.watchdogUSec > 0 && cfg.watchdogUSec !== Infinity) manager['WATCHDOG_USEC'] = String(cfg.watchdogUSec);
  const built = buildEnvironment({
    environment: exec.environment, environmentFiles: exec.environmentFiles,
    passEnvironment: exec.passEnvironment, unsetEnvironment: exec.unsetEnvironment,
    agentEnv: i.agentEnv, ctx, managerEnv: manager, root: i.hostRoot,
  });
  problems.push(...built.problems);
  const argv = e.command.flags.noEnvExpand ? [...e.command.argv] : expandCommand(e.command.argv.map((a) => expandSpecifiers(a, ctx)), built.env);
  const path = expandSpecifiers(e.command.path, ctx);
  let cwd: string | undefined;
  if (exec.workingDirectory !== undefined) {
    const wd = expandSpecifiers(exec.workingDirectory, ctx);
    const optional = wd.startsWith('-');
    const p = optional ? wd.slice(1) : wd;
    cwd = `${optional ? '-' : ''}${p === '~' ? (user?.home ?? '/root') : p}`;
  }
  const nsPid = hostNamespacePid(i.hostRoot);
  const rootDirectory = exec.rootDirectory !== undefined ? expandSpecifiers(exec.rootDirectory, ctx) : undefined;
  const tmpOwner = i.runtime?.tmp ? { unitName: i.runtime.owner, invocationId: i.runtime.id } : undefined;
  const sandbox = sandboxPlan({ service: i.service, unitName: i.unitName, invocationId: i.invocationId, expand: (p) => expandSpecifiers(p, ctx), rootDirectory, mainProcess: e.role === 'main', tmpOwner });
  problems.push(...sandbox.problems);
  // PrivateTmp= folders of this unit's earlier invocations that no stop removed (the agent was down when they ended)
  // (a runtime of this unit's that JoinsNamespaceOf= units still hold keeps its folders)
  if (sandbox.privateTmp) problems.push(...removePrivateTmp(i.unitName, i.runtime?.owner === i.unitName ? i.runtime.id : i.invocationId, i.hostRoot).failed);
  // issue 15: capabilities, NoNewPrivileges=, system call filters, PrivateNetwork= ("+": none, as systemd)
  const privs = privsPlan(i.service, !e.command.flags.fullPrivileges);
  problems.push(...privs.problems);
  // the exec runtime's network and IPC namespaces (every command: systemd joins them for "+" ones
  // too), the ones at a path, and PrivateUsers= (not for "+": needs_sandboxing)
  const nsEnv = namespaceEnv(i.service, i.runtime);
  problems.push(...runtimeGaps(i.service, i.runtime, i.unitName));
  if (e.command.flags.fullPrivileges) delete nsEnv['UO_SHIM_PRIVATE_USERS'];
  // KeyringMode= (default private): made as the unit's user, for "+" commands too (systemd's setup_keyring())
  const keyring = keyringSetting(i.service, acct.user?.uid, acct.gid, i.invocationId);
  const shimEnv = encodeShimEnv({
    env: built.env,
    root: nsPid === undefined && i.hostRoot && i.hostRoot !== '/' ? i.hostRoot : undefined,
    namespaces: nsPid !== undefined ? { pid: nsPid, types: NAMESPACE_TYPES } : undefined,
    failStatus: setupFailure?.status ?? (privileged ? undefined : acct.failure),
    uid: user?.uid,
    gid: privileged ? undefined : acct.gid,
    groups: !privileged && (user || acct.groups.length > 0) ? acct.groups : undefined,
    umask: exec.umask, cwd, rlimits: exec.limits,
    stdout: exec.stdout, stderr: exec.stderr,
    log: i.journal, logMaxBytes: i.logMaxBytes,
    notifySocket: e.role === 'main' && wantsNotify ? i.notifySocket : undefined,
    rootDirectory,
    nice: exec.nice, oomScoreAdjust: exec.oomScoreAdjust, ioScheduling: exec.ioScheduling,
    cpuScheduling: exec.cpuScheduling, cpuAffinity: exec.cpuAffinity, stdin: exec.stdin,
    ignoreSigpipe: exec.ignoreSigpipe, cgroups: cgroup.dirs, holderCgroups: i.holderCgroups,
    sandbox: sandbox.spec,
    privs: { ...privs.env, ...nsEnv, ...(keyring !== undefined ? { UO_SHIM_KEYRING: keyring } : {}) },
  });
  if (setupFailure) problems.push(setupFailure.message);
  return { path, argv, shimEnv, problems, ...(built.failure ? { failure: built.failure } : {}), ...(setupFailure ? { setupFailure } : {}) };
}

/**
 * The exec directories and credentials of one command (issue 14), in systemd's order: the
 * directories (owned by User=/Group=, root's without them), then the credentials (fresh at the
 * first command of an invocation, kept for the later ones); their variables go to `manager`.
 */
function execSetup(i: LaunchInput, acct: Credentials, ctx: { unitName: string; user: Account | undefined }, manager: Record<string, string>): SetupFailure | undefined {
  const root = i.hostRoot ?? '/';
  const uid = acct.user?.uid ?? 0, gid = acct.gid ?? 0;
  const expand = (s: string): string => expandSpecifiers(s, ctx);
  if (i.directories && hasExecDirectories(i.directories)) {
    Object.assign(manager, directoryEnv(i.directories, expand));
    // DynamicUser=: StateDirectory= & co below PREFIX/private (directories.ts), even with a static user of the name
    const f = setupExecDirectories(i.directories, root, uid, gid, expand, hasDynamicUser(i.service));
    if (f) return f;
  }
  if (i.credentials && hasCredentials(i.credentials)) {
    manager['CREDENTIALS_DIRECTORY'] = credentialsDirectory(i.unitName);
    const order = ['condition', 'startPre', 'start'] as const;
    const k = order.indexOf(i.effect.kind as typeof order[number]);
    const fresh = k >= 0 && i.effect.index === 0 && order.slice(0, k).every((x) => (i.cfg.exec[x]?.length ?? 0) === 0);
    if (fresh || !existsSync(join(root, credentialsDirectory(i.unitName)))) {
      const received = i.agentEnv['CREDENTIALS_DIRECTORY'];
      return setupCredentials(i.credentials, { root, received: received && received.startsWith('/') ? received : undefined, unitName: i.unitName, uid, gid });
    }
  }
  return undefined;
}

/**
 * Starts uo-shim detached (it outlives the agent): through the fork server when there is one
 * (forkserver.ts), else with spawn(). Returns its pid, or 0 when it is not known yet (the fork
 * server's answer: onPid() then; the shim's first event-log line says it too) or when the shim
 * could not start (onError()). onExit() when the shim has exited.
 */
export function startShim(shimPath: string, eventsFile: string, l: Launch, onError: (message: string) => void, onExit: () => void, forkServer?: ForkServer, onPid?: (pid: number) => void): number {
  const argv = encodeShimArgs(eventsFile, l.path, l.argv);
  const env = sandboxGuard(shimPath, l.shimEnv, onError);
  const taken = forkServer?.launch([shimPath, ...argv], env, (r) => {
    if (r.pid) onPid?.(r.pid);
    else if (r.unsent) { const pid = spawnShim(shimPath, argv, env, onError, onExit); if (pid > 0) onPid?.(pid); } // never sent: nothing ran
    else if (r.lost) orphaned(shimPath, eventsFile, argv, env, onError, onExit, onPid);
    else onError(`could not start uo-shim: ${r.error ?? 'the fork server gave no reason'}`);
  }, onExit);
  return taken ? 0 : spawnShim(shimPath, argv, env, onError, onExit);
}

function spawnShim(shimPath: string, argv: readonly string[], env: Record<string, string>, onError: (message: string) => void, onExit: () => void): number {
  const child = spawn(shimPath, argv, { detached: true, stdio: 'ignore', env });
  child.on('error', (err) => onError(`could not start uo-shim: ${err.message}`));
  const pid = child.pid ?? 0;
  if (pid > 0) spawnedLive.add(pid);
  child.on('exit', () => { spawnedLive.delete(pid); onExit(); });
  child.unref();
  return pid;
}

/** Shims this agent spawn()ed that Node has not reaped yet (their exit will be told: onExit). */
const spawnedLive = new Set<number>();

/**
 * Whether a shim's exit will be told to the agent (startShim()'s onExit): Node's child, or the
 * fork server's while it is connected. Not for a shim adopted from an earlier agent, one a fork
 * server that went away forked, or one found after a lost request (orphaned()): their deaths
 * are found by looking (store.ts shimAlive()).
 */
export function exitWatched(pid: number, forkServer: ForkServer | undefined): boolean {
  return pid > 0 && (spawnedLive.has(pid) || (forkServer?.watching(pid) ?? false));
}

/** How long a request the fork server took before it went away may still show as a shim. */
const ORPHAN_GRACE_MS = 1000;

/**
 * The fork server went away with this request unanswered: it may have started the shim or not.
 * After a grace, a shim that wrote its event log or runs on it (isShimOf()) is the one; only
 * when none is found is it started with spawn() — never a second shim on one event log.
 */
function orphaned(shimPath: string, eventsFile: string, argv: readonly string[], env: Record<string, string>, onError: (message: string) => void, onExit: () => void, onPid?: (pid: number) => void): void {
  setTimeout(() => {
    if ((statSync(eventsFile, { throwIfNoEntry: false })?.size ?? 0) > 0) { onExit(); return; } // the log drives it (its "shim" line names it)
    const pid = readdirSync('/proc').find((p) => /^\d+$/.test(p) && isShimOf(Number(p), dirname(eventsFile)));
    if (pid) { onPid?.(Number(pid)); return; }
    const spawned = spawnShim(shimPath, argv, env, onError, onExit);
    if (spawned > 0) onPid?.(spawned);
  }, ORPHAN_GRACE_MS).unref();
}
