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
  addressFamiliesProgram, archFilterProgram, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, encodeProgram, ERRNO_KILL, NAMESPACE_FLAGS, NAMESPACE_FLAGS_ALL,
  parseAddressFamilies, parseArchitectures, parseErrno, parseRestrictNamespaces, parseSyscallFilter, parseSyscallLog, RET_ALLOW, RET_ERRNO,
  RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG, rulesProgram, runProgram, seccompPlan, syscallFilterProgram, X32_SYSCALL_BIT, type Insn, type Rule,
} from '../../src/runner/seccomp.ts';
import { CAP_MASK_ALL, capabilityFromName, parseCapabilitySet, privsPlan } from '../../src/runner/privs.ts';
import { CAPABILITIES, SYSCALLS_I386, SYSCALLS_X32, SYSCALLS_X86_64, SYSCALL_GROUPS } from '../../src/api/linux-tables.ts';
import { parseSyscallFilter as parseAnalyze } from '../fixtures/seccomp/gen-tables.ts';
import { encodeShimEnv } from '../../src/runner/shimproto.ts';
import { refusedDirectives, unappliedDirectives } from '../../src/api/applied.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

const EPERM = 1, EACCES = 13, EAFNOSUPPORT = 97, ENOSYS = 38;
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
  assert.deepEqual(SYSCALL_GROUPS, recorded, 'src/api/linux-tables.ts is stale: node test/fixtures/seccomp/gen-tables.ts');
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

