// The Dockerfile can't be built here (no Docker engine); what can be checked without one is:
// every file it copies exists, every npm script it runs exists and is what CI runs, the final
// stage runs as non-root with the CLI as entrypoint, and there is no HEALTHCHECK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../support/paths.ts';
import { DAEMON_NODE_ARGV_FLAGS, DAEMON_NODE_FLAGS, DAEMON_NODE_OPTIONS } from '../../src/cli/runtime.ts';

const lines = readFileSync(join(REPO, 'Dockerfile'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

test('every COPY from the build context names files that exist', () => {
  const copies = lines.filter((l) => /^COPY (?!--from)/.test(l));
  assert.ok(copies.length >= 4);
  for (const l of copies) for (const src of l.split(/\s+/).slice(1, -1)) assert.ok(existsSync(join(REPO, src)), `${l}: ${src} is missing`);
});

test('the build runs npm ci and the npm scripts CI runs; the runtime gets production dependencies only', () => {
  const runs = lines.filter((l) => l.startsWith('RUN ')).join('\n');
  for (const m of runs.matchAll(/npm run (\S+)/g)) assert.ok(pkg.scripts[m[1]!], `npm run ${m[1]} is not a script in package.json`);
  assert.match(runs, /npm run build/);
  assert.match(runs, /npm ci --omit=dev/);
  assert.match(pkg.scripts['bench']!, /npm run build/, 'the benchmark (CI-less but scripted) builds with the same script');
});

test('final stage: Node 24 slim, non-root user, unitctl as entrypoint, no HEALTHCHECK (probes live in the manifests)', () => {
  const froms = lines.filter((l) => l.startsWith('FROM '));
  assert.match(froms.at(-1)!, /^FROM node:24-[a-z]+-slim$/);
  const final = lines.slice(lines.lastIndexOf(froms.at(-1)!));
  assert.deepEqual(final.filter((l) => l.startsWith('USER ')), ['USER node']);
  assert.match(final.find((l) => l.startsWith('ENTRYPOINT'))!, /"\/app\/bin\/unitctl\.js"/);
  assert.equal(pkg.bin['unitctl'], 'bin/unitctl.js');
  assert.equal(lines.some((l) => l.startsWith('HEALTHCHECK')), false);
});

test('the agent and controller run with the Node flags of src/cli/runtime.ts: in the image (NODE_OPTIONS) and under npm start', () => {
  const final = lines.slice(lines.lastIndexOf(lines.filter((l) => l.startsWith('FROM ')).at(-1)!));
  // quoted: ENV's key=value form reads an unquoted space as the start of another key
  assert.ok(final.includes(`ENV NODE_OPTIONS="${DAEMON_NODE_OPTIONS.join(' ')}"`), `the final stage sets ENV NODE_OPTIONS="${DAEMON_NODE_OPTIONS.join(' ')}"`);
  // the flags Node refuses in NODE_OPTIONS are on the entrypoint's node command line
  const entry = JSON.parse(final.find((l) => l.startsWith('ENTRYPOINT'))!.slice('ENTRYPOINT'.length)) as string[];
  assert.deepEqual(entry, ['node', ...DAEMON_NODE_ARGV_FLAGS, '/app/bin/unitctl.js']);
  assert.ok(pkg.scripts['start']!.startsWith(`node ${DAEMON_NODE_FLAGS.join(' ')} `), `npm start runs node ${DAEMON_NODE_FLAGS.join(' ')} (${pkg.scripts['start']})`);
});

test('npm run build (the image\'s build step) emits a dist/ that runs without the TypeScript sources', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, cpSync, symlinkSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'uo-image-'));
  try {
    // the image's layout: package.json, bin/, dist/, node_modules/ — and no src/
    for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(REPO, f), join(dir, f));
    cpSync(join(REPO, 'src'), join(dir, 'src'), { recursive: true });
    cpSync(join(REPO, 'bin'), join(dir, 'bin'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
    const build = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
    assert.equal(build.status, 0, build.stdout + build.stderr);
    rmSync(join(dir, 'src'), { recursive: true });
    const help = spawnSync(process.execPath, [join(dir, 'bin', 'unitctl.js'), 'controller', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--metrics-bind-address/);
    assert.ok(existsSync(join(dir, 'dist', 'runner', 'shim', 'uo-shim.c')), 'the shim source ships for the agent to build');
    assert.ok(!existsSync(join(dir, 'dist', 'testenv')), 'the test control plane does not ship (testenv/ is outside src/)');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
