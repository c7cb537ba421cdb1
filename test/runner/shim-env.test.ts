// Finding 6: uo-shim reads its settings from UO_SHIM_* environment variables, and the agent hands
// it the service's environment next to them. A unit whose Environment= or EnvironmentFile= sets
// one of those names must not change what its root holder does: UO_SHIM_NOTIFY_SOCKET=PATH made
// the holder unlink PATH, bind a socket there and unlink it again at the end (any file, as root);
// UO_SHIM_CWD moved the command elsewhere. The service still gets its variables (systemd would
// pass them), the holder never reads them, and the agent says so once per unit and name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, subState } from '../support/units.ts';

test('a unit\'s UO_SHIM_* variables reach its service, never its holder\'s settings; said once each', { timeout: 30_000 }, async (t) => {
  const h = harness(t);
  const precious = join(h.dir, 'precious');
  writeFileSync(precious, 'mine\n');
  const elsewhere = join(h.dir, 'elsewhere');
  mkdirSync(elsewhere);
  const file = join(h.dir, 'env-file');
  writeFileSync(file, `UO_SHIM_CWD=${elsewhere}\n`);
  const out = join(h.dir, 'out');
  const r = h.open('env.service', { service: {
    type: 'oneshot',
    environment: [`UO_SHIM_NOTIFY_SOCKET=${precious}`, 'UO_SHIM_SERVICE_ENV_0=its own', 'GREETING=hello'],
    environmentFile: [file],
    execStart: [`/bin/sh -c 'pwd > ${out}; env >> ${out}; echo ran >> ${out}.runs'`],
  } });
  for (let run = 0; run < 2; run++) {
    r.start();
    await waitFor(r, 'the run done', (x) => subState('dead')(x) && x.spawns.length === 0 && readFileSync(`${out}.runs`, { encoding: 'utf8', flag: 'a+' }).split('\n').length === run + 2);
    assert.equal(r.props.Result, 'success');
  }
  const said = h.logs.join('\n');
  assert.ok(lstatSync(precious).isFile(), `the holder replaced ${precious} by its notify socket: ${said}`);
  assert.equal(readFileSync(precious, 'utf8'), 'mine\n');
  const [pwd, ...env] = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(pwd, '/', `the holder took UO_SHIM_CWD for WorkingDirectory=: ${said}`);
  const shimVars = env.filter((e) => e.startsWith('UO_SHIM_')).sort();
  assert.deepEqual(shimVars, [`UO_SHIM_CWD=${elsewhere}`, `UO_SHIM_NOTIFY_SOCKET=${precious}`, 'UO_SHIM_SERVICE_ENV_0=its own'], 'the service gets its own variables, and only those');
  assert.ok(env.includes('GREETING=hello'));
  for (const name of ['UO_SHIM_NOTIFY_SOCKET', 'UO_SHIM_SERVICE_ENV_0', 'UO_SHIM_CWD']) {
    const lines = h.logs.filter((l) => l.includes(`env.service: its environment sets ${name}, a name of uo-shim's own settings; the service gets it, the holder never reads it as a setting`));
    assert.equal(lines.length, 1, `said once over two runs (${name}): ${said}`);
    assert.match(lines[0]!, /: warning: /);
  }
});
