// A unit's resource limits on this node (issue 13), its device access and its IP access (issue 15,
// devices.ts, ipaccess.ts): what the runner writes into (or attaches to) the unit's cgroup before
// its processes start and again, without a restart, when the spec changes (as systemctl
// set-property does), and what this node cannot express, in the table's terms.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServiceUnitSpec } from '../../api/types.ts';
import { appliedDirectives, type Unapplied } from '../../api/applied.ts';
import { fieldName, lookupDirective } from '../../api/directives.ts';
import { APPLIED_LIMIT_ROWS } from '../../api/table/resource.ts';
import { v1Hierarchy } from './layout.ts';
import { parseResources, unappliable, type Available, type HostFacts, type LimitLayout, type Resources } from './resources.ts';
import { applyLimits, dirFor, readHostFacts, reapplyLimits } from './limits.ts';
import { OOM_FILE } from './oom.ts';
import { delegationOf } from './delegate.ts';
import { applyDeviceWrites, deviceContext, deviceWrites, readDeviceHost, restricts, type DeviceContext } from './devices.ts';
import { hasIpAccess, ipAccess, compileFilter, type IpAccess } from './ipaccess.ts';
import { applyCgroupFilters, cgroupBpfSupport } from './cgroupbpf.ts';
import { compileDevices, deviceCommand, deviceRules } from './devices-bpf.ts';
import { compileBind, hasSocketBind, socketBind, type SocketBind } from './socketbind.ts';
import type { CgroupContext, UnitCgroup } from './naming.ts';

/** Limits go to the unified hierarchy on a pure v2 node; a hybrid node keeps them on v1 (as systemd's hybrid mode). */
export const limitLayout = (ctx: CgroupContext): LimitLayout => (ctx.layout.mode === 'v2' ? 'v2' : 'v1');

let host: HostFacts | undefined;
/** systemd's physical_memory() and system_tasks_max() for this node, read once. */
function hostFacts(ctx: CgroupContext | undefined): HostFacts {
  if (host) return host;
  const root = (c: string): string | undefined => (ctx?.layout.mode === 'v2' ? ctx.layout.unified : ctx && v1Hierarchy(ctx.layout, c))?.mount;
  const memoryRoot = ctx ? root('memory') : undefined;
  const pidsRoot = ctx ? root('pids') : undefined;
  host = readHostFacts({ ...(memoryRoot ? { memoryRoot } : {}), ...(pidsRoot ? { pidsRoot } : {}) });
  return host;
}

/** The resource-control directives the table says the runner applies (through this module). */
const APPLIED = (): ReadonlySet<string> => new Set(appliedDirectives(['runner']).filter((d) => (APPLIED_LIMIT_ROWS as readonly string[]).includes(d.name)).map((d) => d.name));

/** Resources with the unit's device context (devices.ts) and IP lists (ipaccess.ts), which the same calls apply. */
export type UnitResources = Resources & { readonly devices: DeviceContext; readonly ip: IpAccess; readonly bind: SocketBind };

/** Whether the devices cgroup `dir` allows everything (a missing file: the cgroup is made anew). */
function unrestrictedList(dir: string): boolean {
  try { return readFileSync(join(dir, 'devices.list'), 'utf8').trim() === 'a *:* rwm'; } catch { return true; }
}

const devicesOf = (r: Resources): DeviceContext | undefined => (r as Partial<UnitResources>).devices;

/** DeviceAllow=/DevicePolicy= are applied when the table says the runner applies them. */
const DEVICE_ROWS = ['DeviceAllow', 'DevicePolicy'] as const;
const devicesApplied = (): boolean => DEVICE_ROWS.every((n) => lookupDirective('Service', n)?.applier === 'runner');
/**
 * Device access goes to a BPF_CGROUP_DEVICE program on the unit's cgroup2 cgroup on a pure v2
 * node (systemd: cg_all_unified()); a hybrid or v1 node keeps the v1 "devices" hierarchy.
 */
const devicesByBpf = (cgroup: UnitCgroup, ctx: CgroupContext | undefined): boolean => ctx?.layout.mode === 'v2' && cgroup.dirs['unified'] !== undefined;

