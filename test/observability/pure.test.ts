// The pure helpers of the observability edge: label derivation and flag parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resourceOf } from '../../src/observability/metrics.ts';
import { unitLabels } from '../../src/observability/labels.ts';
import { parseBindAddress } from '../../src/observability/http.ts';
import { parseLogFormat } from '../../src/observability/log.ts';

test('API paths become resource labels of bounded cardinality (no names, no namespaces)', () => {
  const cases: Array<[string, string]> = [
    ['/apis/unit-operator.dev/v1alpha1/namespaces/prod/serviceunits/web/status', 'serviceunits/status'],
    ['/apis/unit-operator.dev/v1alpha1/namespaces/prod/serviceunits/web', 'serviceunits'],
    ['/apis/unit-operator.dev/v1alpha1/serviceunits', 'serviceunits'],
    ['/apis/unit-operator.dev/v1alpha1/namespaces/prod/serviceunits?watch=true', 'serviceunits'],
    ['/api/v1/nodes', 'nodes'],
    ['/api/v1/namespaces/x/events', 'events'],
    ['/apis/coordination.k8s.io/v1/namespaces/unit-operator-system/leases/unit-operator-agent-n1', 'leases'],
    ['/api/v1/namespaces/x', 'namespaces'],
    ['/version', 'other'],
  ];
  for (const [path, want] of cases) assert.equal(resourceOf(path), want, path);
});

test('unit ids split into namespace and unit labels; standalone ids have no namespace', () => {
  assert.deepEqual(unitLabels('prod/web'), { namespace: 'prod', unit: 'web' });
  assert.deepEqual(unitLabels('web.service'), { namespace: '', unit: 'web.service' });
});

test('bind addresses: ":8080" is every interface, host:port, [v6]:port; anything else is refused with an example', () => {
  assert.deepEqual(parseBindAddress(':8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseBindAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseBindAddress('[::1]:9090'), { host: '::1', port: 9090 });
  for (const bad of ['8080', 'localhost', ':99999', 'a:b']) assert.throws(() => parseBindAddress(bad), /is not HOST:PORT \(for example ":8080"/, bad);
});

test('--log-format: pretty on a terminal, JSON otherwise; unknown formats are refused', () => {
  assert.equal(parseLogFormat(undefined, true), 'pretty');
  assert.equal(parseLogFormat(undefined, false), 'json');
  assert.equal(parseLogFormat('json', true), 'json');
  assert.throws(() => parseLogFormat('yaml', false), /--log-format "yaml": use json or pretty/);
});
