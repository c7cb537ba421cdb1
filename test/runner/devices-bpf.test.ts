// DevicePolicy= and DeviceAllow= on a cgroup2-only node (issue 15): a BPF_CGROUP_DEVICE program
// (src/runner/cgroup/devices-bpf.ts) attached by `uo-shim --cgroup-bpf` to the unit's cgroup2
// cgroup, with real processes. This host is hybrid (v1 controllers, an empty cgroup2 mount), so
// the runner is given the cgroup2 mount alone (harness cgroups: 'unified-only', a layout of mode
// 'v2'): its units have no v1 "devices" cgroup of their own, the program is what refuses.
// The answers expected are the v1 path's and systemd 257's (test/runner/devices.test.ts header).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, shimPath, subState, waitFor } from '../support/units.ts';
import { EPERM, probeDevices } from '../support/devprobe.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';
import { cgroupBpfSupport, listPrograms } from '../../src/runner/cgroup/cgroupbpf.ts';
import { compileDevices, DEVICE_PROGRAM_NAME, deviceRules } from '../../src/runner/cgroup/devices-bpf.ts';
import { deviceContext, readDeviceHost } from '../../src/runner/cgroup/devices.ts';
import { refusedDirectives } from '../../src/api/applied.ts';
import { UnitRunner } from '../../src/runner/unit.ts';

const LAYOUT = detectCgroups();
const skip = process.geteuid?.() !== 0 ? 'needs root (cgroups, BPF)' : !LAYOUT.unified ? 'no writable cgroup2 hierarchy on this node'
  : cgroupBpfSupport(shimPath, LAYOUT.unified.mount, 'cgroup-bpf-device') ?? false;

/** Our device programs on the unit's cgroup2 cgroup. */
const ours = (r: UnitRunner): string[] => listPrograms(shimPath, r.cgroup!.dirs['unified']!, true).filter((l) => l.startsWith('device ')).map((l) => l.split(' ')[2]!);

test('DevicePolicy=closed on cgroup2: /dev/null and /dev/zero open, c 1:1 and b 7:0 made with mknod are EPERM at open — the v1 path\'s and systemd 257\'s answers; one program, ours', { skip }, async (t) => {
  const h = harness(t, { cgroups: 'unified-only' });
  assert.equal(h.cgroups?.layout.mode, 'v2');
  const { out, seen } = await probeDevices(h, 'devb-closed.service', { devicePolicy: 'closed' }, (r) => { assert.equal(r.cgroup!.dirs['devices'], undefined, 'no v1 devices cgroup'); return ours(r); });
  assert.deepEqual(Object.fromEntries(out), {
    '/dev/null r': 'ok', '/dev/null w': 'ok', '/dev/zero r': 'ok', '/dev/zero w': 'ok',
    'D/mem r': EPERM, 'D/mem w': EPERM, 'D/loop r': EPERM, 'D/loop w': EPERM, 'D/nul r': 'ok', 'D/nul w': 'ok',
  });
  assert.deepEqual(seen, [DEVICE_PROGRAM_NAME]);
});

test('DevicePolicy=strict with DeviceAllow=/dev/zero r on cgroup2: /dev/zero readable, not writable, /dev/null EPERM (as v1 and systemd 257)', { skip }, async (t) => {
  const h = harness(t, { cgroups: 'unified-only' });
  const { out } = await probeDevices(h, 'devb-strict.service', { devicePolicy: 'strict', deviceAllow: ['/dev/zero r'] }, () => undefined);
  assert.deepEqual(Object.fromEntries(out), {
    '/dev/null r': EPERM, '/dev/null w': EPERM, '/dev/zero r': 'ok', '/dev/zero w': EPERM,
    'D/mem r': EPERM, 'D/mem w': EPERM, 'D/loop r': EPERM, 'D/loop w': EPERM, 'D/nul r': EPERM, 'D/nul w': EPERM,
  });
});

test('DeviceAllow=char-mem rw (auto with a list) on cgroup2: the class and the standard set allowed, block devices not; no policy, no program', { skip }, async (t) => {
  const h = harness(t, { cgroups: 'unified-only' });
  const { out } = await probeDevices(h, 'devb-class.service', { deviceAllow: ['char-mem rw'] }, () => undefined);
  assert.notEqual(out.get('D/mem r'), EPERM, 'c 1:1 allowed by its major name (this kernel may say ENXIO for the memory device itself)');
  assert.equal(out.get('D/nul w'), 'ok');
  assert.equal(out.get('D/loop r'), EPERM);
  const { out: free, seen } = await probeDevices(h, 'devb-auto.service', {}, (r) => ours(r));
  assert.equal(free.get('D/loop r') === EPERM, false, 'nothing restricted');
  assert.deepEqual(seen, [], 'no device program without a policy or a list');
});