/** IPAddressAllow=/IPAddressDeny= are applied when the table says the runner applies them. */
const IP_ROWS = ['IPAddressAllow', 'IPAddressDeny'] as const;
const ipApplied = (): boolean => IP_ROWS.every((n) => lookupDirective('Service', n)?.applier === 'runner');
const ipOf = (r: Resources): IpAccess | undefined => (r as Partial<UnitResources>).ip;
/** SocketBindAllow=/SocketBindDeny= likewise (socketbind.ts, the same loader). */
const BIND_ROWS = ['SocketBindAllow', 'SocketBindDeny'] as const;
const bindApplied = (): boolean => BIND_ROWS.every((n) => lookupDirective('Service', n)?.applier === 'runner');
const bindOf = (r: Resources): SocketBind | undefined => (r as Partial<UnitResources>).bind;

export function unitResources(spec: ServiceUnitSpec, ctx: CgroupContext | undefined): UnitResources {
  return { ...parseResources(spec, hostFacts(ctx)), devices: deviceContext(spec), ip: ipAccess(spec), bind: socketBind(spec) };
}

/**
 * What the spec asks of the applied resource directives that this node cannot give: all of them
 * when the agent has no cgroup hierarchy it can write, else the per-node gaps (a file the node
 * lacks, a value v1 cannot express). Directives the table already reports are left to it.
 */
export function resourceGaps(spec: ServiceUnitSpec, r: Resources, cgroup: UnitCgroup | undefined, ctx: CgroupContext | undefined, shimPath?: string): Unapplied[] {
  const applied = new Set(APPLIED());
  // device and IP access: their own per-node gaps (deviceGaps(), ipGaps())
  const access = [...(devicesApplied() ? deviceGaps(spec, devicesOf(r), cgroup, ctx, shimPath) : []),
    ...(ipApplied() ? filterGaps(ipLists(ipOf(r)), cgroup, ctx, shimPath) : []), ...(bindApplied() ? filterGaps(bindLists(bindOf(r)), cgroup, ctx, shimPath) : [])];
  for (const n of [...DEVICE_ROWS, ...IP_ROWS, ...BIND_ROWS]) applied.delete(n);
  if (!cgroup || !ctx) {
    const s = spec.service ?? {};
    const asks = (name: string): boolean => s[fieldName(name)] !== undefined && s[fieldName(name)] !== null
      && (!name.startsWith('Delegate') || delegationOf(s).on); // Delegate=no asks for nothing, nor DelegateSubgroup= without it
    return [...[...applied, 'OOMPolicy'].filter(asks).map((name) => ({
      name, section: 'Service' as const, path: `spec.service.${fieldName(name)}`, applier: 'cgroup' as const,
      reason: 'the agent has no cgroup hierarchy it can write on this node (not root, or /sys/fs/cgroup read-only): resource limits need the unit\'s own cgroup',
      protects: lookupDirective('Service', name)?.protects ?? true,
    })), ...access];
  }
  const layout = limitLayout(ctx);
  const gaps = unappliable(r, availableFor(cgroup, layout)).filter((u) => applied.has(u.name));
  gaps.push(...delegateGaps(spec, ctx).filter((u) => applied.has(u.name)));
  gaps.push(...access);
  // OOMPolicy= is acted on when the kernel's OOM kill counter is readable (oom.ts)
  const oomPolicy = spec.service?.['oomPolicy'];
  if (oomPolicy !== undefined && oomPolicy !== null && lookupDirective('Service', 'OOMPolicy')?.applier === 'runner' && !availableFor(cgroup, layout).has('memory', OOM_FILE[layout])) {
    gaps.push({ name: 'OOMPolicy', section: 'Service', path: 'spec.service.oomPolicy', applier: 'cgroup', protects: false,
      reason: `no ${OOM_FILE[layout]} on this node (the memory controller is not available to the unit's cgroup), so OOM kills are not seen` });
  }
  return gaps;
}

/** Files a root cgroup lacks that every child has (the unit's cgroup does not exist before it first starts). */
const CHILD_ONLY = new Set(['pids.max', 'memory.events', 'memory.max', 'memory.high', 'memory.low', 'memory.min', 'memory.swap.max', 'memory.oom.group',
  'cpu.max', 'cpu.weight', 'cpu.idle', 'io.weight', 'io.bfq.weight', 'cpuset.cpus', 'cpuset.mems']);

/**
 * What the unit's cgroup offers; before it exists, what its hierarchy's root says a child will
 * offer — also for a controller its cgroup is not made in yet (realize.ts: made once a directive
 * asks for it, so judged by the node's hierarchy, not by the set the spec before needed).
 */
