// System call filters of systemd.exec(5) without libseccomp (issue 15): SystemCallFilter=,
// SystemCallErrorNumber=, SystemCallArchitectures= and RestrictAddressFamilies=, parsed as
// systemd 257 parses them (src/core/load-fragment.c, src/shared/seccomp-util.c) and compiled
// here into classic-BPF seccomp programs, which uo-shim installs (shim/seccomp.c) as the last
// step before execve(), after NoNewPrivileges= (shim/privs.c). Pure: no I/O.
//
// As systemd, one program per feature and per architecture (x86_64, x32, i386: libseccomp's
// seccomp_init_for_arch() with a bad-architecture action of "allow", so each program only
// judges its own architecture's calls), the kernel applying the strictest answer of all:
//   SystemCallFilter=        an allow list (the first assignment without "~"; @default added, as
//                            systemd adds it) or a deny list ("~"); later lines add or remove as
//                            config_parse_syscall_filter() does; "name:ERRNO" / "name:kill" per
//                            entry; @groups from systemd 257's own list (SYSCALL_GROUPS, recorded
//                            from `systemd-analyze syscall-filter`); a name this architecture does
//                            not have is skipped, as libseccomp skips it. Default action: kill
//                            the process (SECCOMP_RET_KILL_PROCESS, SIGSYS), or
//                            SECCOMP_RET_ERRNO with SystemCallErrorNumber=.
//   SystemCallArchitectures= the listed architectures ("native": x86-64) only; a call of another
//                            one kills (libseccomp's default bad-architecture action, KILL_THREAD).
//   RestrictAddressFamilies= socket()'s first argument (64-bit compare, as libseccomp's) against
//                            the list: EAFNOSUPPORT when refused; socketpair() is not filtered
//                            (as systemd); x86_64 and x32 only: i386 multiplexes socketcall(),
//                            which systemd does not filter either.
// And the fixed filters of the other protections (seccomp-util.c), per architecture, each rule
// "call + argument comparisons → EPERM" (64-bit comparisons as libseccomp's), in exec_invoke()'s
// order after RestrictAddressFamilies=: MemoryDenyWriteExecute= (the shim tries PR_SET_MDWE first,
// as systemd 257), RestrictRealtime=, RestrictSUIDSGID=, RestrictNamespaces=, the _sysctl, @module,
// syslog, @clock and @raw-io halves of ProtectKernelTunables=, ProtectKernelModules=,
// ProtectKernelLogs=, ProtectClock=, PrivateDevices=, then SystemCallArchitectures=,
// LockPersonality=, SystemCallLog= (SECCOMP_RET_LOG) and SystemCallFilter= last; ProtectHostname='s
// filter goes with its UTS namespace, earlier (apply_protect_hostname()). Where systemd 257's
// answer differs from older sources, the oracle decided (test/fixtures/privs): openat2() and
// clone3() → ENOSYS, "time" a namespace type outside NAMESPACE_FLAGS_ALL, fchmodat2() filtered.
// Encoding for the shim: each program as the hex of its struct sock_filter array (8 bytes an
// instruction, little-endian), programs separated by ','.

import { constants } from 'node:os';
import { SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, SYSCALL_GROUPS } from '../api/linux-tables.ts';
import { ERRNO_KILL, NAMESPACE_FLAGS, NAMESPACE_FLAGS_ALL, parseAddressFamilies, parseErrno, parseRestrictNamespaces, parseSyscallFilter, type AddressFamilies, type SyscallFilter } from '../api/sets.ts';
import { truthy } from './sandbox.ts';
import { localeCompare } from '../api/collate.ts';

export { ERRNO_KILL, NAMESPACE_FLAGS, NAMESPACE_FLAGS_ALL, parseAddressFamilies, parseErrno, parseRestrictNamespaces, parseSyscallFilter, type AddressFamilies, type SyscallFilter } from '../api/sets.ts';

// ---- classic BPF ---------------------------------------------------------------------------

const LD_ABS_W = 0x20, JEQ_K = 0x15, JGT_K = 0x25, JGE_K = 0x35, JSET_K = 0x45, AND_K = 0x54, RET_K = 0x06;
export const RET_KILL_PROCESS = 0x80000000, RET_KILL_THREAD = 0x00000000, RET_ERRNO = 0x00050000, RET_LOG = 0x7ffc0000, RET_ALLOW = 0x7fff0000;
export const AUDIT_ARCH_X86_64 = 0xc000003e, AUDIT_ARCH_I386 = 0x40000003;
export const X32_SYSCALL_BIT = 0x40000000;
const OFF_NR = 0, OFF_ARCH = 4;
const argLo = (i: number): number => 16 + 8 * i;
const argHi = (i: number): number => 20 + 8 * i;

