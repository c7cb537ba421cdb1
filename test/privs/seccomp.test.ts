// The seccomp compiler (src/runner/seccomp.ts) and the privilege planner (src/runner/privs.ts),
// pure: systemd 257's parsing of SystemCallFilter=, RestrictAddressFamilies=,
// SystemCallArchitectures=, CapabilityBoundingSet=, AmbientCapabilities=, and the BPF programs
// run through an interpreter (runProgram) on x86_64, x32 and i386 calls. The kernel's own answer
// for the same settings is test/privs/probe.test.ts (real processes, against the oracle).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../support/paths.ts';
import {
  addressFamiliesProgram, archFilterProgram, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, encodeProgram, ERRNO_KILL, parseAddressFamilies,
  parseArchitectures, parseErrno, parseSyscallFilter, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, runProgram, seccompPlan,
  syscallFilterProgram, X32_SYSCALL_BIT, type Insn,
} from '../../src/runner/seccomp.ts';
import { CAP_MASK_ALL, capabilityFromName, parseCapabilitySet, privsPlan } from '../../src/runner/privs.ts';
import { CAPABILITIES, SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, SYSCALL_GROUPS } from '../../src/runner/linux-tables.ts';
import { parseSyscallFilter as parseAnalyze } from '../fixtures/seccomp/gen-tables.ts';
import { encodeShimEnv } from '../../src/runner/shimproto.ts';

const EPERM = 1, EACCES = 13, EAFNOSUPPORT = 97;
const x64 = (name: string, args: bigint[] = []) => ({ nr: SYSCALLS_X86_64[name]!, arch: AUDIT_ARCH_X86_64, args });
const x32 = (name: string) => ({ nr: SYSCALLS_X32[name]!, arch: AUDIT_ARCH_X86_64 });
const i386 = (name: string) => ({ nr: SYSCALLS_I386[name]!, arch: AUDIT_ARCH_I386 });
/** The kernel's answer with several programs: the strictest (lowest action value wins, KILL_PROCESS first). */
function verdict(progs: readonly Insn[][], call: { nr: number; arch: number; args?: bigint[] }): number {
  const rank = (a: number): number => (a === RET_KILL_PROCESS ? -1 : (a >>> 16) & 0x7fff);
  return progs.map((p) => runProgram(p, call)).reduce((best, a) => (rank(a) < rank(best) ? a : best), RET_ALLOW);
}

test('the system call groups are systemd 257\'s, as recorded (syscall-filter.txt), and linux-tables.ts is generated from it', () => {
  const recorded = parseAnalyze(readFileSync(join(FIXTURES, 'seccomp', 'syscall-filter.txt'), 'utf8'));
  assert.deepEqual(SYSCALL_GROUPS, recorded, 'src/runner/linux-tables.ts is stale: node test/fixtures/seccomp/gen-tables.ts');
  assert.ok(SYSCALL_GROUPS['@mount']!.includes('umount2') && SYSCALL_GROUPS['@mount']!.includes('mount'));
  assert.ok(SYSCALL_GROUPS['@system-service']!.includes('@default'));
  // every group a group names exists
  for (const [g, members] of Object.entries(SYSCALL_GROUPS)) for (const m of members) if (m.startsWith('@')) assert.ok(SYSCALL_GROUPS[m], `${g} names ${m}`);
  // the numbers are the kernel headers' (a few known ones)
  assert.equal(SYSCALLS_X86_64['read'], 0);
  assert.equal(SYSCALLS_X86_64['socket'], 41);
  assert.equal(SYSCALLS_X32['socket'], X32_SYSCALL_BIT + 41);
  assert.equal(SYSCALLS_I386['getpid'], 20);
  assert.equal(CAPABILITIES['CAP_SYS_ADMIN'], 21);
});

test('SystemCallFilter= lines accumulate as systemd\'s parser: allow list with @default, "~" removes, errno per entry, empty resets', () => {
  const p: string[] = [];
  const allow = parseSyscallFilter(['@system-service', '~@mount:EACCES', '~reboot'], p)!;
  assert.equal(allow.allowList, true);
  assert.ok(allow.entries.has('execve'), '@default added to an allow list');
  assert.equal(allow.entries.get('umount2'), EACCES, 'an inverted entry with an errno stays, with it');
  assert.equal(allow.entries.has('reboot'), false, 'an inverted entry without one is removed');
  const deny = parseSyscallFilter(['~@mount', 'umount2'], p)!;
  assert.equal(deny.allowList, false);
  assert.equal(deny.entries.has('umount2'), false, 'a later allowing line takes it off the deny list');
  assert.ok(deny.entries.has('mount'));
  assert.equal(parseSyscallFilter(['~@mount', ''], p), undefined, 'an empty assignment resets');
  assert.deepEqual(p, []);
  const bad: string[] = [];
  const r = parseSyscallFilter(['~@no-such-group umount2:ENOTANERRNO socket:kill Bad!'], bad)!;
  assert.equal(r.entries.get('socket'), ERRNO_KILL);
  assert.equal(bad.length, 3, bad.join('\n'));
  assert.equal(parseErrno('EPERM'), EPERM);
  assert.equal(parseErrno('4096'), undefined);
  assert.equal(parseErrno('EPERMX'), undefined);
});

