// The IP filter's attachment with real processes and the kernel's own answer (BPF_PROG_QUERY
// through `uo-shim --cgroup-bpf DIR`, list): one ingress and one egress program of ours on the
// unit's cgroup2 cgroup before its process runs, replaced in place when the lists change
// (set-property), the same pair kept when a restarted agent adopts the unit, detached when the
// lists go; a node that cannot attach it refuses the unit (fail closed) with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, shimPath, subState, waitFor } from '../support/units.ts';
import { FIXTURES } from '../support/paths.ts';
import { detectCgroups } from '../../src/runner/cgroup/index.ts';
import { listPrograms } from '../../src/runner/cgroup/cgroupbpf.ts';
import { PROGRAM_NAME } from '../../src/runner/cgroup/ipaccess.ts';
import { refusedDirectives } from '../../src/api/applied.ts';
import { UnitRunner } from '../../src/runner/unit.ts';

const LAYOUT = detectCgroups();
const skip = process.geteuid?.() !== 0 ? 'needs root (cgroups, BPF)' : !LAYOUT.unified ? 'no writable cgroup2 hierarchy on this node' : false;

/** Our programs attached to the unit's cgroup2 cgroup: "inet-ingress uo_ipfw_ingress" → ids. */
function ours(r: UnitRunner): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const l of listPrograms(shimPath, r.cgroup!.dirs['unified']!)) {
    const [at, id, name] = l.split(' ');
    if (name !== PROGRAM_NAME.ingress && name !== PROGRAM_NAME.egress) continue;
    m.set(`${at} ${name}`, [...(m.get(`${at} ${name}`) ?? []), id!]);
  }
  return m;
}
const PAIR = [`inet-ingress ${PROGRAM_NAME.ingress}`, `inet-egress ${PROGRAM_NAME.egress}`];
const one = (m: Map<string, string[]>): string[] => { assert.deepEqual([...m.keys()].sort(), [...PAIR].sort(), JSON.stringify([...m])); for (const ids of m.values()) assert.equal(ids.length, 1, JSON.stringify([...m])); return PAIR.map((k) => m.get(k)![0]!); };

test('the filter is attached before the process runs, replaced in place on set-property, kept as the same pair when a restarted agent adopts the unit, re-attached once on restart, detached when the lists go', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const probe = join(h.dir, 'ipf-probe');
  const cc = spawnSync('cc', ['-O2', '-static', '-o', probe, join(FIXTURES, 'ipaccess', 'probe.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `cc: ${cc.stderr}`);
  const out = join(h.dir, 'out');
  // the process's first act: a datagram to 127.0.0.2, which the filter must already refuse
  const spec = { service: { execStart: [`/bin/sh -c '${probe} udp:127.0.0.2 udp:127.0.0.1 > ${out}; exec sleep 1000'`], ipAddressDeny: ['127.0.0.2/32'] } };
  const r = h.open('ipf-attach.service', spec);
  assert.deepEqual(refusedDirectives(r.notApplied), [], JSON.stringify(r.notApplied));
  assert.equal(r.start(), undefined);
  await waitFor(r, 'running', subState('running'));
  const first = one(ours(r));
  await waitFor(r, 'its first sends', () => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 2);
  assert.equal(readFileSync(out, 'utf8'), 'udp:127.0.0.2=EPERM\nudp:127.0.0.1=ok\n', 'the first send of the first process is filtered');
  const pid = r.props.MainPID;

  r.updateSpec({ service: { ...spec.service, ipAddressDeny: ['any'], ipAddressAllow: ['localhost'] } });
  const second = one(ours(r));
  assert.notDeepEqual(second, first, 'new programs');
  assert.equal(r.props.MainPID, pid, 'without a restart');
  assert.ok(h.logs.some((l) => /Applied IPAddressAllow, IPAddressDeny to the running ipf-attach.service \(set-property\)/.test(l)), h.logs.join('\n'));

  // an agent restart: the unit is adopted with its spec; the pair stays, nothing is added
  const again = h.reopen(r);
  again.updateSpec(again.spec);
  assert.deepEqual(one(ours(again)), second, 'adoption attaches nothing');
  assert.equal(again.props.MainPID, pid);

  // a restart: the cgroup stays (a process may linger); the pair is replaced, never doubled
  again.restart();
  await waitFor(again, 'running again', (x) => x.props.SubState === 'running' && x.props.MainPID !== pid, 10_000);
  const third = one(ours(again));
  assert.equal(third.length, 2);

  // the lists removed: our programs detached at once
  again.updateSpec({ service: { execStart: spec.service.execStart } });
  assert.deepEqual([...ours(again).keys()], [], h.logs.join("\n"));
});

test('a filter the kernel refuses fails the start (nothing of the unit runs) with what uo-shim --cgroup-bpf said', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  // a shim whose --cgroup-bpf passes its check but fails the attach, as a kernel refusing it would
  // (an ancestor's exclusive program); the rest is the real shim
  const fake = join(h.dir, 'uo-shim-noattach');
  writeFileSync(fake, `#!/bin/sh\nif [ "$1" = --cgroup-bpf ]; then grep -q '^attach' || exit 0; echo "uo-shim --cgroup-bpf: attaching the inet-ingress program uo_ipfw_ingress on $2: Operation not permitted" >&2; exit 1; fi\nexec ${shimPath} "$@"\n`);
  chmodSync(fake, 0o755);
  const marker = join(h.dir, 'ran');
  const r = UnitRunner.open({ unitName: 'ipf-refused.service', spec: { service: { execStart: [`/bin/touch ${marker}`], ipAddressDeny: ['any'] } }, dir: join(h.dir, 'u'), shimPath: fake, pollMs: 50, cgroups: h.cgroups, onLog: (l, m) => h.logs.push(`${l}: ${m}`) });
  t.after(() => r.close());
  r.start();
  await waitFor(r, 'failed', subState('failed'));
  assert.equal(r.props.Result, 'resources');
  assert.equal(existsSync(marker), false, 'the command never ran');
  assert.ok(h.logs.some((l) => /its cgroup filter \(IPAddressAllow=\/IPAddressDeny=, SocketBindAllow=\/SocketBindDeny=[^)]*\) could not be attached: uo-shim --cgroup-bpf: attaching .*Operation not permitted/.test(l)), h.logs.join('\n'));
});

