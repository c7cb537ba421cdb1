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
// checked against the holder's start time (UO_SHIM_JOIN_NS).
//
// NetworkNamespacePath= and IPCNamespacePath= are the runtime's too (exec_needs_network_namespace()
// counts the path; exec_invoke() fills the runtime's empty namespace store from the path before
// PrivateNetwork= would make one, and joins what is stored): a runtime made by a unit that names a
// path stores the path's namespace — its commands, and its partners' PrivateNetwork=/PrivateIPC=
// and paths, join it by that path (UO_SHIM_NETNS_PATH, UO_SHIM_IPCNS_PATH; a path that cannot be
// opened fails the command, 225/NETWORK, 226/NAMESPACE, as systemd's); a path named by a unit
// joining a runtime that holds another namespace, or none, is not joined (said: runtimeGaps()).
// Checked in the oracle: test/fixtures/ns/cases.ts nsk-pa…nsk-rb.

import { spawnSync } from 'node:child_process';
import { normalizeName } from '../deps/spec.ts';
import { startTime } from './procfs.ts';
import { truthy } from './sandbox.ts';

export type SharedNs = 'net' | 'ipc';

export interface RuntimeNeeds {
  readonly net: boolean;
  readonly ipc: boolean;
  /** PrivateTmp=yes (connected), with /tmp or /var/tmp reachable. */
  readonly tmp: boolean;
  /** The namespaces named by path (NetworkNamespacePath=, IPCNamespacePath=): a runtime this unit makes stores them. */
  readonly paths?: NsPaths;
}

/** Namespaces by path, per type. */
export interface NsPaths { readonly net?: string; readonly ipc?: string }

/** The namespaces' holder: a live process (its start time checks it is still the same). */
export interface Holder { readonly pid: number; readonly start: number; readonly types: readonly SharedNs[] }

export interface SharedRuntime {
  /** The unit that made it, as its runner names it (the runtime's name, as systemd's exec_shared_runtime_by_id). */
  readonly owner: string;
  /** The owner's invocation when it made it: the PrivateTmp= folders are named after both. */
  readonly id: string;
  readonly tmp: boolean;
  /** The namespaces it stores from a path (its maker's NetworkNamespacePath=, IPCNamespacePath=): joined by that path. */
  readonly paths: NsPaths;
  /** The namespaces' holder; set late for a runtime rebuilt after an agent restart (pending). */
  holder: Holder | undefined;
  /** A rebuilt runtime's namespaces not held yet: taken over from a live process at the first command that joins them. */
  pending?: SharedNs[] | undefined;
  readonly units: Set<string>;
}

/** What a unit held before an agent restart (store.ts runtime.json), to rebuild its runtime from. */
export interface SavedRuntime { readonly owner: string; readonly id: string; readonly tmp: boolean; readonly types: readonly SharedNs[]; readonly paths: NsPaths }

/** The namespaces a runtime holds or, rebuilt, will hold. */
export const heldTypes = (rt: SharedRuntime | undefined): readonly SharedNs[] => rt?.holder?.types ?? rt?.pending ?? [];
/** Whether a runtime stores a namespace of type t (held, or by path). */
const stores = (rt: SharedRuntime, t: SharedNs): boolean => heldTypes(rt).includes(t) || rt.paths[t] !== undefined;

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : String(v).split(/\s+/).filter(Boolean));
const strip = (p: string): string => p.replace(/^[-+]+/, '').replace(/\/+$/, '') || '/';
const nsPath = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** The namespace paths a spec names. */
export function namespacePaths(service: Readonly<Record<string, unknown>> | undefined): NsPaths {
  const net = nsPath(service?.['networkNamespacePath']), ipc = nsPath(service?.['ipcNamespacePath']);
  return { ...(net !== undefined ? { net } : {}), ...(ipc !== undefined ? { ipc } : {}) };
}

