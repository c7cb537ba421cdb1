// What the real-node harness (testenv/node.ts) changes on the host, recorded before it starts
// and restored when it stops: kubelet's and the CNI bridge's sysctls, KUBE-*/CNI-* iptables
// rules and chains, mounts under the folders kubelet and containerd use, the propagation of `/`
// (made shared for mountPropagation: HostToContainer), the cgroups kubelet and the agent create
// (kubepods, unit-operator.slice's units), the CNI bridge, and host folders the node creates
// (/var/lib/unit-operator, /var/log/pods, /run/containerd …). leftovers() compares against the
// record: the harness fails the run when anything is left.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The sysctls kubelet sets (protectKernelDefaults off) and the bridge plugin turns on. */
export const SYSCTLS = [
  'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes',
  'net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding',
  'net/bridge/bridge-nf-call-iptables', 'net/bridge/bridge-nf-call-ip6tables',
] as const;

/** Host folders a node creates outside its own folder; removed on restore when they were not there before. */
export const HOST_PATHS = [
  '/var/lib/unit-operator', '/var/log/pods', '/var/log/containers', '/run/containerd', '/var/lib/kubelet',
  '/run/netns', '/var/lib/cni', '/etc/cni', '/opt/containerd', '/var/lib/containerd',
] as const;

const IPTABLES = ['iptables', 'ip6tables'] as const;
const TABLES = ['filter', 'nat', 'mangle'] as const;
/** Rules and chains that are a node's: kubelet's KUBE-* chains, the bridge plugin's CNI-* chains. */
const OURS_RULE = /KUBE-|CNI-/;

export interface HostRecord {
  readonly sysctls: Record<string, string | null>;
  /** `iptables -t TABLE -S` lines (ours only) per "iptables/filter" … */
  readonly iptables: Record<string, string[]>;
  /** The optional fields of `/`'s mountinfo line: '' (private), 'shared:1', 'master:2' … */
  readonly rootPropagation: string;
  /** cgroup directories (relative to each hierarchy) under the trees a node creates, per hierarchy mount. */
  readonly cgroups: Record<string, string[]>;
  readonly paths: Record<string, boolean>;
  readonly links: string[];
  /** The node's own folder and bridge: mounts below the folder and the bridge are always ours. */
  readonly dir: string;
  readonly bridge: string;
}

const sysctlPath = (k: string): string => join('/proc/sys', k);
function readSysctl(k: string): string | null {
  try { return readFileSync(sysctlPath(k), 'utf8').trim(); } catch { return null; }
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function iptablesRules(bin: string, table: string): string[] {
  const r = run(bin, ['-w', '5', '-t', table, '-S']);
  if (!r.ok) return [];
  return r.out.split('\n').filter((l) => OURS_RULE.test(l));
}

interface MountLine { readonly id: string; readonly parent: string; readonly point: string; readonly optional: string }
export function mounts(): MountLine[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => {
    const f = l.split(' ');
    const dash = f.indexOf('-');
    return { id: f[0]!, parent: f[1]!, point: f[4]!.replace(/\\040/g, ' '), optional: f.slice(6, dash).join(' ') };
  });
}

function rootMount(): MountLine {
  const all = mounts().filter((m) => m.point === '/');
  return all.at(-1)!;
}

/** The v1/v2 hierarchies mounted under /sys/fs/cgroup (the folder itself on a pure v2 host). */
export function cgroupMounts(): string[] {
  const out = new Set<string>();
  for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = m.split(' ');
    const dash = f.indexOf('-');
    if (dash > 0 && (f[dash + 1] === 'cgroup' || f[dash + 1] === 'cgroup2') && f[4]!.startsWith('/sys/fs/cgroup')) out.add(f[4]!);
  }
  return [...out].sort();
}

/** The system agent's units and holders; not the slices of other agents on this host (per state folder) or of tests (src/runner/cgroup/ops.ts FOREIGN_BASE). */
const AGENT_SLICE = 'unit-operator.slice';
const OTHER_AGENT = /^(unit-operator-[0-9a-f]{12}|uo-test-[0-9a-f]+)\.slice$/;

