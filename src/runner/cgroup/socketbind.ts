// SocketBindAllow= and SocketBindDeny= (issue 15) as systemd 257 applies them (bpf-socket-bind.c,
// bpf/socket-bind/socket-bind.bpf.c): two BPF_PROG_TYPE_CGROUP_SOCK_ADDR programs on the unit's
// cgroup2 cgroup, for BPF_CGROUP_INET4_BIND and BPF_CGROUP_INET6_BIND, which see every bind(2) of
// an IPv4 / IPv6 socket of the unit. A bind whose family, protocol and port match a rule of the
// allow list passes, else one matching a rule of the deny list fails with EPERM, else it passes.
// systemd keeps the rules in array maps its program walks; these programs compare with each rule
// instead (the same verdicts). The loader is the IP filter's (cgroupbpf.ts, shim/cgroup-bpf.c).
//
// A rule is one assignment (parse_socket_bind_item()): [ipv4:|ipv6:][tcp:|udp:]PORTS, PORTS "any",
// a port or a range "N-M" (0 allowed); an empty assignment resets, a rule systemd cannot read is
// ignored with its warning. At most 128 rules a list (SOCKET_BIND_MAX_RULES).

import type { ServiceUnitSpec } from '../../api/types.ts';

export interface BindRule {
  /** 0 (any), 2 (AF_INET), 10 (AF_INET6). */
  readonly family: 0 | 2 | 10;
  /** 0 (any), 6 (IPPROTO_TCP), 17 (IPPROTO_UDP). */
  readonly protocol: 0 | 6 | 17;
  /** 0: every port. */
  readonly nrPorts: number;
  readonly portMin: number;
}

export interface SocketBind {
  /** In systemd's list order (LIST_PREPEND: the last line first). */
  readonly allow: readonly BindRule[];
  readonly deny: readonly BindRule[];
  readonly ignored: readonly { readonly name: 'SocketBindAllow' | 'SocketBindDeny'; readonly why: string }[];
}

export const SOCKET_BIND_MAX_RULES = 128;
export const LIVE_BIND_DIRECTIVES = ['SocketBindAllow', 'SocketBindDeny'] as const;

/** parse_socket_bind_item(): the tokens separated by ":" in the order family, protocol, ports, each optional but the last. */
export function parseBindRule(s: string): BindRule | undefined {
  if (s === '') return undefined;
  const tokens = s.split(':');
  let family: BindRule['family'] = 0, protocol: BindRule['protocol'] = 0, nrPorts = 0, portMin = 0;
  let stage = 0; // 0: family next, 1: protocol, 2: ports, 3: done
  for (const t of tokens) {
    if (t === '' || stage === 3) return undefined;
    if (stage === 0 && (t === 'ipv4' || t === 'ipv6')) { family = t === 'ipv4' ? 2 : 10; stage = 1; continue; }
    if (stage <= 1 && (t === 'tcp' || t === 'udp')) { protocol = t === 'tcp' ? 6 : 17; stage = 2; continue; }
    if (t === 'any') { stage = 3; continue; }
    const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(t);
    if (!m) return undefined;
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > 65535 || hi > 65535 || hi < lo) return undefined;
    nrPorts = hi - lo + 1; portMin = lo; stage = 3;
  }
  // a rule may end before its ports: "ipv4", "tcp" alone mean every port
  if (nrPorts === 65536) nrPorts = 0;
  return { family, protocol, nrPorts, portMin };
}

/** A rule as `systemctl show` prints it: "ipv4:tcp47301", "udpany", "0". */
export function formatBindRule(r: BindRule): string {
  return `${r.family === 2 ? 'ipv4:' : r.family === 10 ? 'ipv6:' : ''}${r.protocol === 6 ? 'tcp' : r.protocol === 17 ? 'udp' : ''}${r.nrPorts === 0 ? 'any' : r.nrPorts === 1 ? String(r.portMin) : `${r.portMin}-${r.portMin + r.nrPorts - 1}`}`;
}