test('a changed DeviceAllow= reaches the running unit on cgroup2 (the program replaced, never two), and goes with the policy', { skip }, async (t) => {
  const h = harness(t, { cgroups: 'unified-only' });
  const spec = { service: { execStart: ['/bin/sleep 1000'], standardInput: 'file:/etc/hostname', devicePolicy: 'strict', deviceAllow: ['/dev/zero r'] } };
  const r = h.open('devb-live.service', spec);
  r.start();
  await waitFor(r, 'running', subState('running'));
  const id = (): string[] => listPrograms(shimPath, r.cgroup!.dirs['unified']!, true).filter((l) => l.endsWith(` ${DEVICE_PROGRAM_NAME}`)).map((l) => l.split(' ')[1]!);
  const first = id();
  assert.equal(first.length, 1);
  const pid = r.props.MainPID;
  r.updateSpec({ service: { ...spec.service, deviceAllow: ['/dev/zero rw', '/dev/null r'] } });
  const second = id();
  assert.equal(second.length, 1);
  assert.notEqual(second[0], first[0], 'replaced');
  r.updateSpec({ service: { execStart: ['/bin/sleep 1000'], standardInput: 'file:/etc/hostname' } });
  assert.deepEqual(id(), [], 'detached');
  assert.equal(r.props.MainPID, pid, 'without a restart');
  assert.ok(h.logs.some((l) => /Applied .*DeviceAllow, DevicePolicy/.test(l)), h.logs.join('\n'));
});

test('a hybrid node keeps v1 (as systemd 257): DevicePolicy=closed writes the devices hierarchy and attaches no device program to the cgroup2 cgroup', { skip: skip || (LAYOUT.mode !== 'hybrid' ? 'not a hybrid node' : false) }, async (t) => {
  const h = harness(t, { cgroups: true });
  const { out, seen } = await probeDevices(h, 'devb-hybrid.service', { devicePolicy: 'closed' }, (r) => ({ v1: r.cgroup!.dirs['devices'] !== undefined, bpf: ours(r) }));
  assert.deepEqual(seen, { v1: true, bpf: [] });
  assert.equal(out.get('D/loop r'), EPERM);
});

test('a cgroup2-only node whose shim cannot load device programs refuses DevicePolicy=/DeviceAllow= (fail closed), saying why', { skip }, async (t) => {
  const h = harness(t, { cgroups: 'unified-only' });
  const old = join(h.dir, 'uo-shim-old');
  writeFileSync(old, `#!/bin/sh\nif [ "$1" = --features ]; then printf 'namespaces\\nsandbox\\ncgroup-bpf\\n'; exit 0; fi\nexec ${shimPath} "$@"\n`);
  chmodSync(old, 0o755);
  const r = UnitRunner.open({ unitName: 'devb-old.service', spec: { service: { execStart: ['/bin/true'], devicePolicy: 'closed', deviceAllow: ['/dev/zero r'] } }, dir: join(h.dir, 'u'), shimPath: old, pollMs: 50, cgroups: h.cgroups, onLog: (l, m) => h.logs.push(`${l}: ${m}`) });
  t.after(() => r.close());
  assert.deepEqual(refusedDirectives(r.notApplied).map((u) => u.name), ['DeviceAllow', 'DevicePolicy']);
  assert.match(r.notApplied.find((u) => u.name === 'DevicePolicy')!.reason, /cgroup2-only node applies device access with a BPF_CGROUP_DEVICE program, and it does not let the agent attach.*"cgroup-bpf-device"/);
  assert.match(r.start() ?? '', /DeviceAllow=, DevicePolicy= are not applied on this node/);
});

test('the program: one block a rule in the v1 rules\' order, partial access checked, wildcards skip their comparisons; strict without a node that exists refuses all', () => {
  const host = { procDevices: 'Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  7 loop\n', stat: () => ({ type: 'c' as const, major: 1, minor: 5 }) };
  const rules = deviceRules(deviceContext({ service: { execStart: ['/bin/true'], devicePolicy: 'strict', deviceAllow: ['/dev/zero r', 'block-loop', 'char-* w'] } }), host)!;
  assert.deepEqual(rules, [{ type: 'c', major: '*', minor: '*', access: 4 }, { type: 'b', major: 7, minor: '*', access: 7 }, { type: 'c', major: 1, minor: 5, access: 2 }]);
  const p = compileDevices(rules);
  // prologue 6; c *:* w: access (3) + type + JA; b 7:* rwm: type + major + JA; c 1:5 r: 3 + 3 + JA; refuse 2; allow 2
  assert.equal(p.length, 6 + 5 + 3 + 7 + 4);
  assert.deepEqual(p.filter((x) => x.code === 0x05).map((x) => x.off), [12, 9, 2]);
  assert.equal(deviceRules(deviceContext({ service: { execStart: ['/bin/true'] } }), host), undefined);
  assert.deepEqual(compileDevices([]).map((x) => [x.code, x.imm]).slice(6), [[0xb7, 0], [0x95, 0], [0xb7, 1], [0x95, 0]]);
  assert.equal(readDeviceHost().procDevices.includes('Character devices:'), true);
});