test('privsPlan: the UO_SHIM_* settings (PrivateNetwork= is the exec runtime\'s: nsruntime.ts); nothing for a "+" command; an empty bounding list in a spec is the empty set', () => {
  const svc = { noNewPrivileges: true, capabilityBoundingSet: ['CAP_KILL'], ambientCapabilities: ['CAP_KILL'], systemCallFilter: ['~@mount'], restrictAddressFamilies: ['AF_UNIX'], privateNetwork: true };
  const plan = privsPlan(svc, true);
  assert.deepEqual(Object.keys(plan.env).sort(), ['UO_SHIM_AMBIENT', 'UO_SHIM_CAPBSET', 'UO_SHIM_NNP', 'UO_SHIM_SECCOMP', 'UO_SHIM_SECCOMP_AF']);
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

// ---- the protections that are fixed seccomp filters (seccomp-util.c), in exec_invoke()'s order ----

const EACCES_ = 13;
const EPERM_ERR = (RET_ERRNO | EPERM) >>> 0;
const call = (name: string, args: bigint[] = []) => ({ nr: SYSCALLS_X86_64[name]!, arch: AUDIT_ARCH_X86_64, args });
const callX32 = (name: string, args: bigint[] = []) => ({ nr: SYSCALLS_X32[name]!, arch: AUDIT_ARCH_X86_64, args });
const call386 = (name: string, args: bigint[] = []) => ({ nr: SYSCALLS_I386[name]!, arch: AUDIT_ARCH_I386, args });
const all = (svc: Record<string, unknown>): Insn[][] => {
  const p = seccompPlan(svc);
  return [...p.addressFamilies, ...(p.mdwe ?? []), ...p.hostname, ...p.filters];
};

test('rule comparisons on 64 bits as libseccomp: EQ and GT need a zero upper half, NE matches any upper half, MASKED_EQ ignores it', () => {
  const rules: Rule[] = [
    { name: 'getpid', cmps: [{ arg: 0, op: 'eq', value: 7 }], action: EPERM_ERR },
    { name: 'getppid', cmps: [{ arg: 1, op: 'gt', value: 5 }], action: EPERM_ERR },
    { name: 'gettid', cmps: [{ arg: 0, op: 'ne', value: 0 }], action: EPERM_ERR },
    { name: 'getuid', cmps: [{ arg: 2, op: 'masked', value: 6, mask: 6 }, { arg: 0, op: 'masked', value: 1, mask: 1 }], action: EPERM_ERR },
  ];
  const p = rulesProgram(rules, 'x86-64')!;
  assert.equal(runProgram(p, call('getpid', [7n])), EPERM_ERR);
  assert.equal(runProgram(p, call('getpid', [8n])), RET_ALLOW);
  assert.equal(runProgram(p, call('getpid', [(1n << 32n) | 7n])), RET_ALLOW, 'EQ: an upper half makes it another value');
  assert.equal(runProgram(p, call('getppid', [0n, 6n])), EPERM_ERR);
  assert.equal(runProgram(p, call('getppid', [0n, 5n])), RET_ALLOW);
  assert.equal(runProgram(p, call('getppid', [0n, 1n << 32n])), EPERM_ERR, 'GT: an upper half is above');
  assert.equal(runProgram(p, call('gettid', [0n])), RET_ALLOW);
  assert.equal(runProgram(p, call('gettid', [1n << 40n])), EPERM_ERR, 'NE: an upper half differs');
  assert.equal(runProgram(p, call('getuid', [1n, 0n, 7n])), EPERM_ERR, 'both masked comparisons match');
  assert.equal(runProgram(p, call('getuid', [0n, 0n, 7n])), RET_ALLOW, 'one of them does not');
  assert.equal(runProgram(p, call('getuid', [(1n << 33n) | 1n, 0n, 6n])), EPERM_ERR, 'MASKED_EQ: the upper half is not looked at');
  assert.equal(runProgram(p, call('write')), RET_ALLOW);
  assert.equal(runProgram(p, call386('getpid', [7n])), RET_ALLOW, 'another architecture\'s calls: its own program judges them');
  assert.equal(rulesProgram([{ name: 'no_such_call', cmps: [], action: EPERM_ERR }], 'x86-64'), undefined);
});

test('ProtectKernelLogs=: syslog() → EPERM on every architecture, nothing else', () => {
  const progs = all({ protectKernelLogs: true });
  assert.equal(progs.length, 3);
  assert.equal(verdict(progs, call('syslog')), EPERM_ERR);
  assert.equal(verdict(progs, callX32('syslog')), EPERM_ERR);
  assert.equal(verdict(progs, call386('syslog')), EPERM_ERR);
  assert.equal(verdict(progs, call('read')), RET_ALLOW);
  assert.equal(verdict(progs, call('umount2')), RET_ALLOW);
});

test('ProtectHostname=: sethostname()/setdomainname() → EPERM, installed with the UTS namespace (its own variable), not with the late filters', () => {
  const plan = seccompPlan({ protectHostname: true });
  assert.equal(plan.filters.length, 0);
  assert.equal(plan.hostname.length, 3);
  assert.equal(verdict(plan.hostname, call('sethostname')), EPERM_ERR);
  assert.equal(verdict(plan.hostname, call('setdomainname')), EPERM_ERR);
  assert.equal(verdict(plan.hostname, call386('sethostname')), EPERM_ERR);
  assert.equal(verdict(plan.hostname, call('uname')), RET_ALLOW);
  const env = privsPlan({ protectHostname: true }, true).env;
  assert.ok(env['UO_SHIM_PROTECT_HOSTNAME'] && !env['UO_SHIM_SECCOMP']);
  assert.equal(env['UO_SHIM_NNP'], 'implied');
  assert.deepEqual(privsPlan({ protectHostname: false }, true).env, {});
  assert.deepEqual(privsPlan({ protectHostname: true }, false).env, {}, 'a "+" command: none of it');
  // the later SystemCallFilter= decides between two errnos (the kernel takes the newest filter's on a tie)
  const both = seccompPlan({ protectHostname: true, systemCallFilter: ['~sethostname:EACCES'] });
  const newestFirst = [...both.hostname, ...both.filters].reverse().map((p) => runProgram(p, call('sethostname'))).find((x) => x !== RET_ALLOW);
  assert.equal(newestFirst, (RET_ERRNO | EACCES_) >>> 0);
});

test('ProtectClock=: @clock → EPERM, reading the clock allowed, CAP_SYS_TIME and CAP_WAKE_ALARM out of the bounding set', () => {
  const progs = all({ protectClock: true });
  for (const n of ['clock_settime', 'settimeofday', 'adjtimex', 'clock_adjtime']) assert.equal(verdict(progs, call(n)), EPERM_ERR, n);
  assert.equal(verdict(progs, call386('clock_settime64')), EPERM_ERR);
  assert.equal(verdict(progs, call('clock_gettime')), RET_ALLOW);
  assert.equal(verdict(progs, call('gettimeofday')), RET_ALLOW);
  const bset = BigInt(`0x${privsPlan({ protectClock: true }, true).env['UO_SHIM_CAPBSET']}`);
  assert.equal(bset, CAP_MASK_ALL & ~((1n << 25n) | (1n << 35n)));
  const both = BigInt(`0x${privsPlan({ protectClock: true, capabilityBoundingSet: ['CAP_SYS_TIME CAP_KILL'] }, true).env['UO_SHIM_CAPBSET']}`);
  assert.equal(both, 1n << 5n, 'dropped from an explicit set as well');
});

test('LockPersonality=: personality() with any other value than the current one (PER_LINUX, or Personality=x86) → EPERM, the query included', () => {
  const progs = all({ lockPersonality: true });
  assert.equal(verdict(progs, call('personality', [0n])), RET_ALLOW);
  assert.equal(verdict(progs, call('personality', [8n])), EPERM_ERR);
  assert.equal(verdict(progs, call('personality', [0xffffffffn])), EPERM_ERR);
  assert.equal(verdict(progs, call('personality', [1n << 32n])), EPERM_ERR);
  assert.equal(verdict(progs, call386('personality', [8n])), EPERM_ERR);
  const x86 = all({ lockPersonality: true, personality: 'x86' });
  assert.equal(verdict(x86, call('personality', [8n])), RET_ALLOW);
  assert.equal(verdict(x86, call('personality', [0n])), EPERM_ERR);
});

test('RestrictRealtime=: sched_setscheduler() to anything but OTHER, BATCH, IDLE → EPERM; RLIMIT_RTPRIO 0 unless LimitRTPRIO=', () => {
  const progs = all({ restrictRealtime: true });
  for (const ok of [0n, 3n, 5n]) assert.equal(verdict(progs, call('sched_setscheduler', [0n, ok])), RET_ALLOW, `policy ${ok}`);
  for (const no of [1n, 2n, 4n, 6n, 0x40000001n, 1n << 32n]) assert.equal(verdict(progs, call('sched_setscheduler', [0n, no])), EPERM_ERR, `policy ${no}`);
  assert.equal(verdict(progs, call386('sched_setscheduler', [0n, 1n])), EPERM_ERR);
  assert.equal(verdict(progs, call('sched_setparam', [0n, 1n])), RET_ALLOW, 'only sched_setscheduler(), as systemd');
  assert.equal(privsPlan({ restrictRealtime: true }, true).env['UO_SHIM_RTPRIO_ZERO'], '1');
  assert.equal(privsPlan({ restrictRealtime: true, limitRTPRIO: 5 }, true).env['UO_SHIM_RTPRIO_ZERO'], undefined);
});

test('RestrictSUIDSGID=: the mode arguments with S_ISUID or S_ISGID → EPERM, open()/openat() only with O_CREAT, fchmodat2() too, openat2() → ENOSYS', () => {
  const progs = all({ restrictSUIDSGID: true });
  assert.equal(verdict(progs, call('chmod', [0n, 0o4755n])), EPERM_ERR);
  assert.equal(verdict(progs, call('chmod', [0n, 0o2755n])), EPERM_ERR);
  assert.equal(verdict(progs, call('chmod', [0n, 0o1777n])), RET_ALLOW, 'the sticky bit is fine');
  assert.equal(verdict(progs, call('fchmodat', [0n, 0n, 0o4755n])), EPERM_ERR);
  assert.equal(verdict(progs, call('mkdirat', [0n, 0n, 0o2755n])), EPERM_ERR);
  assert.equal(verdict(progs, call('mkdir', [0n, 0o755n])), RET_ALLOW);
  assert.equal(verdict(progs, call('openat', [0n, 0n, 0o100n, 0o4755n])), EPERM_ERR);
  assert.equal(verdict(progs, call('openat', [0n, 0n, 0n, 0o4755n])), RET_ALLOW, 'no O_CREAT: the mode is not used');
  assert.equal(verdict(progs, call('open', [0n, 0o101n, 0o2644n])), EPERM_ERR);
  assert.equal(verdict(progs, call('creat', [0n, 0o4700n])), EPERM_ERR);
  assert.equal(verdict(progs, call('openat2', [0n, 0n, 0n, 24n])), (RET_ERRNO | ENOSYS) >>> 0, 'so that libc falls back to openat() (the oracle: ENOSYS)');
  assert.equal(SYSCALLS_X86_64['fchmodat2'], 452, 'newer than the headers: from the unified table (gen-tables.ts)');
  assert.equal(verdict(progs, call('fchmodat2', [0n, 0n, 0o4755n, 0n])), EPERM_ERR);
  assert.equal(verdict(progs, callX32('fchmodat2', [0n, 0n, 0o2755n, 0n])), EPERM_ERR);
  assert.equal(verdict(progs, call386('chmod', [0n, 0o4755n])), EPERM_ERR);
});

test('MemoryDenyWriteExecute=: PR_SET_MDWE first (the shim); the fallback programs refuse writable+executable mappings and making memory executable', () => {
  const p = seccompPlan({ memoryDenyWriteExecute: true });
  assert.equal(p.filters.length, 0);
  const progs = p.mdwe!;
  assert.equal(progs.length, 3);
  assert.equal(verdict(progs, call('mmap', [0n, 4096n, 7n])), EPERM_ERR);
  assert.equal(verdict(progs, call('mmap', [0n, 4096n, 3n])), RET_ALLOW);
  assert.equal(verdict(progs, call('mmap', [0n, 4096n, 5n])), RET_ALLOW, 'read+exec without write: allowed');
  assert.equal(verdict(progs, call('mprotect', [0n, 4096n, 5n])), EPERM_ERR);
  assert.equal(verdict(progs, call('mprotect', [0n, 4096n, 3n])), RET_ALLOW);
  assert.equal(verdict(progs, call('pkey_mprotect', [0n, 4096n, 4n])), EPERM_ERR);
  assert.equal(verdict(progs, call('shmat', [0n, 0n, 0o100000n])), EPERM_ERR);
  assert.equal(verdict(progs, call386('mmap2', [0n, 4096n, 6n])), EPERM_ERR);
  assert.equal(verdict(progs, call386('mmap', [0n])), EPERM_ERR, 'i386 old_mmap(): its arguments are in memory, refused altogether');
  const env = privsPlan({ memoryDenyWriteExecute: true }, true).env;
  assert.ok(env['UO_SHIM_SECCOMP_MDWE']);
  assert.equal(env['UO_SHIM_NNP'], 'implied');
});

test('RestrictNamespaces=: parsed as config_parse_restrict_namespaces() (yes, no, a list, "~", merged assignments)', () => {
  const p: string[] = [];
  const f = NAMESPACE_FLAGS;
  assert.equal(parseRestrictNamespaces('true', p), 0);
  assert.equal(parseRestrictNamespaces('yes', p), 0);
  assert.equal(parseRestrictNamespaces('false', p), NAMESPACE_FLAGS_ALL);
  assert.equal(parseRestrictNamespaces('net mnt', p), (f['net']! | f['mnt']!) >>> 0);
  assert.equal(parseRestrictNamespaces('~user net', p), (NAMESPACE_FLAGS_ALL & ~(f['user']! | f['net']!)) >>> 0);
  assert.equal(parseRestrictNamespaces('time', p), f['time']);
  assert.equal(NAMESPACE_FLAGS_ALL & f['time']!, 0, '"~" and "no" are computed without "time" (systemd 257: "~user" refuses a time namespace)');
  assert.equal(parseRestrictNamespaces(['net', 'uts ipc', '~ipc'], p), (f['net']! | f['uts']!) >>> 0);
  assert.equal(parseRestrictNamespaces(['net', ''], p), undefined, 'an empty assignment resets');
  assert.equal(parseRestrictNamespaces(undefined, p), undefined);
  assert.deepEqual(p, []);
  assert.equal(parseRestrictNamespaces('net bogus', p), undefined);
  assert.equal(p.length, 1, 'an unknown type: the assignment is ignored and reported');
  assert.equal(seccompPlan({ restrictNamespaces: 'false' }).any, false, 'all kept: no filter, no implied NoNewPrivileges=');
});

test('RestrictNamespaces=: unshare()/clone() with a refused flag and setns() → EPERM; "yes" refuses setns() altogether, a list only nstype 0 and the refused types', () => {
  const NEWNET = BigInt(NAMESPACE_FLAGS['net']!), NEWUSER = BigInt(NAMESPACE_FLAGS['user']!), NEWNS = BigInt(NAMESPACE_FLAGS['mnt']!);
  const yes = all({ restrictNamespaces: 'true' });
  assert.equal(verdict(yes, call('unshare', [NEWUSER])), EPERM_ERR);
  assert.equal(verdict(yes, call('clone', [NEWNET | 17n])), EPERM_ERR);
  assert.equal(verdict(yes, call('clone', [0x3d0f00n | 17n])), RET_ALLOW, 'a thread or a fork: no namespace flag');
  assert.equal(verdict(yes, call('setns', [3n, NEWNET])), EPERM_ERR);
  assert.equal(verdict(yes, call('setns', [3n, 0n])), EPERM_ERR);
  assert.equal(verdict(yes, call('unshare', [0x400n])), RET_ALLOW, 'CLONE_FS: not a namespace');
  assert.equal(verdict(yes, call386('unshare', [NEWUSER])), EPERM_ERR);
  assert.equal(verdict(yes, call('clone3', [0n, 88n])), (RET_ERRNO | ENOSYS) >>> 0, 'clone3(): its flags are behind a pointer, ENOSYS so that libc uses clone()');
  assert.equal(verdict(yes, call('unshare', [0x80n])), EPERM_ERR, 'CLONE_NEWTIME');
  const deny = all({ restrictNamespaces: '~user' });
  assert.equal(verdict(deny, call('unshare', [0x80n])), EPERM_ERR, 'a "~" list refuses time');
  assert.equal(verdict(deny, call('unshare', [NEWNET])), RET_ALLOW);
  assert.deepEqual(all({ restrictNamespaces: 'false' }), [], '"no": no filter, time allowed');
  const time = all({ restrictNamespaces: 'time' });
  assert.equal(verdict(time, call('unshare', [0x80n])), RET_ALLOW);
  assert.equal(verdict(time, call('unshare', [NEWNET])), EPERM_ERR);
  assert.equal(verdict(time, call('setns', [3n, 0x80n])), EPERM_ERR, 'only time kept: setns() refused altogether, as with none');
  const list = all({ restrictNamespaces: 'net mnt' });
  assert.equal(verdict(list, call('unshare', [NEWNET])), RET_ALLOW);
  assert.equal(verdict(list, call('unshare', [NEWNET | NEWNS])), RET_ALLOW);
  assert.equal(verdict(list, call('unshare', [NEWNET | NEWUSER])), EPERM_ERR, 'one refused flag is enough');
  assert.equal(verdict(list, call('setns', [3n, NEWNET])), RET_ALLOW);
  assert.equal(verdict(list, call('setns', [3n, NEWUSER])), EPERM_ERR);
  assert.equal(verdict(list, call('setns', [3n, 0n])), EPERM_ERR, 'nstype 0 could be any type');
});

test('SystemCallLog=: SECCOMP_RET_LOG for the listed calls, or with "~" for all the others; nothing is refused', () => {
  const log = all({ systemCallLog: ['@mount'] });
  assert.equal(verdict(log, call('mount')), RET_LOG);
  assert.equal(verdict(log, call('read')), RET_ALLOW);
  const inv = all({ systemCallLog: ['~@basic-io'] });
  assert.equal(verdict(inv, call('read')), RET_ALLOW);
  assert.equal(verdict(inv, call('mount')), RET_LOG);
  const bad: string[] = [];
  assert.equal(parseSyscallLog(['@nope Bad!'], bad)!.names.size, 0);
  assert.equal(bad.length, 2);
});

test('the programs are installed in exec_invoke()\'s order, SystemCallArchitectures= before LockPersonality=, SystemCallFilter= last', () => {
  const svc = { systemCallFilter: ['~@mount'], lockPersonality: true, systemCallArchitectures: ['native'], restrictRealtime: true, protectKernelLogs: true, restrictNamespaces: 'true', restrictSUIDSGID: true, protectClock: true, privateDevices: true, protectKernelModules: true, protectKernelTunables: true, systemCallLog: ['swapon'] };
  const p = seccompPlan(svc);
  // which feature each program answers for, in order (the native architecture's program of each)
  const probe: Array<[string, { nr: number; arch: number; args?: bigint[] }]> = [
    ['realtime', call('sched_setscheduler', [0n, 1n])], ['suid', call('chmod', [0n, 0o4755n])], ['ns', call('unshare', [BigInt(NAMESPACE_FLAGS['user']!)])],
    ['sysctl', call('_sysctl')], ['module', call('init_module')], ['syslog', call('syslog')], ['clock', call('settimeofday')],
    ['rawio', call('iopl')], ['archs', call386('getpid')], ['personality', call('personality', [8n])], ['log', call('swapon')], ['filter', call('umount2')],
  ];
  const owner = (prog: Insn[]): string => probe.find(([, c]) => runProgram(prog, c) !== RET_ALLOW)?.[0] ?? '?';
  // (the i386 and x32 programs of a feature do not answer x86-64 calls: '?')
  const order = p.filters.map(owner).filter((x) => x !== '?').filter((x, i, a) => a[i - 1] !== x);
  assert.deepEqual(order, probe.map(([n]) => n));
  // after SystemCallArchitectures=native, LockPersonality=, SystemCallLog= and SystemCallFilter= have the native program only
  assert.equal(p.filters.filter((x) => owner(x) === 'personality').length, 1);
  assert.equal(p.filters.filter((x) => runProgram(x, call386('sched_setscheduler', [0n, 1n])) !== RET_ALLOW).length, 2, 'RestrictRealtime= has an i386 program (and the architecture filter kills the call)');
  assert.equal(p.filters.length, 3 + 3 + 3 + 2 + 3 + 3 + 3 + 3 + 1 + 1 + 1 + 1, 'no _sysctl on x32');
  assert.ok(p.filters.length <= 64);
  const env = privsPlan(svc, true).env;
  assert.equal(env['UO_SHIM_SECCOMP']!.split(',').length, p.filters.length);
  const base = { env: {}, rlimits: [], stdout: 'null', stderr: 'null', log: '/dev/null', logMaxBytes: 1 };
  assert.equal(encodeShimEnv({ ...base, privs: env })['UO_SHIM_SECCOMP'], env['UO_SHIM_SECCOMP']);
  const one = encodeProgram([{ code: 6, jt: 0, jf: 0, k: RET_ALLOW }]);
  assert.throws(() => encodeShimEnv({ ...base, privs: { UO_SHIM_SECCOMP: Array(65).fill(one).join(',') } }), /privilege setting/, 'at most 64 programs');
  assert.doesNotThrow(() => encodeShimEnv({ ...base, privs: { UO_SHIM_SECCOMP: Array(64).fill(one).join(','), UO_SHIM_SECCOMP_MDWE: one, UO_SHIM_PROTECT_HOSTNAME: one, UO_SHIM_RTPRIO_ZERO: '1' } }));
  assert.throws(() => encodeShimEnv({ ...base, privs: { UO_SHIM_RTPRIO_ZERO: '0' } }), /privilege setting/);
});

test('context_has_seccomp(): each of these protections implies NoNewPrivileges= (when CAP_SYS_ADMIN is missing: UO_SHIM_NNP=implied)', () => {
  for (const svc of [{ lockPersonality: true }, { memoryDenyWriteExecute: true }, { privateDevices: true }, { protectClock: true }, { protectHostname: true }, { protectKernelTunables: true },
    { protectKernelModules: true }, { protectKernelLogs: true }, { restrictNamespaces: 'net' }, { restrictRealtime: true }, { restrictSUIDSGID: true }, { systemCallLog: ['@mount'] }]) {
    assert.equal(privsPlan(svc, true).env['UO_SHIM_NNP'], 'implied', JSON.stringify(svc));
  }
  assert.equal(privsPlan({ protectSystem: 'strict', privateTmp: 'true' }, true).env['UO_SHIM_NNP'], undefined, 'mount-only protections: no seccomp');
});

test('the table: these directives are applied now (a unit asking for them starts), ProtectClock= too (its DeviceAllow=char-rtc r: cgroup/devices.ts, test/runner/devices.test.ts)', () => {
  const svc = { protectKernelLogs: true, protectHostname: true, lockPersonality: true, restrictRealtime: true, restrictSUIDSGID: true, memoryDenyWriteExecute: true, restrictNamespaces: '~user', systemCallLog: ['@mount'], protectClock: true };
  const unapplied = unappliedDirectives({ service: svc } as unknown as ServiceUnitSpec);
  assert.deepEqual(unapplied.map((u) => u.name), []);
  assert.deepEqual(refusedDirectives(unapplied), []);
});
