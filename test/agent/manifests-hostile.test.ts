// The manifests folder read as hostile (issue 12): special files (FIFO, socket, a link to
// /dev/zero), symlink loops and dangling links are reported with the file named and skipped,
// never opened; a file over the size limit is reported with the limit and never read; file
// names are shown quoted and escaped (no garbled message, no injected log line); a bare
// template (worker@.service) is reported with the hint to add an instance and never started;
// the loader yields to the event loop between files, so the agent keeps answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadManifests, showName, DEFAULT_MAX_FILE_SIZE } from '../../src/agent/manifests.ts';
import { escapeText, parseByteSize } from '../../src/unitfile/read.ts';

const UNIT = '[Service]\nExecStart=/bin/sleep 100\n';

function folder(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'uo-manifests-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The one problem reported for `name`, as "file: message" (what the log and `unitctl list` show). */
async function problemFor(dir: string, name: string): Promise<string> {
  const { problems } = await loadManifests(dir);
  const mine = problems.filter((p) => p.file.includes(escapeText(name)));
  assert.equal(mine.length, 1, `one problem for ${name}: ${JSON.stringify(problems)}`);
  return `${mine[0]!.file}: ${mine[0]!.message}`;
}

test('a FIFO, a socket and a link to /dev/zero are reported by name as not regular files and skipped, never opened', async (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'good.service'), UNIT);
  assert.equal(spawnSync('mkfifo', [join(dir, 'fifo.service')]).status, 0);
  symlinkSync('/dev/zero', join(dir, 'zero.service'));
  const server = createServer();
  await new Promise<void>((r) => server.listen(join(dir, 'sock.yaml'), r));
  t.after(() => server.close());
  const t0 = Date.now();
  const { units, problems } = await loadManifests(dir);
  assert.ok(Date.now() - t0 < 2000, 'nothing blocked');
  assert.deepEqual(units.map((u) => u.unitName), ['good.service'], 'the good unit still loads');
  assert.match(problems.find((p) => p.file.endsWith('fifo.service'))!.message, /^a FIFO, not a regular file; skipped/);
  assert.match(problems.find((p) => p.file.endsWith('zero.service'))!.message, /^a character device, not a regular file; skipped/);
  assert.match(problems.find((p) => p.file.endsWith('sock.yaml'))!.message, /^a socket, not a regular file; skipped/);
});

test('a symlink loop and a dangling link are reported by name and skipped', async (t) => {
  const dir = folder(t);
  symlinkSync(join(dir, 'loop-b.service'), join(dir, 'loop-a.service'));
  symlinkSync(join(dir, 'loop-a.service'), join(dir, 'loop-b.service'));
  symlinkSync('/absent/target.service', join(dir, 'dangling.service'));
  assert.match(await problemFor(dir, 'loop-a.service'), /loop-a\.service: a symbolic link loop \(Too many levels of symbolic links\); skipped/);
  assert.match(await problemFor(dir, 'dangling.service'), /dangling\.service: a dangling symbolic link \(its target does not exist\); skipped/);
});

