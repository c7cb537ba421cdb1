// DevicePolicy= and DeviceAllow= (issue 15) through the unit's cgroup in the v1 "devices"
// hierarchy, with real processes: the probe opens device nodes (the kernel's devcgroup check is
// at open(2): EPERM), and the unit's devices.list is read back from the kernel.
//
// The same probe (test/support/devprobe.ts, nodes made with mknod in a temp dir:
// mem = c 1:1, loop = b 7:0, nul = c 1:3) under systemd 257 (../shared/tools/systemd-oracle):
//   DevicePolicy=closed           /dev/null r ok, w ok; /dev/zero r ok, w ok; mem r/w Operation not
//                                 permitted; loop r/w Operation not permitted; nul r ok, w ok
//   DevicePolicy=strict, DeviceAllow=/dev/zero r, StandardInput=file:/etc/hostname
//                                 /dev/null r/w Operation not permitted; /dev/zero r ok, w Operation
//                                 not permitted; mem, loop, nul r/w Operation not permitted
//                                 (without StandardInput=file: systemd fails it 208/STDIN: /dev/null)
//   ProtectClock=yes, DevicePolicy=closed   as closed (this kernel has no rtc major; where it
//                                 has, D/rtc = c RTC:0 is made too and must be readable, not writable)
//   ProtectClock=yes alone        DevicePolicy=auto, no DeviceAllow=, devices.list "a *:* rwm"
//   PrivateDevices=yes ProtectClock=yes DeviceAllow=/dev/zero r, char-pts, /dev/zero w
//                                 devices.list: c 1:3, 1:5, 1:7, 1:8, 1:9, 5:0, 5:2, c 0:0, b 0:0,
//                                 c 136:* — all rwm (the kernel merges /dev/zero and char-pts into
//                                 the static rules)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, subState } from '../support/units.ts';
import { EPERM, probeDevices } from '../support/devprobe.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';
import { deviceContext, deviceWrites, expectedDevicesList, readDeviceHost } from '../../src/runner/cgroup/devices.ts';
import { refusedDirectives, unappliedDirectives } from '../../src/api/applied.ts';

const LAYOUT = detectCgroups();
const HAS_DEVICES = LAYOUT.hierarchies.some((h) => h.version === 1 && h.controllers.includes('devices'));
const skip = LAYOUT.mode === 'none' ? `no writable cgroup hierarchy here (${LAYOUT.notes.join('; ') || 'none mounted'})`
  : !HAS_DEVICES ? 'no v1 devices hierarchy on this node (a cgroup2-only node reports device access as a gap)' : false;

/** The probe (test/support/devprobe.ts), and the unit's devices.list read while it ran. */
async function probe(t: Parameters<typeof harness>[0], name: string, extra: Record<string, unknown>): Promise<{ out: Map<string, string>; list: string[] }> {
  const h = harness(t, { cgroups: true });
  // the devices cgroup the unit's processes are in: its own when a directive restricts devices
  // (realize.ts), else the agent's slice (as systemd leaves an unrestricted unit in its slice's)
  const devices = (r: { cgroup?: { dirs: Readonly<Record<string, string>>; base: string } | undefined }): string =>
    r.cgroup!.dirs['devices'] ?? join(LAYOUT.hierarchies.find((x) => x.version === 1 && x.controllers.includes('devices'))!.mount, r.cgroup!.base);
  const { out, seen } = await probeDevices(h, name, extra, (r) => readFileSync(join(devices(r), 'devices.list'), 'utf8').trim().split('\n'));
  return { out, list: seen };
}

