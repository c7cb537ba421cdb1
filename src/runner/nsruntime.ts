// The exec runtime that systemd 257 shares between the processes of a unit and between units that
// list each other in JoinsNamespaceOf= (src/core/execute.c ExecSharedRuntime, unit.c
// unit_setup_exec_runtime()): the PrivateTmp= folders and the network (PrivateNetwork=) and IPC
// (PrivateIPC=) namespaces.
//
// systemd's rules, kept here:
//   - a unit acquires a runtime at its first process of an invocation and releases it when it
//     stops (service_enter_dead(), before an automatic restart too); the runtime ends with its
//     last unit, and its PrivateTmp= folders are removed then;
//   - JoinsNamespaceOf= holds both ways (the dependency is its own inverse): a unit takes the
//     runtime of a listed (or listing) unit that holds one, else makes its own, named after itself;
//   - a runtime is made only when the unit needs one (PrivateNetwork=, PrivateIPC=, or
//     PrivateTmp=yes — not =disconnected, which is never shared — unless /tmp and /var/tmp are
//     InaccessiblePaths=), with what that unit needs: a unit joining a runtime made without a
//     network namespace runs in the host's (exec_invoke() joins only what the runtime holds);
//   - the commands of a unit join the namespaces their own unit asks for.
//
// The namespaces are held by `uo-shim --ns-hold` (shim/nsrt.c), a process that unshares them and
// lives until the runtime ends (or its agent does); commands join them through /proc/PID/ns,
// checked against the holder's start time (UO_SHIM_JOIN_NS). NetworkNamespacePath= and
// IPCNamespacePath= are joined by path by every command (UO_SHIM_NETNS_PATH, UO_SHIM_IPCNS_PATH).

import { spawnSync } from 'node:child_process';
import { normalizeName } from '../deps/spec.ts';
import { startTime } from './procfs.ts';

export type SharedNs = 'net' | 'ipc';

export interface RuntimeNeeds {
  readonly net: boolean;
  readonly ipc: boolean;
  /** PrivateTmp=yes (connected), with /tmp or /var/tmp reachable. */
  readonly tmp: boolean;
}

/** The namespaces' holder: a live process (its start time checks it is still the same). */
export interface Holder { readonly pid: number; readonly start: number; readonly types: readonly SharedNs[] }

export interface SharedRuntime {
  /** The unit that made it, as its runner names it (the runtime's name, as systemd's exec_shared_runtime_by_id). */
  readonly owner: string;
  /** The owner's invocation when it made it: the PrivateTmp= folders are named after both. */
  readonly id: string;
  readonly tmp: boolean;
  readonly holder: Holder | undefined;
  readonly units: Set<string>;
}

const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(1|yes|y|true|t|on)$/i.test(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));
const strip = (p: string): string => p.replace(/^[-+]+/, '').replace(/\/+$/, '') || '/';

/** What spec.service asks of a runtime (exec_needs_network_namespace(), exec_needs_ipc_namespace(), exec_shared_runtime_make()). */
export function runtimeNeeds(service: Readonly<Record<string, unknown>> | undefined): RuntimeNeeds {
  const s = service ?? {};
  const inaccessible = list(s['inaccessiblePaths']).map(strip);
  const tmpGone = inaccessible.includes('/tmp') && (inaccessible.includes('/var/tmp') || inaccessible.includes('/var'));
  const pt = s['privateTmp'];
  return {
    // a path is joined by path (the runtime holds no namespace of its own for it)
    net: truthy(s['privateNetwork']) && s['networkNamespacePath'] === undefined,
    ipc: truthy(s['privateIPC']) && s['ipcNamespacePath'] === undefined,
    tmp: pt !== 'disconnected' && truthy(pt) && !tmpGone,
  };
}

/** A live process whose namespaces a new holder takes (a runtime taken over after an agent restart). */
export interface Source { readonly pid: number; readonly start: number }