function rules(value: unknown, name: 'SocketBindAllow' | 'SocketBindDeny', ignored: SocketBind['ignored'][number][]): BindRule[] {
  const lines = Array.isArray(value) ? value.map(String) : value === undefined || value === null ? [] : [String(value)];
  let out: BindRule[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') { out = []; continue; }
    const r = parseBindRule(line);
    if (!r) { ignored.push({ name, why: `Failed to parse ${name}= setting, ignoring: ${line}` }); continue; }
    out.unshift(r);
  }
  return out;
}

export function socketBind(spec: ServiceUnitSpec): SocketBind {
  const s = (spec.service ?? {}) as Record<string, unknown>;
  const ignored: SocketBind['ignored'][number][] = [];
  return { allow: rules(s['socketBindAllow'], 'SocketBindAllow', ignored), deny: rules(s['socketBindDeny'], 'SocketBindDeny', ignored), ignored };
}

export const hasSocketBind = (b: SocketBind): boolean => b.allow.length > 0 || b.deny.length > 0;

// ---- the programs -------------------------------------------------------------------------

const OP = { MOV64_X: 0xbf, MOV64_K: 0xb7, LDX_W: 0x61, JNE32_K: 0x56, JEQ32_K: 0x16, JLT32_K: 0xa6, JGT32_K: 0x26, END_BE: 0xdc, EXIT: 0x95 } as const;
/** struct bpf_sock_addr: user_family, user_port, family, protocol. */
const CTX = { userFamily: 0, userPort: 24, family: 28, protocol: 36 } as const;

interface Insn { code: number; dst: number; src: number; off: number; imm: number }
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** One rule: every test that fails jumps past the verdict. */
function ruleInsns(r: BindRule, verdict: 0 | 1): Insn[] {
  const test: Insn[] = [];
  if (r.family !== 0) test.push(I(OP.JNE32_K, 7, 0, 0, r.family));
  if (r.protocol !== 0) test.push(I(OP.JNE32_K, 8, 0, 0, r.protocol));
  if (r.nrPorts !== 0) test.push(I(OP.JLT32_K, 9, 0, 0, r.portMin), I(OP.JGT32_K, 9, 0, 0, r.portMin + r.nrPorts - 1));
  test.forEach((t, k) => { t.off = test.length - 1 - k + 2; });
  return [...test, I(OP.MOV64_K, 0, 0, 0, verdict), I(OP.EXIT)];
}

/** The program of one hook (family 2: bind4, 10: bind6), as eBPF instructions. Throws RangeError over 128 rules a list. */
export function compileBind(b: SocketBind, family: 2 | 10): Insn[] {
  for (const [n, l] of [['SocketBindAllow', b.allow], ['SocketBindDeny', b.deny]] as const) {
    if (l.length > SOCKET_BIND_MAX_RULES) throw new RangeError(`${n}= has ${l.length} rules; systemd takes at most ${SOCKET_BIND_MAX_RULES}`);
  }
  return [
    I(OP.MOV64_X, 6, 1), // r6 = ctx
    I(OP.LDX_W, 7, 6, CTX.userFamily), I(OP.JNE32_K, 7, 0, 2, family), // another family: passes
    I(OP.LDX_W, 0, 6, CTX.family), I(OP.JEQ32_K, 0, 0, 2, family),
    I(OP.MOV64_K, 0, 0, 0, 1), I(OP.EXIT),
    I(OP.LDX_W, 8, 6, CTX.protocol),
    I(OP.LDX_W, 9, 6, CTX.userPort), I(OP.END_BE, 9, 0, 0, 16), // the port in host order
    ...rulesInsns(b),
  ];
}

/** The allow rules, the deny rules, then "passes"; nothing after a rule that matches every bind (the verifier refuses unreachable code). */
function rulesInsns(b: SocketBind): Insn[] {
  const out: Insn[] = [];
  for (const [r, verdict] of [...b.allow.map((x) => [x, 1] as const), ...b.deny.map((x) => [x, 0] as const)]) {
    out.push(...ruleInsns(r, verdict));
    if (r.family === 0 && r.protocol === 0 && r.nrPorts === 0) return out;
  }
  return [...out, I(OP.MOV64_K, 0, 0, 0, 1), I(OP.EXIT)];
}

/** The names the programs are loaded under. */
export const BIND_PROGRAM_NAME = { 2: 'uo_bind4', 10: 'uo_bind6' } as const;