test('DevicePolicy=closed: /dev/null and /dev/zero open, a memory device (c 1:1) and a loop device (b 7:0) made with mknod are EPERM at open, as under systemd 257; devices.list holds the static rules', async (t) => {
  if (skip) { t.skip(skip); return; }
  const { out, list } = await probe(t, 'dev-closed.service', { devicePolicy: 'closed' });
  assert.deepEqual(Object.fromEntries(out), {
    '/dev/null r': 'ok', '/dev/null w': 'ok', '/dev/zero r': 'ok', '/dev/zero w': 'ok',
    'D/mem r': EPERM, 'D/mem w': EPERM, 'D/loop r': EPERM, 'D/loop w': EPERM, 'D/nul r': 'ok', 'D/nul w': 'ok',
  });
  const host = readDeviceHost();
  const pts = /^\s*([0-9]+) pts$/m.exec(host.procDevices)?.[1];
  assert.deepEqual(list, ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 0:0 rwm', 'b 0:0 rwm', ...(pts ? [`c ${pts}:* rw`] : [])]);
});

test('DevicePolicy=strict with DeviceAllow=/dev/zero r: /dev/zero readable, not writable, /dev/null not openable (as systemd 257); devices.list is the one rule', async (t) => {
  if (skip) { t.skip(skip); return; }
  const { out, list } = await probe(t, 'dev-strict.service', { devicePolicy: 'strict', deviceAllow: ['/dev/zero r'] });
  assert.deepEqual(Object.fromEntries(out), {
    '/dev/null r': EPERM, '/dev/null w': EPERM, '/dev/zero r': 'ok', '/dev/zero w': EPERM,
    'D/mem r': EPERM, 'D/mem w': EPERM, 'D/loop r': EPERM, 'D/loop w': EPERM, 'D/nul r': EPERM, 'D/nul w': EPERM,
  });
  assert.deepEqual(list, ['c 1:5 r']);
});

test('ProtectClock=yes starts without --allow-unenforced: alone it restricts nothing (systemd 257: DevicePolicy=auto, devices.list "a *:* rwm"); with a policy it adds char-rtc r (rtc devices readable where the kernel has them)', async (t) => {
  assert.deepEqual(refusedDirectives(unappliedDirectives({ service: { execStart: ['/bin/true'], protectClock: true } })), [], 'the table applies ProtectClock=');
  if (skip) { t.skip(skip); return; }
  const alone = await probe(t, 'dev-clock.service', { protectClock: true });
  assert.deepEqual(alone.list, ['a *:* rwm']);
  assert.notEqual(alone.out.get('D/loop r'), EPERM, 'nothing restricted');
  assert.notEqual(alone.out.get('D/mem r'), EPERM, 'nothing restricted (this kernel may say ENXIO for /dev/mem itself)');
  const host = readDeviceHost();
  const rtc = /^\s*([0-9]+) rtc$/m.exec(host.procDevices)?.[1];
  const closed = await probe(t, 'dev-clock-closed.service', { protectClock: true, devicePolicy: 'closed' });
  assert.equal(closed.list.includes(`c ${rtc}:* r`), rtc !== undefined, closed.list.join(' | '));
  assert.equal(closed.out.get('D/mem r'), EPERM);
  if (rtc !== undefined && existsSync('/dev/rtc0')) { // rtc0 (made as D/rtc): readable, not writable
    assert.notEqual(closed.out.get('D/rtc r'), EPERM);
    assert.equal(closed.out.get('D/rtc w'), EPERM);
  }
});

test('PrivateDevices=yes, ProtectClock=yes, DeviceAllow=/dev/zero r, char-pts, /dev/zero w: the list systemd 257 shows, written in its order; devices.list as the kernel merges it (systemd 257\'s on the oracle)', async (t) => {
  const spec = { service: { execStart: ['/bin/true'], privateDevices: true, protectClock: true, deviceAllow: ['/dev/zero r', 'char-pts', '/dev/zero w'] } };
  const c = deviceContext(spec);
  assert.equal(c.policy, 'closed');
  assert.deepEqual(c.allow.map((a) => `${a.path} ${a.perms}`), ['char-rtc r', '/dev/zero w', 'char-pts rwm', '/dev/zero r'], 'systemctl show -p DeviceAllow under systemd 257');
  const host = readDeviceHost();
  const pts = /^\s*([0-9]+) pts$/m.exec(host.procDevices)?.[1];
  if (!pts) return;
  assert.deepEqual(expectedDevicesList(deviceWrites(c, host)),
    ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 0:0 rwm', 'b 0:0 rwm', `c ${pts}:* rwm`]);
  if (skip) { t.skip(skip); return; }
  // the same on the kernel (the shim's private /dev aside: the rules are the cgroup's)
  const { list } = await probe(t, 'dev-merged.service', { devicePolicy: 'closed', protectClock: true, deviceAllow: ['/dev/zero r', 'char-pts', '/dev/zero w'] });
  assert.deepEqual(list, expectedDevicesList(deviceWrites(c, host)));
});

test('DevicePolicy=strict without /dev/null fails 208/STDIN (stdin is /dev/null, opened in the cgroup), as under systemd 257; a changed DeviceAllow= reaches the running unit (set-property)', async (t) => {
  if (skip) { t.skip(skip); return; }
  const h = harness(t, { cgroups: true });
  const nostdin = h.open('dev-stdin.service', { service: { execStart: ['/bin/sleep 1000'], devicePolicy: 'strict', deviceAllow: ['/dev/zero r'] } });
  nostdin.start();
  await waitFor(nostdin, 'failed', subState('failed'));
  assert.equal(nostdin.props.ExecMainStatus, 208);
  const spec = { service: { execStart: ['/bin/sleep 1000'], standardInput: 'file:/etc/hostname', devicePolicy: 'strict', deviceAllow: ['/dev/zero r'] } };
  const r = h.open('dev-live.service', spec);
  r.start();
  await waitFor(r, 'running', subState('running'));
  const dir = r.cgroup!.dirs['devices']!;
  const list = (): string => readFileSync(join(dir, 'devices.list'), 'utf8').trim();
  assert.equal(list(), 'c 1:5 r');
  const pid = r.props.MainPID;
  r.updateSpec({ service: { ...spec.service, deviceAllow: ['/dev/zero rw', '/dev/null r'] } });
  assert.equal(list(), 'c 1:3 r\nc 1:5 rw', 'the last line first, as systemd\'s list');
  r.updateSpec({ service: { execStart: ['/bin/sleep 1000'], standardInput: 'file:/etc/hostname' } });
  assert.equal(list(), 'a *:* rwm', 'back to no restriction');
  assert.equal(r.props.MainPID, pid, 'without a restart');
  assert.ok(h.logs.some((l) => /Applied .*DeviceAllow/.test(l)), h.logs.join('\n'));
});

test('without a devices controller (no cgroup here), DevicePolicy=/DeviceAllow= are gaps that protect: the unit does not start; PrivateDevices=yes alone is reported, not refused', async (t) => {
  const h = harness(t); // no cgroups for this runner
  const r = h.open('dev-nocg.service', { service: { execStart: ['/bin/true'], devicePolicy: 'closed', deviceAllow: ['/dev/zero r'] } });
  assert.deepEqual(r.notApplied.filter((u) => u.name.startsWith('Device')).map((u) => [u.name, u.protects]), [['DeviceAllow', true], ['DevicePolicy', true]]);
  assert.match(r.start() ?? '', /DeviceAllow=, DevicePolicy= are not applied on this node/);
  const p = h.open('dev-nocg-pd.service', { service: { execStart: ['/bin/true'], privateDevices: true, devicePolicy: 'auto' } });
  assert.deepEqual(p.notApplied.filter((u) => /^Device|^PrivateDevices/.test(u.name)).map((u) => [u.name, u.protects]), [['PrivateDevices', false]]);
});
