// DevicePolicy= and DeviceAllow= on cgroup2 (issue 15): the BPF_PROG_TYPE_CGROUP_DEVICE program
// systemd 257 attaches for BPF_CGROUP_DEVICE where there is no v1 "devices" hierarchy
// (bpf-devices.c). The kernel runs it at each open(2)/mknod(2) of a device node by a process of
// the cgroup (or below it) with struct bpf_cgroup_dev_ctx { access_type = type | access << 16,
// major, minor }; 0 refuses (EPERM), 1 lets the device cgroup pass.
//
// The rules are the ones devices.ts resolves for the v1 hierarchy (deviceWrites(): the standard
// set for "closed", the list in systemd's order, nodes stat()ed, char-/block- classes from
// /proc/devices), each compiled as systemd's allow-list entry: the access asked must be within
// the rule's (r = READ, w = WRITE, m = MKNOD), the type equal, the major and minor equal unless
// "*". The first rule that matches allows; none matching refuses. "auto" without a list has no
// program at all (what is attached before is detached). Unlike v1, rules of the same node are not
// merged: "/dev/zero r" and "/dev/zero w" allow opening it for reading or writing, not both at
// once — as under systemd on cgroup2.

import type { DeviceContext, DeviceHost } from './devices.ts';
import { deviceWrites, restricts } from './devices.ts';
import { encodeProgram } from './ipaccess.ts';

/** The name the program is loaded under (how the loader finds and replaces it). */
export const DEVICE_PROGRAM_NAME = 'uo_devices';

/** eBPF opcodes (linux/bpf.h). */
const OP = { LDX_W: 0x61, AND32_K: 0x54, RSH32_K: 0x74, MOV32_X: 0xbc, MOV64_K: 0xb7, JNE_K: 0x55, JNE_X: 0x5d, JA: 0x05, EXIT: 0x95 } as const;
/** BPF_DEVCG_ACC_* and BPF_DEVCG_DEV_*. */
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };
const DEV = { b: 1, c: 2 } as const;

interface Insn { code: number; dst: number; src: number; off: number; imm: number }
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** One allow rule: "c 1:3 rwm", "c 136:* rw", "b *:* r" (a devices.allow line). */
export interface DeviceRule { readonly type: 'b' | 'c'; readonly major: number | '*'; readonly minor: number | '*'; readonly access: number }

export function parseRule(line: string): DeviceRule {
  const m = /^([bc]) (\*|[0-9]+):(\*|[0-9]+) ([rwm]+)$/.exec(line);
  if (!m) throw new Error(`not a device rule: "${line}"`);
  const num = (s: string): number | '*' => (s === '*' ? '*' : Number(s));
  return { type: m[1] as 'b' | 'c', major: num(m[2]!), minor: num(m[3]!), access: [...m[4]!].reduce((a, c) => a | ACC[c]!, 0) };
}

/** The allow rules of `c` on this node, in order; undefined when nothing is restricted (no program). */
export function deviceRules(c: DeviceContext, host: DeviceHost): DeviceRule[] | undefined {
  if (!restricts(c)) return undefined;
  return deviceWrites(c, host).filter((w) => w.file === 'devices.allow').map((w) => parseRule(w.value));
}

/**
 * The program: r2 = device type, r3 = access asked, r4 = major, r5 = minor; each rule a block
 * whose failed comparisons jump to the next block and whose end jumps to "allow"; after the
 * last, "refuse".
 */
export function compileDevices(rules: readonly DeviceRule[]): Insn[] {
  const out: Insn[] = [
    I(OP.LDX_W, 2, 1, 0), I(OP.AND32_K, 2, 0, 0, 0xffff),
    I(OP.LDX_W, 3, 1, 0), I(OP.RSH32_K, 3, 0, 0, 16),
    I(OP.LDX_W, 4, 1, 4), I(OP.LDX_W, 5, 1, 8),
  ];
  const toAllow: number[] = [];
  for (const r of rules) {
    const block: Insn[] = [];
    if (r.access !== 7) block.push(I(OP.MOV32_X, 1, 3), I(OP.AND32_K, 1, 0, 0, r.access), I(OP.JNE_X, 1, 3)); // (asked & allowed) != asked
    block.push(I(OP.JNE_K, 2, 0, 0, DEV[r.type]));
    if (r.major !== '*') block.push(I(OP.JNE_K, 4, 0, 0, r.major));
    if (r.major !== '*' && r.minor !== '*') block.push(I(OP.JNE_K, 5, 0, 0, r.minor));
    // a failed comparison skips the rest of the block, the closing jump included
    block.forEach((x, k) => { if (x.code === OP.JNE_K || x.code === OP.JNE_X) x.off = block.length - k; });
    out.push(...block);
    toAllow.push(out.length);
    out.push(I(OP.JA));
  }
  out.push(I(OP.MOV64_K, 0, 0, 0, 0), I(OP.EXIT));
  const allow = out.length;
  out.push(I(OP.MOV64_K, 0, 0, 0, 1), I(OP.EXIT));
  for (const at of toAllow) {
    const off = allow - at - 1;
    if (off > 32767) throw new RangeError(`too many device rules (${rules.length}): the program's jumps are limited to 32767 instructions`);
    out[at]!.off = off;
  }
  return out;
}

/** The loader's command for `c` on this node: attach (replace) the program, or detach ours when nothing is restricted. */
export function deviceCommand(c: DeviceContext, host: DeviceHost): string {
  const rules = deviceRules(c, host);
  return rules === undefined ? `detach device ${DEVICE_PROGRAM_NAME}` : `attach device ${DEVICE_PROGRAM_NAME} ${encodeProgram(compileDevices(rules))}`;
}
