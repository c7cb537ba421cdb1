// Issue 19: the unit's state in two slots written in place in turn (stateslot.ts). A newest slot
// cut short (a kill -9 in the middle of its write), shorter than its header or with a checksum
// that does not match is skipped and the previous state read; both damaged take the damaged-state
// path (moved aside, recovered from the event logs); a link, a second hard link or a writable
// mode planted at a slot name is refused, named, and never written through; a version-2
// state.json is read and migrated by the first write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { INITIAL_MACHINE } from '../../src/engine/index.ts';
import { ensureUnitDir, hasUnitState, legacyStatePath, loadUnitState, readUnitState, setAsideDamaged, slotPath, unitDirs, writeUnitState, type UnitState } from '../../src/runner/store.ts';
import { HEADER_BYTES } from '../../src/runner/stateslot.ts';

function unit(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'uo-slots-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'units', 'a.service');
  ensureUnitDir(dir);
  return dir;
}
const state = (seq: number): UnitState => ({ unitName: 'a.service', id: 'a.service', spec: { service: { execStart: [`/bin/echo ${'x'.repeat(seq * 10)}`] } }, specHash: 'h', invocationId: 'i', mainCommandLine: undefined, seq, machine: INITIAL_MACHINE, spawns: [] });
const seqOf = (dir: string): number | undefined => readUnitState(dir)?.seq;
const slots = (dir: string): [string, string] => [slotPath(dir, 0), slotPath(dir, 1)];

test('writes alternate between the two slots, in place (the inode stays), and the newest is read', (t) => {
  const dir = unit(t);
  writeUnitState(dir, state(1));
  writeUnitState(dir, state(2));
  const [a, b] = slots(dir);
  const inodes = [a, b].map((p) => statSync(p).ino);
  writeUnitState(dir, state(3));
  writeUnitState(dir, state(4));
  assert.deepEqual([a, b].map((p) => statSync(p).ino), inodes, 'no new inode per write');
  assert.deepEqual(readdirSync(dir).sort(), ['run', 'state.0', 'state.1']);
  assert.equal(seqOf(dir), 4);
  assert.match(readFileSync(a, 'latin1'), /^uo-state 3 0000000000000003 /);
  assert.match(readFileSync(b, 'latin1'), /^uo-state 3 0000000000000004 /);
});

test('a newest slot cut short, shorter than its header, or with a bad checksum: the previous state is read, and the next write goes over the damaged slot', (t) => {
  const cuts: Array<[string, (p: string) => void]> = [
    ['cut mid-payload (a write killed half-way)', (p) => truncateSync(p, HEADER_BYTES + 20)],
    ['shorter than its header', (p) => truncateSync(p, 10)],
    ['empty', (p) => truncateSync(p, 0)],
    ['a flipped payload byte (bad checksum)', (p) => { const b = readFileSync(p); b[HEADER_BYTES + 5] = b[HEADER_BYTES + 5]! ^ 0x20; writeFileSync(p, b); }],
    ['a new header over the old payload', (p) => { const b = readFileSync(p); b.write('0000000000000009', 11, 'latin1'); writeFileSync(p, b); }],
    ['the tail of the payload from an older, longer write', (p) => { const b = readFileSync(p); writeFileSync(p, Buffer.concat([b.subarray(0, b.length - 3), Buffer.from('xyz')])); }],
  ];
  for (const [what, cut] of cuts) {
    const dir = unit(t);
    for (let s = 1; s <= 3; s++) writeUnitState(dir, state(s)); // state.0 holds 3, state.1 holds 2
    cut(slotPath(dir, 0));
    const r = loadUnitState(dir);
    assert.equal(r.t, 'ok', `${what}: ${JSON.stringify(r)}`);
    assert.equal(seqOf(dir), 2, `${what}: the previous state`);
    writeUnitState(dir, state(4)); // over the damaged slot, not over the previous state
    assert.equal(seqOf(dir), 4, what);
    assert.match(readFileSync(slotPath(dir, 0), 'latin1'), /^uo-state 3 0000000000000003 /, `${what}: the next generation, in the damaged slot`);
    assert.match(readFileSync(slotPath(dir, 1), 'latin1'), /^uo-state 3 0000000000000002 /, `${what}: the previous state kept`);
  }
});

test('a write killed at any byte leaves the previous or the new state, never a damaged one', (t) => {
  const dir = unit(t);
  writeUnitState(dir, state(1));
  writeUnitState(dir, state(2));
  const target = slotPath(dir, 0); // holds generation 1: the next write goes there
  const before = readFileSync(target);
  writeUnitState(dir, state(3));
  const after = readFileSync(target);
  for (let n = 0; n <= after.length; n++) {
    // the first n bytes of the new write over the old bytes (what a cut pwrite leaves before the ftruncate)
    writeFileSync(target, Buffer.concat([after.subarray(0, n), before.subarray(Math.min(n, before.length))]));
    const seq = seqOf(dir);
    assert.ok(seq === (n === after.length ? 3 : 2), `cut at byte ${n} of ${after.length}: read seq ${seq}`);
  }
});