/** Starts a holder of new namespaces, or of from's (shim/nsrt.c); the holder, or why it could not start. */
export function startHolder(shimPath: string, types: readonly SharedNs[], from?: Source): Holder | string {
  const r = spawnSync(shimPath, ['--ns-hold', types.join(','), String(process.pid), ...(from ? [String(from.pid), String(from.start)] : [])], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /^held ([1-9][0-9]*)$/m.exec(r.stdout ?? '');
  if (!m) {
    const f = /^failed ([0-9]+)$/m.exec(r.stdout ?? '');
    return f ? `could not set up the ${types.join(' and ')} namespaces: errno ${f[1]}` : `could not start the namespace holder: ${r.error?.message ?? (r.stderr || `status ${r.status}`).trim()}`;
  }
  const pid = Number(m[1]);
  const start = startTime(pid);
  if (start === undefined) return `the namespace holder ${pid} ended at once`;
  return { pid, start, types };
}

/** Ends a holder (when it is still the process that was started). */
export function stopHolder(h: Holder): void {
  if (startTime(h.pid) !== h.start) return;
  try { process.kill(h.pid, 'SIGTERM'); } catch { /* gone meanwhile */ }
}

/** The runtimes of one group of units (a folder or a namespace: the names JoinsNamespaceOf= can reach). */
export class SharedRuntimes {
  private readonly byOwner = new Map<string, SharedRuntime>();
  private readonly byUnit = new Map<string, SharedRuntime>();
  private readonly declared = new Map<string, readonly string[]>();

  private readonly hold: (types: readonly SharedNs[], from?: Source) => Holder | string;
  private readonly end: (h: Holder) => void;

  constructor(hold: (types: readonly SharedNs[], from?: Source) => Holder | string, end: (h: Holder) => void = stopHolder) {
    this.hold = hold;
    this.end = end;
  }

  /** What a unit lists in JoinsNamespaceOf= (kept current by its runner). */
  declare(unit: string, joins: readonly string[]): void {
    this.declared.set(normalizeName(unit), joins.map(normalizeName));
  }

  /** The units unit joins: those it lists and those that list it. */
  partners(unit: string): string[] {
    const u = normalizeName(unit);
    const out = new Set(this.declared.get(u) ?? []);
    for (const [other, joins] of this.declared) if (other !== u && joins.includes(u)) out.add(other);
    out.delete(u);
    return [...out];
  }

  /** The runtime unit holds, if any. */
  of(unit: string): SharedRuntime | undefined { return this.byUnit.get(normalizeName(unit)); }

  /**
   * unit_setup_exec_runtime(): the runtime unit already holds, else a partner's, else a new one
   * made with unit's needs (none when it needs none). Throws when the namespaces cannot be made.
   * from: a live process of unit's whose namespaces a new runtime takes (its invocation ran
   * under an agent that is gone: its later commands join the namespaces its processes run in).
   */
  acquire(unit: string, needs: RuntimeNeeds, invocationId: string, from?: Source): SharedRuntime | undefined {
    const u = normalizeName(unit);
    const held = this.byUnit.get(u);
    if (held) return held;
    let rt: SharedRuntime | undefined;
    for (const p of this.partners(u)) { rt = this.byOwner.get(p); if (rt) break; }
    rt ??= this.byOwner.get(u);
    if (!rt) {
      if (!needs.net && !needs.ipc && !needs.tmp) return undefined;
      const types: SharedNs[] = [...(needs.net ? ['net' as const] : []), ...(needs.ipc ? ['ipc' as const] : [])];
      let holder: Holder | undefined;
      if (types.length > 0) {
        const h = this.hold(types, from);
        if (typeof h === 'string') throw new Error(h);
        holder = h;
      }
      rt = { owner: unit, id: invocationId, tmp: needs.tmp, holder, units: new Set() };
      this.byOwner.set(u, rt);
    }
    rt.units.add(u);
    this.byUnit.set(u, rt);
    return rt;
  }

  /** exec_shared_runtime_destroy(): unit lets go; the runtime when that was its last unit (its holder ended), else undefined. */
  release(unit: string): SharedRuntime | undefined {
    const u = normalizeName(unit);
    const rt = this.byUnit.get(u);
    if (!rt) return undefined;
    this.byUnit.delete(u);
    rt.units.delete(u);
    if (rt.units.size > 0) return undefined;
    this.byOwner.delete(normalizeName(rt.owner));
    if (rt.holder) this.end(rt.holder);
    return rt;
  }

  /** The live runtime unit made, if any (its PrivateTmp= folders are kept). */
  ownedBy(unit: string): SharedRuntime | undefined { return this.byOwner.get(normalizeName(unit)); }

  /** Every runtime still held (the agent's exit ends their holders). */
  all(): SharedRuntime[] { return [...this.byOwner.values()]; }
}

/**
 * What a unit asks for that the runtime it joined cannot give (made by a unit that needed no such
 * namespace): systemd 257 runs the command in the host's, silently; the agent says so.
 */
export function runtimeGaps(service: Readonly<Record<string, unknown>> | undefined, rt: SharedRuntime | undefined, unit: string): string[] {
  const needs = runtimeNeeds(service);
  const held = rt?.holder?.types ?? [];
  if (!rt || normalizeName(rt.owner) === normalizeName(unit)) return [];
  return ([['net', 'PrivateNetwork=', 'network'], ['ipc', 'PrivateIPC=', 'IPC']] as const)
    .filter(([k]) => needs[k] && !held.includes(k))
    .map(([, d, what]) => `${d}yes is not applied: the unit runs in the runtime of ${rt.owner} (JoinsNamespaceOf=), made without a ${what} namespace, so in the host's ${what} namespace, as under systemd 257`);
}

/**
 * The shim settings of one command: the runtime's namespaces its unit asks for (a runtime made
 * without one gives none, as systemd), and the ones joined by path.
 */
export function namespaceEnv(service: Readonly<Record<string, unknown>> | undefined, rt: SharedRuntime | undefined): Record<string, string> {
  const s = service ?? {};
  const env: Record<string, string> = {};
  const wanted: SharedNs[] = [];
  const held = rt?.holder?.types ?? [];
  if (truthy(s['privateNetwork']) && s['networkNamespacePath'] === undefined && held.includes('net')) wanted.push('net');
  if (truthy(s['privateIPC']) && s['ipcNamespacePath'] === undefined && held.includes('ipc')) wanted.push('ipc');
  if (wanted.length > 0 && rt?.holder) env['UO_SHIM_JOIN_NS'] = `${rt.holder.pid}:${rt.holder.start}:${wanted.join(',')}`;
  if (typeof s['networkNamespacePath'] === 'string' && s['networkNamespacePath'] !== '') env['UO_SHIM_NETNS_PATH'] = s['networkNamespacePath'];
  if (typeof s['ipcNamespacePath'] === 'string' && s['ipcNamespacePath'] !== '') env['UO_SHIM_IPCNS_PATH'] = s['ipcNamespacePath'];
  // PrivateUsers=: yes/self or identity; systemd 257 does not parse "full" (ignored: no user namespace)
  const pu = s['privateUsers'];
  if (pu === 'identity' || pu === 'self' || truthy(pu)) env['UO_SHIM_PRIVATE_USERS'] = pu === 'identity' ? 'identity' : 'self';
  return env;
}