export interface Insn { code: number; jt: number; jf: number; k: number }

/** A tiny assembler: jumps name labels that come later; resolved to 8-bit offsets. */
class Asm {
  private readonly out: Array<{ code: number; jt: number | string; jf: number | string; k: number }> = [];
  private readonly labels = new Map<string, number>();
  private n = 0;
  fresh(p: string): string { return `${p}${this.n++}`; }
  ld(off: number): void { this.out.push({ code: LD_ABS_W, jt: 0, jf: 0, k: off }); }
  jeq(k: number, jt: number | string, jf: number | string): void { this.out.push({ code: JEQ_K, jt, jf, k: k >>> 0 }); }
  jge(k: number, jt: number | string, jf: number | string): void { this.out.push({ code: JGE_K, jt, jf, k: k >>> 0 }); }
  jgt(k: number, jt: number | string, jf: number | string): void { this.out.push({ code: JGT_K, jt, jf, k: k >>> 0 }); }
  and(k: number): void { this.out.push({ code: AND_K, jt: 0, jf: 0, k: k >>> 0 }); }
  ret(k: number): void { this.out.push({ code: RET_K, jt: 0, jf: 0, k: k >>> 0 }); }
  label(name: string): void { this.labels.set(name, this.out.length); }
  build(): Insn[] {
    return this.out.map((x, i) => {
      const rel = (t: number | string): number => {
        if (typeof t === 'number') return t;
        const at = this.labels.get(t);
        if (at === undefined) throw new Error(`seccomp: label ${t} undefined`);
        const d = at - i - 1;
        if (d < 0 || d > 255) throw new Error(`seccomp: jump to ${t} out of range (${d})`);
        return d;
      };
      return { code: x.code, jt: rel(x.jt), jf: rel(x.jf), k: x.k };
    });
  }
}

/** The hex of a program's struct sock_filter array (what the shim reads). */
export function encodeProgram(p: readonly Insn[]): string {
  const b = Buffer.alloc(p.length * 8);
  p.forEach((x, i) => { b.writeUInt16LE(x.code, i * 8); b.writeUInt8(x.jt, i * 8 + 2); b.writeUInt8(x.jf, i * 8 + 3); b.writeUInt32LE(x.k >>> 0, i * 8 + 4); });
  return b.toString('hex');
}

/** Runs a program on one call, as the kernel would (for tests): the action it returns. */
export function runProgram(p: readonly Insn[], data: { nr: number; arch: number; args?: readonly bigint[] }): number {
  const word = (off: number): number => {
    if (off === OFF_NR) return data.nr >>> 0;
    if (off === OFF_ARCH) return data.arch >>> 0;
    const i = Math.floor((off - 16) / 8);
    const v = BigInt.asUintN(64, data.args?.[i] ?? 0n);
    return Number((off - 16) % 8 === 0 ? v & 0xffffffffn : v >> 32n);
  };
  let a = 0;
  for (let pc = 0, steps = 0; pc < p.length && steps < 100_000; steps++) {
    const x = p[pc]!;
    if (x.code === LD_ABS_W) { a = word(x.k); pc++; } else if (x.code === RET_K) return x.k;
    else if (x.code === JEQ_K) pc += 1 + (a === x.k ? x.jt : x.jf);
    else if (x.code === JGE_K) pc += 1 + (a >= x.k ? x.jt : x.jf);
    else if (x.code === JGT_K) pc += 1 + (a > x.k ? x.jt : x.jf);
    else if (x.code === JSET_K) pc += 1 + ((a & x.k) !== 0 ? x.jt : x.jf);
    else if (x.code === AND_K) { a = (a & x.k) >>> 0; pc++; }
    else throw new Error(`seccomp: unknown instruction ${x.code}`);
  }
  throw new Error('seccomp: the program ran off its end');
}

// ---- architectures --------------------------------------------------------------------------

