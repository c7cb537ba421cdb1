// One unit state write, timed (issue 19): writeUnitState() of a crash-looping unit's state (its
// spec and one spawn record with its effect) N times into a unit folder under the bench's state
// place (os.tmpdir(), as bench/run.ts), in turns of 100 with the median turn said. Runs against
// whichever store.ts the tree has: the create + rename of versions 1-2 or the slots of version 3.
//
//   node bench/state-write.ts [N]    (default 2000)
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { INITIAL_MACHINE } from '../src/engine/index.ts';
import { encodeUnitState, ensureUnitDir, newSpawnRecord, writeUnitState, type SpawnEffect, type UnitState } from '../src/runner/store.ts';

const n = Number(process.argv[2] ?? 2000);
const root = mkdtempSync(join(tmpdir(), 'uo-bench-write-'));
try {
  const dir = join(root, 'units', 'storm_0');
  ensureUnitDir(dir);
  const effect: SpawnEffect = {
    t: 'spawn', role: 'main', kind: 'start', index: 0, env: { PATH: '/usr/local/bin:/usr/bin:/bin', INVOCATION_ID: 'a'.repeat(32), NOTIFY_SOCKET: '/run/unit-operator/notify/storm_0' },
    command: { path: '/bin/sh', argv: ['/bin/sh', '-c', 'sleep 1; exit 1'], flags: { ignoreFailure: false, argv0: false, noEnvExpand: false, fullPrivileges: false, noSetuid: false, ambientFallback: false } },
  } as SpawnEffect;
  const state = (seq: number): UnitState => ({
    unitName: 'storm_0.service', id: 'bench/storm_0', spec: { service: { execStart: ["/bin/sh -c 'sleep 1; exit 1'"], restart: 'always', restartSec: '1s' } }, specHash: 'f'.repeat(64),
    invocationId: 'a'.repeat(32), mainCommandLine: '/bin/sh -c sleep 1; exit 1', seq, machine: { ...INITIAL_MACHINE, state: 'running', nRestarts: seq }, spawns: [newSpawnRecord(dir, seq, effect)],
  });
  const states = Array.from({ length: 100 }, (_, i) => state(i + 1));
  for (let i = 0; i < 200; i++) writeUnitState(dir, states[i % 100]!); // warm-up
  const turns: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let done = 0; done < n; done += 100) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) writeUnitState(dir, states[i]!);
    turns.push(Number(process.hrtime.bigint() - t0) / 100 / 1000);
  }
  const cpu = process.cpuUsage(cpu0);
  turns.sort((a, b) => a - b);
  // of which the payload's JSON (the same in both formats)
  const t1 = process.hrtime.bigint();
  let bytes = 0;
  for (let done = 0; done < n; done += 100) for (let i = 0; i < 100; i++) bytes = encodeUnitState(states[i]!).length;
  const encode = Number(process.hrtime.bigint() - t1) / n / 1000;
  const mean = turns.reduce((a, b) => a + b, 0) / turns.length;
  console.log(`state write (${n} in turns of 100, ${root}): median turn ${turns[turns.length >> 1]!.toFixed(1)} µs a write, mean ${mean.toFixed(1)} µs, best turn ${turns[0]!.toFixed(1)} µs, worst ${turns.at(-1)!.toFixed(1)} µs; of which encodeUnitState() ${encode.toFixed(1)} µs (${bytes} bytes); CPU ${((cpu.user + cpu.system) / n).toFixed(1)} µs a write (user ${(cpu.user / n).toFixed(1)}, system ${(cpu.system / n).toFixed(1)})`);
} finally { rmSync(root, { recursive: true, force: true }); }
