// IPAddressAllow= and IPAddressDeny= (issue 15) as systemd 257 applies them (bpf-firewall.c):
// two BPF_PROG_TYPE_CGROUP_SKB programs on the unit's cgroup in the unified hierarchy, one for
// BPF_CGROUP_INET_INGRESS, one for BPF_CGROUP_INET_EGRESS, which see every IPv4 and IPv6 packet
// of the sockets made in that cgroup (and below it). A packet's remote address (the source of
// one coming in, the destination of one going out) decides:
//
//   it matches a prefix of the allow list        the packet passes
//   else it matches a prefix of the deny list    it is dropped (a send fails with EPERM;
//                                                a TCP connect() is not answered)
//   else                                         it passes
//
// systemd looks the address up in LPM-trie maps; these programs compare it with each prefix
// instead (the same verdicts, no maps to keep): this module compiles them (pure), and
// cgroupbpf.ts has uo-shim load and attach them (shim/cgroup-bpf.c). A slice's lists would be
// merged into each of its units' (bpf_firewall_prepare_access_maps() walks the slices up); the
// agent has no slice units, so a unit's lists are its own.

import { endianness } from 'node:os';
import type { ServiceUnitSpec } from '../../api/types.ts';
import { parsePrefixList, type Prefix } from '../../api/ipprefix.ts';

export interface IpAccess {
  readonly allow: readonly Prefix[];
  readonly deny: readonly Prefix[];
  /** systemd's warnings for the words it ignores, with the directive. */
  readonly ignored: readonly { readonly name: 'IPAddressAllow' | 'IPAddressDeny'; readonly why: string }[];
}

/** The unit's lists as systemd 257 loads them. */
export function ipAccess(spec: ServiceUnitSpec): IpAccess {
  const s = (spec.service ?? {}) as Record<string, unknown>;
  const allow = parsePrefixList(s['ipAddressAllow']), deny = parsePrefixList(s['ipAddressDeny']);
  return {
    allow: allow.prefixes, deny: deny.prefixes,
    ignored: [...allow.ignored.map((why) => ({ name: 'IPAddressAllow' as const, why })), ...deny.ignored.map((why) => ({ name: 'IPAddressDeny' as const, why }))],
  };
}

/** A running unit takes changed lists without a restart (systemctl set-property). */
export const LIVE_IP_DIRECTIVES = ['IPAddressAllow', 'IPAddressDeny'] as const;

/** Whether systemd would install a filter (either list set); only a deny list drops anything. */
export const hasIpAccess = (a: IpAccess): boolean => a.allow.length > 0 || a.deny.length > 0;
export const ipRestricts = (a: IpAccess): boolean => a.deny.length > 0;

// ---- the programs -------------------------------------------------------------------------

/** eBPF opcodes (linux/bpf.h, bpf_common.h). */
const OP = {
  MOV64_X: 0xbf, MOV64_K: 0xb7, ADD64_K: 0x07, MOV32_X: 0xbc, MOV32_K: 0xb4, AND32_K: 0x54,
  LDX_W: 0x61, JNE32_K: 0x56, CALL: 0x85, EXIT: 0x95,
} as const;
const FUNC_SKB_LOAD_BYTES = 26;
/** offsetof(struct __sk_buff, protocol); the IPv4 and IPv6 headers' address offsets. */
const SKB_PROTOCOL = 16;
const ADDR = { ingress: { v4: 12, v6: 8 }, egress: { v4: 16, v6: 24 } } as const;
/** skb->protocol is big-endian: htons(ETH_P_IP), htons(ETH_P_IPV6) as a little-endian word reads them. */
const ETH_P_IP_BE = 0x0008, ETH_P_IPV6_BE = 0xdd86;
/** A jump's offset is 16 bits: the block of one address family must stay shorter. */
const MAX_JUMP = 32767;

interface Insn { code: number; dst: number; src: number; off: number; imm: number }
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** The 32-bit word of bytes[4i..4i+3] as the program reads it from memory (little-endian host). */
const word = (bytes: readonly number[], i: number): number => Buffer.from(bytes.slice(4 * i, 4 * i + 4)).readInt32LE(0);
const maskWord = (len: number, i: number): number => {
  const bits = Math.max(0, Math.min(32, len - 32 * i));
  const b = [0, 1, 2, 3].map((k) => (bits >= 8 * (k + 1) ? 0xff : bits <= 8 * k ? 0 : (0xff << (8 - (bits - 8 * k))) & 0xff));
  return Buffer.from(b).readInt32LE(0);
};