/** cgroup directories a node may create: kubepods* trees and the system agent's units under unit-operator.slice. */
function nodeCgroups(mount: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    out.push(rel);
    let entries: string[] = [];
    try { entries = readdirSync(join(mount, rel), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return; }
    for (const e of entries) walk(`${rel}/${e}`);
  };
  let top: string[] = [];
  try { top = readdirSync(mount, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name); } catch { return out; }
  for (const t of top) {
    if (t.startsWith('kubepods')) walk(t);
    else if (t === AGENT_SLICE) {
      out.push(t);
      for (const e of readdirSync(join(mount, t), { withFileTypes: true })) if (e.isDirectory() && !OTHER_AGENT.test(e.name)) walk(`${t}/${e.name}`);
    }
  }
  return out;
}

function links(): string[] {
  const r = run('ip', ['-o', 'link', 'show']);
  return r.out.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((x): x is string => !!x);
}

export function recordHost(dir: string, bridge: string): HostRecord {
  const sysctls: Record<string, string | null> = {};
  for (const k of SYSCTLS) sysctls[k] = readSysctl(k);
  const iptables: Record<string, string[]> = {};
  for (const bin of IPTABLES) for (const t of TABLES) iptables[`${bin}/${t}`] = iptablesRules(bin, t);
  const cgroups: Record<string, string[]> = {};
  for (const m of cgroupMounts()) cgroups[m] = nodeCgroups(m);
  const paths: Record<string, boolean> = {};
  for (const p of HOST_PATHS) paths[p] = existsSync(p);
  return { sysctls, iptables, rootPropagation: rootMount().optional, cgroups, paths, links: links(), dir, bridge };
}

/** Makes `/` a shared mount (kubelet's mountPropagation: HostToContainer needs it); restore() undoes it. */
export function makeRootShared(): void {
  if (/shared:/.test(rootMount().optional)) return;
  const r = run('mount', ['--make-shared', '/']);
  if (!r.ok) throw new Error(`mount --make-shared / failed: ${r.out}`);
}

/** Mount points that are a node's: below its folder or one of the host folders it uses. */
function ourMounts(rec: HostRecord): MountLine[] {
  const prefixes = [rec.dir, ...HOST_PATHS.filter((p) => !rec.paths[p])];
  return mounts().filter((m) => prefixes.some((p) => m.point === p || m.point.startsWith(`${p}/`)));
}

/** unit-operator.slice stays when other agents' or tests' slices are in it: theirs, not the node's. */
function keptForOthers(mount: string, rel: string): boolean {
  if (rel !== AGENT_SLICE) return false;
  try { return readdirSync(join(mount, rel), { withFileTypes: true }).some((e) => e.isDirectory() && OTHER_AGENT.test(e.name)); } catch { return false; }
}

