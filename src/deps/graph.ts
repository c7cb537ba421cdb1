// The unit graph: every dependency with its inverse, and systemd's "atoms" (unit-dependency-atom.c)
// as queries over it. Pure.

import type { ActiveState } from '../engine/states.ts';
import { deps, type UnitDeps } from './spec.ts';
import { mountEdges, NO_HOST_MOUNTS, type HostMounts } from './mounts.ts';

/** Dependency types, forward and inverse (systemd's UnitDependency). */
export type Rel =
  | 'requires' | 'requiredBy' | 'requisite' | 'requisiteOf' | 'wants' | 'wantedBy' | 'bindsTo' | 'boundBy'
  | 'partOf' | 'consistsOf' | 'upholds' | 'upheldBy' | 'conflicts' | 'conflictedBy' | 'after' | 'before'
  | 'onFailure' | 'onFailureOf' | 'onSuccess' | 'onSuccessOf' | 'propagatesReloadTo' | 'reloadPropagatedFrom'
  | 'propagatesStopTo' | 'stopPropagatedFrom';

const INVERSE: Readonly<Record<Rel, Rel>> = {
  requires: 'requiredBy', requiredBy: 'requires', requisite: 'requisiteOf', requisiteOf: 'requisite',
  wants: 'wantedBy', wantedBy: 'wants', bindsTo: 'boundBy', boundBy: 'bindsTo', partOf: 'consistsOf', consistsOf: 'partOf',
  upholds: 'upheldBy', upheldBy: 'upholds', conflicts: 'conflictedBy', conflictedBy: 'conflicts', after: 'before', before: 'after',
  onFailure: 'onFailureOf', onFailureOf: 'onFailure', onSuccess: 'onSuccessOf', onSuccessOf: 'onSuccess',
  propagatesReloadTo: 'reloadPropagatedFrom', reloadPropagatedFrom: 'propagatesReloadTo',
  propagatesStopTo: 'stopPropagatedFrom', stopPropagatedFrom: 'propagatesStopTo',
};

/** systemd's dependency atoms: which relations carry each behaviour (unit-dependency-atom.c, v257). */
export const ATOM = {
  pullInStart: ['requires', 'bindsTo'],
  pullInStartIgnored: ['wants', 'upholds'],
  pullInVerify: ['requisite'],
  pullInStop: ['conflicts'],
  pullInStopIgnored: ['conflictedBy'],
  propagateStop: ['requiredBy', 'requisiteOf', 'boundBy', 'consistsOf'],
  propagateStopGraceful: ['propagatesStopTo'],
  propagateStartFailure: ['requiredBy', 'requisiteOf', 'boundBy'],
  propagateInactiveStartAsFailure: ['requisiteOf'],
  propagateStopFailure: ['conflictedBy'],
  retroactiveStartReplace: ['requires', 'bindsTo', 'upholds'],
  retroactiveStartFail: ['wants'],
  retroactiveStopOnStart: ['conflicts', 'conflictedBy'],
  retroactiveStopOnStop: ['boundBy', 'propagatesStopTo'],
  addStopWhenUnneededQueue: ['requires', 'requisite', 'wants', 'bindsTo', 'upholds'],
  pinsStopWhenUnneeded: ['requiredBy', 'requisiteOf', 'wantedBy', 'boundBy', 'upheldBy'],
  cannotBeActiveWithout: ['bindsTo'],
  addCannotBeActiveWithoutQueue: ['boundBy'],
  startSteadily: ['upheldBy'],
  addStartWhenUpheldQueue: ['upholds'],
  onFailure: ['onFailure'],
  onSuccess: ['onSuccess'],
  propagatesReloadTo: ['propagatesReloadTo'],
  after: ['after'],
  before: ['before'],
} as const satisfies Record<string, readonly Rel[]>;
export type Atom = keyof typeof ATOM;

/**
 * The node's well-known system targets: active on a running node, so ordering against them is
 * satisfied and pulling them in starts nothing. shutdown.target is known and inactive (the
 * Conflicts= of DefaultDependencies= points at it).
 */
export const WELL_KNOWN_TARGETS: readonly string[] = [
  'default.target', 'multi-user.target', 'graphical.target', 'basic.target', 'sysinit.target', 'local-fs.target', 'local-fs-pre.target',
  'remote-fs.target', 'remote-fs-pre.target', 'network.target', 'network-online.target', 'network-pre.target', 'nss-lookup.target',
  'nss-user-lookup.target', 'time-sync.target', 'time-set.target', 'paths.target', 'slices.target', 'sockets.target', 'swap.target',
  'timers.target', 'getty.target', 'rpcbind.target', 'cryptsetup.target', 'veritysetup.target', 'integritysetup.target',
];
export const INACTIVE_TARGETS: readonly string[] = ['shutdown.target'];