/** What spec.service asks of a runtime (exec_needs_network_namespace(), exec_needs_ipc_namespace(), exec_shared_runtime_make()). */
export function runtimeNeeds(service: Readonly<Record<string, unknown>> | undefined): RuntimeNeeds {
  const s = service ?? {};
  const inaccessible = list(s['inaccessiblePaths']).map(strip);
  const tmpGone = inaccessible.includes('/tmp') && (inaccessible.includes('/var/tmp') || inaccessible.includes('/var'));
  const pt = s['privateTmp'];
  const paths = namespacePaths(s);
  return {
    net: truthy(s['privateNetwork']) || paths.net !== undefined,
    ipc: truthy(s['privateIPC']) || paths.ipc !== undefined,
    tmp: pt !== 'disconnected' && truthy(pt) && !tmpGone,
    ...(paths.net !== undefined || paths.ipc !== undefined ? { paths } : {}),
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
  /** The other way round: who lists a unit, each unit with its place in `declared` (partners() keeps that order). */
  private readonly listedBy = new Map<string, Set<string>>();
  private readonly place = new Map<string, number>();
  private nextPlace = 0;
  /** The namespace paths each unit names (a saved runtime's paths must be its owner's: resolve()). */
  private readonly declaredPaths = new Map<string, NsPaths>();
  /** Runtimes saved by a previous agent, not rebuilt yet (rejoin()), by unit. */
  private readonly remembered = new Map<string, SavedRuntime>();
  /** The units rejoin() was told of: what they ask for and their live process (a rebuilt runtime's namespaces come from one). */
  private readonly sources = new Map<string, { needs: RuntimeNeeds; source: () => Source | undefined }>();
  /** Why a saved runtime was not rebuilt, by unit (takeWarnings()). */
  private readonly warnings = new Map<string, string[]>();

  private readonly hold: (types: readonly SharedNs[], from?: Source) => Holder | string;
  private readonly end: (h: Holder) => void;

  constructor(hold: (types: readonly SharedNs[], from?: Source) => Holder | string, end: (h: Holder) => void = stopHolder) {
    this.hold = hold;
    this.end = end;
  }

  /** What a unit lists in JoinsNamespaceOf=, and the namespace paths it names (kept current by its runner). */
  declare(unit: string, joins: readonly string[], paths: NsPaths = {}): void {
    const u = normalizeName(unit), now = joins.map(normalizeName);
    for (const j of this.declared.get(u) ?? []) this.listedBy.get(j)?.delete(u);
    for (const j of now) { let by = this.listedBy.get(j); if (!by) this.listedBy.set(j, (by = new Set())); by.add(u); }
    if (!this.place.has(u)) this.place.set(u, this.nextPlace++);
    this.declared.set(u, now);
    this.declaredPaths.set(u, paths);
  }

  /** The units unit joins: those it lists and those that list it. */
  partners(unit: string): string[] {
    const u = normalizeName(unit);
    const out = new Set(this.declared.get(u) ?? []);
    // those that list it, in the order they were first declared (a scan of every unit's list per
    // spawn was ~1.5 % of the agent's CPU in issue 19's 1,000-unit crash storm)
    const by = [...this.listedBy.get(u) ?? []].sort((a, b) => this.place.get(a)! - this.place.get(b)!);
    for (const other of by) if (other !== u) out.add(other);
    out.delete(u);
    return [...out];
  }

  /** The runtime unit holds, if any. */
  of(unit: string): SharedRuntime | undefined { this.resolve(); return this.byUnit.get(normalizeName(unit)); }

  /**
   * A unit's invocation that a previous agent ran held saved (store.ts runtime.json): the runtime
   * is rebuilt, named as before (its PrivateTmp= folders are the same), at the first acquire()
   * or release() of the group, once the units' JoinsNamespaceOf= are declared. source: a live
   * process of the unit's (its namespaces are the runtime's when it asks for them).
   */
  rejoin(unit: string, saved: SavedRuntime, needs: RuntimeNeeds, source: () => Source | undefined): void {
    const u = normalizeName(unit);
    this.remembered.set(u, saved);
    this.sources.set(u, { needs, source });
  }

  /** Why a saved runtime of unit's was not rebuilt (each said once). */
  takeWarnings(unit: string): string[] {
    const u = normalizeName(unit);
    const w = this.warnings.get(u) ?? [];
    this.warnings.delete(u);
    return w;
  }

  /**
   * Rebuilds the saved runtimes: a unit joins a saved runtime only when it is its own or a
   * partner's by JoinsNamespaceOf= as declared now (a record never makes a unit join what it did
   * not ask for); a record naming a unit not declared yet waits; one naming a runtime that lives
   * with another id, or a unit that is no partner, is dropped (said by takeWarnings()).
   */
  private resolve(): void {
    for (const [u, saved] of [...this.remembered]) {
      if (this.byUnit.has(u)) { this.remembered.delete(u); continue; }
      const owner = normalizeName(saved.owner);
      const warn = (why: string): void => { this.remembered.delete(u); this.warnings.set(u, [...(this.warnings.get(u) ?? []), why]); };
      if (owner !== u && !this.partners(u).includes(owner)) {
        if (!this.declared.has(owner)) continue; // not known yet
        warn(`its saved exec runtime is ${saved.owner}'s, which it does not join (JoinsNamespaceOf=); not rebuilt: its later commands get a runtime of their own`);
        continue;
      }
      const named = this.declaredPaths.get(owner) ?? {};
      if ((['net', 'ipc'] as const).some((t) => saved.paths[t] !== undefined && saved.paths[t] !== named[t])) {
        warn(`its saved exec runtime stores a namespace by a path ${saved.owner} does not name now; not rebuilt`);
        continue;
      }
      let rt = this.byOwner.get(owner);
      if (rt && rt.id !== saved.id) { warn(`its saved exec runtime (${saved.owner}, ${saved.id}) is not the one ${saved.owner} holds now (${rt.id}); not rebuilt`); continue; }
      if (!rt) {
        rt = { owner: saved.owner, id: saved.id, tmp: saved.tmp, paths: { ...saved.paths }, holder: undefined, ...(saved.types.length > 0 ? { pending: [...saved.types] } : {}), units: new Set() };
        this.byOwner.set(owner, rt);
      }
      this.remembered.delete(u);
      rt.units.add(u);
      this.byUnit.set(u, rt);
    }
  }

  /**
   * A rebuilt runtime's namespaces: taken from a live process of one of its units that asks for
   * all of them (unit's own first), else, when unit asks for one, made anew (no process holds
   * the old ones any more). Left pending when unit needs none and no process has them.
   */
  private takeOver(rt: SharedRuntime, unit: string, needs: RuntimeNeeds): void {
    const pending = rt.pending;
    if (!pending || rt.holder) return;
    const covers = (n: RuntimeNeeds): boolean => pending.every((t) => n[t]);
    let from: Source | undefined;
    for (const v of [unit, ...[...rt.units].filter((x) => x !== unit)]) {
      const s = this.sources.get(v);
      if (s && covers(s.needs)) { from = s.source(); if (from) break; }
    }
    if (!from && !pending.some((t) => needs[t])) return;
    const h = this.hold(pending, from);
    if (typeof h === 'string') throw new Error(h);
    rt.holder = h;
    rt.pending = undefined;
  }

  /**
   * unit_setup_exec_runtime(): the runtime unit already holds, else a partner's, else a new one
   * made with unit's needs (none when it needs none). Throws when the namespaces cannot be made.
   * from: a live process of unit's whose namespaces a new runtime takes (its invocation ran
   * under an agent that is gone: its later commands join the namespaces its processes run in).
   */
  acquire(unit: string, needs: RuntimeNeeds, invocationId: string, from?: Source): SharedRuntime | undefined {
    const u = normalizeName(unit);
    this.resolve();
    const held = this.byUnit.get(u);
    if (held) { this.takeOver(held, u, needs); return held; }
    let rt: SharedRuntime | undefined;
    for (const p of this.partners(u)) { rt = this.byOwner.get(p); if (rt) break; }
    rt ??= this.byOwner.get(u);
    if (!rt) {
      if (!needs.net && !needs.ipc && !needs.tmp) return undefined;
      // a namespace named by path is stored as that path (joined by it); the holder makes the others
      const paths = needs.paths ?? {};
      const types: SharedNs[] = [...(needs.net && paths.net === undefined ? ['net' as const] : []), ...(needs.ipc && paths.ipc === undefined ? ['ipc' as const] : [])];
      let holder: Holder | undefined;
      if (types.length > 0) {
        const h = this.hold(types, from);
        if (typeof h === 'string') throw new Error(h);
        holder = h;
      }
      rt = { owner: unit, id: invocationId, tmp: needs.tmp, paths: { ...paths }, holder, units: new Set() };
      this.byOwner.set(u, rt);
    }
    rt.units.add(u);
    this.byUnit.set(u, rt);
    this.takeOver(rt, u, needs);
    return rt;
  }

  /** exec_shared_runtime_destroy(): unit lets go; the runtime when that was its last unit (its holder ended), else undefined. */
  release(unit: string): SharedRuntime | undefined {
    const u = normalizeName(unit);
    this.resolve();
    this.remembered.delete(u);
    this.sources.delete(u);
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
  ownedBy(unit: string): SharedRuntime | undefined { this.resolve(); return this.byOwner.get(normalizeName(unit)); }

  /** Every runtime still held (the agent's exit ends their holders). */
  all(): SharedRuntime[] { return [...this.byOwner.values()]; }

  /**
   * A unit removed for good (its runner closed, its folder gone): its own declarations go (what
   * others list stays theirs: a unit of that name added again is their partner again), with
   * what a previous agent saved for it. A runtime it still holds is let go first (release()).
   */
  forget(unit: string): void {
    const u = normalizeName(unit);
    if (this.byUnit.has(u)) this.release(u);
    for (const j of this.declared.get(u) ?? []) { const by = this.listedBy.get(j); by?.delete(u); if (by?.size === 0) this.listedBy.delete(j); }
    for (const m of [this.declared, this.declaredPaths, this.place, this.remembered, this.sources, this.warnings]) m.delete(u);
  }

  /** Whether nothing is held or remembered here (the group's last unit went: the host drops it). */
  get idle(): boolean { return this.byOwner.size === 0 && this.byUnit.size === 0 && this.remembered.size === 0 && this.declared.size === 0; }

  /** Units declared here (metrics, tests). */
  get declaredUnits(): number { return this.declared.size; }
}

const KINDS = [
  { t: 'net', priv: 'privateNetwork', path: 'networkNamespacePath', dPriv: 'PrivateNetwork=', dPath: 'NetworkNamespacePath=', what: 'network', a: 'a', env: 'UO_SHIM_NETNS_PATH' },
  { t: 'ipc', priv: 'privateIPC', path: 'ipcNamespacePath', dPriv: 'PrivateIPC=', dPath: 'IPCNamespacePath=', what: 'IPC', a: 'an', env: 'UO_SHIM_IPCNS_PATH' },
] as const;

/**
 * What a unit asks for that the runtime it joined does not give (systemd 257 runs the command
 * in what the runtime stores, silently; the agent says so): a namespace the runtime's maker did
 * not need (the host's then), or a path while the runtime stores another namespace.
 */
export function runtimeGaps(service: Readonly<Record<string, unknown>> | undefined, rt: SharedRuntime | undefined, unit: string): string[] {
  const s = service ?? {};
  if (!rt || normalizeName(rt.owner) === normalizeName(unit)) return [];
  const out: string[] = [];
  for (const k of KINDS) {
    const path = nsPath(s[k.path]);
    if (!stores(rt, k.t)) {
      if (truthy(s[k.priv])) out.push(`${k.dPriv}yes is not applied: the unit runs in the runtime of ${rt.owner} (JoinsNamespaceOf=), made without ${k.a} ${k.what} namespace, so in the host's ${k.what} namespace, as under systemd 257`);
      if (path !== undefined) out.push(`${k.dPath}${path} is not joined: the unit runs in the runtime of ${rt.owner} (JoinsNamespaceOf=), made without ${k.a} ${k.what} namespace, so in the host's ${k.what} namespace, as under systemd 257`);
    } else if (path !== undefined && rt.paths[k.t] !== path) {
      out.push(`${k.dPath}${path} is not joined: the runtime of ${rt.owner} (JoinsNamespaceOf=) holds ${k.a} ${k.what} namespace already${rt.paths[k.t] !== undefined ? ` (${rt.paths[k.t]})` : ''}, which the unit runs in, as under systemd 257`);
    }
  }
  return out;
}

/**
 * The shim settings of one command: the namespaces the runtime stores that its unit asks for
 * (PrivateNetwork=/PrivateIPC= or a path: exec_invoke() joins what is stored; a runtime that
 * stores none gives none, as systemd), held ones through the holder, path ones by the path.
 */
export function namespaceEnv(service: Readonly<Record<string, unknown>> | undefined, rt: SharedRuntime | undefined): Record<string, string> {
  const s = service ?? {};
  const env: Record<string, string> = {};
  const wanted: SharedNs[] = [];
  for (const k of KINDS) {
    const path = nsPath(s[k.path]);
    if (!truthy(s[k.priv]) && path === undefined) continue;
    if (!rt) { if (path !== undefined) env[k.env] = path; continue; } // (no runtime: a unit that names a path always has one)
    const stored = rt.paths[k.t];
    if (stored !== undefined) env[k.env] = stored;
    else if (rt.holder?.types.includes(k.t)) wanted.push(k.t);
  }
  if (wanted.length > 0 && rt?.holder) env['UO_SHIM_JOIN_NS'] = `${rt.holder.pid}:${rt.holder.start}:${wanted.join(',')}`;
  // PrivateUsers=: yes/self or identity; systemd 257 does not parse "full" (ignored: no user namespace)
  const pu = s['privateUsers'];
  if (pu === 'identity' || pu === 'self' || truthy(pu)) env['UO_SHIM_PRIVATE_USERS'] = pu === 'identity' ? 'identity' : 'self';
  return env;
}