test('both slots damaged: the damaged-state path (named, both moved aside), and the next write starts afresh', (t) => {
  const dir = unit(t);
  for (let s = 1; s <= 2; s++) writeUnitState(dir, state(s));
  truncateSync(slotPath(dir, 0), 30);
  truncateSync(slotPath(dir, 1), HEADER_BYTES + 4);
  const r = loadUnitState(dir);
  assert.equal(r.t, 'damaged');
  assert.equal(r.t === 'damaged' && r.path, join(dir, 'state.{0,1}'));
  assert.match(r.t === 'damaged' ? r.why : '', /^state\.0: it is 30 bytes, shorter than its header; state\.1: it holds 4 of the \d+ payload bytes/);
  assert.equal(setAsideDamaged(dir), `${slotPath(dir, 0)}.damaged, ${slotPath(dir, 1)}.damaged`);
  assert.equal(loadUnitState(dir).t, 'absent');
  writeUnitState(dir, state(7));
  assert.equal(seqOf(dir), 7);
  assert.match(readFileSync(slotPath(dir, 0), 'latin1'), /^uo-state 3 0000000000000001 /);
});

test('a symbolic link, a second hard link or a group/world-writable file at a slot name is refused, named, and never written through', (t) => {
  const plant: Array<[string, (slot: string, precious: string) => void, RegExp]> = [
    ['a symbolic link', (slot, precious) => symlinkSync(precious, slot), /it is a symbolic link, not a regular file/],
    ['a hard link', (slot, precious) => linkSync(precious, slot), /it has 2 hard links/],
    ['a world-writable file', (slot) => { writeFileSync(slot, 'x'); chmodSync(slot, 0o666); }, /writable by every user \(mode 0666\)/],
    ['a group-writable file', (slot) => { writeFileSync(slot, 'x'); chmodSync(slot, 0o620); }, /writable by its group \(mode 0620\)/],
  ];
  for (const [what, put, why] of plant) {
    const dir = unit(t);
    writeUnitState(dir, state(1)); // state.0; the next write goes to state.1
    const precious = join(dir, '..', 'precious');
    writeFileSync(precious, 'mine\n', { mode: 0o600 });
    put(slotPath(dir, 1), precious);
    // reading: refused (not "absent", not the other slot), naming the planted slot
    const r = loadUnitState(dir);
    assert.equal(r.t, 'refused', what);
    assert.equal(r.t === 'refused' && r.path, slotPath(dir, 1), what);
    assert.match(r.t === 'refused' ? r.why : '', why, what);
    // writing: refused with the name, nothing written through it
    assert.throws(() => writeUnitState(dir, state(2)), (e: Error) => e.message.startsWith(`${slotPath(dir, 1)}: `) && why.test(e.message), what);
    assert.equal(readFileSync(precious, 'utf8'), 'mine\n', `${what}: written through`);
    rmSync(precious);
  }
});

test('a version-2 state.json is read, then migrated by the first write (state.json removed after the slot is written)', (t) => {
  const dir = unit(t);
  const v2 = JSON.stringify({ version: 2, unitName: 'a.service', id: 'ns/a', specHash: 'h', invocationId: 'i', mainCommandLine: null, seq: 5, machine: { state: 'failed' }, spawns: [], spec: { service: { execStart: ['/bin/true'] } } });
  writeFileSync(legacyStatePath(dir), v2, { mode: 0o600 });
  assert.ok(hasUnitState(dir));
  assert.deepEqual(unitDirs(join(dir, '..')), [dir]);
  const old = readUnitState(dir)!;
  assert.deepEqual([old.id, old.seq, old.machine.state], ['ns/a', 5, 'failed']);
  writeUnitState(dir, { ...old, seq: 6 });
  assert.deepEqual(readdirSync(dir).sort(), ['run', 'state.0'], 'state.json removed');
  assert.deepEqual([readUnitState(dir)!.id, readUnitState(dir)!.seq], ['ns/a', 6]);
  // a first write cut short: state.json is still there and is what is read
  const dir2 = unit(t);
  writeFileSync(legacyStatePath(dir2), v2, { mode: 0o600 });
  writeFileSync(slotPath(dir2, 0), 'uo-state 3 0000000000000001 00000', { mode: 0o600 });
  assert.equal(seqOf(dir2), 5);
  // a damaged state.json with no slot: the damaged path, named
  const dir3 = unit(t);
  writeFileSync(legacyStatePath(dir3), '{"version":2,"machine":', { mode: 0o600 });
  const r = loadUnitState(dir3);
  assert.equal(r.t === 'damaged' && r.path, legacyStatePath(dir3));
  assert.equal(setAsideDamaged(dir3), `${legacyStatePath(dir3)}.damaged`);
});

test('upgrade, downgrade, upgrade: a state.json an older agent wrote after the newest slot is what is read; one older than the slot is a leftover', (t) => {
  const dir = unit(t);
  writeUnitState(dir, state(6));
  const now = Date.now() / 1000;
  utimesSync(slotPath(dir, 0), now - 10, now - 10);
  // the older agent's write after the migration: it knows what ran since
  const v2 = (seq: number): string => JSON.stringify({ version: 2, unitName: 'a.service', id: 'a.service', specHash: 'h', invocationId: 'i', mainCommandLine: null, seq, machine: { state: 'dead' }, spawns: [], spec: { service: { execStart: ['/bin/true'] } } });
  writeFileSync(legacyStatePath(dir), v2(9), { mode: 0o600 });
  utimesSync(legacyStatePath(dir), now - 5, now - 5);
  assert.equal(seqOf(dir), 9, 'the newer state.json');
  // the next write (this agent's) is newer than state.json again
  writeUnitState(dir, { ...readUnitState(dir)!, seq: 10 });
  assert.equal(seqOf(dir), 10);
  // a state.json older than the newest slot (a crash between the slot's write and its removal)
  utimesSync(legacyStatePath(dir), now - 60, now - 60);
  assert.equal(seqOf(dir), 10, 'the slot');
});