test('a deny list kills the process (SIGSYS) or returns SystemCallErrorNumber=; other calls and other architectures\' filters pass', () => {
  const f = parseSyscallFilter(['~@mount'], [])!;
  const kill = ['x86-64', 'x32', 'x86'].map((a) => syscallFilterProgram(f, undefined, a as 'x86-64'));
  assert.equal(verdict(kill, x64('umount2')), RET_KILL_PROCESS);
  assert.equal(verdict(kill, x64('write')), RET_ALLOW);
  assert.equal(verdict(kill, x32('umount2')), RET_KILL_PROCESS, 'x32 calls are filtered by the x32 program');
  assert.equal(verdict(kill, i386('umount')), RET_KILL_PROCESS, 'i386 calls by the i386 program');
  assert.equal(verdict(kill, i386('getpid')), RET_ALLOW);
  // one architecture's program alone lets the others' calls through (bad-architecture action: allow)
  assert.equal(runProgram(kill[0]!, i386('umount')), RET_ALLOW, 'the x86-64 program does not judge i386 calls');
  const eperm = syscallFilterProgram(f, EPERM, 'x86-64');
  assert.equal(runProgram(eperm, x64('mount')), RET_ERRNO | EPERM);
});

test('an allow list refuses everything else; the "~name:ERRNO" entries return their errno', () => {
  const f = parseSyscallFilter(['@system-service', '~@mount:EACCES'], [])!;
  const p = syscallFilterProgram(f, undefined, 'x86-64');
  assert.equal(runProgram(p, x64('read')), RET_ALLOW);
  assert.equal(runProgram(p, x64('execve')), RET_ALLOW);
  assert.equal(runProgram(p, x64('umount2')), RET_ERRNO | EACCES);
  assert.equal(runProgram(p, x64('reboot')), RET_KILL_PROCESS);
  assert.ok(encodeProgram(p).length % 16 === 0 && p.length < 4096);
});

test('SystemCallArchitectures=native: i386 and x32 calls are killed, x86_64 ones pass', () => {
  const p = archFilterProgram(parseArchitectures(['native'], [])!)!;
  assert.equal(runProgram(p, x64('getpid')), RET_ALLOW);
  assert.equal(runProgram(p, i386('getpid')), RET_KILL_THREAD);
  assert.equal(runProgram(p, x32('getpid')), RET_KILL_THREAD);
  assert.equal(runProgram(p, { nr: 1, arch: 0xc00000b7 }), RET_KILL_THREAD, 'an arch this machine does not run: killed too');
  assert.equal(archFilterProgram(parseArchitectures(['x86-64 x32 x86'], [])!), undefined, 'all of them: no program');
  const bad: string[] = [];
  parseArchitectures(['arm64'], bad);
  assert.equal(bad.length, 1);
});

test('RestrictAddressFamilies=: socket()\'s first argument, compared on 64 bits as libseccomp; socketpair() is not filtered', () => {
  const allow = addressFamiliesProgram(parseAddressFamilies(['AF_UNIX AF_INET'], [])!, 'x86-64');
  assert.equal(runProgram(allow, x64('socket', [1n])), RET_ALLOW);
  assert.equal(runProgram(allow, x64('socket', [2n])), RET_ALLOW);
  assert.equal(runProgram(allow, x64('socket', [10n])), RET_ERRNO | EAFNOSUPPORT);
  assert.equal(runProgram(allow, x64('socket', [(1n << 32n) | 1n])), RET_ERRNO | EAFNOSUPPORT, 'an upper half is above every family');
  assert.equal(runProgram(allow, x64('socketpair', [10n])), RET_ALLOW);
  const deny = addressFamiliesProgram(parseAddressFamilies(['~AF_INET6', '~AF_NETLINK'], [])!, 'x86-64');
  assert.equal(runProgram(deny, x64('socket', [10n])), RET_ERRNO | EAFNOSUPPORT);
  assert.equal(runProgram(deny, x64('socket', [16n])), RET_ERRNO | EAFNOSUPPORT);
  assert.equal(runProgram(deny, x64('socket', [2n])), RET_ALLOW);
  const none = parseAddressFamilies(['none'], [])!;
  assert.deepEqual([none.allowList, none.families.size], [true, 0]);
  assert.equal(runProgram(addressFamiliesProgram(none, 'x86-64'), x64('socket', [1n])), RET_ERRNO | EAFNOSUPPORT);
  const merged = parseAddressFamilies(['AF_UNIX AF_INET AF_INET6', '~AF_INET6'], [])!;
  assert.deepEqual([...merged.families].sort(), [1, 2]);
  assert.equal(parseAddressFamilies(['AF_INET', ''], []), undefined, 'an empty assignment resets');
  const bad: string[] = [];
  parseAddressFamilies(['AF_UNSPEC AF_NOPE'], bad);
  assert.equal(bad.length, 2);
  // x86_64 and x32 get a program; i386 (socketcall()) none, as systemd
  assert.equal(seccompPlan({ restrictAddressFamilies: ['AF_UNIX'] }).addressFamilies.length, 2);
});

