// The exposure of systemd-analyze security in the cluster: the controller writes it into
// status.summary from the spec (no agent needed), the API server keeps it (the schema has the
// fields), kubectl get su -o wide shows it, and a spec change moves it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { spawnSync } from 'node:child_process';
import { clusterState, ensureCrd, kubectl, kubectlOk } from '../support/cluster.ts';
import { ClusterProcs, getSU } from '../support/clusterprocs.ts';
import { until } from '../support/wait.ts';
import { REPO, UNITCTL } from '../support/paths.ts';
import { convertText } from '../../src/unitfile/index.ts';
import { unitSecurity } from '../../src/security/index.ts';

const NS = 'security-columns';
const cp = new ClusterProcs();

before(() => {
  ensureCrd();
  cp.ensureNamespace();
  if (kubectl(['get', 'ns', NS]).status !== 0) kubectlOk(['create', 'ns', NS]);
  cp.node('sec-node');
  cp.controller('sec-c1');
});
after(async () => { await cp.cleanup(); });

test('the controller writes the exposure and level of the spec; -o wide shows them; a change of the spec moves them', async () => {
  const file = join(REPO, 'test', 'fixtures', 'security', 'units', 'memcached.service');
  const su = convertText(readFileSync(file, 'utf8'), file, [], { namespace: NS, nodeName: 'sec-node', unitName: 'memcached.service' }).object;
  kubectlOk(['apply', '-f', '-'], dump(su, { lineWidth: -1, noRefs: true }));
  const summaryOf = (): Record<string, unknown> | undefined => getSU(NS, 'memcached')?.status?.summary as Record<string, unknown> | undefined;
  const summary = await until('status.summary.exposure', () => { const s = summaryOf(); return s?.['exposure'] !== undefined ? s : undefined; }, 30_000);
  // systemd 257 on the same unit file: test/fixtures/security/memcached.txt
  assert.deepEqual([summary['exposure'], summary['exposureLevel']], ['4.6', 'OK']);
  assert.equal(summary['exposureApplied'], `${unitSecurity(su.spec, 'memcached.service').applied.exposureText} ${unitSecurity(su.spec, 'memcached.service').applied.level}`);
  const wide = kubectlOk(['get', 'su', 'memcached', '-n', NS, '-o', 'wide']).split('\n');
  assert.match(wide[0]!, /\sEXPOSURE\s+LEVEL$/);
  assert.match(wide[1]!, /\s4\.6\s+OK$/);
  // kubectl unit security NAME: the ServiceUnit as the cluster stores it, systemd's text first
  const cli = spawnSync(process.execPath, [UNITCTL, 'security', 'memcached', '--namespace', NS, '--kubeconfig', clusterState().kubeconfig], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(cli.status, 0, cli.stderr);
  assert.ok(cli.stdout.startsWith(readFileSync(join(REPO, 'test', 'fixtures', 'security', 'memcached.txt'), 'utf8').replace('uosec-memcached.service', 'memcached.service')), cli.stdout);
  kubectlOk(['patch', 'su', 'memcached', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { service: { privateNetwork: true } } })]);
  const moved = await until('a new exposure', () => { const s = summaryOf(); return s && s['exposure'] !== '4.6' ? s : undefined; }, 30_000);
  const want = unitSecurity({ ...su.spec, service: { ...su.spec.service, privateNetwork: true } }, 'memcached.service').systemd;
  assert.notEqual(want.exposureText, '4.6');
  assert.deepEqual([moved['exposure'], moved['exposureLevel']], [want.exposureText, want.level]);
});
