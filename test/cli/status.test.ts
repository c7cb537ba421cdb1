// The one status renderer: unitctl status standalone (statusView) and per node in a cluster
// (clusterStatusView), pinned to the byte with a fixed clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusView } from '../../src/cli/format.ts';
import { clusterStatusView } from '../../src/cli/clusterstatus.ts';
import type { UnitStatus } from '../../src/api/status.ts';
import type { ServiceUnit } from '../../src/api/types.ts';

const now = Date.parse('2025-01-02T03:04:05.000Z');
const plain = { color: false };
const web: UnitStatus = {
  Id: 'web.service', Description: 'web server', LoadState: 'loaded', ActiveState: 'active', SubState: 'running', Result: 'success', NRestarts: 0,
  MainPID: 4242, ControlPID: 0, ExecMainCode: 0, ExecMainStatus: 0, ExecMainStartTimestamp: '2025-01-02T03:00:00.000Z', StateChangeTimestamp: '2025-01-02T03:00:00.000Z',
  ActiveEnterTimestamp: '2025-01-02T03:00:00.000Z', InactiveExitTimestamp: '2025-01-02T03:00:00.000Z', StatusText: 'serving', InvocationID: 'abc', Type: 'simple',
  Restart: 'on-failure', ExecStart: '/bin/sh -c sleep', FragmentPath: '/etc/units/web.service', LogPath: '/x/journal.log', MemoryCurrent: 5 * 1024 * 1024,
  CPUUsageNSec: 1_500_000_000, TasksCurrent: 2, NotApplied: [],
};

test('standalone: an active unit with its main PID, status text, usage, command and log tail', () => {
  assert.equal(statusView(web, ['l1', 'l2'], plain, now), [
    '● web.service - web server',
    '     Loaded: loaded (/etc/units/web.service)',
    '     Active: active (running) since Thu, 02 Jan 2025 03:00:00 GMT; 4min 5s ago',
    '   Main PID: 4242 (sh)',
    '     Status: "serving"',
    '      Tasks: 2',
    '     Memory: 5.0M',
    '        CPU: 1.500s', // systemctl: format_timespan(…, USEC_PER_MSEC)
    '    Command: /bin/sh -c sleep',
    '',
    'l1',
    'l2',
    '',
  ].join('\n'));
  assert.equal(statusView(web, [], { color: true }, now).split('\n')[0], '\x1b[1;32m●\x1b[0m \x1b[1mweb.service\x1b[0m - web server');
});

test('standalone: a failed unit shows its restarts and how the main process ended', () => {
  const failed: UnitStatus = { ...web, ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', NRestarts: 3, MainPID: 0, ExecMainCode: 1, ExecMainStatus: 3,
    InactiveEnterTimestamp: '2025-01-02T03:04:00.000Z', StatusText: undefined, MemoryCurrent: undefined, CPUUsageNSec: undefined, TasksCurrent: 0 };
  assert.equal(statusView(failed, [], plain, now), '× web.service - web server\n     Loaded: loaded (/etc/units/web.service)\n     Active: failed (Result: exit-code) since Thu, 02 Jan 2025 03:04:00 GMT; 5s ago\n   Restarts: 3\n    Process: ExecStart=/bin/sh -c sleep (code=exited, status=3)\n    Command: /bin/sh -c sleep\n');
  const killed: UnitStatus = { ...failed, ActiveState: 'inactive', SubState: 'dead', NRestarts: 0, ExecMainCode: 2, ExecMainStatus: 15, ExecStart: undefined };
  assert.match(statusView(killed, [], plain, now), /\n {4}Process: ExecStart=\? \(code=killed, signal=TERM\)\n/);
  const restarting: UnitStatus = { ...web, ActiveState: 'activating', SubState: 'auto-restart', MainPID: 0, ExecMainCode: 1, StateChangeTimestamp: '2025-01-02T03:03:00.000Z' };
  assert.match(statusView(restarting, [], plain, now), /Active: activating \(auto-restart\) since Thu, 02 Jan 2025 03:03:00 GMT; 1min 5s ago\n {4}Process: ExecStart=\/bin\/sh -c sleep \(code=exited, status=0\/SUCCESS\)\n/);
});

