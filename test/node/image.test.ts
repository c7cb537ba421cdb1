// The image built without Docker (npm run image) is the Dockerfile's image: its config (entrypoint,
// cmd, env, user, workdir) is the final stage's, and its files are what the COPY and RUN lines
// put there. Reads the OCI archive the test runner built (cached by the hash of its inputs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../support/paths.ts';
import { envPairs, parseDockerfile } from '../../testenv/dockerfile.ts';
import { DAEMON_NODE_OPTIONS } from '../../src/cli/runtime.ts';
import { projectImage } from '../../testenv/projectimage.ts';

const SKIP = process.env['UNIT_OPERATOR_TEST_NODE_SKIP']
  ?? (process.env['UNIT_OPERATOR_TEST_NODE'] ? undefined : 'the image is built by the test runner for test/node (node scripts/test.ts test/node, as root)');

const stages = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const final = stages.at(-1)!;
const arg = (op: string): string[] => final.steps.filter((s) => s.op === op).map((s) => s.args);

test('every Dockerfile instruction is one the replay understands', () => {
  const known = new Set(['WORKDIR', 'ENV', 'COPY', 'RUN', 'USER', 'ENTRYPOINT', 'CMD', 'LABEL', 'EXPOSE', 'ARG']);
  for (const s of stages) for (const st of s.steps) assert.ok(known.has(st.op), `Dockerfile line ${st.line}: ${st.op}`);
  assert.ok(stages.length >= 2);
});

test('ENV lines are read as Docker reads them: quotes and escapes removed, several pairs, the legacy form, $ refused', () => {
  assert.deepEqual(envPairs('NODE_OPTIONS="--a=4 --b=1"'), [['NODE_OPTIONS', '--a=4 --b=1']]);
  assert.deepEqual(envPairs('A="x \\"y\\"" B=\'z $w\' C=p\\ q'), [['A', 'x "y"'], ['B', 'z $w'], ['C', 'p q']]);
  assert.deepEqual(envPairs('UNIT_OPERATOR_SHIM=/usr/local/bin/uo-shim'), [['UNIT_OPERATOR_SHIM', '/usr/local/bin/uo-shim']]);
  assert.deepEqual(envPairs('NAME some value=1'), [['NAME', 'some value=1']]);
  assert.deepEqual(envPairs('A='), [['A', '']]);
  for (const bad of ['A="x', "A='x", 'A=$HOME', 'A="$HOME"', '1A=x', '=x']) assert.equal(typeof envPairs(bad), 'string', bad);
  // the Dockerfile's own ENV lines, as the image will hold them
  const env = new Map(arg('ENV').flatMap((e) => envPairs(e) as Array<[string, string]>));
  assert.equal(env.get('NODE_OPTIONS'), DAEMON_NODE_OPTIONS.join(' '));
});

test('the built image has the final stage\'s entrypoint, cmd, env, user and workdir, and its files', { skip: SKIP }, () => {
  const image = projectImage(REPO);
  assert.ok(image.cached, 'the runner built it before the tests');
  const dir = mkdtempSync(join(tmpdir(), 'uo-image-test-'));
  try {
    assert.equal(spawnSync('tar', ['-C', dir, '-xf', image.archive]).status, 0);
    const blob = (digest: string): Buffer => readFileSync(join(dir, 'blobs', ...digest.split(':')));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    const config = (JSON.parse(blob(manifest.config.digest).toString()) as { config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; User?: string; WorkingDir?: string } }).config;
    assert.deepEqual(config.Entrypoint, JSON.parse(arg('ENTRYPOINT')[0]!));
    assert.deepEqual(config.Cmd, JSON.parse(arg('CMD')[0]!));
    assert.equal(config.User, arg('USER')[0]);
    assert.equal(config.WorkingDir, arg('WORKDIR')[0]);
    for (const e of arg('ENV')) {
      for (const [n, v] of envPairs(e) as Array<[string, string]>) assert.ok(config.Env?.includes(`${n}=${v}`), `ENV ${e} is ${n}=${v} in ${JSON.stringify(config.Env)}`);
    }
    // the image's NODE_OPTIONS is one Node accepts (quotes kept literally once crash-looped the agent pod)
    const nodeOptions = config.Env?.find((e) => e.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length);
    assert.equal(nodeOptions, DAEMON_NODE_OPTIONS.join(' '));
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write("ok")'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: nodeOptions } });
    assert.equal(`${r.stdout}${r.stderr}`, 'ok', 'node starts with the image\'s NODE_OPTIONS');
    const layer = join(dir, 'blobs', ...manifest.layers[0]!.digest.split(':'));
    const files = spawnSync('tar', ['-tzvf', layer], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).stdout;
    for (const f of ['app/bin/unitctl.js', 'app/dist/cli/main.js', 'app/package.json', 'usr/local/bin/uo-shim', 'usr/local/bin/node', 'app/node_modules/pino/package.json']) {
      assert.match(files, new RegExp(` \\.?/?${f.replace(/[.]/g, '\\.')}$`, 'm'), `${f} is in the image`);
    }
    assert.match(files, /usr\/local\/bin\/unitctl -> \/app\/bin\/unitctl\.js/, 'the RUN ln -s line ran in the image');
    assert.doesNotMatch(files, / \.?\/?app\/src\//, 'no TypeScript sources in the image');
    assert.doesNotMatch(files, /app\/node_modules\/typescript\//, 'production dependencies only');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
