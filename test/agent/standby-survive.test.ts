// The standby (issue 19, src/runner/standby.ts) across a kill -9 of the agent: the standby waiting
// beside a running service ends with its agent and runs nothing; the service is adopted as before
// (same MainPID, no restart); a main process that exits at the moment the agent dies (its holder
// may hand over to the standby, or the standby may take itself back first) is restarted exactly
// once, whichever came first; and the next agent's restarts go through a standby again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentFixture, type AgentFixture } from '../support/agent.ts';
import { sleep, until } from '../support/wait.ts';
import { isAlive } from '../../src/runner/procfs.ts';
import type { UnitStatus } from '../../src/agent/protocol.ts';

type List = { units: UnitStatus[] };

/** The unit's hand-over folder under the agent's state (units/<folder>/next). */
function nextOf(a: AgentFixture): string | undefined {
  const units = join(a.state, 'units');
  if (!existsSync(units)) return undefined;
  for (const d of readdirSync(units)) if (existsSync(join(units, d, 'next'))) return join(units, d, 'next');
  return undefined;
}
const armed = (a: AgentFixture): boolean => { const n = nextOf(a); return n !== undefined && readdirSync(n).some((f) => f.startsWith('armed.')); };

/** uo-shim processes whose event log lies under the agent's state folder. */
function holders(a: AgentFixture): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[1]?.startsWith(a.state) === true; } catch { return false; }
  });
}

test('kill -9 of the agent while a standby waits: it ends, the service is adopted unchanged; an exit at the agent\'s death is restarted exactly once', { timeout: 90_000 }, async (t) => {
  const a = agentFixture(t);
  const token = `uo-standby-${process.pid}-${Date.now()}`;
  const runs = join(a.manifests, '..', 'runs');
  writeFileSync(join(a.manifests, 'sb.service'), `[Unit]\nStartLimitIntervalSec=0\n[Service]\nEnvironment=UO_STANDBY_TOKEN=${token}\nExecStart=/bin/sh -c 'echo $$$$ >> ${runs}; exec /bin/sleep 100000'\nRestart=always\nRestartSec=0\n`);
  const sleeps = (): number[] => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8') === '/bin/sleep\x00100000\x00' && readFileSync(`/proc/${p}/environ`, 'utf8').split('\x00').includes(`UO_STANDBY_TOKEN=${token}`); } catch { return false; }
  });
  const runCount = (): number => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean).length : 0);
  const unit = (): UnitStatus => a.json<List>('list').units.find((u) => u.Id === 'sb.service')!;
  await a.start();
  await until('running with a standby armed', () => unit().SubState === 'running' && unit().MainPID > 0 && armed(a) && holders(a).length === 2, { timeoutMs: 10_000, everyMs: 50 });
  const first = unit().MainPID;

  // 1. the agent dies: the standby takes itself back and ends; the service runs on
  await a.kill9();
  await until('the standby ended', () => holders(a).length === 1 && !armed(a), { timeoutMs: 5000, everyMs: 20 });
  assert.ok(isAlive(first));
  await a.start();
  await until('adopted', () => unit().SubState === 'running' && unit().MainPID === first, { timeoutMs: 10_000, everyMs: 50, detail: () => JSON.stringify(unit()) + (a as unknown as { stderr?: string[] }).stderr?.join('').slice(-3000) });
  assert.equal(unit().NRestarts, 0);
  assert.equal(runCount(), 1);

  // 2. the next restarts go through a standby again (armed at the restart the new agent decides)
  process.kill(first, 'SIGKILL');
  await until('restarted', () => unit().NRestarts === 1 && unit().MainPID > 0 && unit().MainPID !== first && unit().SubState === 'running', { timeoutMs: 10_000, everyMs: 50 });
  await until('a standby armed again', () => armed(a) && holders(a).length === 2, { timeoutMs: 10_000, everyMs: 50 });
  const second = unit().MainPID;

  // 3. the main process and the agent die together: one restart, whoever of the holder and the standby came first
  process.kill(second, 'SIGKILL');
  await a.kill9();
  await sleep(300);
  await a.start();
  await until('restarted once', () => unit().SubState === 'running' && unit().MainPID > 0 && unit().MainPID !== second, { timeoutMs: 15_000, everyMs: 50 });
  await sleep(500);
  assert.equal(runCount(), 3, 'the command ran once after the agent died with it, not twice');
  assert.deepEqual(sleeps(), [unit().MainPID], 'one copy of the service, the one the agent names');
  assert.equal(unit().NRestarts, 2);
});