function availableFor(cgroup: UnitCgroup, layout: LimitLayout): Available {
  const unmade = (c: string): string | undefined => { const h = layout === 'v1' ? v1Hierarchy(cgroup.layout, c) : undefined; return h && `${h.mount}/${cgroup.rel}`; };
  return {
    layout,
    has: (controller, file) => {
      const dir = dirFor(cgroup.dirs, layout, controller) ?? unmade(controller);
      if (dir === undefined) return false;
      if (existsSync(dir)) return existsSync(join(dir, file));
      const root = dir.endsWith(`/${cgroup.rel}`) ? dir.slice(0, -(cgroup.rel.length + 1)) : dirname(dir);
      return existsSync(join(root, file)) || (existsSync(root) && CHILD_ONLY.has(file));
    },
  };
}

/** Writes the unit's limits into its cgroup; returns systemd's "Failed to set … attribute …" lines for what the kernel refused. */
export function applyUnitLimits(r: Resources, cgroup: UnitCgroup, ctx: CgroupContext, fresh = false): string[] {
  const problems = applyLimits(cgroup.dirs, r, limitLayout(ctx), fresh).map((p) => p.message);
  // device access before the first process too; an unrestricted unit keeps its new cgroup's (the
  // parent's) list, unless a cgroup left from an earlier invocation still holds rules
  const dev = devicesOf(r), dir = devicesByBpf(cgroup, ctx) ? undefined : cgroup.dirs['devices'];
  if (dev && dir !== undefined && devicesApplied() && (restricts(dev) || !unrestrictedList(dir))) problems.push(...applyDeviceWrites(dir, deviceWrites(dev, readDeviceHost())));
  return problems;
}

/** A changed spec on a running unit: the limits that changed are written at once (set-property). */
export function reapplyUnitLimits(before: Resources, after: Resources, cgroup: UnitCgroup, ctx: CgroupContext): { changed: string[]; problems: string[] } {
  const { changed, problems } = reapplyLimits(cgroup.dirs, before, after, limitLayout(ctx));
  const out = { changed, problems: problems.map((p) => p.message) };
  // device rules: written again (all of them, "a" first, as systemd) when they changed
  const was = devicesOf(before), now = devicesOf(after), dir = devicesByBpf(cgroup, ctx) ? undefined : cgroup.dirs['devices'];
  if (was && now && dir !== undefined && devicesApplied()) {
    const host = readDeviceHost();
    const a = deviceWrites(was, host), b = deviceWrites(now, host);
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.problems.push(...applyDeviceWrites(dir, b));
      out.changed.push(...DEVICE_ROWS);
    }
  }
  return out;
}

/**
 * DeviceAllow=/DevicePolicy= (with what PrivateDevices= and ProtectClock= imply) on this node:
 * applied where the unit has a cgroup in a v1 "devices" hierarchy (v1 and hybrid nodes), or on a
 * cgroup2-only node by a BPF_CGROUP_DEVICE program the kernel lets the agent attach; elsewhere a
 * restriction is a gap that protects (the unit does not start). Lines systemd ignores are reported.
 */
function deviceGaps(spec: ServiceUnitSpec, dev: DeviceContext | undefined, cgroup: UnitCgroup | undefined, ctx: CgroupContext | undefined, shimPath: string | undefined): Unapplied[] {
  if (!dev) return [];
  const s = spec.service ?? {};
  const out: Unapplied[] = dev.ignored.map((why) => ({ name: 'DeviceAllow', section: 'Service' as const, path: 'spec.service.deviceAllow', applier: 'cgroup' as const, protects: false,
    reason: `ignored, as systemd ignores it: ${why}` }));
  if (!restricts(dev)) return out;
  let reason: string | undefined;
  if (!cgroup || !ctx) reason = 'the agent has no cgroup hierarchy it can write on this node (not root, or /sys/fs/cgroup read-only): device access needs the unit\'s own cgroup';
  else if (devicesByBpf(cgroup, ctx)) {
    reason = cgroupBpfGap('the device filter', cgroup, ctx, shimPath, () => { compileDevices(deviceRules(dev, readDeviceHost()) ?? []); }, 'cgroup-bpf-device');
    if (reason !== undefined) reason = `this cgroup2-only node applies device access with a BPF_CGROUP_DEVICE program, and ${reason.replace(/^this node /, 'it ')}`;
  } else if (!v1Hierarchy(ctx.layout, 'devices')) reason = 'this node has no cgroup v1 "devices" hierarchy the agent can write (a hybrid node keeps device access on v1, as systemd does; a BPF_CGROUP_DEVICE program is used on cgroup2-only nodes)';
  if (reason === undefined) return out;
  const asked = DEVICE_ROWS.filter((n) => { const v = s[fieldName(n)]; return v !== undefined && v !== null && v !== 'auto' && !(Array.isArray(v) && v.length === 0); });
  for (const name of asked) out.push({ name, section: 'Service', path: `spec.service.${fieldName(name)}`, applier: 'cgroup', protects: true, reason });
  // PrivateDevices= alone closes the policy too; its private /dev (the protection) is applied, so the cgroup half is reported, not refused
  if (asked.length === 0) out.push({ name: 'PrivateDevices', section: 'Service', path: 'spec.service.privateDevices', applier: 'cgroup', protects: false, reason: `its implied DevicePolicy=closed is not applied: ${reason}` });
  return out;
}

