// The file-system sandbox of systemd.exec(5) (issue 14, first part): the mount entries of a
// unit's private mount namespace, planned as systemd 257's setup_namespace()
// (src/core/namespace.c) plans them, and encoded for uo-shim (UO_SHIM_SANDBOX, shim/sandbox.h),
// which applies them in the command's process, after the host's namespaces and before the
// groups and the user.
//
// The plan: every directive adds entries (a path and a mode); the entries are sorted by path
// (a parent before what is below it; for one path, systemd's mode priority: inaccessible, bind,
// private tmp, private dev, read-only, read-write, noexec, exec, tmpfs, implicitly read-write),
// a duplicate path keeps its first entry (with the read-only flag of the others), what is below
// an inaccessible path is dropped, and a read-only/read-write/exec/noexec entry whose closest
// parent entry has the same mode is dropped (it would change nothing).
//
// PrivateTmp=yes: /tmp and /var/tmp are bound from folders made per invocation, as systemd's
// /tmp/systemd-private-*: /tmp/uo-private-<unit>-<invocation>/tmp and the same below /var/tmp
// (0700, the inner one 01777), shared by every process of the invocation (ExecStartPre= and
// ExecStart= see the same files) and removed when it ends (removePrivateTmp()).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';

/** Capability numbers (linux/capability.h) the bounding set loses, as systemd drops them. */
const CAP_SYS_MODULE = 16, CAP_SYS_RAWIO = 17, CAP_MKNOD = 27, CAP_SYSLOG = 34;

/** The exec directories' fields and where a system service's live. */
const EXEC_DIRECTORIES: ReadonlyArray<readonly [string, string]> = [['runtimeDirectory', '/run'], ['stateDirectory', '/var/lib'], ['cacheDirectory', '/var/cache'], ['logsDirectory', '/var/log'], ['configurationDirectory', '/etc']];

type Op = 'inaccessible' | 'bind' | 'tmp' | 'dev' | 'binddev' | 'bindsys' | 'procfs' | 'cgroup2' | 'ro' | 'rw' | 'noexec' | 'exec' | 'tmpfs' | 'run' | 'rwi';
/** systemd's MountMode order (namespace.c): for one path, the first of these wins. */
const PRIORITY: readonly Op[] = ['inaccessible', 'bind', 'tmp', 'dev', 'binddev', 'bindsys', 'procfs', 'cgroup2', 'ro', 'rw', 'noexec', 'exec', 'tmpfs', 'run', 'rwi'];
/** BindLogSockets=: the journal's sockets, bound read-only into the namespace when they exist (systemd's bind_log_sockets_table). */
const LOG_SOCKETS = ['/run/systemd/journal/socket', '/run/systemd/journal/stdout', '/run/systemd/journal/dev-log'];

interface Entry {
  path: string;
  op: Op;
  ignore?: boolean;
  recursive?: boolean;
  readOnly?: boolean;
  nosuid?: boolean;
  noexec?: boolean;
  /** bind: the source; tmp: the private folder; tmpfs: the mount options. */
  arg?: string;
}

export interface SandboxInput {
  /** spec.service (camelCase fields). */
  readonly service: Readonly<Record<string, unknown>> | undefined;
  readonly unitName: string;
  readonly invocationId: string;
  /** Specifier expansion for paths (%t, %S...). */
  readonly expand: (s: string) => string;
  /** RootDirectory= (expanded): the namespace is built below it and becomes the command's /. */
  readonly rootDirectory?: string | undefined;
  /** The command is the unit's main process (ExecStart=): PrivatePIDs= is for it only, as systemd's exec_needs_pid_namespace(). */
  readonly mainProcess?: boolean;
  /** PrivateTmp=yes: the folders of this exec runtime (its owner and id: nsruntime.ts, shared with JoinsNamespaceOf= units); default the unit's invocation. */
  readonly tmpOwner?: { readonly unitName: string; readonly invocationId: string } | undefined;
}

export interface SandboxPlan {
  /** UO_SHIM_SANDBOX, or undefined when the unit asks for no mount namespace. */
  readonly spec: string | undefined;
  /** What cannot be applied as written, in the words the unit is refused or warned with. */
  readonly problems: readonly string[];
  /** The PrivateTmp= folders (as the command's namespace sees them), when asked. */
  readonly privateTmp?: readonly string[];
  /** The namespace is built below RootDirectory=, which it makes the command's / (no chroot follows). */
  readonly rooted?: boolean;
}