export type Arch = 'x86-64' | 'x32' | 'x86';
const ARCHES: Record<Arch, { audit: number; table: Readonly<Record<string, number>>; x32: boolean }> = {
  'x86-64': { audit: AUDIT_ARCH_X86_64, table: SYSCALLS_X86_64, x32: false },
  x32: { audit: AUDIT_ARCH_X86_64, table: SYSCALLS_X32, x32: true },
  x86: { audit: AUDIT_ARCH_I386, table: SYSCALLS_I386, x32: false },
};
const ALL_ARCHES: readonly Arch[] = ['x86', 'x32', 'x86-64'];

/** The head of a program judging one architecture's calls: another architecture's are allowed. Leaves A = nr. */
function archHead(a: Asm, arch: Arch): void {
  const { audit, x32 } = ARCHES[arch];
  const mine = a.fresh('mine'), other = a.fresh('other');
  a.ld(OFF_ARCH);
  a.jeq(audit, 0, other);
  a.ld(OFF_NR);
  if (audit === AUDIT_ARCH_X86_64) a.jge(X32_SYSCALL_BIT, x32 ? mine : other, x32 ? other : mine);
  else a.jeq(0, mine, mine);
  a.label(other);
  a.ret(RET_ALLOW);
  a.label(mine);
}

// ---- parsing (systemd's load-fragment.c) ----------------------------------------------------

const words = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);
/** SystemCallArchitectures= lines: the set (undefined: all). */
export function parseArchitectures(lines: readonly string[], problems: string[]): Set<Arch> | undefined {
  let set: Set<Arch> | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') { set = undefined; continue; }
    set ??= new Set();
    for (const w of line.split(/\s+/)) {
      const a = w === 'native' ? 'x86-64' : w;
      if (a === 'x86-64' || a === 'x32' || a === 'x86') set.add(a);
      else problems.push(`SystemCallArchitectures=: unknown or unsupported architecture ${JSON.stringify(w)} on this node, ignoring`);
    }
  }
  return set && set.size > 0 ? set : undefined;
}

// ---- programs -------------------------------------------------------------------------------

const action = (num: number): number => (num === ERRNO_KILL ? RET_KILL_PROCESS : (RET_ERRNO | (num & 0xffff)) >>> 0);

/** One architecture's SystemCallFilter= program. */
export function syscallFilterProgram(f: SyscallFilter, errnoNumber: number | undefined, arch: Arch): Insn[] {
  const table = ARCHES[arch].table;
  const refused = errnoNumber === undefined ? RET_KILL_PROCESS : action(errnoNumber);
  const listed = f.allowList ? RET_ALLOW : refused;
  const byAction = new Map<number, number[]>();
  for (const [name, num] of [...f.entries].sort((x, y) => localeCompare(x[0], y[0]))) {
    const nr = table[name];
    if (nr === undefined) continue; // not on this architecture: skipped, as libseccomp skips it
    const act = num >= 0 || num === ERRNO_KILL ? action(num) : listed;
    if (act === (f.allowList ? refused : RET_ALLOW)) continue; // what the default does anyway
    byAction.set(act, [...(byAction.get(act) ?? []), nr]);
  }
  const a = new Asm();
  archHead(a, arch);
  for (const [act, nrs] of byAction) {
    // chunks, so that every jump to the chunk's ret stays within 255
    for (let i = 0; i < nrs.length; i += 200) {
      const hit = a.fresh('hit'), next = a.fresh('next');
      for (const nr of nrs.slice(i, i + 200)) a.jeq(nr, hit, 0);
      a.jeq(0, next, next);
      a.label(hit);
      a.ret(act);
      a.label(next);
    }
  }
  a.ret(f.allowList ? refused : RET_ALLOW);
  return a.build();
}

/** SystemCallArchitectures=: a call of an architecture not in the set is killed (libseccomp's bad-architecture action). */
export function archFilterProgram(archs: ReadonlySet<Arch>): Insn[] | undefined {
  const blocked = ALL_ARCHES.filter((x) => !archs.has(x));
  if (blocked.length === 0) return undefined;
  const a = new Asm();
  const kill = a.fresh('kill'), allow = a.fresh('allow'), x86_64 = a.fresh('x86_64');
  a.ld(OFF_ARCH);
  a.jeq(AUDIT_ARCH_X86_64, x86_64, 0);
  a.jeq(AUDIT_ARCH_I386, archs.has('x86') ? allow : kill, kill);
  a.label(x86_64);
  a.ld(OFF_NR);
  a.jge(X32_SYSCALL_BIT, archs.has('x32') ? allow : kill, archs.has('x86-64') ? allow : kill);
  a.label(kill);
  a.ret(RET_KILL_THREAD);
  a.label(allow);
  a.ret(RET_ALLOW);
  return a.build();
}

