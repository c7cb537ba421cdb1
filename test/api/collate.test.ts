// collate.ts's localeCompare() orders strings as String.prototype.localeCompare() does (it stands in
// for it to keep ICU's collator out of the agent: issue 19), checked against it here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { localeCompare, rootOrder } from '../../src/api/collate.ts';

const sign = (n: number): number => Math.sign(n);
const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));

test('every pair of printable ASCII characters, and each with a second character after it, compares as localeCompare()', () => {
  for (const a of printable) for (const b of printable) {
    assert.equal(localeCompare(a, b), sign(a.localeCompare(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    for (const c of ['a', 'A', '.', '0', '-', '_', ' ', '~']) {
      assert.equal(localeCompare(a + c, b), sign((a + c).localeCompare(b)), `${JSON.stringify(a + c)} vs ${JSON.stringify(b)}`);
      assert.equal(localeCompare(a, b + c), sign(a.localeCompare(b + c)), `${JSON.stringify(a)} vs ${JSON.stringify(b + c)}`);
    }
  }
});

test('random printable ASCII strings (unit-name-like and any) compare as localeCompare()', () => {
  let seed = 19;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const alphabets = ['aAbB0-_.@:\\', 'fF1.service-@_', printable.join('')];
  for (const alphabet of alphabets) {
    for (let i = 0; i < 40_000; i++) {
      const word = (): string => Array.from({ length: 1 + rnd(8) }, () => alphabet[rnd(alphabet.length)]!).join('');
      const a = word(), b = rnd(4) === 0 ? a.toUpperCase() : rnd(3) === 0 ? a + word() : word();
      assert.equal(localeCompare(a, b), sign(a.localeCompare(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      assert.equal(localeCompare(b, a), sign(b.localeCompare(a)), `${JSON.stringify(b)} vs ${JSON.stringify(a)}`);
    }
  }
});

test('unit names sort as with localeCompare(), and strings outside printable ASCII go to localeCompare() itself', () => {
  const names = ['f10.service', 'f1.service', 'F1.service', 'a-b.service', 'a_b.service', 'a@1.service', 'a@.service', 'a.service', 'ab.service', 'A.service', 'x\\x2d.service', 'g/u.service', 'G/u.service'];
  assert.deepEqual([...names].sort(localeCompare), [...names].sort((a, b) => a.localeCompare(b)));
  for (const [a, b] of [['é', 'e'], ['e\u0301', 'é'], ['a\u0001b', 'ab'], ['a\tb', 'a b'], ['Straße', 'strasse'], ['', 'a'], ['', '']] as const) {
    assert.equal(localeCompare(a, b), sign(a.localeCompare(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

test('the locale: root order for C, POSIX, unset and English; any other locale keeps localeCompare() (da-DK sorts "aa" after "z")', () => {
  for (const env of [{}, { LANG: 'C' }, { LANG: 'C.UTF-8' }, { LANG: 'POSIX' }, { LANG: 'en_US.UTF-8' }, { LANG: 'en_GB' }, { LANG: 'en' }, { LANG: 'en_US_POSIX' }, { LC_ALL: '', LANG: 'da_DK.UTF-8' }, { LC_ALL: 'C', LANG: 'da_DK.UTF-8' }]) {
    assert.equal(rootOrder(env), true, JSON.stringify(env));
  }
  for (const env of [{ LANG: 'da_DK.UTF-8' }, { LANG: 'lt_LT' }, { LC_ALL: 'et_EE.UTF-8', LANG: 'en_US.UTF-8' }, { LC_MESSAGES: 'da_DK.UTF-8', LANG: 'C' }, { LANG: 'en_US.UTF-8@euro' }, { LANG: 'de_DE.UTF-8' }]) {
    assert.equal(rootOrder(env), false, JSON.stringify(env));
  }
  const module = fileURLToPath(new URL('../../src/api/collate.ts', import.meta.url));
  const script = `import { localeCompare } from ${JSON.stringify(module)}; const p = [['aa', 'z'], ['y', 'j'], ['a', 'B'], ['f1.service', 'F1.service']]; console.log(JSON.stringify(p.map(([a, b]) => [localeCompare(a, b), Math.sign(a.localeCompare(b))])));`;
  for (const LANG of ['da_DK.UTF-8', 'lt_LT.UTF-8', 'C.UTF-8']) {
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG };
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const [ours, theirs] of JSON.parse(r.stdout) as [number, number][]) assert.equal(ours, theirs, `${LANG}: ${r.stdout}`);
  }
});
