// The one status model: a machine (driven by the simulator, exact clock) as systemctl show's
// properties, the standalone UnitStatus and the cluster's status.nodes[] entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim } from '../support/sim.ts';
import { exitCodeName, exitText, fromNodeStatus, iso, toNodeStatus, toUnitStatus, unitProperties, type UnitFacts } from '../../src/api/status.ts';
import { INITIAL_MACHINE } from '../../src/engine/index.ts';

// the simulator's clock starts at 1,000,000,000 µs: 1970-01-01T00:16:40Z
const at = (ms: number): string => new Date(1_000_000 + ms).toISOString();

function failedAfter1500ms(): Sim {
  const sim = new Sim({ service: { execStart: ['sim-exit 3 1500'] } });
  sim.send({ t: 'start' });
  return sim.runFor(2000);
}

test('systemctl show properties of a failed unit: state, exit status and the seven timestamps', () => {
  assert.deepEqual(unitProperties(failedAfter1500ms().m), {
    ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', NRestarts: 0, MainPID: 0, ControlPID: 0, ExecMainCode: 1, ExecMainStatus: 3,
    ExecMainStartTimestamp: at(0), ExecMainExitTimestamp: at(1500), StateChangeTimestamp: at(1500), ActiveEnterTimestamp: at(0),
    ActiveExitTimestamp: at(1500), InactiveEnterTimestamp: at(1500), InactiveExitTimestamp: at(0),
  });
});

test('never-happened timestamps and an empty status text are left out', () => {
  const sim = new Sim({ service: { type: 'notify', execStart: ['sim-ready 250'] } });
  sim.send({ t: 'start' });
  sim.runFor(1000);
  assert.deepEqual(unitProperties(sim.m), {
    ActiveState: 'active', SubState: 'running', Result: 'success', NRestarts: 0, MainPID: 100, ControlPID: 0, ExecMainCode: 0, ExecMainStatus: 0,
    ExecMainStartTimestamp: at(0), StateChangeTimestamp: at(250), ActiveEnterTimestamp: at(250), InactiveExitTimestamp: at(0),
  });
  assert.deepEqual(unitProperties(INITIAL_MACHINE), { ActiveState: 'inactive', SubState: 'dead', Result: 'success', NRestarts: 0, MainPID: 0, ControlPID: 0, ExecMainCode: 0, ExecMainStatus: 0 });
  assert.equal(iso(0), undefined);
  assert.equal(iso(undefined), undefined);
});

test('the standalone UnitStatus: properties plus the runner facts, in systemctl show order', () => {
  const facts: UnitFacts = {
    id: 'web.service', description: 'web server', loadState: 'loaded', invocationId: 'abc', type: 'simple', restart: 'no',
    mainCommandLine: '/bin/web --port 80', fragmentPath: '/etc/units/web.yaml', logPath: '/var/lib/uo/units/web.service/journal.log',
    usage: { tasks: 0, rssBytes: undefined, cpuNs: undefined },
  };
  const s = toUnitStatus(failedAfter1500ms().m, facts);
  assert.equal(JSON.stringify(s), JSON.stringify({
    Id: 'web.service', Description: 'web server', LoadState: 'loaded',
    ActiveState: 'failed', SubState: 'failed', Result: 'exit-code', NRestarts: 0, MainPID: 0, ControlPID: 0, ExecMainCode: 1, ExecMainStatus: 3,
    ExecMainStartTimestamp: at(0), ExecMainExitTimestamp: at(1500), StateChangeTimestamp: at(1500), ActiveEnterTimestamp: at(0),
    ActiveExitTimestamp: at(1500), InactiveEnterTimestamp: at(1500), InactiveExitTimestamp: at(0),
    InvocationID: 'abc', Type: 'simple', Restart: 'no', ExecStart: '/bin/web --port 80', FragmentPath: '/etc/units/web.yaml',
    LogPath: '/var/lib/uo/units/web.service/journal.log', TasksCurrent: 0, NotApplied: [],
  }));
  const { usage: _u, ...listFacts } = facts;
  assert.equal(toUnitStatus(INITIAL_MACHINE, listFacts).TasksCurrent, undefined, 'list asks for no /proc scan');
});

test('the cluster entry names the same properties in camelCase, and reads back to them', () => {
  const m = failedAfter1500ms().m;
  assert.deepEqual(toNodeStatus('node-a', m), {
    node: 'node-a', activeState: 'failed', subState: 'failed', result: 'exit-code', nRestarts: 0, mainPID: 0, controlPID: 0, execMainCode: 1, execMainStatus: 3,
    execMainStartTimestamp: at(0), execMainExitTimestamp: at(1500), stateChangeTimestamp: at(1500), activeEnterTimestamp: at(0),
    activeExitTimestamp: at(1500), inactiveEnterTimestamp: at(1500), inactiveExitTimestamp: at(0),
  });
  assert.deepEqual(fromNodeStatus({ ...toNodeStatus('node-a', m), message: 'x', observedGeneration: 3, lastHeartbeatTime: at(2000) }), unitProperties(m));
});

test('a node entry with no state yet reads as Unknown', () => {
  assert.deepEqual(fromNodeStatus({ node: 'n' }), { ActiveState: 'Unknown', SubState: '', Result: '', NRestarts: 0, MainPID: 0, ControlPID: 0, ExecMainCode: 0, ExecMainStatus: 0 });
});

test('ExecMainCode= 1/2/3 and the exit text, written once', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map(exitCodeName), [undefined, 'exited', 'killed', 'dumped', undefined]);
  assert.equal(exitText('exited', 0), 'code=exited, status=0/SUCCESS');
  assert.equal(exitText('exited', 3), 'code=exited, status=3');
  assert.equal(exitText('killed', 15), 'code=killed, signal=TERM');
  assert.equal(exitText('dumped', 11), 'code=dumped, signal=SEGV');
});