/** RestrictAddressFamilies= for one architecture: socket(AF, ...) refused with EAFNOSUPPORT. */
export function addressFamiliesProgram(r: AddressFamilies, arch: Arch): Insn[] {
  const EAFNOSUPPORT = (constants.errno as Record<string, number>)['EAFNOSUPPORT'] ?? 97;
  const a = new Asm();
  archHead(a, arch);
  const deny = a.fresh('deny'), allow = a.fresh('allow'), inSet = a.fresh('in'), notIn = a.fresh('out');
  a.jeq(ARCHES[arch].table['socket']!, 0, allow);
  a.ld(argHi(0));
  a.jeq(0, 0, r.allowList ? deny : allow); // an upper half: above every family (libseccomp's 64-bit compare)
  a.ld(argLo(0));
  for (const f of [...r.families].sort((x, y) => x - y)) a.jeq(f, inSet, 0);
  a.jeq(0, notIn, notIn);
  a.label(inSet);
  a.ret(r.allowList ? RET_ALLOW : (RET_ERRNO | EAFNOSUPPORT) >>> 0);
  a.label(notIn);
  a.jeq(0, r.allowList ? deny : allow, r.allowList ? deny : allow);
  a.label(deny);
  a.ret((RET_ERRNO | EAFNOSUPPORT) >>> 0);
  a.label(allow);
  a.ret(RET_ALLOW);
  return a.build();
}

// ---- the fixed filters of the other protections (seccomp-util.c) ----------------------------
//
// Each as systemd builds it: one program per architecture (seccomp_init_for_arch(), default
// "allow"), rules "system call + argument comparisons → action", the comparisons on 64 bits as
// libseccomp compiles them (an argument's upper half must be 0 for EQ/GT to match; MASKED_EQ with
// a 32-bit mask ignores it). A rule naming a call the architecture does not have is left out,
// as libseccomp leaves it out.

export interface ArgCmp { readonly arg: number; readonly op: 'eq' | 'ne' | 'gt' | 'masked'; readonly value: number; readonly mask?: number }
export interface Rule { readonly name: string; readonly cmps: readonly ArgCmp[]; readonly action: number }

const ERRNO = (constants.errno as Record<string, number>);
const EPERM_ACTION = (RET_ERRNO | (ERRNO['EPERM'] ?? 1)) >>> 0;
const ENOSYS_ACTION = (RET_ERRNO | (ERRNO['ENOSYS'] ?? 38)) >>> 0;
const eq = (arg: number, value: number): ArgCmp => ({ arg, op: 'eq', value });
const masked = (arg: number, mask: number): ArgCmp => ({ arg, op: 'masked', value: mask, mask });

/** One architecture's program of rules (undefined when none of them exists there). */
export function rulesProgram(rules: readonly Rule[], arch: Arch): Insn[] | undefined {
  const table = ARCHES[arch].table;
  const here = rules.filter((r) => table[r.name] !== undefined);
  if (here.length === 0) return undefined;
  const a = new Asm();
  archHead(a, arch);
  for (const r of here) {
    const next = a.fresh('next');
    a.ld(OFF_NR);
    a.jeq(table[r.name]!, 0, next);
    for (const c of r.cmps) {
      const ok = a.fresh('ok');
      if (c.op === 'masked') { a.ld(argLo(c.arg)); a.and(c.mask!); a.jeq(c.value & c.mask!, ok, next); }
      else if (c.op === 'eq') { a.ld(argHi(c.arg)); a.jeq(0, 0, next); a.ld(argLo(c.arg)); a.jeq(c.value, ok, next); }
      else if (c.op === 'gt') { a.ld(argHi(c.arg)); a.jeq(0, 0, ok); a.ld(argLo(c.arg)); a.jgt(c.value, ok, next); }
      else { a.ld(argHi(c.arg)); a.jeq(0, 0, ok); a.ld(argLo(c.arg)); a.jeq(c.value, next, ok); }
      a.label(ok);
    }
    a.ret(r.action);
    a.label(next);
  }
  a.ret(RET_ALLOW);
  return a.build();
}

