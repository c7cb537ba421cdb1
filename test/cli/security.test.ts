// unitctl security against systemd 257's `systemd-analyze security` (test/fixtures/security:
// corpus units and probe units loaded by the oracle's manager, record.ts): every fixture
// starts from its unit file, goes through the converter and must give systemd's overall
// exposure, level and every row (mark, words, exposure to the decimal systemd prints), in
// systemd's order; then the command end to end, offline and against a live standalone agent,
// and the status summary and printer columns the cluster shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, UNITCTL } from '../support/paths.ts';
import { agentFixture } from '../support/agent.ts';
import { convertText, findDropIns, renderUnit } from '../../src/unitfile/index.ts';
import { assess, securityInfo, renderAnalyze, unitSecurity, changedRows } from '../../src/security/index.ts';
import { securityText } from '../../src/cli/security.ts';
import { compute } from '../../src/controller/conditions.ts';
import { unappliedDirectives } from '../../src/api/applied.ts';
import { buildCrd } from '../../src/api/crd.ts';
import type { ServiceUnit, ServiceUnitSpec } from '../../src/api/types.ts';

const DIR = join(REPO, 'test', 'fixtures', 'security');
const UNITS = join(DIR, 'units');
const ORACLE = JSON.parse(readFileSync(join(DIR, 'oracle.json'), 'utf8')) as { recordedWith: string; prefix: string; units: Record<string, { exit: number; stderr: string }> };
const FILES = readdirSync(UNITS).filter((f) => f.endsWith('.service')).sort();
const unitctl = (...args: string[]) => spawnSync(process.execPath, [UNITCTL, ...args], { encoding: 'utf8', cwd: REPO, timeout: 20_000 });

/** The unit file (with its drop-ins) through the converter, under the name the oracle analyzed it. */
function load(file: string): { spec: ServiceUnitSpec; name: string } {
  const template = file.endsWith('@.service');
  const dropIns = findDropIns(UNITS, file).map((p) => ({ file: p, text: readFileSync(p, 'utf8') }));
  const r = convertText(readFileSync(join(UNITS, file), 'utf8'), file, dropIns, { unitName: file, ...(template ? { instance: 'test_instance' } : {}) });
  return { spec: r.object.spec, name: ORACLE.prefix + (template ? file.replace('@.service', '@test_instance.service') : file) };
}

interface Parsed { rows: Map<string, { mark: string; description: string; exposure: string }>; overall: string }

/** systemd-analyze's table read back by the header's column positions. */
function parse(text: string): Parsed {
  const lines = text.split('\n');
  const header = lines[0]!;
  const desc = header.indexOf('DESCRIPTION'), expo = header.indexOf('EXPOSURE');
  assert.ok(header.startsWith('  NAME') && desc > 0 && expo > desc, `not a systemd-analyze table: ${header}`);
  const rows = new Map<string, { mark: string; description: string; exposure: string }>();
  for (const l of lines.slice(1)) {
    if (l === '') break;
    rows.set(l.slice(2, desc).trim(), { mark: l[0]!, description: l.slice(desc, expo).trim(), exposure: l.slice(expo).trim() });
  }
  return { rows, overall: lines.find((l) => l.startsWith('→ Overall exposure level'))! };
}

test(`the fixtures: ${FILES.length} units recorded with ${ORACLE.recordedWith}, a dozen and more from the corpus, the rest probes`, () => {
  assert.ok(ORACLE.recordedWith.startsWith('systemd 257'), ORACLE.recordedWith);
  assert.ok(FILES.filter((f) => !f.startsWith('probe-')).length >= 12);
  for (const f of FILES) assert.equal(ORACLE.units[f]?.exit, 0, `${f}: systemd-analyze failed: ${ORACLE.units[f]?.stderr}`);
});

test('every fixture: the overall exposure, its level and each row (mark, words, exposure) equal systemd 257\'s', () => {
  const levels = new Set<string>();
  for (const f of FILES) {
    const { spec, name } = load(f);
    const want = parse(readFileSync(join(DIR, f.replace(/\.service$/, '.txt')), 'utf8'));
    const a = assess(securityInfo(spec, name));
    assert.equal(`→ Overall exposure level for ${a.unit}: ${a.exposureText} ${a.level} ${a.glyph}`, want.overall, f);
    assert.equal(a.rows.length, want.rows.size, `${f}: number of checks`);
    for (const r of a.rows) {
      assert.deepEqual({ mark: r.mark, description: r.description ?? '', exposure: r.exposure ?? '' }, want.rows.get(r.id), `${f}: ${r.id}`);
    }
    levels.add(a.level);
  }
  // the probes reach every level but PERFECT (ProtectClock= adds char-rtc to any device ACL, so DeviceAllow= is never 0 with both)
  assert.deepEqual([...levels].sort(), ['DANGEROUS', 'EXPOSED', 'MEDIUM', 'OK', 'SAFE', 'UNSAFE']);
});