test('CapabilityBoundingSet=/AmbientCapabilities=: replace, merge and invert as config_parse_capability_set()', () => {
  const bit = (n: string): bigint => 1n << BigInt(CAPABILITIES[n]!);
  const p: string[] = [];
  assert.equal(parseCapabilitySet(['CAP_NET_ADMIN CAP_CHOWN', 'CAP_KILL'], CAP_MASK_ALL, 'X', p), bit('CAP_NET_ADMIN') | bit('CAP_CHOWN') | bit('CAP_KILL'));
  assert.equal(parseCapabilitySet(['~CAP_SYS_ADMIN CAP_NET_RAW', '~CAP_KILL'], CAP_MASK_ALL, 'X', p), CAP_MASK_ALL & ~(bit('CAP_SYS_ADMIN') | bit('CAP_NET_RAW') | bit('CAP_KILL')));
  assert.equal(parseCapabilitySet(['CAP_KILL', ''], CAP_MASK_ALL, 'X', p), 0n, '"" replaces with the empty set');
  assert.equal(parseCapabilitySet(['CAP_KILL', '~'], CAP_MASK_ALL, 'X', p), CAP_MASK_ALL, '"~" replaces with all');
  assert.equal(parseCapabilitySet(['cap_kill 0'], 0n, 'X', p), bit('CAP_KILL') | bit('CAP_CHOWN'), 'any case, numbers');
  assert.deepEqual(p, []);
  parseCapabilitySet(['CAP_NOPE 99'], 0n, 'X', p);
  assert.equal(p.length, 2);
  assert.equal(capabilityFromName('CAP_CHECKPOINT_RESTORE'), 40);
});

test('privsPlan: the UO_SHIM_* settings; nothing for a "+" command; an empty bounding list in a spec is the empty set', () => {
  const svc = { noNewPrivileges: true, capabilityBoundingSet: ['CAP_KILL'], ambientCapabilities: ['CAP_KILL'], systemCallFilter: ['~@mount'], restrictAddressFamilies: ['AF_UNIX'], privateNetwork: true };
  const plan = privsPlan(svc, true);
  assert.deepEqual(Object.keys(plan.env).sort(), ['UO_SHIM_AMBIENT', 'UO_SHIM_CAPBSET', 'UO_SHIM_NNP', 'UO_SHIM_PRIVATE_NETWORK', 'UO_SHIM_SECCOMP', 'UO_SHIM_SECCOMP_AF']);
  assert.equal(plan.env['UO_SHIM_CAPBSET'], '0000000000000020');
  assert.equal(plan.env['UO_SHIM_NNP'], '1');
  assert.deepEqual(privsPlan(svc, false).env, {});
  assert.equal(privsPlan({ systemCallFilter: ['@system-service'] }, true).env['UO_SHIM_NNP'], 'implied');
  assert.equal(privsPlan({ capabilityBoundingSet: [] }, true).env['UO_SHIM_CAPBSET'], '0000000000000000');
  assert.deepEqual(privsPlan({ capabilityBoundingSet: ['~'] }, true).env, {}, 'all capabilities: nothing to drop');
  // the encoder takes only well-formed values
  const base = { env: {}, rlimits: [], stdout: 'null', stderr: 'null', log: '/dev/null', logMaxBytes: 1 };
  assert.equal(encodeShimEnv({ ...base, privs: plan.env })['UO_SHIM_SECCOMP'], plan.env['UO_SHIM_SECCOMP']);
  assert.throws(() => encodeShimEnv({ ...base, privs: { UO_SHIM_CAPBSET: 'xyz' } }), /privilege setting/);
  assert.throws(() => encodeShimEnv({ ...base, privs: { UO_SHIM_UID: '0' } }), /privilege setting/);
  assert.throws(() => encodeShimEnv({ ...base, privs: { UO_SHIM_SECCOMP: '0011' } }), /privilege setting/);
});