/** A group's (or a list's) calls → EPERM, as seccomp_load_syscall_filter_set(ALLOW, set, ERRNO(EPERM)). */
export function denyRules(names: readonly string[]): Rule[] {
  const out = new Set<string>();
  const walk = (n: string, depth: number): void => {
    if (n.startsWith('@')) { if (depth > 8) throw new Error(`group ${n} nests too deep`); for (const m of SYSCALL_GROUPS[n] ?? []) walk(m, depth + 1); } else out.add(n);
  };
  for (const n of names) walk(n, 0);
  return [...out].sort().map((name) => ({ name, cmps: [], action: EPERM_ACTION }));
}

/** seccomp_restrict_realtime(): sched_setscheduler() with a policy other than OTHER (0), BATCH (3), IDLE (5). */
export const REALTIME_RULES: readonly Rule[] = [
  ...[1, 2, 4].map((p) => ({ name: 'sched_setscheduler', cmps: [eq(1, p)], action: EPERM_ACTION })),
  { name: 'sched_setscheduler', cmps: [{ arg: 1, op: 'gt', value: 5 }], action: EPERM_ACTION },
];

const S_ISUID = 0o4000, S_ISGID = 0o2000, O_CREAT = 0o100;
/** seccomp_restrict_suid_sgid(): the mode argument of the calls that set one, for S_ISUID then S_ISGID; openat2() (its
 *  mode is behind a pointer) → ENOSYS, so that libc falls back to openat() (systemd 257, as the oracle answers). */
export const SUID_SGID_RULES: readonly Rule[] = [S_ISUID, S_ISGID].flatMap((m) => [
  { name: 'chmod', cmps: [masked(1, m)], action: EPERM_ACTION },
  { name: 'fchmod', cmps: [masked(1, m)], action: EPERM_ACTION },
  { name: 'fchmodat', cmps: [masked(2, m)], action: EPERM_ACTION },
  { name: 'fchmodat2', cmps: [masked(2, m)], action: EPERM_ACTION },
  { name: 'mkdir', cmps: [masked(1, m)], action: EPERM_ACTION },
  { name: 'mkdirat', cmps: [masked(2, m)], action: EPERM_ACTION },
  { name: 'mknod', cmps: [masked(1, m)], action: EPERM_ACTION },
  { name: 'mknodat', cmps: [masked(2, m)], action: EPERM_ACTION },
  { name: 'open', cmps: [masked(1, O_CREAT), masked(2, m)], action: EPERM_ACTION },
  { name: 'openat', cmps: [masked(2, O_CREAT), masked(3, m)], action: EPERM_ACTION },
  { name: 'openat2', cmps: [], action: ENOSYS_ACTION },
  { name: 'creat', cmps: [masked(1, m)], action: EPERM_ACTION },
]);

const PROT_WRITE = 2, PROT_EXEC = 4, SHM_EXEC = 0o100000;
/** seccomp_memory_deny_write_execute() (the fallback when PR_SET_MDWE is refused): per architecture. */
export function mdweRules(arch: Arch): Rule[] {
  const r: Rule[] = [];
  if (arch === 'x86') {
    r.push({ name: 'mmap2', cmps: [masked(2, PROT_WRITE | PROT_EXEC)], action: EPERM_ACTION });
    r.push({ name: 'mmap', cmps: [], action: EPERM_ACTION }); // old_mmap: its arguments are in memory
  } else r.push({ name: 'mmap', cmps: [masked(2, PROT_WRITE | PROT_EXEC)], action: EPERM_ACTION });
  r.push({ name: 'mprotect', cmps: [masked(2, PROT_EXEC)], action: EPERM_ACTION });
  r.push({ name: 'pkey_mprotect', cmps: [masked(2, PROT_EXEC)], action: EPERM_ACTION });
  if (arch !== 'x86') r.push({ name: 'shmat', cmps: [masked(2, SHM_EXEC)], action: EPERM_ACTION });
  return r;
}

/**
 * seccomp_restrict_namespaces(retain): unshare()/clone() with a refused flag, setns() to a refused
 * type (or to any, with 0); clone3() (its flags are behind a pointer) → ENOSYS, so that libc falls
 * back to clone() (the oracle answers so).
 */
