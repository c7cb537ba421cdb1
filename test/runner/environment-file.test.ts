// EnvironmentFile= read as hostile (issue 12): the agent reads it as root for a unit someone
// else wrote, so only a regular file of at most 64 MiB (systemd's READ_FULL_BYTES_MAX) is read,
// opened non-blocking: a FIFO never freezes the agent, /dev/zero never exhausts it. Without "-",
// a file that can't be read fails the start as systemd 257 does (oracle: "Failed to load
// environment files: No such file or directory" / "Argument list too long", then "Failed to
// spawn 'start' task: …", Result=resources, the command never runs); with "-" it is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, waitFor, subState, type Harness } from '../support/units.ts';
import { ENVIRONMENT_FILE_MAX, readEnvironmentFile } from '../../src/runner/environment.ts';
import { HostileFileError } from '../../src/unitfile/read.ts';

const WAIT = 10_000;

async function failsToStart(h: Harness, name: string, environmentFile: string): Promise<string[]> {
  const marker = join(h.dir, `${name}.ran`);
  const r = h.open(name, { service: { type: 'exec', environmentFile: [environmentFile], execStart: [`/bin/touch ${marker}`] } });
  const t0 = Date.now();
  r.start();
  await waitFor(r, 'failed', subState('failed'), WAIT);
  assert.ok(Date.now() - t0 < 2000, `failed at once (${Date.now() - t0} ms), nothing blocked`);
  assert.deepEqual([r.props.Result, r.props.MainPID, r.props.ExecMainCode], ['resources', 0, 0]);
  assert.equal(existsSync(marker), false, 'the command never ran');
  return h.logs.filter((l) => l.startsWith(`${name}:`));
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, String(r.stderr));
}

test('EnvironmentFile= missing (no "-"): the start fails, Result=resources, with systemd\'s words', async (t) => {
  const logs = await failsToStart(harness(t), 'missing.service', '/absent/required.env');
  assert.ok(logs.some((l) => l.includes('Failed to load environment files: No such file or directory (EnvironmentFile=/absent/required.env does not exist)')), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes("Failed to spawn 'start' task: No such file or directory")), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes("Failed with result 'resources'.")), logs.join('\n'));
});

test('EnvironmentFile= a FIFO: refused without opening it blocking (the agent never freezes), Result=resources', async (t) => {
  const h = harness(t);
  const fifo = join(h.dir, 'env.fifo');
  mkfifo(fifo);
  const logs = await failsToStart(h, 'fifo.service', fifo);
  assert.ok(logs.some((l) => /Failed to load environment files: Invalid argument \(EnvironmentFile=.*env\.fifo: a FIFO, not a regular file\)/.test(l)), logs.join('\n'));
});

test('EnvironmentFile= a link to /dev/zero: refused before a byte is read (memory stays bounded), Result=resources', async (t) => {
  const h = harness(t);
  const link = join(h.dir, 'zero.env');
  symlinkSync('/dev/zero', link);
  const rss = process.memoryUsage().rss;
  const logs = await failsToStart(h, 'zero.service', link);
  assert.ok(logs.some((l) => /EnvironmentFile=.*zero\.env: a character device, not a regular file/.test(l)), logs.join('\n'));
  assert.ok(process.memoryUsage().rss - rss < 64 * 1024 * 1024, 'nothing large was read');
  const direct = await failsToStart(h, 'devzero.service', '/dev/zero');
  assert.ok(direct.some((l) => l.includes('EnvironmentFile=/dev/zero: a character device')), direct.join('\n'));
});

test('EnvironmentFile=- (optional) that is a FIFO, /dev/zero or missing is skipped and the unit runs', async (t) => {
  const h = harness(t);
  const fifo = join(h.dir, 'opt.fifo');
  mkfifo(fifo);
  const good = join(h.dir, 'good.env');
  writeFileSync(good, 'FROM_FILE=yes\n');
  const out = join(h.dir, 'out');
  const r = h.open('optional.service', { service: { type: 'oneshot', environmentFile: [`-${fifo}`, '-/dev/zero', '-/absent/x.env', good], execStart: [`/bin/sh -c 'echo $FROM_FILE > ${out}'`] } });
  r.start();
  await waitFor(r, 'dead', subState('dead'), WAIT);
  assert.equal(r.props.Result, 'success', h.logs.join('\n'));
  assert.equal(spawnSync('cat', [out], { encoding: 'utf8' }).stdout, 'yes\n');
});

test('an EnvironmentFile= larger than 64 MiB (systemd\'s limit) is refused as E2BIG without reading it', (t) => {
  const h = harness(t);
  const big = join(h.dir, 'big.env');
  writeFileSync(big, 'X=1\n');
  spawnSync('truncate', ['-s', String(ENVIRONMENT_FILE_MAX + 1), big]);
  assert.throws(() => readEnvironmentFile(big), (e: unknown) => e instanceof HostileFileError && e.code === 'E2BIG' && /64 MiB/.test(e.message));
  spawnSync('truncate', ['-s', String(ENVIRONMENT_FILE_MAX), big]);
  assert.equal(readEnvironmentFile(big)['X'], '1', 'exactly 64 MiB is read, as systemd 257 reads it');
});

test('EnvironmentFile= that fails to read (a link to /proc/self/mem: EIO) fails the start with Result=resources; the runner lives on (found by review: it crashed the agent)', async (t) => {
  const h = harness(t);
  const link = join(h.dir, 'mem.env');
  symlinkSync('/proc/self/mem', link);
  const logs = await failsToStart(h, 'mem.service', link);
  assert.ok(logs.some((l) => /Failed to load environment files: .*cannot be read/.test(l)), logs.join('\n'));
});
