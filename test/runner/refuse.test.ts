// Fail closed at the runner: a unit whose spec asks for a protection the node does not apply
// is never started — neither by start()/restart() nor by an automatic restart already scheduled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, waitFor, subState, sleep } from '../support/units.ts';

test('RootImage= (not applied yet) set while a unit waits in auto-restart: the scheduled restart stops it instead (Restart=always does not bypass the refusal)', async (t) => {
  const h = harness(t);
  const spec = { service: { execStart: ["/bin/sh -c 'exit 1'"], restart: 'always', restartSec: '400ms' } };
  const r = h.open('crashy.service', spec);
  assert.equal(r.start(), undefined);
  await waitFor(r, 'auto-restart', subState('auto-restart'));
  r.updateSpec({ service: { ...spec.service, rootImage: '/srv/root.raw' } });
  assert.match(r.refusal ?? '', /^RootImage= is not applied on this node/);
  await waitFor(r, 'stopped instead of restarted', (x) => x.props.ActiveState === 'inactive' || x.props.ActiveState === 'failed');
  await sleep(600); // longer than RestartSec=: nothing restarts it
  assert.notEqual(r.props.SubState, 'running');
  assert.equal(r.props.MainPID, 0);
  assert.ok(h.logs.some((l) => /Refusing to restart crashy\.service: RootImage= is not applied/.test(l)), h.logs.join('\n'));
  assert.match(r.start() ?? '', /--allow-unenforced=RootImage/, 'a manual start is refused too');
  assert.match(r.restart() ?? '', /RootImage=/);
});