test('the table prints as systemd-analyze prints it, byte for byte: columns, widths and its order (glibc\'s merge sort)', () => {
  for (const f of FILES) {
    const { spec, name } = load(f);
    assert.equal(renderAnalyze(assess(securityInfo(spec, name))), readFileSync(join(DIR, f.replace(/\.service$/, '.txt')), 'utf8'), f);
  }
  // ProtectProc=noaccess has no words: its empty cell compares by insertion order, not by text
  const procs = readFileSync(join(DIR, 'probe-procs.txt'), 'utf8').split('\n');
  assert.equal(procs.findIndex((l) => l.startsWith('✗ ProtectProc=')), 79);
});

test('CapabilityBoundingSet= (empty) is the empty set: converted to [] and rendered back, every capability row met', () => {
  const { spec } = load('probe-caps-empty.service');
  assert.deepEqual(spec.service?.['capabilityBoundingSet'], []);
  assert.match(renderUnit({ apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'x' }, spec }), /^CapabilityBoundingSet=$/m);
  const rows = assess(securityInfo(spec, 'x.service')).rows.filter((r) => r.id.startsWith('CapabilityBoundingSet='));
  assert.equal(rows.length, 26);
  assert.ok(rows.every((r) => r.mark === '✓'));
});

test('what the node does not apply: the rows it changes, the directives named, and the exposure without them', () => {
  // a unit asking for what the node still does not apply (chrony-wait's DynamicUser=, PrivateUsers=,
  // IPAddressDeny= are all applied now): RootImage=
  const unit = load('probe-root-image.service');
  const s = unitSecurity(unit.spec, unit.name);
  assert.equal(s.systemd.exposureText, '9.3');
  // the gaps follow the directive table: every one is a directive it says is not applied here (KeyringMode= also when unset)
  const table = new Map(unappliedDirectives(unit.spec).map((u) => [u.name, u]));
  assert.ok(s.gaps.length > 0, 'probe-root-image asks for RootImage=, not applied yet');
  for (const g of s.gaps) {
    assert.ok(g.rows.length > 0, g.directive);
    if (g.directive === 'KeyringMode') { assert.equal(g.refused, false, 'the agent runs it in its own keyring: reported'); continue; }
    assert.equal(g.refused, table.get(g.directive)?.protects, `${g.directive} is in the table's unapplied list`);
  }
  if (table.has('DynamicUser')) assert.ok(s.gaps.find((g) => g.directive === 'DynamicUser')?.rows.includes('User=/DynamicUser='));
  assert.notEqual(s.applied, s.systemd);
  const changed = changedRows(s);
  assert.ok(changed.length > 0 && changed.every((r) => s.gaps.some((g) => g.rows.includes(r.id))), 'every changed row is named by a gap');
  const text = securityText(s);
  assert.ok(text.startsWith(readFileSync(join(DIR, 'probe-root-image.txt'), 'utf8')), 'systemd\'s table first, unchanged');
  assert.ok(text.includes(`\nNot applied on this node: ${s.gaps.map((g) => `${g.directive}=`).join(', ')}.`));
  const refused = s.gaps.filter((g) => g.refused).map((g) => g.directive);
  if (refused.length > 0) assert.ok(text.includes(`--allow-unenforced=${refused.join(',')}`));
  assert.match(text, new RegExp(`→ Exposure as applied on this node for ${unit.name}: ${s.applied.exposureText} ${s.applied.level} `));
  // a unit asking only for what the node applies (and the agent's keyring) has no second figure
  const plain = unitSecurity({ service: { execStart: ['/bin/true'], user: 'daemon', noNewPrivileges: true, keyringMode: 'inherit' } }, 'plain.service');
  assert.deepEqual(plain.gaps, []);
  assert.equal(plain.applied, plain.systemd);
  assert.doesNotMatch(securityText(plain), /Not applied/);
});