/** PIDs in the cgroups a node created (pods, the system agent's units), and in kubepods at all. */
export function pidsInNodeCgroups(rec: HostRecord): number[] {
  const pids = new Set<number>();
  for (const m of cgroupMounts()) {
    const before = new Set(rec.cgroups[m] ?? []);
    for (const rel of nodeCgroups(m)) {
      if (before.has(rel) && !rel.startsWith('kubepods')) continue;
      try {
        for (const p of readFileSync(join(m, rel, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
      } catch { /* gone */ }
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

const sleepSync = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

/**
 * Puts the host back as recorded; returns what it did (one line each). Kills what still runs in
 * the node's cgroups, unmounts, removes cgroups, iptables rules and chains, the bridge and folders,
 * and resets the sysctls and `/`'s propagation. Safe to call twice.
 */
export function restoreHost(rec: HostRecord): string[] {
  const did: string[] = [];
  for (let round = 0; round < 20; round++) {
    const pids = pidsInNodeCgroups(rec);
    if (pids.length === 0) break;
    if (round === 0) did.push(`killed ${pids.length} process(es) left in the node's cgroups: ${pids.join(' ')}`);
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    sleepSync(100);
  }
  const ms = ourMounts(rec).sort((a, b) => b.point.length - a.point.length);
  for (const m of ms) {
    const r = run('umount', ['-l', m.point]);
    did.push(`umount ${m.point}${r.ok ? '' : ` (failed: ${r.out.trim()})`}`);
  }
  for (const m of cgroupMounts()) {
    const before = new Set(rec.cgroups[m] ?? []);
    const created = nodeCgroups(m).filter((rel) => !before.has(rel)).sort((a, b) => b.split('/').length - a.split('/').length);
    for (const rel of created) {
      if (keptForOthers(m, rel)) continue;
      try { rmdirSync(join(m, rel)); } catch (e) { did.push(`rmdir ${join(m, rel)} failed: ${(e as Error).message}`); }
    }
    if (created.length > 0) did.push(`removed ${created.length} cgroup(s) in ${m} (${[...new Set(created.map((c) => c.split('/')[0]))].join(', ')})`);
  }
  for (const bin of IPTABLES) for (const t of TABLES) {
    const before = new Set(rec.iptables[`${bin}/${t}`] ?? []);
    const now = iptablesRules(bin, t).filter((l) => !before.has(l));
    const rules = now.filter((l) => l.startsWith('-A '));
    const chains = now.filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim());
    for (const r of rules) run(bin, ['-w', '5', '-t', t, '-D', ...splitRule(r.slice(3))]);
    for (const c of chains) run(bin, ['-w', '5', '-t', t, '-F', c]);
    for (const c of chains) run(bin, ['-w', '5', '-t', t, '-X', c]);
    if (rules.length + chains.length > 0) did.push(`${bin} -t ${t}: removed ${rules.length} rule(s) and ${chains.length} chain(s) (${chains.join(', ')})`);
  }
  if (!rec.links.includes(rec.bridge) && links().includes(rec.bridge)) {
    run('ip', ['link', 'delete', rec.bridge]);
    did.push(`ip link delete ${rec.bridge}`);
  }
  for (const [k, v] of Object.entries(rec.sysctls)) {
    if (v === null) continue;
    const now = readSysctl(k);
    if (now !== v) {
      try { writeFileSync(sysctlPath(k), v); did.push(`sysctl ${k.replace(/\//g, '.')}: ${now} → ${v}`); } catch (e) { did.push(`sysctl ${k} could not be reset: ${(e as Error).message}`); }
    }
  }
  if (rootMount().optional !== rec.rootPropagation && !/shared:/.test(rec.rootPropagation)) {
    const flag = /master:/.test(rec.rootPropagation) ? '--make-slave' : '--make-private';
    run('mount', [flag, '/']);
    did.push(`mount ${flag} / (was ${rec.rootPropagation || 'private'})`);
  }
  for (const [p, existed] of Object.entries(rec.paths)) {
    if (existed || !existsSync(p)) continue;
    if (ourMounts(rec).some((m) => m.point.startsWith(p))) continue;
    rmSync(p, { recursive: true, force: true });
    did.push(`rm -r ${p}`);
  }
  return did;
}

/** What differs from the record (empty: the host is as it was). */
export function hostLeftovers(rec: HostRecord, opts: { ignoreDir?: boolean } = {}): string[] {
  const left: string[] = [];
  for (const [k, v] of Object.entries(rec.sysctls)) { const now = readSysctl(k); if (now !== v) left.push(`sysctl ${k.replace(/\//g, '.')} is ${now}, was ${v}`); }
  for (const bin of IPTABLES) for (const t of TABLES) {
    const before = new Set(rec.iptables[`${bin}/${t}`] ?? []);
    for (const l of iptablesRules(bin, t)) if (!before.has(l)) left.push(`${bin} -t ${t}: ${l}`);
  }
  if (rootMount().optional !== rec.rootPropagation) left.push(`/ propagation is '${rootMount().optional}', was '${rec.rootPropagation}'`);
  for (const m of ourMounts(rec)) if (!(opts.ignoreDir && m.point.startsWith(rec.dir))) left.push(`mount ${m.point}`);
  for (const m of cgroupMounts()) {
    const before = new Set(rec.cgroups[m] ?? []);
    for (const rel of nodeCgroups(m)) if (!before.has(rel) && !keptForOthers(m, rel)) left.push(`cgroup ${join(m, rel)}`);
  }
  const pids = pidsInNodeCgroups(rec);
  if (pids.length > 0) left.push(`processes in the node's cgroups: ${pids.join(' ')}`);
  if (!rec.links.includes(rec.bridge) && links().includes(rec.bridge)) left.push(`network link ${rec.bridge}`);
  for (const [p, existed] of Object.entries(rec.paths)) if (!existed && existsSync(p)) left.push(`${p} (${statSync(p).isDirectory() ? 'folder' : 'file'})`);
  return left;
}

/** `-A CHAIN -m comment --comment "a b" -j X` → argv, honouring the double quotes iptables -S prints. */
function splitRule(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push(m[1] !== undefined ? m[1].replace(/\\"/g, '"') : m[2]!);
  return out;
}
