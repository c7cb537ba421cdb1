// Delegate= and DelegateSubgroup= (systemd.resource-control(5)) as systemd 257 applies them to a
// service's cgroup, per command (src/core/exec-invoke.c, execute.c exec_params_get_cgroup_path(),
// shared/cgroup-setup.c cg_set_access()), checked against the oracle on a hybrid node
// (test/runner/cgroup-delegate.test.ts records what it showed):
//
//   - the unit's cgroup is handed to User=/Group= (User= alone: its uid and primary group;
//     Group= alone: the group only, the owner stays root) in systemd's own hierarchy only:
//     cgroup2 (the directory 0755, cgroup.procs, cgroup.subtree_control, cgroup.threads,
//     memory.oom.group, memory.reclaim 0644) and, on v1, name=systemd (the directory,
//     cgroup.procs, tasks, cgroup.clone_children). The v1 controller hierarchies (memory, pids,
//     cpu…) stay root's: delegation there is not safe (systemd's words).
//   - where a command runs: ExecStart= in DelegateSubgroup= (<unit>/NAME) when set, else in the
//     unit's cgroup; ExecStartPost=, ExecReload=, ExecStop=, ExecStopPost= (started while the
//     payload may have made the unit's cgroup an inner one) in <unit>/.control; ExecCondition=
//     and ExecStartPre= in the unit's cgroup, or in .control when DelegateSubgroup= is set. The
//     subgroup is made in systemd's hierarchies (cgroup2, name=systemd); in the v1 controller
//     hierarchies the command joins the unit's cgroup (cg_attach_fallback()). The subgroup is
//     handed to User=/Group= recursively in the main systemd hierarchy (cgroup2 when there is
//     one; name=systemd's copy stays root's on a hybrid node).
//   - below that, nothing: what the payload makes is its own. Kills, membership, "empty" and the
//     removal already take the unit's whole subtree (ops.ts).
//   - on cgroup2 the delegated controllers (Delegate=yes: cpu cpuset io memory pids) are made
//     available to the unit's cgroup by its parents' cgroup.subtree_control (ops.ts enables
//     those for every unit); the unit's own cgroup.subtree_control is left to the payload.
//
// Not done: systemd's trusted.delegate / user.delegate extended attributes (Node has no xattr
// call; they only tell a payload that it was delegated).

import { chmodSync, chownSync, mkdirSync, readdirSync } from 'node:fs';
import type { ExecKind } from '../../engine/states.ts';
import { parseBoolean } from '../../unitfile/parse.ts';
import { errnoTextOf, type SetupFailure } from '../directories.ts';
import { detectCgroups, type CgroupLayout, type Hierarchy } from './layout.ts';

/** CGROUP_MASK_DELEGATE: what Delegate=yes delegates (the cgroup2 controllers). */
export const DELEGATE_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids'] as const;
/** systemd's controller names (cgroup_controller_to_string()): a DelegateSubgroup= may not start with "NAME.". */
const CONTROLLER_NAMES = ['cpu', 'cpuacct', 'cpuset', 'io', 'blkio', 'memory', 'devices', 'pids', 'bpf-firewall', 'bpf-devices', 'bpf-foreign', 'bpf-socket-bind', 'bpf-restrict-network-interfaces'];
/** The subgroup of the control commands started while the main process may run (EXEC_CONTROL_CGROUP). */
export const CONTROL_SUBGROUP = '.control';
const EXIT_CGROUP = 219;

export interface Delegation {
  readonly on: boolean;
  /** The controllers delegated: Delegate=yes all of DELEGATE_CONTROLLERS, Delegate=NAMES those. */
  readonly controllers: readonly string[];
  /** DelegateSubgroup=, when valid. */
  readonly subgroup: string | undefined;
  /** DelegateSubgroup= set to a name systemd refuses ("Invalid control group name, ignoring"). */
  readonly invalidSubgroup: string | undefined;
}

/** systemd's cg_needs_escape(): a name that is not a plain cgroup name (systemd ignores such a DelegateSubgroup=). */
export function subgroupNeedsEscape(name: string): boolean {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > 255) return true;
  if (name.startsWith('_') || name.startsWith('.')) return true;
  if (['notify_on_release', 'release_agent', 'tasks'].includes(name) || name.startsWith('cgroup.')) return true;
  return CONTROLLER_NAMES.some((c) => name.startsWith(`${c}.`));
}

/** Delegate= and DelegateSubgroup= of a spec's [Service] (config_parse_delegate(): a boolean, or controller names). */
export function delegationOf(service: Readonly<Record<string, unknown>> | undefined): Delegation {
  const raw = service?.['delegate'];
  const text = raw === undefined || raw === null ? '' : String(raw).trim();
  const b = text === '' ? false : parseBoolean(text);
  const controllers = b === undefined ? text.split(/\s+/).filter((c) => c !== '') : b ? [...DELEGATE_CONTROLLERS] : [];
  const on = b === true || (b === undefined && controllers.length > 0);
  const sub = service?.['delegateSubgroup'];
  const name = sub === undefined || sub === null ? '' : String(sub);
  const bad = name !== '' && subgroupNeedsEscape(name);
  return { on, controllers, subgroup: name !== '' && !bad ? name : undefined, invalidSubgroup: bad ? name : undefined };
}

/**
 * The subgroup of the unit's cgroup a command of `kind` runs in (exec_params_get_cgroup_path()):
 * undefined for the unit's cgroup itself.
 */