test('unitctl security --offline FILE: systemd\'s text, its exit status with --threshold, json, and errors', () => {
  const want = readFileSync(join(DIR, 'probe-procs.txt'), 'utf8').replace('uosec-probe-procs.service', 'probe-procs.service');
  const r = unitctl('security', '--offline', join(UNITS, 'probe-procs.service'));
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith(want), r.stdout);
  // exposure 94 (9.4): above a threshold of 93, not above 94 — as systemd-analyze --threshold
  assert.equal(unitctl('security', '--offline', '--threshold=93', join(UNITS, 'probe-procs.service')).status, 1);
  assert.equal(unitctl('security', '--offline', '--threshold=94', join(UNITS, 'probe-procs.service')).status, 0);
  const j = JSON.parse(unitctl('security', '--offline', '-o', 'json', join(UNITS, 'memcached.service')).stdout) as { exposure: string; level: string; checks: unknown[] };
  assert.deepEqual([j.exposure, j.level, j.checks.length], ['4.6', 'OK', 81]);
  const two = unitctl('security', '--offline', join(UNITS, 'memcached.service'), join(UNITS, 'haveged.service'));
  assert.match(two.stdout, /\nUNIT +EXPOSURE PREDICATE HAPPY\nmemcached.service +4\.6 OK +🙂\nhaveged.service +3\.0 OK +🙂\n$/);
  const template = unitctl('security', '--offline', join(UNITS, 'openvpn-server@.service'));
  assert.match(template.stdout, /Overall exposure level for openvpn-server@test_instance.service: 7\.3 MEDIUM 😐/);
  assert.equal(unitctl('security', '--offline', join(UNITS, 'nope.service')).status, 2);
});

test('a masked unit (an empty unit file) is not analyzed: "Unit X is masked, cannot analyze.", exit status 1', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-security-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'empty.service'), '');
  const r = unitctl('security', '--offline', join(dir, 'empty.service'));
  assert.deepEqual([r.status, r.stdout, r.stderr], [1, '', 'Unit empty.service is masked, cannot analyze.\n']);
});

test('unitctl security UNIT against a live standalone agent: the unit as the agent keeps it; the overview; unknown units', async (t) => {
  const a = agentFixture(t);
  for (const f of ['probe-medium.service', 'memcached.service']) copyFileSync(join(UNITS, f), join(a.manifests, f));
  await a.start();
  const r = a.unitctl('security', 'probe-medium');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith(readFileSync(join(DIR, 'probe-medium.txt'), 'utf8').replace('uosec-probe-medium.service', 'probe-medium.service')), r.stdout);
  assert.equal(r.stdout, securityText(unitSecurity(load('probe-medium.service').spec, 'probe-medium.service')), 'the spec the agent keeps is the converted file');
  const all = a.unitctl('security');
  assert.equal(all.status, 0, all.stderr);
  assert.equal(all.stdout, 'UNIT                 EXPOSURE PREDICATE HAPPY\nmemcached.service         4.6 OK        🙂\nprobe-medium.service      6.2 MEDIUM    😐\n');
  const missing = a.unitctl('security', 'nope');
  assert.deepEqual([missing.status, missing.stderr], [1, 'Unit nope.service not found, cannot analyze.\n']);
  assert.equal(a.unitctl('security', 'org.freedesktop.nope').stderr, 'Unit org.freedesktop.nope.service not found, cannot analyze.\n');
  const socket = a.unitctl('security', 'foo.socket');
  assert.deepEqual([socket.status, socket.stderr], [1, 'Unit foo.socket is not a service unit, refusing.\n']);
});

test('the cluster: the controller\'s summary carries the exposure and level; kubectl get su -o wide shows them', () => {
  const { spec } = load('memcached.service');
  const su: ServiceUnit = { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'memcached', generation: 1 }, spec };
  const c = compute(su, ['n1'], '2026-12-01T00:00:00Z');
  assert.equal(c.summary.exposure, '4.6');
  assert.equal(c.summary.exposureLevel, 'OK');
  assert.match(c.summary.exposureApplied, /^[0-9]+\.[0-9] [A-Z]+$/);
  const version = (buildCrd()['spec'] as { versions: Array<{ additionalPrinterColumns: Array<{ name: string; jsonPath: string; priority?: number }>; schema: { openAPIV3Schema: { properties: { status: { properties: { summary: { properties: Record<string, unknown> } } } } } } }> }).versions[0]!;
  const cols = version.additionalPrinterColumns.filter((x) => x.name === 'Exposure' || x.name === 'Level');
  assert.deepEqual(cols.map((x) => [x.jsonPath, x.priority]), [['.status.summary.exposure', 1], ['.status.summary.exposureLevel', 1]]);
  const summary = version.schema.openAPIV3Schema.properties.status.properties.summary.properties;
  for (const k of ['exposure', 'exposureLevel', 'exposureApplied']) assert.ok(summary[k], `status.summary.${k} in the schema (else the API server prunes it)`);
  assert.equal(readFileSync(join(REPO, 'crds', 'serviceunit.yaml'), 'utf8').includes('jsonPath: .status.summary.exposureLevel'), true, 'the CRD is regenerated (npm run gen:crd)');
});
