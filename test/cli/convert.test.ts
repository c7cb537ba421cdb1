// unitctl end to end as a user runs it: the real binary, real files, exit codes, stdout/stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadAll } from 'js-yaml';
import { UNITCTL, REPO } from '../support/paths.ts';
import { validateServiceUnit } from '../../src/api/validate.ts';

const unitctl = (...args: string[]) => spawnSync(process.execPath, [UNITCTL, ...args], { encoding: 'utf8', cwd: REPO });

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'uo-cli-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('unitctl --help lists the commands; no command is a usage error', () => {
  const r = unitctl('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /convert/);
  assert.equal(unitctl().status, 2);
  assert.equal(unitctl('frobnicate').status, 2);
});

test('converts the README example for a node, valid against the schema', () => {
  const r = unitctl('convert', 'examples/seed/vm-manager.service', '--node', 'worker-1', '--namespace', 'vms');
  assert.equal(r.status, 0, r.stderr);
  const [doc] = loadAll(r.stdout) as Array<{ metadata: { namespace: string }; spec: { nodeName: string } }>;
  assert.equal(doc!.spec.nodeName, 'worker-1');
  assert.equal(doc!.metadata.namespace, 'vms');
  assert.deepEqual(validateServiceUnit(doc).errors, []);
});

test('several files give a multi-document YAML; --selector sets nodeSelector', (t) => {
  const d = tmp(t);
  writeFileSync(join(d, 'a.service'), '[Service]\nExecStart=/bin/true\n');
  writeFileSync(join(d, 'b.service'), '[Service]\nExecStart=/bin/false\n');
  const r = unitctl('convert', join(d, 'a.service'), join(d, 'b.service'), '--selector', 'role=web,zone=a');
  assert.equal(r.status, 0, r.stderr);
  const docs = loadAll(r.stdout) as Array<{ metadata: { name: string }; spec: { nodeSelector: Record<string, string> } }>;
  assert.deepEqual(docs.map((x) => x.metadata.name), ['a', 'b']);
  assert.deepEqual(docs[0]!.spec.nodeSelector, { role: 'web', zone: 'a' });
});

test('a malformed unit: exit 2, file:line:column and a hint on stderr, nothing on stdout, nothing written', (t) => {
  const d = tmp(t);
  writeFileSync(join(d, 'good.service'), '[Service]\nExecStart=/bin/true\n');
  writeFileSync(join(d, 'bad.service'), '[Service]\nExecStart=/bin/echo "oops\nRestartSec=soon\n');
  const out = join(d, 'out.yaml');
  const r = unitctl('convert', join(d, 'good.service'), join(d, 'bad.service'), '-o', out);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /bad\.service:2:21: error: ExecStart=: unterminated double quote/);
  assert.match(r.stderr, /bad\.service:3:12: error: RestartSec=/);
  assert.match(r.stderr, /hint:/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(existsSync(out), false);
});

test('render writes the unit back; validate reports bad manifests by field with exit 2', (t) => {
  const d = tmp(t);
  const conv = unitctl('convert', 'examples/seed/vm-manager.service', '-o', join(d, 'vm.yaml'));
  assert.equal(conv.status, 0, conv.stderr);
  const r = unitctl('render', join(d, 'vm.yaml'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\[Service\]\nExecStart=\/root\/vm\/vm-manager.sh start-vm\n/);
  assert.match(r.stdout, /StartLimitBurst=4/);
  assert.equal(unitctl('validate', join(d, 'vm.yaml')).status, 0);
  writeFileSync(join(d, 'bad.yaml'), readFileSync(join(d, 'vm.yaml'), 'utf8').replace('on-failure', 'sometimes'));
  const v = unitctl('validate', join(d, 'bad.yaml'));
  assert.equal(v.status, 2);
  assert.match(v.stderr, /spec\.service\.restart: Unsupported value/);
  writeFileSync(join(d, 'broken.yaml'), 'spec: [\n');
  const b = unitctl('validate', join(d, 'broken.yaml'));
  assert.equal(b.status, 2);
  assert.match(b.stderr, /broken\.yaml:\d+:\d+: invalid YAML/);
});

test('convert warns at file:line about every directive the node does not apply, saying which fail closed', (t) => {
  const d = tmp(t);
  writeFileSync(join(d, 'web.service'), '[Unit]\nSurviveFinalKillSignal=yes\nAfter=network.target\n[Service]\nExecStart=/bin/true\nRootImage=/srv/root.raw\nDisableControllers=cpu\nPrivateTmp=no\nProtectSystem=strict\n');
  const r = unitctl('convert', join(d, 'web.service'));
  assert.equal(r.status, 0, r.stderr);
  // SurviveFinalKillSignal= is not applied (the node's shutdown); After= is, and is not warned about
  assert.match(r.stderr, /web\.service:2:1: warning: SurviveFinalKillSignal=: .*shutdown.*reported, not refused/);
  assert.doesNotMatch(r.stderr, /After=/);
  assert.match(r.stderr, /web\.service:6:1: warning: RootImage=: .*not mounted yet; a unit asking for it does not start unless the agent runs with --allow-unenforced=RootImage/);
  assert.match(r.stderr, /web\.service:7:1: warning: DisableControllers=: .*issue 13.*reported, not refused/);
  assert.doesNotMatch(r.stderr, /PrivateTmp/, 'PrivateTmp=no asks for nothing');
  assert.doesNotMatch(r.stderr, /ProtectSystem/, 'ProtectSystem= is applied (the mount namespace, issue 14)');
  assert.match(r.stdout, /rootImage: \/srv\/root.raw/);
  assert.match(r.stdout, /protectSystem: strict/);
  assert.doesNotMatch(r.stdout, /unsupported-directives/);
});

test('validate reads YAML as kubectl does: a bare restart: no is refused with the advice to quote it', (t) => {
  const d = tmp(t);
  const doc = (restart: string) => `apiVersion: unit-operator.dev/v1alpha1\nkind: ServiceUnit\nmetadata:\n  name: web\nspec:\n  service:\n    execStart: [/bin/true]\n    restart: ${restart}\n    rootImage: /srv/root.raw\n`;
  writeFileSync(join(d, 'bare.yaml'), doc('no'));
  writeFileSync(join(d, 'quoted.yaml'), doc('"no"'));
  const bare = unitctl('validate', join(d, 'bare.yaml'));
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /bare\.yaml: spec\.service\.restart: Unsupported value: false: .*quote the value \("no"\)/);
  const quoted = unitctl('validate', join(d, 'quoted.yaml'));
  assert.equal(quoted.status, 0, quoted.stderr);
  assert.match(quoted.stderr, /quoted\.yaml: warning: spec\.service\.rootImage: RootImage=: .*--allow-unenforced=RootImage/);
});