/**
 * One address family's block: unless the packet is of this family, jump past it; else load the
 * remote address (words into r2..r5) and return the verdict of the first prefix that matches,
 * allow list first, else 1 (pass).
 */
function familyBlock(v6: boolean, at: number, allow: readonly Prefix[], deny: readonly Prefix[]): Insn[] {
  const words = v6 ? 4 : 1;
  const body: Insn[] = [
    I(OP.MOV64_X, 1, 6), I(OP.MOV32_K, 2, 0, 0, at), I(OP.MOV64_X, 3, 10), I(OP.ADD64_K, 3, 0, 0, -16), I(OP.MOV32_K, 4, 0, 0, 4 * words),
    I(OP.CALL, 0, 0, 0, FUNC_SKB_LOAD_BYTES),
    ...Array.from({ length: words }, (_, i) => I(OP.LDX_W, 2 + i, 10, -16 + 4 * i)),
  ];
  let open = true;
  const entries = [...allow.filter((p) => p.v6 === v6).map((p) => ({ p, verdict: 1 })), ...deny.filter((p) => p.v6 === v6).map((p) => ({ p, verdict: 0 }))];
  for (const { p, verdict } of entries) {
    if (p.len === 0) { body.push(I(OP.MOV64_K, 0, 0, 0, verdict), I(OP.EXIT)); open = false; break; } // all of the family: nothing after it is reached
    const test: Insn[] = [];
    const used = Math.ceil(p.len / 32);
    for (let i = 0; i < used; i++) {
      if (p.len >= 32 * (i + 1)) test.push(I(OP.JNE32_K, 2 + i, 0, 0, word(p.bytes, i)));
      else test.push(I(OP.MOV32_X, 0, 2 + i), I(OP.AND32_K, 0, 0, 0, maskWord(p.len, i)), I(OP.JNE32_K, 0, 0, 0, word(p.bytes, i)));
    }
    // each failed comparison jumps past the verdict (2 instructions)
    test.forEach((t, k) => { if (t.code === OP.JNE32_K) t.off = test.length - 1 - k + 2; });
    body.push(...test, I(OP.MOV64_K, 0, 0, 0, verdict), I(OP.EXIT));
  }
  if (open) body.push(I(OP.MOV64_K, 0, 0, 0, 1), I(OP.EXIT));
  if (body.length > MAX_JUMP) throw new RangeError(`too many IPv${v6 ? 6 : 4} prefixes (${entries.length}): the filter of one address family is limited to ${MAX_JUMP} instructions`);
  return [I(OP.JNE32_K, 7, 0, body.length, v6 ? ETH_P_IPV6_BE : ETH_P_IP_BE), ...body];
}

/** The program of one direction, as eBPF instructions. Throws RangeError when a list is too long. */
export function compileFilter(a: IpAccess, direction: 'ingress' | 'egress'): Insn[] {
  return [
    I(OP.MOV64_X, 6, 1), // r6 = skb
    I(OP.LDX_W, 7, 6, SKB_PROTOCOL), // r7 = skb->protocol
    ...familyBlock(false, ADDR[direction].v4, a.allow, a.deny),
    ...familyBlock(true, ADDR[direction].v6, a.allow, a.deny),
    I(OP.MOV64_K, 0, 0, 0, 1), I(OP.EXIT), // neither IPv4 nor IPv6: passes
  ];
}

/** struct bpf_insn as 16 hex digits an instruction (what shim/cgroup-bpf.c reads). */
export function encodeProgram(insns: readonly Insn[]): string {
  if (endianness() !== 'LE') throw new Error('the cgroup BPF programs (IP filter, bind rules, device access) are built for little-endian hosts only');
  const b = Buffer.alloc(8 * insns.length);
  insns.forEach((x, i) => {
    b[8 * i] = x.code;
    b[8 * i + 1] = ((x.src & 0xf) << 4) | (x.dst & 0xf);
    b.writeInt16LE(x.off, 8 * i + 2);
    b.writeInt32LE(x.imm | 0, 8 * i + 4);
  });
  return b.toString('hex');
}

/** The names the programs are loaded under: how the loader finds the ones it attached before (replace, detach). */
export const PROGRAM_NAME = { ingress: 'uo_ipfw_ingress', egress: 'uo_ipfw_egress' } as const;