test('without a cgroup (or a cgroup2 hierarchy), IPAddressDeny= is a gap that protects: the unit does not start; IPAddressAllow= alone is reported, not refused; words systemd ignores are reported', async (t) => {
  const h = harness(t); // no cgroups for this runner
  const r = h.open('ipf-nocg.service', { service: { execStart: ['/bin/true'], ipAddressDeny: ['any', 'bogus'], ipAddressAllow: ['localhost'] } });
  assert.deepEqual(r.notApplied.filter((u) => u.name.startsWith('IPAddress')).map((u) => [u.name, u.protects]), [['IPAddressDeny', false], ['IPAddressAllow', false], ['IPAddressDeny', true]]);
  assert.match(r.notApplied.find((u) => u.name === 'IPAddressDeny' && u.protects)!.reason, /no cgroup hierarchy it can write.*BPF program attached to the unit's own cgroup/);
  assert.match(r.notApplied.find((u) => !u.protects && u.name === 'IPAddressDeny')!.reason, /Address prefix is invalid, ignoring assignment: bogus/);
  assert.match(r.start() ?? '', /IPAddressDeny= (is|are) not applied on this node/);
  const allow = h.open('ipf-nocg-allow.service', { service: { execStart: ['/bin/true'], ipAddressAllow: ['10.0.0.0/8'] } });
  assert.deepEqual(refusedDirectives(allow.notApplied), []);
  assert.deepEqual(allow.notApplied.filter((u) => u.name.startsWith('IPAddress')).map((u) => u.name), ['IPAddressAllow']);
});

test('a shim from older sources (no "cgroup-bpf" in uo-shim --features) cannot attach the filter: IPAddressDeny= refuses the unit, saying so', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const old = join(h.dir, 'uo-shim-old');
  writeFileSync(old, `#!/bin/sh\nif [ "$1" = --features ]; then printf 'namespaces\\nsandbox\\nprivs\\nprivs2\\nhold\\n'; exit 0; fi\nexec ${shimPath} "$@"\n`);
  chmodSync(old, 0o755);
  const r = UnitRunner.open({ unitName: 'ipf-oldshim.service', spec: { service: { execStart: ['/bin/true'], ipAddressDeny: ['any'] } }, dir: join(h.dir, 'u'), shimPath: old, pollMs: 50, cgroups: h.cgroups, onLog: (l, m) => h.logs.push(`${l}: ${m}`) });
  t.after(() => r.close());
  assert.deepEqual(refusedDirectives(r.notApplied).map((u) => u.name), ['IPAddressDeny']);
  assert.match(r.notApplied.find((u) => u.name === 'IPAddressDeny')!.reason, /uo-shim --features does not list "cgroup-bpf"/);
  assert.match(r.start() ?? '', /IPAddressDeny= (is|are) not applied on this node/);
});

test('SocketBindDeny= without a cgroup is a gap that protects (the unit does not start), SocketBindAllow= alone is reported; a rule systemd cannot read is reported as ignored', async (t) => {
  const h = harness(t); // no cgroups for this runner
  const r = h.open('ipb-nocg.service', { service: { execStart: ['/bin/true'], socketBindDeny: ['any', 'tcp:udp:80'], socketBindAllow: ['tcp:8080'] } });
  assert.deepEqual(r.notApplied.filter((u) => u.name.startsWith('SocketBind')).map((u) => [u.name, u.protects]), [['SocketBindDeny', false], ['SocketBindAllow', false], ['SocketBindDeny', true]]);
  assert.match(r.notApplied.find((u) => u.name === 'SocketBindDeny' && !u.protects)!.reason, /Failed to parse SocketBindDeny= setting, ignoring: tcp:udp:80/);
  assert.match(r.start() ?? '', /SocketBindDeny= (is|are) not applied on this node/);
});

test('the bind programs sit beside the IP filter: four of ours on the cgroup, the bind pair detached when its rules go while the IP pair stays', { skip }, async (t) => {
  const h = harness(t, { cgroups: true });
  const spec = { service: { execStart: ['/bin/sleep 1000'], ipAddressDeny: ['192.0.2.0/24'], socketBindDeny: ['tcp:47399'] } };
  const r = h.open('ipb-both.service', spec);
  assert.equal(r.start(), undefined);
  await waitFor(r, 'running', subState('running'));
  const names = (): string[] => listPrograms(shimPath, r.cgroup!.dirs['unified']!).map((l) => l.split(' ').filter((_, i) => i !== 1).join(' ')).sort();
  assert.deepEqual(names(), ['inet-egress uo_ipfw_egress', 'inet-ingress uo_ipfw_ingress', 'inet4-bind uo_bind4', 'inet6-bind uo_bind6']);
  r.updateSpec({ service: { execStart: spec.service.execStart, ipAddressDeny: spec.service.ipAddressDeny } });
  assert.deepEqual(names(), ['inet-egress uo_ipfw_egress', 'inet-ingress uo_ipfw_ingress']);
  assert.ok(h.logs.some((l) => /Applied SocketBindDeny to the running ipb-both.service/.test(l)), h.logs.join('\n'));
});
