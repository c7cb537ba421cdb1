// The effectful edge of IPAddressAllow=/IPAddressDeny= (ipaccess.ts), SocketBindAllow=/
// SocketBindDeny= (socketbind.ts) and, on a cgroup2-only node, DevicePolicy=/DeviceAllow=
// (devices-bpf.ts): `uo-shim --cgroup-bpf DIR`
// (shim/cgroup-bpf.c) run synchronously by the agent, the compiled programs on its stdin. At a
// start before the unit's first process (a failure fails the start: the filter protects), and
// again when the lists change while the unit runs (set-property). The attachment stays with the
// cgroup: an agent that comes back finds the programs by name and replaces them, never adding a
// second pair.

import { spawnSync } from 'node:child_process';
import { compileFilter, encodeProgram, hasIpAccess, PROGRAM_NAME, type IpAccess } from './ipaccess.ts';
import { BIND_PROGRAM_NAME, compileBind, hasSocketBind, type SocketBind } from './socketbind.ts';

const DIRECTIONS = ['ingress', 'egress'] as const;

/** The helper's commands for `a`: attach (replace) both programs, or detach ours when there are no lists. Throws RangeError for a list too long. */
export function ipFilterCommands(a: IpAccess): string[] {
  if (!hasIpAccess(a)) return DIRECTIONS.map((d) => `detach inet-${d} ${PROGRAM_NAME[d]}`);
  return DIRECTIONS.map((d) => `attach inet-${d} ${PROGRAM_NAME[d]} ${encodeProgram(compileFilter(a, d))}`);
}

/** The helper's commands for `b`: attach (replace) the bind4/bind6 programs, or detach ours when there are no rules. Throws RangeError over 128 rules. */
export function bindCommands(b: SocketBind): string[] {
  const hooks = [[2, 'inet4-bind'], [10, 'inet6-bind']] as const;
  if (!hasSocketBind(b)) return hooks.map(([f, at]) => `detach ${at} ${BIND_PROGRAM_NAME[f]}`);
  return hooks.map(([f, at]) => `attach ${at} ${BIND_PROGRAM_NAME[f]} ${encodeProgram(compileBind(b, f))}`);
}

/** Runs the helper on the cgroup `dir`; its stdout, or throws an Error with what it said. */
export function runCgroupBpf(shimPath: string, dir: string, commands: readonly string[]): string {
  const r = spawnSync(shimPath, ['--cgroup-bpf', dir], { input: `${commands.join('\n')}\n`, encoding: 'utf8', timeout: 30_000, maxBuffer: 1 << 20 });
  if (r.error) throw new Error(`uo-shim --cgroup-bpf ${dir}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(r.stderr.trim() || `uo-shim --cgroup-bpf ${dir}: exit status ${r.status ?? r.signal}`);
  return r.stdout;
}

/** Attaches (or detaches) the unit's IP filter, bind rules and/or device program (its loader command, devices-bpf.ts deviceCommand()) on its unified cgroup `dir`; undefined, or why it failed. */
export function applyCgroupFilters(shimPath: string, dir: string, what: { ip?: IpAccess; bind?: SocketBind; devices?: string }): string | undefined {
  try {
    runCgroupBpf(shimPath, dir, [...(what.ip ? ipFilterCommands(what.ip) : []), ...(what.bind ? bindCommands(what.bind) : []), ...(what.devices !== undefined ? [what.devices] : [])]);
    return undefined;
  } catch (e) { return (e as Error).message; }
}

/** The programs attached to `dir`: "inet-ingress ID NAME" lines (the four socket hooks, and the device hook with `device`). */
export function listPrograms(shimPath: string, dir: string, device = false): string[] {
  return runCgroupBpf(shimPath, dir, ['inet-ingress', 'inet-egress', 'inet4-bind', 'inet6-bind', ...(device ? ['device'] : [])].map((at) => `list ${at}`)).split('\n').filter(Boolean);
}

const support = new Map<string, string | undefined>();
/**
 * Whether this kernel lets the agent load and attach cgroup SKB programs (root, CONFIG_CGROUP_BPF,
 * bpf(2) not refused by a seccomp filter or lockdown), asked once per shim and cgroup2 mount:
 * undefined when it does, else why not.
 */
export function cgroupBpfSupport(shimPath: string, unifiedMount: string, feature: 'cgroup-bpf' | 'cgroup-bpf-device' = 'cgroup-bpf'): string | undefined {
  const k = `${shimPath}\0${unifiedMount}\0${feature}`;
  if (!support.has(k)) {
    let why: string | undefined;
    // a prebuilt shim from older sources has no --cgroup-bpf (or no device hook): said so, not its usage line
    const features = spawnSync(shimPath, ['--features'], { encoding: 'utf8', timeout: 10_000 });
    if (features.status !== 0 || !features.stdout.split('\n').includes(feature)) why = `the shim ${shimPath} cannot load cgroup ${feature === 'cgroup-bpf' ? '' : 'device '}BPF programs (uo-shim --features does not list "${feature}": built from older sources?)`;
    else try { runCgroupBpf(shimPath, unifiedMount, ['check']); } catch (e) { why = (e as Error).message; }
    support.set(k, why);
  }
  return support.get(k);
}
