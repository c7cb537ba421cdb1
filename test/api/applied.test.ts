// The directive table says who applies each directive, and applied.ts reads off it what a
// spec asks for that the node does not apply: reported, or refused when it protects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIRECTIVES, APPLYING, lookupDirective } from '../../src/api/directives.ts';
import { unappliedDirectives, refusedDirectives, parseAllowUnenforced, unknownAllowed, appliedDirectives, describeUnapplied, annotationDirectives } from '../../src/api/applied.ts';

test('every directive names its applier, and every one not applied says why', () => {
  const appliers = new Set(['engine', 'runner', 'shim', 'status', 'cgroup', 'sandbox', 'dependency', 'carried', 'not-yet']);
  for (const d of DIRECTIVES) {
    assert.ok(appliers.has(d.applier), `${d.name}: applier ${d.applier}`);
    assert.equal(typeof d.protects, 'boolean', `${d.name}: protects`);
    if (!APPLYING.has(d.applier)) assert.ok(d.reason && d.reason.length > 10, `${d.name} is not applied and gives no reason`);
    assert.ok(d.doc.includes(`${d.name}=`) || d.section === 'Install', `${d.name}: the doc names the directive`);
  }
  assert.equal(new Set(DIRECTIVES.map((d) => `${d.section}.${d.field}`)).size, DIRECTIVES.length, 'spec fields are unique');
});

test('the table holds the sandboxing and resource-control directives of systemd.exec(5) and systemd.resource-control(5)', () => {
  for (const name of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges', 'CapabilityBoundingSet', 'SystemCallFilter', 'DynamicUser',
    'MemoryMax', 'CPUQuota', 'TasksMax', 'CPUWeight', 'IOWeight', 'MemoryLow', 'DeviceAllow', 'IPAddressDeny', 'StateDirectory', 'LoadCredential',
    'ReloadSignal', 'StandardInputText', 'CPUAffinity', 'IOSchedulingClass', 'CPUSchedulingPolicy', 'PropagatesStopTo', 'ConditionMemoryPressure']) {
    assert.ok(lookupDirective(name.startsWith('Condition') || name === 'PropagatesStopTo' ? 'Unit' : 'Service', name), `${name} is in the table`);
  }
  assert.equal(lookupDirective('Service', 'ReadWriteDirectories')?.name, 'ReadWritePaths', 'old names map to the new ones');
});

test('protections fail closed; weights, dependencies and carried directives are report-only', () => {
  const protects = (n: string, s = 'Service') => lookupDirective(s, n)!.protects;
  for (const n of ['ProtectSystem', 'NoNewPrivileges', 'CapabilityBoundingSet', 'MemoryMax', 'TasksMax', 'CPUQuota', 'DynamicUser', 'IPAddressDeny', 'DeviceAllow', 'User', 'LimitNOFILE']) assert.equal(protects(n), true, n);
  for (const n of ['CPUWeight', 'IOWeight', 'MemoryLow', 'SyslogIdentifier']) assert.equal(protects(n), false, n);
  for (const n of ['After', 'Requires', 'ConditionPathExists', 'Documentation']) assert.equal(protects(n, 'Unit'), false, n);
});

test('the engine, the runner and the shim apply what the code applies today', () => {
  const by = (a: 'engine' | 'runner' | 'shim') => appliedDirectives([a]).map((d) => d.name);
  for (const n of ['Type', 'Restart', 'RestartSec', 'TimeoutStartSec', 'WatchdogSec', 'KillMode', 'StartLimitBurst', 'ExecStart']) assert.ok(by('engine').includes(n), n);
  for (const n of ['User', 'Group', 'Environment', 'EnvironmentFile', 'PIDFile']) assert.ok(by('runner').includes(n), n);
  for (const n of ['UMask', 'LimitNOFILE', 'WorkingDirectory', 'StandardOutput', 'Nice', 'OOMScoreAdjust', 'RootDirectory', 'CPUAffinity', 'StandardInput']) assert.ok(by('shim').includes(n), n);
  for (const n of ['TimeoutStartFailureMode', 'TimeoutStopFailureMode', 'RuntimeRandomizedExtraSec', 'ReloadSignal']) assert.ok(by('engine').includes(n), n);
  // accepted but not acted on: not the engine's
  for (const n of ['OOMPolicy', 'ExitType', 'FileDescriptorStoreMax']) assert.ok(!by('engine').includes(n), n);
});

test('a spec lists what it sets that is not applied, with the field path; "no" to a protection asks for nothing', () => {
  const u = unappliedDirectives({
    unit: { description: 'x', partOf: ['network.target'], surviveFinalKillSignal: true, documentation: ['man:x(8)'] },
    // ProtectSystem= is applied (the mount namespace, issue 14), PartOf= too (issue 16); RootImage= is not yet
    service: { execStart: ['/bin/true'], protectSystem: 'strict', rootImage: '/srv/root.raw', privateTmp: 'false', noNewPrivileges: false, disableControllers: ['cpu'], cpuWeight: 50, timeoutStartFailureMode: 'terminate' },
  });
  assert.deepEqual(u.map((x) => `${x.path} ${x.applier} ${x.protects}`), [
    'spec.unit.documentation carried false', 'spec.unit.surviveFinalKillSignal not-yet false', 'spec.service.rootImage not-yet true', 'spec.service.disableControllers cgroup false',
  ]);
  assert.match(describeUnapplied(u[2]!), /^RootImage=: .*not mounted yet.*--allow-unenforced=RootImage/);
  assert.match(describeUnapplied(u[3]!), /reported, not refused/);
});

test('values an applied directive does not cover are reported: StandardOutput=kmsg, a limit with a suffix', () => {
  const u = unappliedDirectives({ service: { execStart: ['/bin/true'], standardOutput: 'kmsg', standardError: 'journal', limitNOFILE: '64K', limitCORE: 'infinity' } });
  assert.deepEqual(u.map((x) => x.name), ['StandardOutput', 'LimitNOFILE']);
  assert.equal(u[1]!.protects, true);
});

test('--allow-unenforced lets named protections (or all) through; report-only ones never refuse', () => {
  const u = unappliedDirectives({ service: { execStart: ['/bin/true'], rootImage: '/srv/root.raw', ioReadBandwidthMax: ['/dev/sda 1M'], disableControllers: ['cpu'] } });
  assert.deepEqual(refusedDirectives(u).map((x) => x.name), ['RootImage', 'IOReadBandwidthMax']);
  assert.deepEqual(refusedDirectives(u, parseAllowUnenforced('RootImage=')).map((x) => x.name), ['IOReadBandwidthMax']);
  assert.deepEqual(refusedDirectives(u, parseAllowUnenforced('all')), []);
  assert.deepEqual(unknownAllowed(parseAllowUnenforced('RootImage,RootImages')), ['RootImages']);
});

test('the unsupported-directives annotation lists its directives by section', () => {
  assert.deepEqual(annotationDirectives('[Service]\nFrobnicate=1\n[X-Foo]\nBar=2\n'), [{ section: 'Service', name: 'Frobnicate' }, { section: 'X-Foo', name: 'Bar' }]);
});
