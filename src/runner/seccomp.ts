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
// Encoding for the shim: each program as the hex of its struct sock_filter array (8 bytes an
// instruction, little-endian), programs separated by ','.

import { constants } from 'node:os';
import { ADDRESS_FAMILIES, SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, SYSCALL_GROUPS } from './linux-tables.ts';

// ---- classic BPF ---------------------------------------------------------------------------

const LD_ABS_W = 0x20, JEQ_K = 0x15, JGE_K = 0x35, RET_K = 0x06;
export const RET_KILL_PROCESS = 0x80000000, RET_KILL_THREAD = 0x00000000, RET_ERRNO = 0x00050000, RET_ALLOW = 0x7fff0000;
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
const ERRNO_MAX = 4095;
/** SECCOMP_ERROR_NUMBER_KILL: "kill" where an errno goes. */
export const ERRNO_KILL = -2;

/** seccomp_parse_errno_or_action(): an errno name or number (0..4095), or "kill"; undefined if neither. */
export function parseErrno(s: string): number | undefined {
  if (s === 'kill') return ERRNO_KILL;
  if (/^[0-9]{1,4}$/.test(s)) return Number(s) <= ERRNO_MAX ? Number(s) : undefined;
  const n = (constants.errno as Record<string, number>)[s];
  return /^E[A-Z0-9]+$/.test(s) && n !== undefined && n > 0 && n <= ERRNO_MAX ? n : undefined;
}

export interface SyscallFilter {
  readonly allowList: boolean;
  /** name → errno (-1: the list's own action; ERRNO_KILL: kill). */
  readonly entries: ReadonlyMap<string, number>;
}

/** SystemCallFilter= lines as config_parse_syscall_filter() accumulates them; undefined: none. */
export function parseSyscallFilter(lines: readonly string[], problems: string[]): SyscallFilter | undefined {
  let allowList = false;
  let entries: Map<string, number> | undefined;
  const add = (name: string, num: number, invert: boolean, depth: number): void => {
    if (name.startsWith('@')) {
      const members = SYSCALL_GROUPS[name];
      if (!members) { problems.push(`SystemCallFilter=: unknown system call group ${name}, ignoring`); return; }
      if (depth > 8) throw new Error(`SystemCallFilter=: group ${name} nests too deep`);
      for (const m of members) add(m, num, invert, depth + 1);
      return;
    }
    if (!/^[a-z0-9_]{1,64}$/.test(name)) { problems.push(`SystemCallFilter=: not a system call name: ${JSON.stringify(name)}, ignoring`); return; }
    // put when (not inverted) == allow list, or an allow list's inverted entry with an errno
    if (!invert === allowList || (invert && allowList && num >= 0)) entries!.set(name, num);
    else entries!.delete(name);
  };
  for (const raw of lines) {
    let line = raw.trim();
    if (line === '') { entries = undefined; allowList = false; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    if (!entries) {
      entries = new Map();
      allowList = !invert;
      if (allowList) add('@default', -1, false, 0);
    }
    for (const word of line.split(/\s+/).filter(Boolean)) {
      const colon = word.indexOf(':');
      const name = colon < 0 ? word : word.slice(0, colon);
      let num = -1;
      if (colon >= 0) {
        const e = parseErrno(word.slice(colon + 1));
        if (e === undefined) { problems.push(`SystemCallFilter=: invalid errno in ${JSON.stringify(word)}, ignoring`); continue; }
        num = e;
      }
      if (name === '') { problems.push(`SystemCallFilter=: empty system call name in ${JSON.stringify(word)}, ignoring`); continue; }
      add(name, num, invert, 0);
    }
  }
  return entries ? { allowList, entries } : undefined;
}

export interface AddressFamilies { readonly allowList: boolean; readonly families: ReadonlySet<number> }

/** RestrictAddressFamilies= lines as config_parse_address_families(); undefined: not restricted. */
export function parseAddressFamilies(lines: readonly string[], problems: string[]): AddressFamilies | undefined {
  let set: Set<number> | undefined;
  let allowList = false;
  for (const raw of lines) {
    let line = raw.trim();
    if (line === '') { set = undefined; allowList = false; continue; }
    if (line === 'none') { set = new Set(); allowList = true; continue; }
    const invert = line.startsWith('~');
    if (invert) line = line.slice(1);
    if (!set) { set = new Set(); allowList = !invert; }
    for (const w of line.split(/\s+/).filter(Boolean)) {
      const af = w !== 'AF_UNSPEC' ? ADDRESS_FAMILIES[w] : undefined;
      if (af === undefined) { problems.push(`RestrictAddressFamilies=: failed to parse address family ${JSON.stringify(w)}, ignoring`); continue; }
      if (!invert === allowList) set.add(af); else set.delete(af);
    }
  }
  if (!set || (!allowList && set.size === 0)) return undefined;
  return { allowList, families: set };
}

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
  for (const [name, num] of [...f.entries].sort((x, y) => x[0].localeCompare(y[0]))) {
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

export interface SeccompPlan {
  /** RestrictAddressFamilies= programs (a failure to install is EXIT_ADDRESS_FAMILIES). */
  readonly addressFamilies: readonly Insn[][];
  /** The others, in systemd's order: architectures, then the system call filter last (EXIT_SECCOMP). */
  readonly filters: readonly Insn[][];
  readonly problems: readonly string[];
}

/** Everything of spec.service this module applies, compiled. */
export function seccompPlan(service: Readonly<Record<string, unknown>> | undefined): SeccompPlan {
  const problems: string[] = [];
  const s = service ?? {};
  const af = parseAddressFamilies(words(s['restrictAddressFamilies']), problems);
  const archs = parseArchitectures(words(s['systemCallArchitectures']), problems);
  const filter = parseSyscallFilter(words(s['systemCallFilter']), problems);
  let errnoNumber: number | undefined;
  const en = s['systemCallErrorNumber'];
  if (en !== undefined && en !== null && String(en) !== '') {
    const e = parseErrno(String(en));
    if (e === undefined) problems.push(`SystemCallErrorNumber=${String(en)}: not an errno name or number, ignoring`);
    else if (e !== ERRNO_KILL) errnoNumber = e;
  }
  const live = (x: Arch): boolean => archs === undefined || archs.has(x);
  const filters: Insn[][] = [];
  if (archs) { const p = archFilterProgram(archs); if (p) filters.push(p); }
  if (filter) for (const x of ALL_ARCHES) if (live(x)) filters.push(syscallFilterProgram(filter, errnoNumber, x));
  const addressFamilies = af ? (['x32', 'x86-64'] as const).filter(live).map((x) => addressFamiliesProgram(af, x)) : [];
  return { addressFamilies, filters, problems };
}

/** A plan's programs for the shim (hex, ',' between programs); undefined when there are none. */
export const encodePrograms = (ps: readonly Insn[][]): string | undefined => (ps.length === 0 ? undefined : ps.map(encodeProgram).join(','));
