// An automatic restart whose job reaches other units is not prepared ahead of its deadline
// (src/runner/unit.ts armTimer(), issue 19's lead): systemd enqueues the restart job at the
// deadline, and only then stops and starts the units that Requires= the restarted one. A lead
// would restart them 30-100 ms early, before the dependency's own command could run. Through a
// REAL standalone agent with real processes; each command stamps CLOCK_REALTIME in ns. The agent's
// lead is fixed at 150 ms (UNIT_OPERATOR_RESTART_LEAD_MS; its own estimate is 30-100 ms): a restart
// wrongly prepared ahead would start the dependent ~150 ms early, far beyond any noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture } from '../support/agent.ts';
import { until } from '../support/wait.ts';

const RESTART_MS = 400;
const LEAD_MS = 150; // at most half of RESTART_MS: unit.ts armTimer() caps a lead there
const stamps = (file: string): number[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => Number(l) / 1e6) : []);

test('Requires=: the dependents of a unit restarting after RestartSec= start again only once its delay is over (no prepared restart)', async (t) => {
  const a = agentFixture(t);
  a.launcher = ['env', `UNIT_OPERATOR_RESTART_LEAD_MS=${LEAD_MS}`];
  const dir = a.manifests;
  const dbExit = join(dir, 'db.exit'), appStart = join(dir, 'app.start');
  // the exit is stamped just before it happens: the deadline is at least RESTART_MS after the stamp
  writeFileSync(join(dir, 'lead-db.service'), `[Service]\nRestart=always\nRestartSec=${RESTART_MS}ms\nExecStart=/bin/sh -c 'sleep 0.3; date +%%s%%N >> ${dbExit}; exit 1'\n`);
  writeFileSync(join(dir, 'lead-app.service'), `[Unit]\nRequires=lead-db.service\nAfter=lead-db.service\n[Service]\nExecStart=/bin/sh -c 'date +%%s%%N >> ${appStart}; exec sleep 1000'\n`);
  await a.start();
  assert.match(a.stderr.join(''), new RegExp(`restart lead: fixed at ${LEAD_MS} ms`), 'the agent took the fixed lead');
  await until('three restarts of lead-db', () => (stamps(dbExit).length >= 4 && stamps(appStart).length >= 4 ? true : undefined), 15_000);

  const exits = stamps(dbExit), starts = stamps(appStart);
  // every start of the app after the first follows a restart of the db: not before the db's delay was over
  for (const s of starts.slice(1)) {
    const exit = exits.filter((e) => e < s).at(-1);
    assert.ok(exit !== undefined, `app started at ${s} before any exit of the db: ${JSON.stringify({ exits, starts })}`);
    assert.ok(s - exit >= RESTART_MS, `lead-app started ${(s - exit).toFixed(1)} ms after lead-db exited, before its RestartSec=${RESTART_MS}ms was over: ${JSON.stringify({ exits, starts })}\n${a.stderr.join('').slice(-3000)}`);
  }
});
