// The device probe of test/runner/devices.test.ts (v1 "devices" hierarchy) and
// test/runner/devices-bpf.test.ts (the cgroup2 program): a oneshot unit that opens device nodes
// for reading and for writing (the kernel's device check is at open(2): EPERM) and writes what
// each open said; nodes made with mknod in a temp dir: mem = c 1:1, loop = b 7:0, nul = c 1:3,
// and rtc = c RTC:0 where the kernel has an rtc major and /dev/rtc0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor, subState, type Harness } from './units.ts';
import { readDeviceHost } from '../../src/runner/cgroup/devices.ts';
import { refusedDirectives } from '../../src/api/applied.ts';
import type { UnitRunner } from '../../src/runner/unit.ts';

const PROBE = `D=$1
o() { e=$( { exec 3<"$1"; } 2>&1 ) && echo "$1 r ok" || echo "$1 r \${e##*: }"; }
w() { e=$( { exec 3>"$1"; } 2>&1 ) && echo "$1 w ok" || echo "$1 w \${e##*: }"; }
for f in /dev/null /dev/zero $D/mem $D/loop $D/nul $D/rtc; do [ -e $f ] || continue; o $f; w $f; done
`;

export const EPERM = 'Operation not permitted';

/**
 * Runs the probe as a oneshot unit of `h` with `extra` directives; returns its lines ("D/mem r" →
 * "ok" or the error) and what `whileRunning` returned, called while the unit still ran.
 */
export async function probeDevices<T>(h: Harness, name: string, extra: Record<string, unknown>, whileRunning: (r: UnitRunner) => T): Promise<{ out: Map<string, string>; seen: T }> {
  const nodes = join(h.dir, `nodes-${name}`);
  const rtc = /^\s*([0-9]+) rtc$/m.exec(readDeviceHost().procDevices)?.[1];
  execFileSync('/bin/sh', ['-c', `mkdir -p ${nodes} && mknod ${nodes}/mem c 1 1 && mknod ${nodes}/loop b 7 0 && mknod ${nodes}/nul c 1 3${rtc && existsSync('/dev/rtc0') ? ` && mknod ${nodes}/rtc c ${rtc} 0` : ''}`]);
  writeFileSync(join(h.dir, 'probe.sh'), PROBE);
  const outFile = join(h.dir, `out-${name}`);
  // the probe's output to a file; it waits for whileRunning (sleep), then ends
  const spec = { service: { type: 'oneshot', execStart: [`/bin/sh -c '/bin/sh ${h.dir}/probe.sh ${nodes} > ${outFile} 2>&1; sleep 0.5'`], standardInput: 'file:/etc/hostname', ...extra } };
  const r = h.open(name, spec);
  assert.deepEqual(refusedDirectives(r.notApplied), [], JSON.stringify(r.notApplied));
  assert.equal(r.start(), undefined);
  await waitFor(r, 'probe output', () => existsSync(outFile) && readFileSync(outFile, 'utf8').split('\n').length > 10, 10_000);
  const seen = whileRunning(r);
  await waitFor(r, 'dead', subState('dead'), 10_000);
  const out = new Map<string, string>();
  for (const l of readFileSync(outFile, 'utf8').trim().split('\n')) {
    const m = /^(\S+) ([rw]) (.*)$/.exec(l);
    if (m) out.set(`${m[1]!.replace(nodes, 'D')} ${m[2]}`, m[3]!);
  }
  return { out, seen };
}
