// Device access through a unit's cgroup (issue 15): DevicePolicy= and DeviceAllow= with what
// systemd 257 adds when it loads a unit (unit_patch_contexts(): PrivateDevices= closes an
// "auto" policy; with a policy or a list, ProtectClock= adds "char-rtc r", RootImage= and
// MountImages= the loop and device-mapper devices, encrypted credentials "char-tpm rw"), and
// the rules written on a cgroup v1 "devices" hierarchy as systemd's v1 code did
// (cgroup_apply_devices(), bpf-devices.c):
//
//   auto, no list   nothing restricted ("a" to devices.allow)
//   closed, or auto with a list
//                   "a" to devices.deny, then devices.allow for /dev/null, zero, full, random,
//                   urandom, tty, ptmx and /run/systemd/inaccessible/{chr,blk} (rwm), every
//                   pts device (char-pts rw), and the list
//   strict          "a" to devices.deny, then the list only
//
// A list entry is a device node (stat(); /dev/char/M:N, /dev/block/M:N read as written; a
// missing node is skipped), or "char-NAME"/"block-NAME": every major of that type whose name in
// /proc/devices matches NAME (a glob), "*" all of the type, a number that major. The rules go in
// list order: the last DeviceAllow= line first (LIST_PREPEND), the implied ones before all.
// A cgroup2-only node gets the same rules as a BPF_CGROUP_DEVICE program (devices-bpf.ts).

import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceUnitSpec } from '../../api/types.ts';

export type DevicePolicy = 'auto' | 'closed' | 'strict';

export interface DeviceAllow {
  /** "/dev/…", "char-NAME" or "block-NAME". */
  readonly path: string;
  /** Some of "rwm", in that order. */
  readonly perms: string;
}

export interface DeviceContext {
  readonly policy: DevicePolicy;
  /** In systemd's list order (what `systemctl show -p DeviceAllow` prints): the rules are written in it. */
  readonly allow: readonly DeviceAllow[];
  /** DeviceAllow= lines systemd ignores, with why. */
  readonly ignored: readonly string[];
}

/** One write into the unit's devices cgroup: devices.deny or devices.allow. */
export interface DeviceWrite {
  readonly file: 'devices.deny' | 'devices.allow';
  readonly value: string;
}

const TRUE = /^(1|yes|y|true|t|on)$/i;
const isTrue = (v: unknown): boolean => v === true || (typeof v === 'string' && TRUE.test(v));
const lines = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);

/** cgroup_device_permissions_from_string(): "" → all; a letter outside r, w, m → undefined. */
function permissions(s: string): string | undefined {
  if (!/^[rwm]*$/.test(s)) return undefined;
  const p = ['r', 'w', 'm'].filter((c) => s.includes(c)).join('');
  return p === '' ? 'rwm' : p;
}

/** The unit's device context as systemd 257 loads it (config_parse_device_allow(), unit_patch_contexts()). */
export function deviceContext(spec: ServiceUnitSpec): DeviceContext {
  const s = (spec.service ?? {}) as Record<string, unknown>;
  const ignored: string[] = [];
  let allow: DeviceAllow[] = [];
  for (const line of lines(s['deviceAllow'])) {
    const t = line.trim();
    if (t === '') { allow = []; continue; } // an empty assignment resets the list
    const [path = '', rights = '', ...rest] = t.split(/\s+/);
    const perms = rest.length === 0 ? permissions(rights) : undefined;
    if (!path.startsWith('/dev/') && !/^(char|block)-./.test(path)) { ignored.push(`"${t}": not a /dev/ path, char-NAME or block-NAME`); continue; }
    if (perms === undefined) { ignored.push(`"${t}": "${[rights, ...rest].join(' ')}" is not some of r, w, m`); continue; }
    allow.unshift({ path, perms }); // cgroup_context_add_device_allow(): LIST_PREPEND
  }
  const configured = s['devicePolicy'];
  let policy: DevicePolicy = configured === 'closed' || configured === 'strict' ? configured : 'auto';
  if (isTrue(s['privateDevices']) && policy === 'auto') policy = 'closed';
  if (policy !== 'auto' || allow.length > 0) {
    // cgroup_context_add_or_update_device_allow(): an existing entry for the path takes the new permissions
    const addOrUpdate = (path: string, perms: string): void => {
      const i = allow.findIndex((a) => a.path === path);
      if (i >= 0) allow[i] = { path, perms }; else allow.unshift({ path, perms });
    };
    const str = (k: string): boolean => typeof s[k] === 'string' && s[k] !== '';
    if (str('rootImage') || lines(s['mountImages']).length > 0) {
      for (const p of ['/dev/loop-control', '/dev/mapper/control']) addOrUpdate(p, 'rw');
      for (const p of ['block-loop', 'block-blkext', 'block-device-mapper']) addOrUpdate(p, 'rwm');
    }
    if (isTrue(s['protectClock'])) addOrUpdate('char-rtc', 'r');
    if (lines(s['loadCredentialEncrypted']).length > 0 || lines(s['setCredentialEncrypted']).length > 0) addOrUpdate('char-tpm', 'rw');
  }
  return { policy, allow, ignored };
}

/** Whether the context restricts anything (systemd: cgroup_context_has_device_policy()). */
export const restricts = (c: DeviceContext): boolean => c.policy !== 'auto' || c.allow.length > 0;

/** The node's facts the rules are resolved against. */
export interface DeviceHost {
  /** The text of /proc/devices. */
  readonly procDevices: string;
  /** stat() of a node: its type and numbers, 'missing', or 'not-a-device'. */
  readonly stat: (path: string) => { type: 'c' | 'b'; major: number; minor: number } | 'missing' | 'not-a-device';
}