test('cluster: one block per node, rendered by the same lines as the standalone view', () => {
  const su = {
    apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'web', namespace: 'ns', generation: 3 }, spec: { nodeName: 'n1', unit: { description: 'web server' } },
    status: {
      conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'x' }], summary: { nodes: '0/2', nRestarts: 3 }, nodes: [
        { node: 'n1', activeState: 'failed', subState: 'failed', result: 'exit-code', nRestarts: 3, mainPID: 0, execMainCode: 1, execMainStatus: 3, inactiveEnterTimestamp: '2025-01-02T03:04:00.000Z', observedGeneration: 2, message: 'boom' },
        { node: 'n2', activeState: 'active', subState: 'running', result: 'success', nRestarts: 0, mainPID: 77, activeEnterTimestamp: '2025-01-02T03:00:00.000Z', statusText: 'ok', observedGeneration: 3 },
        { node: 'n3' },
        { node: 'n4', activeState: 'inactive', subState: 'dead', mainPID: 0, execMainCode: 2, execMainStatus: 9 },
      ],
    },
  } as ServiceUnit;
  assert.equal(clusterStatusView(su, plain, now), [
    'web.service - web server',
    '     Resource: serviceunit ns/web (generation 3)',
    '    Placement: node n1; state running',
    '        Ready: False (Failed: x)',
    '      Summary: 0/2 nodes active, 3 restarts',
    '',
    '  × node n1',
    '       Active: failed (Result: exit-code) since Thu, 02 Jan 2025 03:04:00 GMT; 5s ago',
    '     Restarts: 3',
    '      Process: code=exited, status=3',
    '      Message: boom',
    '   Generation: 2 of 3 (converging)',
    '',
    '  ● node n2',
    '       Active: active (running) since Thu, 02 Jan 2025 03:00:00 GMT; 4min 5s ago',
    '     Main PID: 77',
    '       Status: "ok"',
    '',
    '  ● node n3',
    '       Active: Unknown',
    '',
    '  ○ node n4',
    '       Active: inactive (dead)',
    '      Process: code=killed, signal=KILL',
    '',
  ].join('\n'));
});

test('standalone: a refused unit shows bad-setting and one line per directive not applied, refused ones first as listed', () => {
  const refused: UnitStatus = {
    ...web, LoadState: 'bad-setting', ActiveState: 'inactive', SubState: 'dead', MainPID: 0, StatusText: undefined, ExecStart: undefined, MemoryCurrent: undefined, CPUUsageNSec: undefined, TasksCurrent: 0,
    InactiveEnterTimestamp: '2025-01-02T03:00:00.000Z',
    NotApplied: [
      { directive: 'ProtectSystem=', applier: 'sandbox', reason: 'file-system sandboxing is not applied yet (sandbox, issue 14)', enforcement: 'refused' },
      { directive: 'After=', applier: 'dependency', reason: 'ordering is not applied yet (dependency, issue 16)', enforcement: 'reported' },
    ],
  };
  assert.equal(statusView(refused, [], plain, now), [
    '○ web.service - web server',
    '     Loaded: bad-setting (/etc/units/web.service)',
    '     Active: inactive (dead) since Thu, 02 Jan 2025 03:00:00 GMT; 4min 5s ago',
    'Not applied: ProtectSystem= — file-system sandboxing is not applied yet (sandbox, issue 14); refused: the unit does not start (--allow-unenforced=ProtectSystem runs it without)',
    '             After= — ordering is not applied yet (dependency, issue 16); reported, not refused',
    '',
  ].join('\n'));
});