/** An allow list and a deny list applied by cgroup BPF programs (IP filter, bind rules) and what gets in their way on this node. */
interface FilterLists {
  readonly names: readonly [allow: string, deny: string];
  readonly allow: readonly unknown[];
  readonly deny: readonly unknown[];
  readonly ignored: readonly { readonly name: string; readonly why: string }[];
  /** What the programs are, for the reason ("the IP filter"). */
  readonly what: string;
  /** Compiles them: throws a RangeError for lists too long. */
  readonly compile: () => void;
}

/**
 * IPAddressAllow=/IPAddressDeny= and SocketBindAllow=/SocketBindDeny= on this node: applied where
 * the unit has a cgroup in a cgroup2 hierarchy and the kernel lets the agent attach cgroup BPF
 * programs (`uo-shim --cgroup-bpf DIR` check, asked once); elsewhere a deny list is a gap that
 * protects (the unit does not start), an allow list alone (which refuses nothing) a gap
 * reported. Words systemd ignores are reported.
 */
function filterGaps(l: FilterLists | undefined, cgroup: UnitCgroup | undefined, ctx: CgroupContext | undefined, shimPath: string | undefined): Unapplied[] {
  if (!l) return [];
  const gap = (name: string, reason: string, protects: boolean): Unapplied =>
    ({ name, section: 'Service', path: `spec.service.${fieldName(name)}`, applier: 'cgroup', reason, protects });
  const out = l.ignored.map((i) => gap(i.name, `ignored, as systemd ignores it: ${i.why}`, false));
  if (l.allow.length + l.deny.length === 0) return out;
  const reason = cgroupBpfGap(l.what, cgroup, ctx, shimPath, l.compile);
  if (reason) {
    if (l.allow.length > 0) out.push(gap(l.names[0], reason, false));
    if (l.deny.length > 0) out.push(gap(l.names[1], reason, true));
  }
  return out;
}

const ipLists = (ip: IpAccess | undefined): FilterLists | undefined =>
  ip && { names: IP_ROWS, allow: ip.allow, deny: ip.deny, ignored: ip.ignored, what: 'the IP filter', compile: () => { compileFilter(ip, 'ingress'); } };
const bindLists = (b: SocketBind | undefined): FilterLists | undefined =>
  b && { names: BIND_ROWS, allow: b.allow, deny: b.deny, ignored: b.ignored, what: 'the bind filter', compile: () => { compileBind(b, 2); } };

/** Why `what` (BPF programs on the unit's cgroup2 cgroup) cannot be attached on this node, or undefined; `compile` throws a list too long. */
function cgroupBpfGap(what: string, cgroup: UnitCgroup | undefined, ctx: CgroupContext | undefined, shimPath: string | undefined, compile: () => void, feature: 'cgroup-bpf' | 'cgroup-bpf-device' = 'cgroup-bpf'): string | undefined {
  if (!cgroup || !ctx) return `the agent has no cgroup hierarchy it can write on this node (not root, or /sys/fs/cgroup read-only): ${what} is a BPF program attached to the unit's own cgroup`;
  if (cgroup.dirs['unified'] === undefined || !ctx.layout.unified) return `this node has no cgroup2 hierarchy the agent can write: ${what} is a BPF program attached to the unit's cgroup in it`;
  try { compile(); } catch (e) { return (e as Error).message; }
  const why = shimPath !== undefined ? cgroupBpfSupport(shimPath, ctx.layout.unified.mount, feature) : undefined;
  return why ? `this node does not let the agent attach cgroup BPF programs (${why})` : undefined;
}