export const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(1|yes|y|true|t|on)$/i.test(v));
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

/** The unit's name as it may appear in a folder name (hashed when it holds anything else). */
function safeName(unitName: string): string {
  return /^[A-Za-z0-9:_.@-]{1,100}$/.test(unitName) ? unitName : createHash('sha256').update(unitName).digest('hex').slice(0, 16);
}

const PRIVATE_PREFIX = 'uo-private-';
const INVOCATION = /^[0-9a-f]{32}$/;

/** The PrivateTmp= folders of one invocation: below /tmp and /var/tmp, as the command's namespace sees them. */
export function privateTmpDirs(unitName: string, invocationId: string): { tmp: string; varTmp: string } {
  if (!INVOCATION.test(invocationId)) throw new Error(`not an invocation ID: ${JSON.stringify(invocationId)}`);
  const name = `${PRIVATE_PREFIX}${safeName(unitName)}-${invocationId}`;
  return { tmp: `/tmp/${name}`, varTmp: `/var/tmp/${name}` };
}

/**
 * Removes the PrivateTmp= folders of unitName's ended invocations (every one but `keep`), as
 * systemd removes them when the unit stops; hostRoot: the host's / as the agent sees it.
 * Returns what was removed and what could not be (with why).
 */
export function removePrivateTmp(unitName: string, keep: string | undefined, hostRoot: string | undefined): { removed: string[]; failed: string[] } {
  const prefix = `${PRIVATE_PREFIX}${safeName(unitName)}-`;
  const removed: string[] = [], failed: string[] = [];
  for (const parent of ['/tmp', '/var/tmp']) {
    const dir = join(hostRoot ?? '/', parent);
    let names: string[];
    try { names = readdirSync(dir); } catch { continue; }
    for (const n of names) {
      if (!n.startsWith(prefix) || !INVOCATION.test(n.slice(prefix.length)) || n.slice(prefix.length) === keep) continue;
      const p = join(dir, n);
      try {
        const st = lstatSync(p);
        // only what the shim made: a real folder of ours, 0700
        if (!st.isDirectory() || st.uid !== (process.geteuid?.() ?? 0) || (st.mode & 0o7777) !== 0o700) { failed.push(`${p}: not a private folder made by uo-shim (left alone)`); continue; }
        rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } catch (err) { failed.push(`${p}: ${(err as Error).message}`); }
    }
  }
  return { removed, failed };
}