test('a file over the size limit is reported with its size and the limit, and not read; --max-file-size changes the limit', async (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'big.service'), UNIT + `Environment=PAD=${'x'.repeat(DEFAULT_MAX_FILE_SIZE)}\n`);
  writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(DEFAULT_MAX_FILE_SIZE)}\n`);
  const { problems } = await loadManifests(dir);
  const line = problems.map((p) => `${p.file}: ${p.message}`).join('\n');
  assert.match(line, /big\.service: too large: 1048628 bytes exceeds the limit of 1 MiB \(1048576 bytes; agent flag --max-file-size\); skipped without reading it/);
  assert.match(line, /big\.yaml: too large: [^\n]*exceeds the limit of 1 MiB/);
  const small = await loadManifests(dir, new Map(), { maxFileSize: 2 * DEFAULT_MAX_FILE_SIZE });
  assert.ok(!small.problems.some((p) => /too large/.test(p.message)), 'within a 2 MiB limit both are read');
  assert.equal(parseByteSize('2M'), 2 * 1024 * 1024);
  assert.equal(parseByteSize('512K'), 512 * 1024);
  assert.equal(parseByteSize('1MiB'), 1024 * 1024);
  assert.equal(parseByteSize('lots'), undefined);
});

test('a drop-in that is a FIFO is reported and skipped; the unit loads without it', async (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'web.service'), UNIT);
  mkdirSync(join(dir, 'web.service.d'));
  assert.equal(spawnSync('mkfifo', [join(dir, 'web.service.d', 'x.conf')]).status, 0);
  const { units, problems } = await loadManifests(dir);
  assert.deepEqual(units.map((u) => u.unitName), ['web.service']);
  assert.match(problems.map((p) => `${p.file}: ${p.message}`).join('\n'), /web\.service\.d\/x\.conf: drop-in of web\.service: a FIFO, not a regular file/);
});

// a drop-in it cannot take that is a regular file (too large here) fails the unit: loaded without
// it, the unit could run without what it adds (a sandboxing line) — a review of this stop
test('a drop-in too large to read fails its unit (not loaded without it), said; the unit\'s file counts as failed', async (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'web.service'), UNIT);
  mkdirSync(join(dir, 'web.service.d'));
  writeFileSync(join(dir, 'web.service.d', 'big.conf'), `[Service]\n# ${'x'.repeat(4096)}\n`);
  const { units, problems, failed } = await loadManifests(dir, new Map(), { maxFileSize: 1024 });
  assert.deepEqual(units.map((u) => u.unitName), []);
  assert.match(problems.map((p) => `${p.file}: ${p.message}`).join('\n'), /big\.conf: drop-in of web\.service: too large: .*; web\.service is not loaded without it/);
  assert.deepEqual([...failed].map((f) => f.replace(/^.*\//, '')), ['web.service']);
});

test('file names with a space, a newline or a control character are shown quoted and escaped, on one line', async (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'my unit.service'), UNIT);
  writeFileSync(join(dir, 'evil\nagent: error: injected.service'), UNIT);
  writeFileSync(join(dir, 'bell\x07.yaml'), 'kind: [\n');
  writeFileSync(join(dir, 'two words.yaml'), 'apiVersion: v1\nkind: Nope\n');
  const { units, problems } = await loadManifests(dir);
  assert.deepEqual(units, []);
  for (const p of problems) assert.ok(!/[\n\x07]/.test(`${p.file}: ${p.message}`.replace(/\n  hint: .*/g, '')), `one line: ${JSON.stringify(p)}`);
  const text = problems.map((p) => `${p.file}: ${p.message}`).join('\n');
  assert.ok(text.includes(`"${join(dir, 'my unit.service')}": "my unit.service" is not a valid unit name`), text);
  assert.ok(text.includes(`"${join(dir, 'evil\\nagent: error: injected.service')}"`), text);
  assert.ok(text.includes(`"${join(dir, 'bell\\x07.yaml')}":`), text);
  assert.ok(text.includes(`"${join(dir, 'two words.yaml')}": `), text);
  assert.equal(showName('/etc/units/web.service'), '/etc/units/web.service', 'plain names stay as they are');
  assert.equal(showName('a "b"\\c\t'), '"a \\"b\\"\\\\c\\t"');
});

test('a bare template (worker@.service) is reported with the hint to add an instance and never started; with an instance it is silent', async (t) => {
  const dir = folder(t);
  writeFileSync(join(dir, 'worker@.service'), '[Service]\nExecStart=/bin/echo %i\n');
  const bare = await loadManifests(dir);
  assert.deepEqual(bare.units, []);
  assert.match(bare.problems.map((p) => `${p.file}: ${p.message}`).join('\n'), /worker@\.service: worker@\.service is a template: systemd never starts a template, only its instances; add an instance, e\.g\. worker@1\.service \(a symbolic link to worker@\.service, or a file\); skipped/);
  symlinkSync('worker@.service', join(dir, 'worker@1.service'));
  const inst = await loadManifests(dir);
  assert.deepEqual(inst.problems, []);
  assert.deepEqual(inst.units.map((u) => u.unitName), ['worker@1.service']);
  assert.deepEqual((inst.units[0]!.object.spec.service as { execStart: string[] }).execStart, ['/bin/echo 1'], '%i expanded for the instance');
});

test('loading a folder of many large files yields to the event loop: no stall over a few hundred ms', async (t) => {
  const dir = folder(t);
  // 40 files of ~900 KB (4,500 Environment= lines each): converting them all takes seconds
  const env = Array.from({ length: 4500 }, (_, i) => `Environment=V${i}=${'x'.repeat(180)}`).join('\n');
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, `u${i}.service`), `${UNIT}${env}\n`);
  let last = performance.now();
  let worst = 0;
  const tick = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 10);
  const t0 = performance.now();
  const { problems } = await loadManifests(dir);
  clearInterval(tick);
  t.diagnostic(`40 files of ${(env.length / 1024).toFixed(0)} KiB in ${(performance.now() - t0).toFixed(0)} ms; the longest the event loop waited: ${worst.toFixed(0)} ms`);
  assert.equal(problems.length, 40, 'each reported (more than 256 Environment= items)');
  assert.ok(worst < 500, `the event loop waited ${worst.toFixed(0)} ms at most`);
});
