// The directive walk (issue 11): every directive the table says the engine, the runner or the
// shim applies has a test that names it in its TITLE and shows it applied. A directive with
// no such test fails the walk, which lists them all.
//
// How the walk decides, reading the test files' source (test/support/titles.ts), not running them:
//   - A test NAMES a directive when the string or template literal passed to test()/it()/t.test()
//     contains `Name=` with no letter, digit or "_" right before the name ("RestartSec=" does
//     not name "Sec", "Restart=" is not named by "RestartSec="). One title may name several
//     ("User=, Group=, SupplementaryGroups="); a template's ${…} parts count for nothing.
//     Shorthands ("CPUSchedulingPolicy=/Priority=") do not name the second directive.
//   - A test marked todo or skip (test.todo(), test.skip(), or an options object — inline or a
//     const of its file — with a todo/skip key that is not literally false) names nothing: a
//     directive that is claimed but shown not applied stays missing.
//   - A test is a REAL-PROCESS test when its file imports `harness` from test/support/units.ts
//     (a UnitRunner with the real uo-shim) or `agentFixture` from test/support/agent.ts (a real
//     agent process) and its callback calls that function: the directive goes the whole way,
//     spec → execution context → shim protocol → uo-shim → the kernel. Tests that run uo-shim
//     by hand (test/runner/shim-exec.test.ts) or read the parsed context (context.test.ts) do
//     not count: they skip the wiring from the spec.
//   - engine directives: a naming test in test/engine/ (the pure engine, driven by the
//     simulator) or a real-process naming test.
//   - runner and shim directives: a real-process naming test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { appliedDirectives } from '../../src/api/applied.ts';
import { declaredTests, namesIn } from '../support/titles.ts';
import { REPO } from '../support/paths.ts';

interface SourceFile { readonly path: string; readonly src: string }
interface Directive { readonly name: string; readonly applier: string }

const SELF = join('test', 'api', 'directive-walk.test.ts');

function testFiles(): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'fixtures' && e.name !== 'node_modules') walk(p); }
      else if (e.name.endsWith('.test.ts')) out.push({ path: relative(REPO, p), src: readFileSync(p, 'utf8') });
    }
  };
  walk(join(REPO, 'test'));
  return out.filter((f) => f.path !== SELF).sort((a, b) => a.path.localeCompare(b.path));
}

/** The real-process fixtures a file imports (harness from support/units.ts, agentFixture from support/agent.ts). */
function realFixtures(src: string): string[] {
  const out: string[] = [];
  const imports = (name: string, module: string): boolean =>
    new RegExp(`import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}\\s*from\\s*['"][^'"]*support/${module}\\.ts['"]`).test(src);
  if (imports('harness', 'units')) out.push('harness');
  if (imports('agentFixture', 'agent')) out.push('agentFixture');
  return out;
}

interface Evidence { readonly engine: string[]; readonly real: string[] }

/** Per directive, the tests that name it: in test/engine/ and real-process ones. */
function evidence(files: readonly SourceFile[], directives: readonly Directive[]): Map<string, Evidence> {
  const names = directives.map((d) => d.name);
  const found = new Map<string, Evidence>(names.map((n) => [n, { engine: [], real: [] }]));
  for (const f of files) {
    const fixtures = realFixtures(f.src);
    const inEngine = f.path.startsWith(`test${sep}engine${sep}`) || f.path.startsWith('test/engine/');
    for (const t of declaredTests(f.src)) {
      if (t.todoOrSkip) continue;
      const where = `${f.path}:${t.line} ${JSON.stringify(t.title.replace(/\u0000/g, '${…}'))}`;
      const real = fixtures.some((x) => t.calls.has(x));
      for (const n of namesIn(t.title, names)) {
        const e = found.get(n)!;
        if (inEngine) e.engine.push(where);
        if (real) e.real.push(where);
      }
    }
  }
  return found;
}

/** The directives with no test that names them and shows them applied, as "Name= (applier)". */
function walk(files: readonly SourceFile[], directives: readonly Directive[]): string[] {
  const found = evidence(files, directives);
  return directives.filter((d) => {
    const e = found.get(d.name)!;
    return d.applier === 'engine' ? e.engine.length + e.real.length === 0 : e.real.length === 0;
  }).map((d) => `${d.name}= (${d.applier})`);
}

test('every directive the engine, the runner or the shim applies has a test that names it and shows it applied', () => {
  const directives = appliedDirectives(['engine', 'runner', 'shim']);
  const files = testFiles();
  assert.ok(directives.length >= 70, `the table claims ${directives.length} applied directives`);
  const missing = walk(files, directives);
  assert.deepEqual(missing, [], `${missing.length} of ${directives.length} applied directives have no test naming them that shows them applied ` +
    `(engine: a test in test/engine/ or a real-process one; runner/shim: a real-process test through harness() or agentFixture()):\n  ${missing.join('\n  ')}`);
});

