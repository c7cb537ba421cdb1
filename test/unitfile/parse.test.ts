import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnitFile, convertText, UnitFileError, parseBoolean, type Diagnostic } from '../../src/unitfile/index.ts';

function errorsOf(text: string, file = 'bad.service'): Diagnostic[] {
  try { convertText(text, file); } catch (e) { if (e instanceof UnitFileError) return [...e.diagnostics]; throw e; }
  assert.fail('expected an error');
}

test('joins continuation lines with a space and skips comment lines inside them', () => {
  const u = parseUnitFile('[Service]\nExecStart=/bin/echo a \\\n# comment\n  b\\\\\nX=1\n', 'a.service');
  assert.equal(u.assignments[0]!.value, '/bin/echo a    b\\\\');
  assert.equal(u.assignments[1]!.key, 'X');
});

test('reads systemd booleans in every spelling', () => {
  for (const t of ['1', 'yes', 'y', 'true', 't', 'on', 'YES', 'True']) assert.equal(parseBoolean(t), true);
  for (const f of ['0', 'no', 'n', 'false', 'f', 'off', 'OFF']) assert.equal(parseBoolean(f), false);
  assert.equal(parseBoolean('maybe'), undefined);
});

test('keys are case-sensitive: execstart= is not ExecStart=', () => {
  const e = errorsOf('[Service]\nexecstart=/bin/true\n');
  assert.ok(e.some((d) => /no ExecStart=/.test(d.message)));
});

const cases: Array<[string, string, number, number, RegExp]> = [
  ['an unknown section', '[Unit]\nDescription=x\n[Servce]\nExecStart=/bin/true\n', 3, 2, /unknown section \[Servce\]/],
  ['a bad time span', '[Service]\nExecStart=/bin/true\nRestartSec=5 parsecs\n', 3, 14, /unknown unit/],
  ['an unterminated quote', '[Service]\nExecStart=/bin/echo "oops\n', 2, 21, /unterminated double quote/],
  ['a missing ExecStart=', '[Unit]\nDescription=x\n[Service]\nRestart=always\n', 3, 1, /no ExecStart=/],
  ['a line without "="', '[Service]\nExecStart /bin/true\n', 2, 1, /missing "="/],
  ['an assignment before any section', 'ExecStart=/bin/true\n', 1, 1, /outside of any section/],
  ['a bad boolean', '[Service]\nExecStart=/bin/true\nRemainAfterExit=perhaps\n', 3, 17, /not a boolean/],
  ['an unknown Restart= value', '[Service]\nExecStart=/bin/true\nRestart=sometimes\n', 3, 9, /unknown value "sometimes"/],
  ['a bad signal', '[Service]\nExecStart=/bin/true\nKillSignal=SIGNOPE\n', 3, 12, /unknown signal/],
  ['an unclosed section header', '[Service\nExecStart=/bin/true\n', 1, 9, /closing "]"/],
];
for (const [what, text, line, column, message] of cases) {
  test(`reports ${what} at file:line:column with a hint`, () => {
    const e = errorsOf(text);
    const hit = e.find((d) => message.test(d.message));
    assert.ok(hit, `expected ${message} in ${JSON.stringify(e)}`);
    assert.equal(hit.file, 'bad.service');
    assert.equal(hit.line, line);
    assert.equal(hit.column, column);
    assert.ok(hit.hint, 'has a hint');
  });
}

test('carries unknown directives with a warning naming file, line and directive, and suggests near names', () => {
  const r = convertText('[Service]\nExecStart=/bin/true\nRestartSecs=5\nFrobnicate=yes\n', 'w.service');
  assert.equal(r.warnings.length, 2);
  assert.equal(r.warnings[0]!.line, 3);
  assert.equal(r.warnings[0]!.directive, 'RestartSecs=');
  assert.match(r.warnings[0]!.hint ?? '', /RestartSec=/);
  assert.match(r.warnings[1]!.message, /unknown to unit-operator.*reported, not refused/);
  assert.equal(r.object.metadata.annotations?.['unit-operator.dev/unsupported-directives'], '[Service]\nRestartSecs=5\nFrobnicate=yes\n');
});

test('sandboxing and resource control are typed spec fields now, not annotation lines', () => {
  const r = convertText('[Service]\nExecStart=/bin/true\nPrivateTmp=yes\nProtectSystem=strict\nMemoryMax=512M\nCPUWeight=idle\nTasksMax=80%\nNoNewPrivileges=true\n', 'w.service');
  assert.equal(r.object.metadata.annotations, undefined);
  assert.deepEqual(r.object.spec.service, { execStart: ['/bin/true'], privateTmp: 'true', protectSystem: 'strict', memoryMax: '512M', cpuWeight: 'idle', tasksMax: '80%', noNewPrivileges: true });
});

test('a value outside a typed directive\'s range is an error at its line, as systemd refuses it', () => {
  assert.throws(() => convertText('[Service]\nExecStart=/bin/true\nProtectSystem=sometimes\n', 'w.service'), /w\.service:3:\d+: error: ProtectSystem=: unknown value "sometimes"/);
  assert.throws(() => convertText('[Service]\nExecStart=/bin/true\nCPUWeight=20000\n', 'w.service'), /w\.service:3:\d+: error: CPUWeight=: invalid value/);
  assert.throws(() => convertText('[Service]\nExecStart=/bin/true\nMemoryMax=lots\n', 'w.service'), /w\.service:3:\d+: error: MemoryMax=: invalid size/);
  assert.throws(() => convertText('[Service]\nExecStart=/bin/true\nNice=40\n', 'w.service'), /w\.service:3:\d+: error: Nice=: 40 is out of range/);
});

test('an empty file is a masked unit, as systemd treats it', () => {
  const r = convertText('', 'hwclock.service');
  assert.equal(r.object.spec.masked, true);
  assert.match(r.warnings[0]!.message, /masked/);
});

test('a NUL byte or a carriage return inside a line is an error naming its line and column (systemd ends the line there: a directive hidden after it would be read)', () => {
  // systemd 257 (the oracle): "Description=a\0b" gives Description=a and line 3 "b" (Missing '=', ignoring line)
  const e = errorsOf('[Unit]\nDescription=a\0b\n[Service]\nExecStart=/bin/true\rExecStartPre=/bin/evil\n');
  assert.deepEqual(e.map((d) => [d.line, d.column, d.message]), [[2, 14, 'a NUL byte in the line'], [4, 20, 'a carriage return inside the line']]);
  assert.match(e[1]!.hint ?? '', /"ExecStartPre=\/bin\/evil" as a line of its own/);
  // CRLF line ends and a CR ending the last line are line ends, as systemd reads them
  assert.deepEqual(convertText('[Service]\r\nExecStart=/bin/true\r\nRestart=always\r', 'crlf.service').object.spec.service?.restart, 'always');
});