/**
 * The unit's IP filter, bind rules and (cgroup2-only node) device program on its cgroup2 cgroup
 * before its first process starts; `existed`: the cgroup was there before this start (an earlier
 * invocation's filter may still be attached: it is replaced, or detached when the lists are now
 * empty). Undefined, or why it failed (the start then fails: the filter protects).
 */
export function applyUnitIpFilter(r: Resources, cgroup: UnitCgroup, shimPath: string, existed: boolean, ctx?: CgroupContext): string | undefined {
  const dir = cgroup.dirs['unified'];
  if (dir === undefined) return undefined;
  const ip = ipApplied() ? ipOf(r) : undefined, bind = bindApplied() ? bindOf(r) : undefined;
  const dev = devicesApplied() && devicesByBpf(cgroup, ctx) ? devicesOf(r) : undefined;
  const what = { ...(ip && (hasIpAccess(ip) || existed) ? { ip } : {}), ...(bind && (hasSocketBind(bind) || existed) ? { bind } : {}),
    ...(dev && (restricts(dev) || existed) ? { devices: deviceCommand(dev, readDeviceHost()) } : {}) };
  return what.ip || what.bind || what.devices !== undefined ? applyCgroupFilters(shimPath, dir, what) : undefined;
}

/** Changed lists on a running unit (set-property): the filter replaced at once. */
export function reapplyUnitIpFilter(before: Resources, after: Resources, cgroup: UnitCgroup, shimPath: string, ctx?: CgroupContext): { changed: string[]; problem?: string } {
  const dir = cgroup.dirs['unified'];
  if (dir === undefined) return { changed: [] };
  const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
  const wasIp = ipOf(before), nowIp = ipOf(after), wasBind = bindOf(before), nowBind = bindOf(after);
  const ip = ipApplied() && wasIp && nowIp ? IP_ROWS.filter((n) => (n === 'IPAddressAllow' ? differs(wasIp.allow, nowIp.allow) : differs(wasIp.deny, nowIp.deny))) : [];
  const bind = bindApplied() && wasBind && nowBind ? BIND_ROWS.filter((n) => (n === 'SocketBindAllow' ? differs(wasBind.allow, nowBind.allow) : differs(wasBind.deny, nowBind.deny))) : [];
  // the device program: compiled again (the nodes' numbers as they are now) and replaced when it differs
  const wasDev = devicesOf(before), nowDev = devicesOf(after);
  let devices: string | undefined;
  if (devicesApplied() && devicesByBpf(cgroup, ctx) && wasDev && nowDev) {
    const host = readDeviceHost(), a = deviceCommand(wasDev, host), b = deviceCommand(nowDev, host);
    if (a !== b) devices = b;
  }
  const dev = devices !== undefined ? [...DEVICE_ROWS] : [];
  if (ip.length + bind.length + dev.length === 0) return { changed: [] };
  const problem = applyCgroupFilters(shimPath, dir, { ...(ip.length > 0 ? { ip: nowIp! } : {}), ...(bind.length > 0 ? { bind: nowBind! } : {}), ...(devices !== undefined ? { devices } : {}) });
  return problem === undefined ? { changed: [...ip, ...bind, ...dev] } : { changed: [], problem };
}

/**
 * Delegate= on a node without systemd's own hierarchy (cgroup2, or name=systemd on v1) to hand
 * over, and a DelegateSubgroup= systemd ignores (a name that would need escaping).
 */
function delegateGaps(spec: ServiceUnitSpec, ctx: CgroupContext): Unapplied[] {
  const d = delegationOf(spec.service);
  const gap = (name: string, reason: string): Unapplied => ({ name, section: 'Service', path: `spec.service.${fieldName(name)}`, applier: 'cgroup', reason, protects: false });
  const out: Unapplied[] = [];
  if (d.on && !ctx.layout.hierarchies.some((h) => h.version === 2 || h.key === 'name=systemd')) {
    out.push(gap('Delegate', 'this node has neither a cgroup2 hierarchy nor a name=systemd one the agent can write: systemd delegates only in its own hierarchy, never a v1 controller hierarchy'));
  }
  if (d.invalidSubgroup !== undefined) out.push(gap('DelegateSubgroup', `Invalid control group name, ignoring: ${d.invalidSubgroup} (systemd takes no name that would need escaping: "_" or "." first, a "/", "cgroup." or a controller's prefix)`));
  return out;
}