test('the walk fails for a directive whose only tests are removed, todo, skipped, or not real processes', () => {
  const directives = appliedDirectives(['engine', 'runner', 'shim']);
  const files = testFiles();
  const baseline = walk(files, directives);
  const drop = (name: string) => walk(files.map((f) => ({ path: f.path, src: f.src.replaceAll(`${name}=`, `${name}_`) })), directives).filter((m) => !baseline.includes(m));
  assert.deepEqual(drop('Nice'), ['Nice= (shim)'], 'no title names Nice= any more');
  assert.deepEqual(drop('RestartSteps'), ['RestartSteps= (engine)']);
  assert.deepEqual(drop('LimitRTTIME'), ['LimitRTTIME= (shim)'], 'one name out of a title naming many');
  const only = (src: string, path = 'test/runner/x.test.ts'): string[] => walk([{ path, src }], [{ name: 'Nice', applier: 'shim' }, { name: 'KillMode', applier: 'engine' }]);
  const real = "import { harness } from '../support/units.ts';\n";
  assert.deepEqual(only(`${real}test('Nice= and KillMode= are applied', async (t) => { harness(t); });`), []);
  assert.deepEqual(only(`${real}test('Nice= and KillMode= are applied', { todo: 'not applied: nice stays 0' }, async (t) => { harness(t); });`), ['Nice= (shim)', 'KillMode= (engine)'], 'a todo test names nothing');
  assert.deepEqual(only(`${real}const SKIP = { skip: true };\ntest('Nice= and KillMode=', SKIP, async (t) => { harness(t); });`), ['Nice= (shim)', 'KillMode= (engine)'], 'options by name');
  assert.deepEqual(only(`${real}test.todo('Nice= and KillMode=', async (t) => { harness(t); });`), ['Nice= (shim)', 'KillMode= (engine)']);
  assert.deepEqual(only(`${real}test('Nice= and KillMode=', { timeout: 5, skip: false }, async (t) => { harness(t); });`), [], 'skip: false is no skip');
  assert.deepEqual(only(`${real}test('Nice= is parsed', () => { executionContext({}); });`), ['Nice= (shim)', 'KillMode= (engine)'], 'a test that opens no unit is not a real-process one');
  assert.deepEqual(only("test('Nice= is applied', async (t) => { harness(t); });"), ['Nice= (shim)', 'KillMode= (engine)'], 'harness must come from test/support/units.ts');
  assert.deepEqual(only("test('Nice=, KillMode=', () => { run(); });", 'test/engine/x.test.ts'), ['Nice= (shim)'], 'an engine test covers engine directives only');
  assert.deepEqual(only(`${real}// test('Nice= is applied', async (t) => { harness(t); });\ntest('MyNice= is not Nice, xKillMode= is not KillMode', async (t) => { harness(t); });`), ['Nice= (shim)', 'KillMode= (engine)'], 'comments and longer names do not count');
});

test('titles are read from string and template literals, past regexes, comments and nested templates', () => {
  const src = [
    "import { test } from 'node:test';",
    "const re = /['\"`]/; // a quote in a regex: test('not a test', () => {})",
    "/* test('nor this', () => {}) */",
    "test('single \\'quoted\\' A=', () => { assert.ok(/it's/.test('x')); });",
    'test("double B=, C=", { timeout: 1 }, async (t) => { await t.test(`sub ${`nested ${1}`} D=`, () => {}); });',
    'for (const r of rs) test(`Restart=${r} E=${"x"}=`, () => {});',
    "test.todo('F= later', () => {});",
    "it('G= with it', function () { harness(t); h.open('x', {}); });",
  ].join('\n');
  const tests = declaredTests(src);
  assert.deepEqual(tests.map((t) => [t.title, t.todoOrSkip]), [
    ["single 'quoted' A=", false],
    ['double B=, C=', false],
    ['sub \u0000 D=', false],
    ['Restart=\u0000 E=\u0000=', false],
    ['F= later', true],
    ['G= with it', false],
  ]);
  assert.deepEqual(namesIn(tests[1]!.title, ['A', 'B', 'C']), ['B', 'C']);
  assert.deepEqual(namesIn(tests[3]!.title, ['Restart', 'E', 'RestartSec']), ['Restart', 'E']);
  assert.ok(tests[5]!.calls.has('harness') && tests[5]!.calls.has('h.open'));
});

test('the walk reports what it walked: every applier has directives, each with its first evidence', (t) => {
  const directives = appliedDirectives(['engine', 'runner', 'shim']);
  const found = evidence(testFiles(), directives);
  const by = (a: string) => directives.filter((d) => d.applier === a).length;
  for (const a of ['engine', 'runner', 'shim']) assert.ok(by(a) > 0, `the table has ${a} directives`);
  assert.equal(found.size, directives.length, 'evidence was looked for for every directive');
  t.diagnostic(`${directives.length} applied directives walked: ${by('engine')} engine, ${by('runner')} runner, ${by('shim')} shim`);
  for (const d of directives) {
    const e = found.get(d.name)!;
    t.diagnostic(`${d.name}= (${d.applier}): ${e.real.length} real-process, ${e.engine.length} engine test(s); first: ${e.real[0] ?? e.engine[0] ?? 'none'}`);
  }
});