export function readDeviceHost(proc = '/proc'): DeviceHost {
  let procDevices = '';
  try { procDevices = readFileSync(join(proc, 'devices'), 'utf8'); } catch { /* no majors: names match nothing */ }
  return {
    procDevices,
    stat: (path) => {
      try {
        const st = statSync(path);
        if (!st.isCharacterDevice() && !st.isBlockDevice()) return 'not-a-device';
        // the kernel's new_encode_dev() layout of st_rdev
        const rdev = st.rdev;
        const major = (rdev >> 8) & 0xfff, minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        return { type: st.isCharacterDevice() ? 'c' : 'b', major, minor };
      } catch { return 'missing'; }
    },
  };
}

/** fnmatch(NAME, driver, 0): *, ? and [...] (a "/" is matched like any character). */
function globMatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let set = pattern.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      re += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(name);
}

/** DEVICE_MAJOR_VALID(): below 1 << 12. */
const majorValid = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < 4096;

/** bpf_devices_allow_list_major(): the "T MAJ:* P" lines of "char-NAME"/"block-NAME". */
function majorLines(name: string, type: 'c' | 'b', perms: string, host: DeviceHost): string[] {
  if (name === '*') return [`${type} *:* ${perms}`];
  if (/^[0-9]+$/.test(name) && majorValid(Number(name))) return [`${type} ${Number(name)}:* ${perms}`];
  const out: string[] = [];
  let good = false;
  for (const raw of host.procDevices.split('\n')) {
    if (raw === (type === 'c' ? 'Character devices:' : 'Block devices:')) { good = true; continue; }
    if (raw.trim() === '') { good = false; continue; }
    if (!good) continue;
    const m = /^\s*([0-9]+)\s+(.+?)\s*$/.exec(raw);
    if (!m || Number(m[1]) <= 0 || !globMatch(name, m[2]!)) continue;
    out.push(`${type} ${Number(m[1])}:* ${perms}`);
  }
  return out;
}

/** bpf_devices_allow_list_device(): the "T MAJ:MIN P" line of a node, or none (missing or not a device). */
function nodeLine(node: string, perms: string, host: DeviceHost): string | undefined {
  // device_path_parse_major_minor(): these are read, not stat()ed
  if (node === '/run/systemd/inaccessible/chr') return `c 0:0 ${perms}`;
  if (node === '/run/systemd/inaccessible/blk') return `b 0:0 ${perms}`;
  const m = /^\/dev\/(char|block)\/([0-9]+):([0-9]+)$/.exec(node);
  if (m) return `${m[1] === 'char' ? 'c' : 'b'} ${Number(m[2])}:${Number(m[3])} ${perms}`;
  const st = host.stat(node);
  return typeof st === 'object' ? `${st.type} ${st.major}:${st.minor} ${perms}` : undefined;
}

/** bpf_devices_allow_list_static(): what "closed" (and "auto" with a list) allows besides the list. */
const STATIC_NODES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx',
  '/run/systemd/inaccessible/chr', '/run/systemd/inaccessible/blk'];

/** The v1 writes that express `c` on this node, in order. */
export function deviceWrites(c: DeviceContext, host: DeviceHost): DeviceWrite[] {
  if (!restricts(c)) return [{ file: 'devices.allow', value: 'a' }];
  const out: DeviceWrite[] = [{ file: 'devices.deny', value: 'a' }];
  const allow = (v: string | undefined): void => { if (v !== undefined) out.push({ file: 'devices.allow', value: v }); };
  if (c.policy === 'closed' || (c.policy === 'auto' && c.allow.length > 0)) {
    for (const n of STATIC_NODES) allow(nodeLine(n, 'rwm', host));
    for (const l of majorLines('pts', 'c', 'rw', host)) allow(l);
  }
  for (const a of c.allow) {
    if (a.path.startsWith('/dev/')) allow(nodeLine(a.path, a.perms, host));
    else for (const l of majorLines(a.path.slice(a.path.indexOf('-') + 1), a.path.startsWith('char-') ? 'c' : 'b', a.perms, host)) allow(l);
  }
  return out;
}

/**
 * What the kernel's devices.list shows after `writes` on a fresh cgroup below an unrestricted
 * parent: "a *:* rwm" while nothing is denied, else the allowed rules, one per type and numbers,
 * their permissions merged (dev_exception_add()), in the order first written.
 */
export function expectedDevicesList(writes: readonly DeviceWrite[]): string[] {
  let all = true;
  const rules: Array<{ key: string; perms: Set<string> }> = [];
  for (const w of writes) {
    if (w.value === 'a') { all = w.file === 'devices.allow'; rules.length = 0; continue; }
    const [type, numbers, perms = ''] = w.value.split(' ');
    const key = `${type} ${numbers}`;
    const known = rules.find((r) => r.key === key);
    if (known) for (const p of perms) known.perms.add(p); else rules.push({ key, perms: new Set(perms) });
  }
  if (all) return ['a *:* rwm'];
  return rules.map((r) => `${r.key} ${['r', 'w', 'm'].filter((p) => r.perms.has(p)).join('')}`);
}

/** Writes `writes` into the devices cgroup `dir`; returns systemd-style lines for what the kernel refused. */
export function applyDeviceWrites(dir: string, writes: readonly DeviceWrite[]): string[] {
  const problems: string[] = [];
  for (const w of writes) {
    try { writeFileSync(join(dir, w.file), w.value, { flag: 'r+' }); } catch (e) {
      problems.push(`Failed to set ${w.file} on ${dir} to '${w.value}': ${(e as Error).message}`);
    }
  }
  return problems;
}