/** service.c's service_add_default_dependencies() + unit_add_default_dependencies() for services. */
function withDefaults(name: string, d: UnitDeps): UnitDeps {
  if (!d.defaultDependencies || d.target) return d;
  void name;
  return {
    ...d,
    requires: plus(d.requires, SYSINIT),
    after: plus(d.after, SYSINIT_BASIC),
    conflicts: plus(d.conflicts, SHUTDOWN),
    before: plus(d.before, SHUTDOWN),
  };
}

/** The default dependencies' lists, shared by the units that add nothing to them (issue 19). */
const SYSINIT: readonly string[] = Object.freeze(['sysinit.target']);
const SYSINIT_BASIC: readonly string[] = Object.freeze(['sysinit.target', 'basic.target']);
const SHUTDOWN: readonly string[] = Object.freeze(['shutdown.target']);
const plus = (xs: readonly string[], more: readonly string[]): readonly string[] => (xs.length === 0 ? more : [...xs, ...more]);

export interface Graph {
  /** Every unit that exists: the given ones, the node's targets and the host's mount units they name. */
  readonly units: ReadonlyMap<string, UnitDeps>;
  /** The host's mount units named by RequiresMountsFor=/WantsMountsFor=, with their state (mounted: active). */
  readonly hostMounts: ReadonlyMap<string, ActiveState>;
  readonly rels: ReadonlyMap<string, ReadonlyMap<Rel, ReadonlySet<string>>>;
}

const FORWARD: ReadonlyArray<keyof UnitDeps & Rel> = [
  'requires', 'requisite', 'wants', 'bindsTo', 'partOf', 'upholds', 'conflicts', 'after', 'before', 'onFailure', 'onSuccess',
  'propagatesReloadTo', 'reloadPropagatedFrom', 'propagatesStopTo', 'stopPropagatedFrom',
];

/** unit_add_mount_dependencies(): Requires=/Wants=/After= on the host's mount units of the paths (mounts.ts). */
function withMounts(d: UnitDeps, host: HostMounts, found: Map<string, ActiveState>): UnitDeps {
  if (d.requiresMountsFor.length === 0 && d.wantsMountsFor.length === 0) return d;
  const m = mountEdges(d.requiresMountsFor, d.wantsMountsFor, host);
  for (const [n, s] of m.units) found.set(n, s);
  return { ...d, requires: [...d.requires, ...m.requires], wants: [...d.wants, ...m.wants], after: [...d.after, ...m.after] };
}

/** Builds the graph: adds default and mount dependencies, the inverse of every edge, the node's targets and the host's mount units named. */
export function buildGraph(given: Readonly<Record<string, UnitDeps>>, host: HostMounts = NO_HOST_MOUNTS): Graph {
  const units = new Map<string, UnitDeps>();
  const hostMounts = new Map<string, ActiveState>();
  for (const t of [...WELL_KNOWN_TARGETS, ...INACTIVE_TARGETS]) units.set(t, deps({ target: true, defaultDependencies: false }));
  for (const [n, d] of Object.entries(given)) units.set(n, withDefaults(n, withMounts(d, host, hostMounts)));
  // a mount unit of the host (a hosted unit of that name stays the hosted one)
  for (const n of hostMounts.keys()) if (!units.has(n)) units.set(n, deps({ hostMount: true, defaultDependencies: false }));
  const rels = new Map<string, Map<Rel, Set<string>>>();
  const add = (from: string, rel: Rel, to: string): void => {
    if (from === to) return;
    let m = rels.get(from);
    if (!m) rels.set(from, (m = new Map()));
    let s = m.get(rel);
    if (!s) m.set(rel, (s = new Set()));
    s.add(to);
  };
  for (const [n, d] of units) {
    for (const rel of FORWARD) {
      for (const other of d[rel] as readonly string[]) { add(n, rel, other); add(other, INVERSE[rel], n); }
    }
  }
  return { units, rels, hostMounts };
}

/** The units related to `unit` by any relation of `atom`, in a stable (sorted) order. */
export function related(g: Graph, unit: string, atom: Atom): string[] {
  const m = g.rels.get(unit);
  if (!m) return [];
  const out = new Set<string>();
  for (const rel of ATOM[atom]) for (const o of m.get(rel) ?? []) out.add(o);
  return [...out].sort();
}

export const hasRel = (g: Graph, unit: string, atom: Atom, other: string): boolean => related(g, unit, atom).includes(other);
export const exists = (g: Graph, unit: string): boolean => g.units.has(unit);
