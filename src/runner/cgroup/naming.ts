// A unit's cgroup, named as systemd names it: <base>/<slice path>/<unit>.service under the root
// of every hierarchy. <base> is the agent's own top slice (unit-operator.slice; tests and
// agents on a private state folder use one below it, so two agents never share a unit's
// cgroup); Slice= nests inside it with systemd's slice naming (foo-bar.slice →
// foo.slice/foo-bar.slice). The holders (uo-shims) live in <base>/uo-holders.scope, beside the
// units and never in a unit's cgroup (they would count against TasksMax= and keep it populated).

import { createHash } from 'node:crypto';
import type { CgroupLayout, Hierarchy } from './layout.ts';

/** The agent's cgroups: the node's layout and its top slice (relative to each hierarchy's root). */
export interface CgroupContext {
  readonly layout: CgroupLayout;
  /** e.g. 'unit-operator.slice' or 'unit-operator.slice/unit-operator-1a2b3c4d.slice'. */
  readonly base: string;
}

export const DEFAULT_BASE = 'unit-operator.slice';
export const HOLDERS_SCOPE = 'uo-holders.scope';

/** One cgroup (a unit's or the holders'), resolved in every hierarchy of the layout. */
export interface UnitCgroup {
  /** Relative to each hierarchy's mount: 'unit-operator.slice/web.service'. */
  readonly rel: string;
  /** Controller (or 'unified') → absolute directory; co-mounted v1 controllers share one. */
  readonly dirs: Readonly<Record<string, string>>;
  /**
   * The cgroup's directory in each hierarchy it is made in, the unified one first. systemd
   * realizes a unit's cgroup only in the v1 controllers it needs (unit_get_target_mask(); a
   * hybrid node: cgroup2, name=systemd, memory, pids, and what its directives ask for: realize.ts).
   */
  readonly placement: readonly string[];
  /** The hierarchies of `placement`, in its order. */
  readonly hierarchies: readonly Hierarchy[];
  /**
   * What a command is written into, one directory a hierarchy of the layout: the cgroup where it
   * is made, the agent's base slice in the others (as systemd leaves a process in the nearest
   * realized parent: never in the holders' cgroup its shim forked it from).
   */
  readonly joins: readonly string[];
  /** Where membership, emptiness and kills are read: the unified dir, else a v1 one (pids, memory, …). */
  readonly primary: string;
  readonly layout: CgroupLayout;
  readonly base: string;
}

/** The base for an agent: UNIT_OPERATOR_CGROUP_SLICE, else unit-operator.slice for the default state folder, else one per state folder below it. */
export function agentBase(stateDir: string, defaultStateDir: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const set = env['UNIT_OPERATOR_CGROUP_SLICE'];
  if (set) return set.replace(/^\/+|\/+$/g, '');
  if (stateDir === defaultStateDir) return DEFAULT_BASE;
  return `${DEFAULT_BASE}/unit-operator-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}.slice`;
}

/** systemd's slice nesting: 'foo-bar.slice' → 'foo.slice/foo-bar.slice'; '-.slice' → ''. Throws on a name systemd refuses. */
export function slicePath(slice: string): string {
  if (slice === '-.slice') return '';
  const m = /^([A-Za-z0-9:_.\\]+(?:-[A-Za-z0-9:_.\\]+)*)\.slice$/.exec(slice);
  if (!m) throw new Error(`Slice=${slice} is not a valid slice name (NAME.slice, dashes nest)`);
  const parts = m[1]!.split('-');
  return parts.map((_, i) => `${escapeCgroupName(`${parts.slice(0, i + 1).join('-')}.slice`)}`).join('/');
}

const CONTROLLER_PREFIXES = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'io', 'pids', 'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc', 'cgroup'];