export function namespaceRules(retain: number): Rule[] {
  if ((retain & NAMESPACE_FLAGS_ALL) === NAMESPACE_FLAGS_ALL) return [];
  const r: Rule[] = [{ name: 'clone3', cmps: [], action: ENOSYS_ACTION }];
  const none = (retain & NAMESPACE_FLAGS_ALL) === 0;
  r.push(none ? { name: 'setns', cmps: [], action: EPERM_ACTION } : { name: 'setns', cmps: [eq(1, 0)], action: EPERM_ACTION });
  for (const f of Object.values(NAMESPACE_FLAGS)) {
    if ((retain & f) === f) continue;
    r.push({ name: 'unshare', cmps: [masked(0, f)], action: EPERM_ACTION });
    r.push({ name: 'clone', cmps: [masked(0, f)], action: EPERM_ACTION });
    if (!none) r.push({ name: 'setns', cmps: [masked(1, f)], action: EPERM_ACTION });
  }
  return r;
}

/** seccomp_lock_personality(p): personality() with any other value. */
export const lockPersonalityRules = (personality: number): Rule[] => [{ name: 'personality', cmps: [{ arg: 0, op: 'ne', value: personality }], action: EPERM_ACTION }];

/** SystemCallLog= as config_parse_syscall_log(): undefined when not set. */
export function parseSyscallLog(v: unknown, problems: string[]): { allowList: boolean; names: Set<string> } | undefined {
  const lines = Array.isArray(v) ? [v.map(String).join(' ')] : v === undefined || v === null ? [] : [String(v)];
  let set: Set<string> | undefined;
  let allowList = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line === '') { set = undefined; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    if (!set) { set = new Set(); allowList = !invert; }
    const add = (n: string, depth: number): void => {
      if (n.startsWith('@')) {
        const g = SYSCALL_GROUPS[n];
        if (!g) { problems.push(`SystemCallLog=: unknown system call group ${n}, ignoring`); return; }
        if (depth > 8) throw new Error(`group ${n} nests too deep`);
        for (const m of g) add(m, depth + 1);
        return;
      }
      if (!/^[a-z0-9_]{1,64}$/.test(n)) { problems.push(`SystemCallLog=: not a system call name: ${JSON.stringify(n)}, ignoring`); return; }
      if (!invert === allowList) set!.add(n); else set!.delete(n);
    };
    for (const w of line.split(/\s+/).filter(Boolean)) add(w, 0);
  }
  return set ? { allowList, names: set } : undefined;
}

/** SystemCallLog=: SECCOMP_RET_LOG for the listed calls (allow list) or for all others ("~"). */
export function syscallLogProgram(l: { allowList: boolean; names: ReadonlySet<string> }, arch: Arch): Insn[] {
  const table = ARCHES[arch].table;
  const nrs = [...l.names].map((n) => table[n]).filter((x): x is number => x !== undefined).sort((x, y) => x - y);
  const a = new Asm();
  archHead(a, arch);
  const listed = l.allowList ? RET_LOG : RET_ALLOW, other = l.allowList ? RET_ALLOW : RET_LOG;
  for (let i = 0; i < nrs.length; i += 200) {
    const hit = a.fresh('hit'), next = a.fresh('next');
    for (const nr of nrs.slice(i, i + 200)) a.jeq(nr, hit, 0);
    a.jeq(0, next, next);
    a.label(hit);
    a.ret(listed);
    a.label(next);
  }
  a.ret(other);
  return a.build();
}

export interface SeccompPlan {
  /** RestrictAddressFamilies= programs (a failure to install is EXIT_ADDRESS_FAMILIES). */
  readonly addressFamilies: readonly Insn[][];
  /** MemoryDenyWriteExecute=: asked for, and the programs installed when the kernel refuses PR_SET_MDWE. */
  readonly mdwe: readonly Insn[][] | undefined;
  /** The others, in exec_invoke()'s order (EXIT_SECCOMP): RestrictRealtime=, RestrictSUIDSGID=,
   *  RestrictNamespaces=, ProtectKernelTunables= (_sysctl), ProtectKernelModules= (@module),
   *  ProtectKernelLogs= (syslog), ProtectClock= (@clock), PrivateDevices= (@raw-io),
   *  SystemCallArchitectures=, LockPersonality=, SystemCallLog=, then SystemCallFilter= last. */
  readonly filters: readonly Insn[][];
  /** ProtectHostname=yes: sethostname()/setdomainname() → EPERM, installed with the UTS namespace (apply_protect_hostname()). */
  readonly hostname: readonly Insn[][];
  /** context_has_seccomp(): some form of seccomp is asked for (NoNewPrivileges= implied without CAP_SYS_ADMIN). */
  readonly any: boolean;
  readonly problems: readonly string[];
}


