import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, expandCommand, commandLineProblem } from '../../src/api/cmdline.ts';

const argv = (s: string): string[][] => parseCommandLine(s).map((c) => [...c.argv]);

test('splits words with quotes that may start mid-word and C escapes inside quotes', () => {
  assert.deepEqual(argv(`/sbin/agetty -o '-- \\\\u' --noreset - \${TERM}`), [['/sbin/agetty', '-o', '-- \\u', '--noreset', '-', '${TERM}']]);
  assert.deepEqual(argv(`/bin/echo a"b c"d 'x\\ty'`), [['/bin/echo', 'ab cd', 'x\ty']]);
  assert.deepEqual(argv('/bin/echo \\x41\\101\\u00e9 \\s'), [['/bin/echo', 'AAé', ' ']]);
});

test('a lone ";" separates commands and "\\;" is a literal semicolon (systemd.service(5) example)', () => {
  assert.deepEqual(argv('/bin/a x ; /bin/b y'), [['/bin/a', 'x'], ['/bin/b', 'y']]);
  assert.deepEqual(argv('echo / >/dev/null & \\; ls'), [['echo', '/', '>/dev/null', '&', ';', 'ls']]);
  assert.deepEqual(argv(`/bin/sh -c 'a ; b'`), [['/bin/sh', '-c', 'a ; b']]);
});

test('reads the prefixes -@:+! and !!', () => {
  const [c] = parseCommandLine('-@:/bin/sleep mysleep 10');
  assert.deepEqual(c!.argv, ['mysleep', '10']);
  assert.equal(c!.path, '/bin/sleep');
  assert.ok(c!.flags.ignoreFailure && c!.flags.argv0 && c!.flags.noEnvExpand);
  assert.ok(parseCommandLine('+/bin/x')[0]!.flags.fullPrivileges);
  assert.ok(parseCommandLine('!!/bin/x')[0]!.flags.ambientFallback);
  assert.ok(parseCommandLine('!/bin/x')[0]!.flags.noSetuid);
});

test('reports bad command lines with the column', () => {
  assert.deepEqual(commandLineProblem('"/bin/unterminated'), { message: 'unterminated double quote', column: 0 });
  assert.match(commandLineProblem('--/bin/x')!.message, /given twice/);
  assert.match(commandLineProblem('+!/bin/x')!.message, /exclude each other/);
  assert.match(commandLineProblem('bin/x')!.message, /neither an absolute path/);
  assert.match(commandLineProblem('-')!.message, /empty executable path/);
  assert.match(commandLineProblem('@/bin/x')!.message, /argv\[0\]/);
});

test('expands $VAR into words and ${VAR} as one word (the systemd.service(5) examples)', () => {
  // Environment="ONE=one" 'TWO=two two' / ExecStart=echo $ONE $TWO ${TWO}
  const [c1] = parseCommandLine('/bin/echo $ONE $TWO ${TWO}');
  assert.deepEqual(expandCommand(c1!.argv, { ONE: 'one', TWO: 'two two' }), ['/bin/echo', 'one', 'two', 'two', 'two two']);
  // Environment=ONE='one' "TWO='two two' too" THREE=
  const env = { ONE: 'one', TWO: "'two two' too", THREE: '' };
  assert.deepEqual(expandCommand(parseCommandLine('/bin/echo ${ONE} ${TWO} ${THREE}')[0]!.argv, env), ['/bin/echo', 'one', "'two two' too", '']);
  assert.deepEqual(expandCommand(parseCommandLine('/bin/echo $ONE $TWO $THREE')[0]!.argv, env), ['/bin/echo', 'one', 'two two', 'too']);
});

test('"$$" is a literal "$", so sh -c \'kill $$\' kills nothing', () => {
  assert.deepEqual(expandCommand(parseCommandLine("/bin/sh -c 'kill $$'")[0]!.argv, {}), ['/bin/sh', '-c', 'kill $']);
  assert.deepEqual(expandCommand(['/bin/echo', 'x${UNSET}y', '$UNSET'], {}), ['/bin/echo', 'xy']);
});

test('a NUL byte anywhere in a command line is refused at its column (execve() would cut the argument there; systemd never gets one)', () => {
  assert.deepEqual(commandLineProblem('/bin/echo a\0b'), { message: 'a NUL byte in the command line', column: 11 });
  assert.deepEqual(commandLineProblem('/bin/true ; /bin/echo \0'), { message: 'a NUL byte in the command line', column: 22 });
});
