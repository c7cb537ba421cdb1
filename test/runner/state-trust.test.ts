// Issue 12: the unit store's trust rules. Files 0600 and folders 0700 whatever the umask; the
// temporary file of an atomic write is never followed through a planted link; a state file or
// unit folder that is not the agent's alone is refused with its path and why; a damaged one is
// reported as such; an event log planted as a link is neither read (tail) nor written (uo-shim).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { INITIAL_MACHINE } from '../../src/engine/index.ts';
import { ensureUnitDir, eventsPath, fsErrorCode, loadUnitState, prepareStateDir, legacyStatePath, slotPath, writeUnitState, type UnitState } from '../../src/runner/store.ts';
import { readNewLines } from '../../src/runner/tail.ts';
import { ensureShim } from '../../src/runner/shim.ts';

const ROOT = process.getuid?.() === 0;
function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'uo-trust-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const state = (): UnitState => ({ unitName: 'a.service', id: 'a.service', spec: { service: { execStart: ['/bin/true'] } }, specHash: 'h', invocationId: 'i', mainCommandLine: undefined, seq: 0, machine: INITIAL_MACHINE, spawns: [] });
const mode = (p: string): number => lstatSync(p).mode & 0o7777;

test('folders 0700 and state files 0600 under umask 000; a link planted at the old state.json.tmp is removed, not followed', (t) => {
  const root = tmp(t);
  const old = process.umask(0);
  try {
    assert.equal(prepareStateDir(join(root, 'state')), undefined);
    const dir = join(root, 'state', 'units', 'a.service');
    ensureUnitDir(dir);
    const precious = join(root, 'precious');
    writeFileSync(precious, 'mine\n', { mode: 0o600 });
    symlinkSync(precious, `${legacyStatePath(dir)}.tmp`);
    writeUnitState(dir, state());
    assert.equal(readFileSync(precious, 'utf8'), 'mine\n', 'the write went through the link');
    for (const p of [join(root, 'state'), join(root, 'state', 'units'), dir, join(dir, 'run')]) assert.equal(mode(p), 0o700, p);
    assert.equal(mode(slotPath(dir, 0)), 0o600);
    assert.equal(lstatSync(`${legacyStatePath(dir)}.tmp`, { throwIfNoEntry: false }), undefined, 'the link is gone');
    assert.equal(loadUnitState(dir).t, 'ok');
  } finally { process.umask(old); }
});

test('a state file or unit folder that is not the agent\'s alone is refused, with its path and why', { skip: !ROOT && 'needs root (chown)' }, (t) => {
  const units = join(tmp(t), 'units');
  mkdirSync(units, { mode: 0o700 });
  const a = join(units, 'a.service');
  ensureUnitDir(a);
  writeUnitState(a, state());
  chownSync(slotPath(a, 0), 65534, 65534);
  assert.deepEqual(loadUnitState(a), { t: 'refused', path: slotPath(a, 0), why: 'it is owned by uid 65534, not by the agent\'s uid 0' });
  chownSync(slotPath(a, 0), 0, 0);
  chmodSync(slotPath(a, 0), 0o666);
  assert.match(JSON.stringify(loadUnitState(a)), /refused.*writable by every user \(mode 0666\)/);
  chmodSync(slotPath(a, 0), 0o600);
  chmodSync(a, 0o777);
  assert.deepEqual(loadUnitState(a), { t: 'refused', path: a, why: 'it is writable by every user (mode 0777)' });
  assert.throws(() => ensureUnitDir(a), /writable by every user/);
  chmodSync(a, 0o700);
  rmSync(slotPath(a, 0));
  symlinkSync('/etc/hostname', slotPath(a, 0));
  assert.deepEqual(loadUnitState(a), { t: 'refused', path: slotPath(a, 0), why: 'it is a symbolic link, not a regular file' });
  rmSync(slotPath(a, 0));
  writeFileSync(legacyStatePath(a), '{"version":2,"machine":{"state":', { mode: 0o600 });
  assert.equal(loadUnitState(a).t, 'damaged');
  writeFileSync(legacyStatePath(a), JSON.stringify({ version: 2, spawns: [{ seq: 1, kind: '../../../etc', index: 0 }] }), { mode: 0o600 });
  assert.deepEqual(loadUnitState(a), { t: 'damaged', path: legacyStatePath(a), why: 'spawns[0].kind "../../../etc" is not a command list' });
});

test('an event log planted as a link is neither read by the tail nor written by uo-shim', (t) => {
  const dir = tmp(t);
  const target = join(dir, 'target');
  writeFileSync(target, 'shim 1\n', { mode: 0o600 });
  const spawnDir = join(dir, 'run', '1-start-0');
  mkdirSync(spawnDir, { recursive: true, mode: 0o700 });
  symlinkSync(target, eventsPath(spawnDir));
  const r = readNewLines(eventsPath(spawnDir), 0);
  assert.deepEqual(r.lines, []);
  assert.match(r.refused ?? '', /symbolic link/);
  const shim = spawnSync(ensureShim(), [eventsPath(spawnDir), '--', '/bin/true', 'true'], { encoding: 'utf8' });
  assert.notEqual(shim.status, 0, 'the shim ran on a linked event log');
  assert.equal(readFileSync(target, 'utf8'), 'shim 1\n', 'the shim appended through the link');
  const log = join(dir, 'journal.log');
  symlinkSync(target, log);
  rmSync(eventsPath(spawnDir));
  const ok = spawnSync(ensureShim(), [eventsPath(spawnDir), '--', '/bin/echo', 'echo', 'hi'], { encoding: 'utf8', env: { UO_SHIM_LOG: log, UO_SHIM_STDOUT: 'journal' } });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(target, 'utf8'), 'shim 1\n', 'the log capture appended through the link');
  assert.equal(statSync(eventsPath(spawnDir)).mode & 0o777, 0o600);
});

test('file-system errors are named even when Node leaves the code empty (rmSync on EROFS)', () => {
  const e = Object.assign(new Error(', Unknown error: Read-only file system \'/s/units/a/run/1-start-0\''), { code: '', errno: -4094 });
  assert.equal(fsErrorCode(e), 'EROFS');
  assert.equal(fsErrorCode(Object.assign(new Error('x'), { code: 'ENOSPC' })), 'ENOSPC');
});