/** Everything of spec.service this module applies, compiled. */
export function seccompPlan(service: Readonly<Record<string, unknown>> | undefined): SeccompPlan {
  const problems: string[] = [];
  const s = service ?? {};
  const af = parseAddressFamilies(words(s['restrictAddressFamilies']), problems);
  const archs = parseArchitectures(words(s['systemCallArchitectures']), problems);
  const filter = parseSyscallFilter(words(s['systemCallFilter']), problems);
  const log = parseSyscallLog(s['systemCallLog'], problems);
  const retain = parseRestrictNamespaces(s['restrictNamespaces'], problems);
  let errnoNumber: number | undefined;
  const en = s['systemCallErrorNumber'];
  if (en !== undefined && en !== null && String(en) !== '') {
    const e = parseErrno(String(en));
    if (e === undefined) problems.push(`SystemCallErrorNumber=${String(en)}: not an errno name or number, ignoring`);
    else if (e !== ERRNO_KILL) errnoNumber = e;
  }
  const live = (x: Arch): boolean => archs === undefined || archs.has(x);
  // SECCOMP_FOREACH_LOCAL_ARCH: the programs of the fixed filters exist for every architecture
  // the node runs (x86, x32, x86-64; the native one last), whatever SystemCallArchitectures= says
  const perArch = (rules: (arch: Arch) => readonly Rule[]): Insn[][] =>
    ALL_ARCHES.map((x) => rulesProgram(rules(x), x)).filter((p): p is Insn[] => p !== undefined);
  const filters: Insn[][] = [];
  if (truthy(s['restrictRealtime'])) filters.push(...perArch(() => REALTIME_RULES));
  if (truthy(s['restrictSUIDSGID'])) filters.push(...perArch(() => SUID_SGID_RULES));
  if (retain !== undefined) { const r = namespaceRules(retain); if (r.length > 0) filters.push(...perArch(() => r)); }
  if (truthy(s['protectKernelTunables'])) filters.push(...perArch(() => denyRules(['_sysctl'])));
  if (truthy(s['protectKernelModules'])) filters.push(...perArch(() => denyRules(['@module'])));
  if (truthy(s['protectKernelLogs'])) filters.push(...perArch(() => denyRules(['syslog'])));
  if (truthy(s['protectClock'])) filters.push(...perArch(() => denyRules(['@clock'])));
  if (truthy(s['privateDevices'])) filters.push(...perArch(() => denyRules(['@raw-io'])));
  if (archs) { const p = archFilterProgram(archs); if (p) filters.push(p); }
  if (truthy(s['lockPersonality'])) {
    // opinionated_personality(): Personality= when set, else the agent's own (PER_LINUX on x86-64)
    const per = s['personality'] === 'x86' ? 0x0008 : 0;
    // (after SystemCallArchitectures=, the architectures it blocks are skipped: SECCOMP_LOCAL_ARCH_BLOCKED)
    filters.push(...ALL_ARCHES.filter(live).map((x) => rulesProgram(lockPersonalityRules(per), x)).filter((p): p is Insn[] => p !== undefined));
  }
  if (log) filters.push(...ALL_ARCHES.filter(live).map((x) => syscallLogProgram(log, x)));
  if (filter) for (const x of ALL_ARCHES) if (live(x)) filters.push(syscallFilterProgram(filter, errnoNumber, x));
  const addressFamilies = af ? (['x32', 'x86-64'] as const).filter(live).map((x) => addressFamiliesProgram(af, x)) : [];
  const mdwe = truthy(s['memoryDenyWriteExecute']) ? perArch(mdweRules) : undefined;
  const hostname = truthy(s['protectHostname']) ? perArch(() => denyRules(['sethostname', 'setdomainname'])) : [];
  const any = addressFamilies.length > 0 || filters.length > 0 || mdwe !== undefined || hostname.length > 0 || archs !== undefined || filter !== undefined;
  return { addressFamilies, mdwe, filters, hostname, any, problems };
}

/** A plan's programs for the shim (hex, ',' between programs); undefined when there are none. */
export const encodePrograms = (ps: readonly Insn[][]): string | undefined => (ps.length === 0 ? undefined : ps.map(encodeProgram).join(','));
