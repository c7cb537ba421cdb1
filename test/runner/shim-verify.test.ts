// The shim binary the agent runs as root is verified (issue 12), not trusted because a file of
// that name exists in a cache folder: its sha256 against the one recorded at build time, its
// owner and mode and those of every folder above it. A tampered binary is rebuilt; a folder
// someone else may write is made safe (ours) or refused (the user's); a prebuilt
// UNIT_OPERATOR_SHIM gets the same ownership checks (and its hash, when given).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureShim, UntrustedShim } from '../../src/runner/shim.ts';

const IS_ROOT = process.getuid?.() === 0;
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

function sandbox(t: { after: (fn: () => void) => void }): { cache: string; env: Record<string, string>; warnings: string[]; warn: (m: string) => void } {
  const dir = mkdtempSync('/tmp/uo-shim-verify-');
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cache = join(dir, 'cache');
  mkdirSync(cache, { mode: 0o755 });
  chmodSync(cache, 0o755);
  const warnings: string[] = [];
  return { cache, env: { XDG_CACHE_HOME: cache, PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, warnings, warn: (m) => warnings.push(m) };
}

test('a tampered shim binary is rebuilt (and said so); an intact one is used as is', { timeout: 60_000 }, (t) => {
  const { env, warnings, warn } = sandbox(t);
  const bin = ensureShim(env, warn);
  assert.equal(readFileSync(`${bin}.sha256`, 'utf8').trim(), sha(bin), 'the hash is recorded at build time');
  assert.equal(statSync(bin).mode & 0o7777, 0o755);
  const ino = statSync(bin).ino;
  assert.equal(ensureShim(env, warn), bin);
  assert.equal(statSync(bin).ino, ino, 'an intact binary is not rebuilt');
  assert.deepEqual(warnings, []);

  appendFileSync(bin, '\n#!/bin/sh planted\n');
  assert.equal(ensureShim(env, warn), bin);
  assert.equal(sha(bin), readFileSync(`${bin}.sha256`, 'utf8').trim(), 'rebuilt: matches its record again');
  assert.match(warnings.join('\n'), /does not match its recorded sha256.*rebuilding it/);

  // a binary with no record (a cache from before the check) is rebuilt too
  rmSync(`${bin}.sha256`);
  warnings.length = 0;
  ensureShim(env, warn);
  assert.match(warnings.join('\n'), /no recorded sha256/);
});

test('a shim cache folder writable by others is made safe and rebuilt; a user\'s folder above it that others may write is refused', { timeout: 60_000 }, (t) => {
  const { cache, env, warnings, warn } = sandbox(t);
  const bin = ensureShim(env, warn);
  const hashDir = dirname(bin);
  chmodSync(hashDir, 0o777);
  appendFileSync(bin, 'x');
  assert.equal(ensureShim(env, warn), bin);
  assert.equal(statSync(hashDir).mode & 0o022, 0, 'the cache folder is no longer writable by others');
  assert.match(warnings.join('\n'), /writable by others; made safe, rebuilding/);
  assert.equal(sha(bin), readFileSync(`${bin}.sha256`, 'utf8').trim());

  chmodSync(cache, 0o777); // XDG_CACHE_HOME itself: the user's, not ours to fix
  assert.throws(() => ensureShim(env, warn), (e: Error) => e instanceof UntrustedShim && e.message.includes(`${cache} is writable by its group or by others (mode 0777)`) && /XDG_CACHE_HOME|UNIT_OPERATOR_SHIM/.test(e.message));
  chmodSync(cache, 0o755);
  if (IS_ROOT) {
    chownSync(cache, 65534, 65534);
    assert.throws(() => ensureShim(env, warn), (e: Error) => e instanceof UntrustedShim && e.message.includes(`${cache} is owned by uid 65534`));
  }
});

test('UNIT_OPERATOR_SHIM gets the same ownership and mode checks (and its hash when given)', { timeout: 60_000 }, (t) => {
  const { cache, env, warn } = sandbox(t);
  const built = ensureShim(env, warn);
  const pre = join(cache, 'prebuilt');
  mkdirSync(pre, { mode: 0o755 });
  const bin = join(pre, 'uo-shim');
  copyFileSync(built, bin);
  chmodSync(bin, 0o755);
  const link = join(pre, 'link');
  symlinkSync(bin, link);
  assert.equal(ensureShim({ ...env, UNIT_OPERATOR_SHIM: bin }), bin);
  assert.equal(ensureShim({ ...env, UNIT_OPERATOR_SHIM: link }), bin, 'a symlink is resolved once: the agent runs its target');
  assert.equal(ensureShim({ ...env, UNIT_OPERATOR_SHIM: bin, UNIT_OPERATOR_SHIM_SHA256: sha(bin) }), bin);
  assert.throws(() => ensureShim({ ...env, UNIT_OPERATOR_SHIM: bin, UNIT_OPERATOR_SHIM_SHA256: '0'.repeat(64) }), /its sha256 is [0-9a-f]{64}, not 0{64}/);
  chmodSync(bin, 0o757);
  assert.throws(() => ensureShim({ ...env, UNIT_OPERATOR_SHIM: bin }), (e: Error) => e instanceof UntrustedShim && e.message.includes(`refusing to run the shim ${bin}: ${bin} is writable by its group or by others (mode 0757)`));
  chmodSync(bin, 0o755);
  chmodSync(pre, 0o775);
  assert.throws(() => ensureShim({ ...env, UNIT_OPERATOR_SHIM: bin }), new RegExp(`${pre} is writable by its group or by others`));
  chmodSync(pre, 0o755);
  if (IS_ROOT) {
    chownSync(bin, 65534, 65534);
    assert.throws(() => ensureShim({ ...env, UNIT_OPERATOR_SHIM: bin }), /is owned by uid 65534/);
  }
});
