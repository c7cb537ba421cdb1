// The unit store: version-1 files (fixtures written by the agent before issue 11) read with
// defaults; version-2 files round-trip with every field written; writes are atomic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { INITIAL_MACHINE } from '../../src/engine/index.ts';
import { loadSlots } from '../../src/runner/stateslot.ts';
import { decodeUnitState, encodeUnitState, journalPath, newSpawnRecord, readUnitState, removeSpawnDir, legacyStatePath, slotPath, unitDirOfJournal, unitDirs, writeUnitState, STATE_VERSION } from '../../src/runner/store.ts';

const V1 = fileURLToPath(new URL('../fixtures/state/v1/units', import.meta.url));

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'uo-store-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('version-1 files are read with the engine\'s defaults for what they left out, spawn folders under their new place', (t) => {
  const units = join(tmp(t), 'units');
  cpSync(V1, units, { recursive: true });
  assert.deepEqual(unitDirs(units).map((d) => d.slice(units.length + 1)).sort(), ['demo_flappy', 'done.service', 'exits.service']);
  const exits = readUnitState(join(units, 'exits.service'))!;
  assert.deepEqual([exits.unitName, exits.id, exits.seq, exits.mainCommandLine], ['exits.service', 'exits.service', 1, '/bin/sh -c sleep 1; exit 7']);
  assert.deepEqual(exits.spec, { unit: { description: 'exits while no agent watches' }, service: { execStart: ["/bin/sh -c 'sleep 1; exit 7'"], environment: ['GREETING=hello'] } });
  assert.equal(exits.machine.state, 'running');
  for (const k of Object.keys(INITIAL_MACHINE)) assert.ok(k in exits.machine, `machine.${k} is defined (default) after reading a version-1 file`);
  assert.deepEqual([exits.machine.mainExec, exits.machine.timer, exits.machine.statusText, exits.machine.controlCommand], [undefined, undefined, undefined, undefined]);
  const [s] = exits.spawns;
  assert.deepEqual({ ...s, dir: undefined }, { seq: 1, dir: undefined, role: 'main', kind: 'start', index: 0, effect: undefined, shimPid: 11458, pid: 11460, offset: 34, done: false, started: true });
  assert.equal(s!.dir, join(units, 'exits.service', 'run', '1-start-0'), 'the absolute dir of version 1 is not trusted: the folder may have moved');
  const flappy = readUnitState(join(units, 'demo_flappy'))!;
  assert.deepEqual([flappy.id, flappy.unitName, flappy.machine.state, flappy.machine.result, flappy.machine.mainExec?.status, flappy.machine.timer?.gen], ['demo/flappy', 'flappy.service', 'auto-restart', 'exit-code', 3, 3]);
});

test('version 3 (the slots\' payload) writes every field (null for none) and reads back what it wrote', (t) => {
  const dir = tmp(t);
  const effect = { t: 'spawn' as const, role: 'control' as const, kind: 'stopPost' as const, index: 0, command: { path: '/bin/true', argv: ['/bin/true'], flags: { ignoreFailure: false, argv0: false, noEnvExpand: false, fullPrivileges: false, noSetuid: false, ambientFallback: false } }, env: { SERVICE_RESULT: 'exit-code' } };
  const state = { unitName: 'a.service', id: undefined, spec: { service: { execStart: ['/bin/true'] } }, specHash: 'h', invocationId: 'i', mainCommandLine: undefined, seq: 4, machine: { ...INITIAL_MACHINE, state: 'stop-post' as const }, spawns: [newSpawnRecord(dir, 4, effect)] };
  writeUnitState(dir, state);
  assert.deepEqual(readdirSync(dir), ['state.0'], 'no temporary file left');
  const payload = loadSlots(dir, 1 << 20).newest!.payload;
  const raw = JSON.parse(payload) as Record<string, unknown>;
  assert.equal(raw['version'], STATE_VERSION);
  assert.deepEqual([raw['id'], raw['mainCommandLine']], [null, null]);
  const m = raw['machine'] as Record<string, unknown>;
  for (const k of Object.keys(INITIAL_MACHINE)) assert.ok(k in m, `machine.${k} written`);
  assert.equal(m['mainExec'], null);
  assert.deepEqual((raw['spawns'] as Array<Record<string, unknown>>)[0]!['effect'], effect, 'the write-ahead record holds the whole effect');
  assert.deepEqual(readUnitState(dir), state);
  assert.equal(encodeUnitState(readUnitState(dir)!), payload);
  assert.ok(readFileSync(slotPath(dir, 0), 'latin1').startsWith('uo-state 3 0000000000000001 '));
});

test('a file lacking fields gets defaults; an unknown version or garbage is no state', (t) => {
  const dir = tmp(t);
  const s = decodeUnitState({ version: 2, spec: { service: {} }, machine: { state: 'failed', startLimit: { num: 2 } }, spawns: [{ seq: 3, kind: 'stop', index: 1 }] }, dir)!;
  assert.deepEqual([s.unitName, s.id, s.invocationId, s.seq, s.mainCommandLine], [dir.split('/').pop(), undefined, '', 3, undefined]);
  assert.deepEqual(s.machine, { ...INITIAL_MACHINE, state: 'failed', startLimit: { begin: 0, num: 2 } });
  assert.deepEqual({ ...s.spawns[0], dir: undefined }, { seq: 3, dir: undefined, role: 'main', kind: 'stop', index: 1, effect: undefined, shimPid: 0, pid: 0, offset: 0, done: false, started: false });
  assert.equal(decodeUnitState({ version: 4 }, dir), undefined);
  mkdirSync(join(dir, 'bad'));
  writeFileSync(legacyStatePath(join(dir, 'bad')), '{"version": 1, "unit');
  assert.equal(readUnitState(join(dir, 'bad')), undefined);
  assert.equal(readUnitState(join(dir, 'none')), undefined);
});

test('the journal is in the unit folder, and the folder is found from it', () => {
  assert.equal(journalPath('/s/units/a.service'), '/s/units/a.service/journal.log');
  assert.equal(unitDirOfJournal(journalPath('/s/units/ns_b')), '/s/units/ns_b');
});

test('removeSpawnDir(): a folder with its event log, one with more in it, one that never got a log, and a link to a folder (only the link goes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-store-rm-'));
  try {
    const effect = { t: 'spawn' as const, role: 'main' as const, kind: 'start' as const, index: 0, command: { path: '/bin/true', argv: ['true'], flags: { ignoreFailure: false, noEnvExpand: false, privileged: false, noSetuid: false, ambientOnly: false } }, env: {} };
    const rec = (seq: number) => newSpawnRecord(dir, seq, effect as never);
    const [a, b, c, d] = [rec(1), rec(2), rec(3), rec(4)];
    for (const r of [a, b, c]) mkdirSync(r.dir, { recursive: true });
    writeFileSync(join(a.dir, 'events'), 'shim 1\n');
    writeFileSync(join(b.dir, 'events'), 'shim 2\n');
    mkdirSync(join(b.dir, 'more'));
    writeFileSync(join(b.dir, 'more', 'x'), 'x');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'events'), 'not its\n');
    symlinkSync(elsewhere, d.dir);
    for (const r of [a, b, c, d]) removeSpawnDir(r);
    for (const r of [a, b, c, d]) assert.equal(existsSync(r.dir), false, r.dir);
    assert.equal(readFileSync(join(elsewhere, 'events'), 'utf8'), 'not its\n');
    removeSpawnDir(a); // gone already: nothing to do
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