/** systemd's cg_escape(): a name that could pass for a control file gets a leading '_'; bytes outside [A-Za-z0-9:_.\@-] as \xHH. */
export function escapeCgroupName(name: string): string {
  let s = '';
  for (const ch of Buffer.from(name, 'utf8')) s += /[A-Za-z0-9:_.\\@-]/.test(String.fromCharCode(ch)) && ch < 0x80 ? String.fromCharCode(ch) : `\\x${ch.toString(16).padStart(2, '0')}`;
  if (s === '' || s === '.' || s === '..') return `_${s}`;
  const dot = s.indexOf('.');
  if (s.startsWith('_') || s.startsWith('.') || s === 'notify_on_release' || s === 'release_agent' || s === 'tasks'
    || (dot > 0 && CONTROLLER_PREFIXES.includes(s.slice(0, dot)))) return `_${s}`;
  return s;
}

/** Which hierarchies a unit's cgroup is made in (realize.ts); every one when not said. */
export type Realize = (h: Hierarchy) => boolean;

function resolve(ctx: CgroupContext, rel: string, realize?: Realize): UnitCgroup {
  const dirs: Record<string, string> = {};
  const placement: string[] = [], joins: string[] = [], hierarchies: Hierarchy[] = [];
  const primary = primaryHierarchy(ctx.layout.hierarchies);
  for (const h of ctx.layout.hierarchies) {
    const dir = `${h.mount}/${rel}`;
    // the primary hierarchy (membership, emptiness, kills) always; the rest as the unit needs them
    if (h !== primary && realize && !realize(h)) { joins.push(`${h.mount}/${ctx.base}`); continue; }
    placement.push(dir);
    joins.push(dir);
    hierarchies.push(h);
    if (h.version === 2) dirs['unified'] = dir;
    else for (const c of h.controllers) dirs[c] = dir;
  }
  return { rel, dirs, placement, hierarchies, joins, primary: `${primary.mount}/${rel}`, layout: ctx.layout, base: ctx.base };
}

/** The same cgroup made in other hierarchies (a live change that needs one more: realize.ts). */
export function realizedIn(cg: UnitCgroup, realize: Realize): UnitCgroup {
  return resolve({ layout: cg.layout, base: cg.base }, cg.rel, realize);
}

/** Whether two names of a unit's cgroup are the same cgroup made in the same hierarchies. */
export const sameCgroup = (a: UnitCgroup | undefined, b: UnitCgroup | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.rel === b.rel && a.layout === b.layout && a.hierarchies.length === b.hierarchies.length && a.hierarchies.every((h, i) => h === b.hierarchies[i]));

function primaryHierarchy(hs: readonly Hierarchy[]): Hierarchy {
  return hs.find((h) => h.version === 2) ?? hs.find((h) => h.controllers.includes('pids')) ?? hs.find((h) => h.controllers.includes('memory')) ?? hs[0]!;
}

/**
 * A unit's cgroup: <base>/[<group slice>/]<Slice= path>/<escaped unit name>. `group` is a slice of
 * the agent's own between its base and Slice= (cluster mode: one per namespace, namespaceSlice()),
 * so that two units of the same name never share a cgroup. undefined when the layout has no hierarchy.
 */
export function unitCgroup(ctx: CgroupContext, unitName: string, slice?: string, group?: string, realize?: Realize): UnitCgroup | undefined {
  if (ctx.layout.hierarchies.length === 0) return undefined;
  const leaf = escapeCgroupName(/\.[a-z]+$/.test(unitName) ? unitName : `${unitName}.service`);
  const sub = slice !== undefined && slice !== '' ? slicePath(slice) : '';
  return resolve(ctx, [ctx.base, group !== undefined && group !== '' ? escapeCgroupName(group) : '', sub, leaf].filter(Boolean).join('/'), realize);
}

/**
 * The slice of a Kubernetes namespace below the agent's base, named as systemd names a child
 * slice: the base's own name, a dash, the namespace escaped as unit_name_escape() escapes ('-'
 * and anything outside [A-Za-z0-9:_.] as \xHH): kube-system under unit-operator.slice is
 * unit-operator-kube\x2dsystem.slice.
 */