/** systemd's path_compare(): component by component, so a parent sorts before what is below it. */
function comparePaths(a: string, b: string): number {
  const x = a.split('/').filter(Boolean), y = b.split('/').filter(Boolean);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

const below = (p: string, parent: string, orEqual: boolean): boolean =>
  parent === '/' ? orEqual || p !== '/' : p === parent ? orEqual : p.startsWith(`${parent}/`);

/** A path as systemd takes it: absolute, normalized; undefined when it is not one. */
function cleanPath(p: string): string | undefined {
  if (!p.startsWith('/') || p.includes('\0') || /[\x00-\x1f\x7f]/.test(p)) return undefined;
  if (p.split('/').some((c) => c === '..')) return undefined;
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** "-" (ignore a missing path) and "+" (relative to RootDirectory=, the same thing without one) prefixes. */
function prefixes(v: string): { path: string; ignore: boolean } {
  let ignore = false, i = 0;
  for (; i < 2 && (v[i] === '-' || v[i] === '+'); i++) if (v[i] === '-') ignore = true;
  return { path: v.slice(i), ignore };
}

/** Plans the unit's mount namespace; undefined spec when it asks for none. */
export function sandboxPlan(i: SandboxInput): SandboxPlan {
  const s = i.service ?? {};
  const problems: string[] = [];
  const entries: Entry[] = [];
  const caps = new Set<number>();
  let wanted = false;
  const add = (e: Entry): void => { entries.push(e); wanted = true; };
  const path = (raw: string, what: string): string | undefined => {
    const p = cleanPath(i.expand(raw));
    if (p === undefined) problems.push(`${what}=${raw} is not an absolute, normalized path; ignored`);
    return p;
  };
  const paths = (field: string, name: string, op: Op): void => {
    for (const raw of list(s[field])) {
      const { path: p0, ignore } = prefixes(raw);
      const p = path(p0, name);
      if (p !== undefined) add({ path: p, op, ignore });
    }
  };
  paths('readWritePaths', 'ReadWritePaths', 'rw');
  paths('readOnlyPaths', 'ReadOnlyPaths', 'ro');
  paths('inaccessiblePaths', 'InaccessiblePaths', 'inaccessible');
  paths('execPaths', 'ExecPaths', 'exec');
  paths('noExecPaths', 'NoExecPaths', 'noexec');

  // BindPaths=/BindReadOnlyPaths=: "[-]SOURCE[:DEST[:OPTIONS]]", OPTIONS rbind (default) or norbind
  for (const [field, name, ro] of [['bindPaths', 'BindPaths', false], ['bindReadOnlyPaths', 'BindReadOnlyPaths', true]] as const) {
    for (const raw of list(s[field])) {
      const ignore = raw.startsWith('-');
      const [src0 = '', dst0, opts] = (ignore ? raw.slice(1) : raw).split(':');
      const src = path(src0, name);
      const dst = dst0 === undefined || dst0 === '' ? src : path(dst0, name);
      if (opts !== undefined && opts !== 'rbind' && opts !== 'norbind') { problems.push(`${name}=${raw}: unknown option "${opts}"; ignored`); continue; }
      if (src !== undefined && dst !== undefined) add({ path: dst, op: 'bind', arg: src, ignore, recursive: opts !== 'norbind', readOnly: ro });
    }
  }
  // TemporaryFileSystem=PATH[:OPTIONS]: nodev,strictatime,mode=0755 unless the options say otherwise
  for (const raw of list(s['temporaryFileSystem'])) {
    const at = raw.indexOf(':');
    const p = path(at < 0 ? raw : raw.slice(0, at), 'TemporaryFileSystem');
    if (p === undefined) continue;
    const e: Entry = { path: p, op: 'tmpfs' };
    const data: string[] = [];
    for (const o of (at < 0 ? '' : raw.slice(at + 1)).split(',').filter(Boolean)) {
      if (o === 'ro') e.readOnly = true;
      else if (o === 'rw' || o === 'nodev' || o === 'strictatime') { /* the defaults */ } else if (o === 'nosuid') e.nosuid = true;
      else if (o === 'noexec') e.noexec = true;
      else if (/^(mode=[0-7]{3,4}|size=[0-9]+[kKmMgG%]?|nr_inodes=[0-9]+[kKmMgG]?|uid=[0-9]+|gid=[0-9]+)$/.test(o)) data.push(o);
      else problems.push(`TemporaryFileSystem=${raw}: the mount option "${o}" is not applied`);
    }
    if (!data.some((o) => o.startsWith('mode='))) data.unshift('mode=0755');
    e.arg = data.join(',');
    add(e);
  }

  const privateTmp = str(s['privateTmp']);
  let tmpDirs: { tmp: string; varTmp: string } | undefined;
  if (privateTmp === 'disconnected') {
    // systemd 257 (implied by DynamicUser=): a fresh tmpfs on each, per command (the oracle: what
    // ExecStartPre= leaves there ExecStart= does not see), nothing on the host to remove
    add({ path: '/tmp', op: 'tmpfs', nosuid: true, arg: 'mode=01777' });
    add({ path: '/var/tmp', op: 'tmpfs', nosuid: true, arg: 'mode=01777' });
  } else if (privateTmp !== undefined && truthy(privateTmp)) {
    tmpDirs = i.tmpOwner ? privateTmpDirs(i.tmpOwner.unitName, i.tmpOwner.invocationId) : privateTmpDirs(i.unitName, i.invocationId);
    add({ path: '/tmp', op: 'tmp', arg: tmpDirs.tmp });
    add({ path: '/var/tmp', op: 'tmp', arg: tmpDirs.varTmp });
  }
  if (truthy(s['privateDevices'])) {
    add({ path: '/dev', op: 'dev' });
    caps.add(CAP_MKNOD).add(CAP_SYS_RAWIO);
  }
  if (truthy(s['protectKernelTunables'])) {
    for (const p of ['/proc/acpi', '/proc/apm', '/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/latency_stats', '/proc/mtrr', '/proc/scsi', '/proc/sys', '/proc/sysrq-trigger', '/proc/timer_stats']) add({ path: p, op: 'ro', ignore: true });
    for (const p of ['/proc/kallsyms', '/proc/kcore']) add({ path: p, op: 'inaccessible', ignore: true });
    add({ path: '/sys', op: 'ro' });
    for (const p of ['/sys/fs/bpf', '/sys/kernel/debug', '/sys/kernel/tracing']) add({ path: p, op: 'ro', ignore: true });
    add({ path: '/sys/fs/cgroup', op: 'rwi' });
    add({ path: '/sys/fs/selinux', op: 'rwi', ignore: true });
  }
  if (truthy(s['protectKernelModules'])) {
    add({ path: '/usr/lib/modules', op: 'inaccessible', ignore: true });
    caps.add(CAP_SYS_MODULE);
  }
  if (truthy(s['protectKernelLogs'])) {
    add({ path: '/proc/kmsg', op: 'inaccessible', ignore: true });
    add({ path: '/dev/kmsg', op: 'inaccessible', ignore: true });
    caps.add(CAP_SYSLOG);
  }
  // ProtectProc=, ProcSubset=: a /proc of its own with hidepid=, subset=pid
  const protectProc = str(s['protectProc']), procSubset = str(s['procSubset']);
  const procOptions = [
    ...(protectProc === 'noaccess' || protectProc === 'invisible' || protectProc === 'ptraceable' ? [`hidepid=${protectProc}`] : []),
    ...(procSubset === 'pid' ? ['subset=pid'] : []),
  ];
  if (procOptions.length > 0) add({ path: '/proc', op: 'procfs', arg: procOptions.join(',') });
  const pcg = str(s['protectControlGroups']);
  if (pcg !== undefined && truthy(pcg)) add({ path: '/sys/fs/cgroup', op: 'ro' });
  // private|strict: a cgroup namespace and a cgroup2 of its own, read-write or read-only; the shim
  // falls back as systemd 257 does where the host is not cgroup v2 (private: nothing, strict: read-only)
  else if (pcg === 'private' || pcg === 'strict') add({ path: '/sys/fs/cgroup', op: 'cgroup2', readOnly: pcg === 'strict' });

  const home = str(s['protectHome']);
  if (home !== undefined && (truthy(home) || home === 'read-only' || home === 'tmpfs')) {
    for (const p of ['/home', '/run/user', '/root']) {
      if (home === 'read-only') add({ path: p, op: 'ro', ignore: true });
      else if (home === 'tmpfs') add({ path: p, op: 'tmpfs', ignore: true, readOnly: true, arg: p === '/root' ? 'mode=0700' : 'mode=0755' });
      else add({ path: p, op: 'inaccessible', ignore: true });
    }
  }
  const system = str(s['protectSystem']);
  if (system !== undefined && (truthy(system) || system === 'full' || system === 'strict')) {
    if (system === 'strict') {
      add({ path: '/', op: 'ro' });
      for (const p of ['/proc', '/sys', '/dev']) add({ path: p, op: 'rwi' });
      for (const p of ['/home', '/run/user', '/root']) add({ path: p, op: 'rwi', ignore: true });
    } else {
      add({ path: '/usr', op: 'ro' });
      add({ path: '/boot', op: 'ro', ignore: true });
      add({ path: '/efi', op: 'ro', ignore: true });
      if (system === 'full') add({ path: '/etc', op: 'ro' });
    }
  }
  if (truthy(s['privateMounts'])) wanted = true;
  const flags = str(s['mountFlags']);
  if (flags !== undefined && wanted === false && flags !== 'shared') wanted = true; // MountFlags= alone asks for a namespace too
  // RootDirectory=: MountAPIVFS= defaults to yes, and with it (or exec directories) the namespace
  // is needed (systemd 257: exec_needs_mount_namespace(), exec_context_get_effective_mount_apivfs())
  const rootRaw = i.rootDirectory !== undefined ? cleanPath(i.rootDirectory) : undefined;
  if (i.rootDirectory !== undefined && rootRaw === undefined) problems.push(`RootDirectory=${i.rootDirectory} is not an absolute, normalized path`);
  const root = rootRaw !== undefined && rootRaw !== '/' ? rootRaw : undefined;
  const apivfsSet = str(s['mountAPIVFS']);
  const apivfs = apivfsSet !== undefined ? truthy(apivfsSet) : root !== undefined;
  const hasExecDirectories = EXEC_DIRECTORIES.some(([field]) => list(s[field]).length > 0);
  if (root !== undefined && (apivfs || hasExecDirectories)) wanted = true;
  // PrivatePIDs=: the main process as PID 1 of a PID namespace, with a /proc of that namespace
  // (it implies MountAPIVFS='s mounts: namespace_parameters_mount_apivfs())
  const privatePids = i.mainProcess === true && truthy(s['privatePIDs']);
  if (privatePids) wanted = true;
  if (!wanted) return { spec: undefined, problems };
  // MountAPIVFS=: /proc, /dev, /sys and /run, each only where the entries above mount nothing
  // (systemd's apivfs_table). Without RootDirectory= /dev and /sys are the host's mounts already
  // and /run is left as it is (a systemd host always has it mounted).
  if (apivfs || privatePids) {
    entries.push({ path: '/proc', op: 'procfs' }, { path: '/dev', op: 'binddev' }, { path: '/sys', op: 'bindsys' });
    if (root !== undefined) entries.push({ path: '/run', op: 'run' });
  }
  // BindLogSockets= (default: with MountAPIVFS=, or RootDirectory= with PrivateDevices=)
  const logSet = str(s['bindLogSockets']);
  const logSockets = logSet !== undefined ? truthy(logSet) : apivfs || (root !== undefined && truthy(s['privateDevices']));
  if (logSockets) for (const p of LOG_SOCKETS) entries.push({ path: p, op: 'bind', arg: p, ignore: true, readOnly: true, nosuid: true, noexec: true });
  // the exec directories (RuntimeDirectory= and friends, made by the runner before the command)
  // are bound read-write into the namespace, so that ProtectSystem=strict leaves them writable
  // (systemd: they imply BindPaths=; ConfigurationDirectory= too)
  // DynamicUser=: StateDirectory=, CacheDirectory=, LogsDirectory= live below PREFIX/private
  // (0700 on the host, directories.ts); the namespace shows an empty 0755 tmpfs there with only
  // the unit's own folders bound in, which the public links (PREFIX/NAME → private/NAME) reach
  const dynamic = truthy(s['dynamicUser']);
  for (const [field, prefix] of EXEC_DIRECTORIES) {
    const isPrivate = dynamic && (field === 'stateDirectory' || field === 'cacheDirectory' || field === 'logsDirectory');
    let any = false;
    for (const raw of list(s[field])) {
      const name = i.expand(raw.split(':')[0] ?? '');
      const p = name !== '' && !name.startsWith('/') && !name.split('/').some((c) => c === '.' || c === '..') ? cleanPath(`${prefix}/${isPrivate ? 'private/' : ''}${name}`) : undefined;
      if (p !== undefined) { entries.push({ path: p, op: 'bind', arg: p, recursive: true }); any = true; }
    }
    if (isPrivate && any) entries.push({ path: `${prefix}/private`, op: 'tmpfs', arg: 'mode=0755' });
  }

  // sort, drop duplicates (the first wins, read-only spreads), what is below an inaccessible path, no-ops
  const sorted = entries.map((e, n) => ({ e, n })).sort((a, b) => comparePaths(a.e.path, b.e.path) || PRIORITY.indexOf(a.e.op) - PRIORITY.indexOf(b.e.op) || a.n - b.n).map((x) => x.e);
  const unique: Entry[] = [];
  for (const e of sorted) {
    const prev = unique[unique.length - 1];
    if (prev && prev.path === e.path) { if (e.readOnly || e.op === 'ro' || e.op === 'inaccessible') prev.readOnly = true; continue; }
    unique.push(e);
  }
  const hidden = unique.filter((e) => e.op === 'inaccessible').map((e) => e.path);
  const reachable = unique.filter((e) => !hidden.some((h) => below(e.path, h, false)));
  const kept: Entry[] = [];
  for (const e of reachable) {
    if (e.op === 'ro' || e.op === 'rw' || e.op === 'rwi' || e.op === 'exec' || e.op === 'noexec') {
      const parent = [...kept].reverse().find((p) => below(e.path, p.path, false));
      if (parent && parent.op === e.op) continue;
    }
    kept.push(e);
  }
  const lines = kept.map((e) => {
    const f = `${e.ignore ? 'i' : ''}${e.recursive ? 'r' : ''}${e.readOnly ? 'o' : ''}${e.nosuid ? 'n' : ''}${e.noexec ? 'x' : ''}` || '.';
    return [e.op, f, e.path, ...(e.arg !== undefined ? [e.arg] : [])].join('\t');
  });
  if (caps.size > 0) lines.push(`dropcap\t.\t${[...caps].sort((a, b) => a - b).join(',')}`);
  if (flags === 'slave' || flags === 'private') lines.push(`propagation\t.\t${flags}`);
  if (privatePids) lines.push('pids\t.\tprivate');
  if (root !== undefined) lines.push(`root\t.\t${root}`);
  return { spec: lines.join('\n'), problems, ...(tmpDirs ? { privateTmp: [tmpDirs.tmp, tmpDirs.varTmp] } : {}), ...(root !== undefined ? { rooted: true } : {}) };
}

const features = new Map<string, string[]>();

/**
 * The settings an older shim would ignore (built from older sources, a prebuilt
 * UNIT_OPERATOR_SHIM), with the feature word `uo-shim --features` lists when it applies them, and
 * the step a command then fails at instead of running without them (every shim honours
 * UO_SHIM_FAIL): the mount namespace (issue 14), then privileges, seccomp and the network (issue 15).
 */
const GATED: ReadonlyArray<{ readonly env: string; readonly feature: string; readonly status: number; readonly what: string }> = [
  { env: 'UO_SHIM_PRIVATE_NETWORK', feature: 'privs', status: 225, what: 'PrivateNetwork=' },
  { env: 'UO_SHIM_JOIN_NS', feature: 'nsrt', status: 225, what: 'PrivateNetwork=/PrivateIPC= (the exec runtime\'s namespaces)' },
  { env: 'UO_SHIM_NETNS_PATH', feature: 'nsrt', status: 225, what: 'NetworkNamespacePath=' },
  { env: 'UO_SHIM_IPCNS_PATH', feature: 'nsrt', status: 226, what: 'IPCNamespacePath=' },
  { env: 'UO_SHIM_PRIVATE_USERS', feature: 'nsrt', status: 217, what: 'PrivateUsers=' },
  { env: 'UO_SHIM_SANDBOX', feature: 'sandbox', status: 226, what: 'a mount namespace (ProtectSystem=, PrivateTmp=…)' },
  { env: 'UO_SHIM_CAPBSET', feature: 'privs', status: 218, what: 'CapabilityBoundingSet=' },
  { env: 'UO_SHIM_AMBIENT', feature: 'privs', status: 218, what: 'AmbientCapabilities=' },
  { env: 'UO_SHIM_NNP', feature: 'privs', status: 227, what: 'NoNewPrivileges=' },
  { env: 'UO_SHIM_SECCOMP_AF', feature: 'privs', status: 232, what: 'RestrictAddressFamilies=' },
  { env: 'UO_SHIM_SECCOMP', feature: 'privs', status: 228, what: 'SystemCallFilter=' },
  // newer than "privs": a shim that lists only "privs" predates them and would ignore them
  { env: 'UO_SHIM_PROTECT_HOSTNAME', feature: 'privs2', status: 226, what: 'ProtectHostname=' },
  { env: 'UO_SHIM_RTPRIO_ZERO', feature: 'privs2', status: 205, what: 'RestrictRealtime=' },
  { env: 'UO_SHIM_SECCOMP_MDWE', feature: 'privs2', status: 228, what: 'MemoryDenyWriteExecute=' },
  { env: 'UO_SHIM_SECUREBITS', feature: 'privs3', status: 213, what: 'SecureBits=' },
  { env: 'UO_SHIM_KEYRING', feature: 'privs3', status: 237, what: 'KeyringMode= (a session keyring of its own)' },
];

/** The words `uo-shim --features` lists for this shim (asked once per path). */
function shimFeatures(shimPath: string): readonly string[] {
  let listed = features.get(shimPath);
  if (listed === undefined) {
    const r = spawnSync(shimPath, ['--features'], { encoding: 'utf8', timeout: 10_000 });
    listed = r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
    features.set(shimPath, listed);
  }
  return listed;
}

/** Whether this shim lists `word` in `uo-shim --features` (an older or prebuilt one may not). */
export function shimHasFeature(shimPath: string, word: string): boolean { return shimFeatures(shimPath).includes(word); }

/**
 * The shim's environment, made to fail closed when the shim would ignore a setting of GATED:
 * the command then fails at that setting's step instead of running without it; `warn` is told why.
 */
export function sandboxGuard(shimPath: string, env: Record<string, string>, warn: (message: string) => void): Record<string, string> {
  const needed = GATED.filter((g) => env[g.env] !== undefined);
  if (needed.length === 0) return env;
  const listed = shimFeatures(shimPath);
  const missing = needed.find((g) => !listed.includes(g.feature));
  if (missing === undefined) return env;
  warn(`the shim ${shimPath} does not apply ${missing.what} (uo-shim --features does not list "${missing.feature}": built from older sources?); the command fails with status ${missing.status} instead of running without it`);
  return { ...env, UO_SHIM_FAIL: String(missing.status) };
}