export function commandSubgroup(d: Delegation, kind: ExecKind): string | undefined {
  if (!d.on) return undefined;
  const controlCgroup = kind === 'startPost' || kind === 'reload' || kind === 'stop' || kind === 'stopPost';
  if (!controlCgroup && d.subgroup === undefined) return undefined;
  return kind === 'start' ? d.subgroup : CONTROL_SUBGROUP;
}

/** The hierarchy a directory lies in (the longest mount that holds it). */
function hierarchyOf(layout: CgroupLayout, dir: string): Hierarchy | undefined {
  let best: Hierarchy | undefined;
  for (const h of layout.hierarchies) if (dir.startsWith(`${h.mount}/`) && (!best || h.mount.length > best.mount.length)) best = h;
  return best;
}

/** cg_set_access()'s files: the fatal ones first. */
const UNIFIED_FILES: ReadonlyArray<readonly [string, boolean]> = [['cgroup.procs', true], ['cgroup.subtree_control', true], ['cgroup.threads', false], ['memory.oom.group', false], ['memory.reclaim', false]];
const LEGACY_FILES: ReadonlyArray<readonly [string, boolean]> = [['cgroup.procs', true], ['tasks', false], ['cgroup.clone_children', false]];

/** chmod_and_chown(): the mode, then the owner (-1: unchanged). */
function chmodChown(path: string, mode: number, uid: number, gid: number): void {
  chmodSync(path, mode);
  chownSync(path, uid, gid);
}

/** cg_set_access(): the cgroup's directory and the files that move processes and enable controllers. Throws on a fatal one. */
function setAccess(dir: string, unified: boolean, uid: number, gid: number): void {
  chmodChown(dir, 0o755, uid, gid);
  for (const [file, fatal] of unified ? UNIFIED_FILES : LEGACY_FILES) {
    try { chmodChown(`${dir}/${file}`, 0o644, uid, gid); } catch (e) { if (fatal) throw e; }
  }
}

/** cg_set_access_recursive(): every directory and file below dir, and dir itself (owners only). */
function setAccessRecursive(dir: string, uid: number, gid: number, depth = 0): void {
  chownSync(dir, uid, gid);
  if (depth > 32) return;
  for (const n of readdirSync(dir, { withFileTypes: true })) {
    if (n.isDirectory()) setAccessRecursive(`${dir}/${n.name}`, uid, gid, depth + 1);
    else chownSync(`${dir}/${n.name}`, uid, gid);
  }
}

export interface DelegatedCommand {
  /** The directories the command joins, one per hierarchy (UO_SHIM_CGROUPS). */
  readonly dirs: readonly string[] | undefined;
  /** The command fails with 219/CGROUP, as systemd's executor does. */
  readonly failure?: SetupFailure;
}

const cgroupFailure = (what: string, e: unknown): SetupFailure => {
  const errnoText = errnoTextOf(e);
  return { status: EXIT_CGROUP, step: 'CGROUP', errnoText, message: `${what}: ${errnoText}` };
};

/**
 * Where a command of a delegated unit runs, made ready before it starts: its subgroup made, and
 * the unit's cgroup (and the subgroup) handed to User=/Group= (uid/gid undefined: unchanged).
 * `dirs` is what the command joins, one a hierarchy (UnitCgroup.joins). A unit without
 * Delegate= gets `dirs` back untouched.
 */
export function delegateCommand(dirs: readonly string[] | undefined, service: Readonly<Record<string, unknown>> | undefined, kind: ExecKind,
  uid: number | undefined, gid: number | undefined, layout?: CgroupLayout): DelegatedCommand {
  const d = delegationOf(service);
  if (!d.on || !dirs || dirs.length === 0) return { dirs };
  const l = layout ?? detectCgroups();
  const hs = dirs.map((dir) => hierarchyOf(l, dir));
  // systemd's own hierarchy: cgroup2 where there is one (and its name=systemd copy on a hybrid node), else name=systemd
  const own = (h: Hierarchy | undefined): boolean => h !== undefined && (h.version === 2 || h.key === 'name=systemd');
  const main = hs.find((h) => h?.version === 2) ?? hs.find((h) => h?.key === 'name=systemd');
  const sub = commandSubgroup(d, kind);
  const placed = dirs.map((dir, i) => (sub !== undefined && own(hs[i]) ? `${dir}/${sub}` : dir));
  if (sub !== undefined) {
    for (let i = 0; i < dirs.length; i++) {
      if (!own(hs[i])) continue;
      try { mkdirSync(placed[i]!); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return { dirs: placed, failure: cgroupFailure(`Failed to create subcgroup '${placed[i]}'`, e) };
      }
    }
  }
  if (uid === undefined && gid === undefined) return { dirs: placed };
  const u = uid ?? -1, g = gid ?? -1;
  for (let i = 0; i < dirs.length; i++) {
    const h = hs[i];
    if (!own(h)) continue;
    try { setAccess(dirs[i]!, h!.version === 2, u, g); } catch (e) {
      // the name=systemd copy of a hybrid node is best effort ("ignoring"), the main hierarchy is not
      if (h === main) return { dirs: placed, failure: cgroupFailure('Failed to adjust control group access', e) };
    }
    if (sub !== undefined && h === main) {
      try { setAccessRecursive(placed[i]!, u, g); } catch (e) { return { dirs: placed, failure: cgroupFailure('Failed to adjust control subgroup access', e) }; }
    }
  }
  return { dirs: placed };
}