export function namespaceSlice(base: string, namespace: string): string {
  const parent = (base.split('/').pop() ?? DEFAULT_BASE).replace(/\.slice$/, '');
  let esc = '';
  for (const b of Buffer.from(namespace, 'utf8')) esc += /[A-Za-z0-9:_.]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  // a namespace named like another agent's nested base (12 hex digits) would be skipped as
  // foreign by the clean-up and adoption walks: its first character is escaped (same unit name)
  if (FOREIGN_BASE.test(`${parent}-${esc}.slice`)) esc = `\\x${esc.charCodeAt(0).toString(16)}${esc.slice(1)}`;
  return `${parent}-${esc}.slice`;
}

/** Another agent's (or test's) top slice nested in the system agent's unit-operator.slice: never the system agent's to clean. */
export const FOREIGN_BASE = /^(unit-operator-[0-9a-f]{12}|uo-test-[0-9a-f]+)\.slice$/;

/**
 * The unit cgroup a process is in now, read from /proc/<pid>/cgroup (the primary hierarchy's
 * line), when it lies below the agent's base (a process in a subgroup of the unit's cgroup gives
 * the unit's cgroup): how an adopted invocation keeps the cgroup it was
 * started in when the name the spec gives now differs (a Slice= or naming change while the agent
 * was away). undefined when the process is gone or elsewhere.
 */
export function cgroupOfPid(ctx: CgroupContext, pid: number, read: (path: string) => string): UnitCgroup | undefined {
  if (ctx.layout.hierarchies.length === 0 || !(pid > 0)) return undefined;
  let text: string;
  try { text = read(`/proc/${pid}/cgroup`); } catch { return undefined; }
  const primary = primaryHierarchy(ctx.layout.hierarchies);
  for (const line of text.split('\n')) {
    const m = /^([0-9]+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const mine = primary.version === 2 ? m[1] === '0' && m[2] === '' : m[2]!.split(',').some((c) => primary.controllers.includes(c));
    if (!mine) continue;
    const path = m[3]!.replace(/^\/+/, '');
    if (!path.startsWith(`${ctx.base}/`) || path.includes('..')) return undefined;
    // the unit is the first level below the base named as a unit that is not a slice (systemd's
    // cg_path_get_unit() skips the slices): a process in a subgroup of a delegated unit
    // (DelegateSubgroup=, .control, or one the payload made itself) belongs to the unit's cgroup
    const levels = path.slice(ctx.base.length + 1).split('/');
    const at = levels.findIndex((l) => UNIT_LEVEL.test(l));
    if (levels[at < 0 ? levels.length - 1 : at] === HOLDERS_SCOPE) return undefined;
    return resolve(ctx, at < 0 ? path : [ctx.base, ...levels.slice(0, at + 1)].join('/'));
  }
  return undefined;
}

const UNIT_LEVEL = /\.(service|scope|socket|mount|swap|timer|path|target|device|automount)$/;

/** The holders' cgroup beside the units': <base>/uo-holders.scope. */
export function holdersCgroup(ctx: CgroupContext): UnitCgroup | undefined {
  return ctx.layout.hierarchies.length === 0 ? undefined : resolve(ctx, `${ctx.base}/${HOLDERS_SCOPE}`);
}

/**
 * Whether rel lies inside the agent's own cgroup in some hierarchy (a unit's cgroup must not:
 * it would die with the agent's pod). An agent in a hierarchy's root cgroup contains nothing
 * that dies with it.
 */
export function insideAgent(layout: CgroupLayout, rel: string): string | undefined {
  for (const h of layout.hierarchies) {
    const a = h.agent?.replace(/\/+$/, '');
    if (a === undefined || a === '' || a === '/') continue;
    const abs = `/${rel}`;
    if (abs === a || abs.startsWith(`${a}/`)) return `${h.mount}${abs} is inside the agent's own cgroup ${a}`;
  }
  return undefined;
}
