// Property tests (fast-check): the parser never crashes on arbitrary text, and any valid spec
// survives render → convert unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { convertText, renderUnit, UnitFileError } from '../../src/unitfile/index.ts';
import { DIRECTIVES, type Directive } from '../../src/api/directives.ts';
import { validateServiceUnit } from '../../src/api/validate.ts';
import type { ServiceUnit } from '../../src/api/types.ts';

const lineArb = fc.oneof(
  fc.constantFrom('[Unit]', '[Service]', '[Install]', '[X-Foo]', '[Bogus', '', '# c', '; c', '\\', '  \\'),
  fc.tuple(fc.constantFrom(...DIRECTIVES.map((d) => d.name), 'Foo', ''), fc.string({ maxLength: 30 })).map(([k, v]) => `${k}=${v}`),
  fc.string({ maxLength: 40 }),
);

test('arbitrary unit text never crashes the converter: it converts or reports UnitFileError', () => {
  fc.assert(fc.property(fc.array(lineArb, { maxLength: 25 }).map((ls) => ls.join('\n')), (text) => {
    try {
      const r = convertText(text, 'fuzz.service');
      assert.ok(r.object.kind === 'ServiceUnit');
    } catch (e) {
      if (!(e instanceof UnitFileError)) throw e;
      for (const d of e.diagnostics) assert.ok(d.line >= 1 && d.column >= 1 && d.file === 'fuzz.service');
    }
  }), { numRuns: 1500 });
});

test('arbitrary unicode text never crashes the converter', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
    try { convertText(`[Service]\nExecStart=/bin/true\n${text}`, 'u.service'); } catch (e) { if (!(e instanceof UnitFileError)) throw e; }
  }), { numRuns: 500 });
});

const word = fc.stringMatching(/^[A-Za-z0-9._@:-]{1,12}$/);
const text = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9 ._\/-]{0,20}[A-Za-z0-9])?$/);
const argWord = fc.oneof(word, fc.stringMatching(/^[A-Za-z0-9 ]{1,8}$/).map((w) => `'${w}'`), fc.constant('${VAR}'), fc.constant('$VAR'));
const command = fc.tuple(fc.constantFrom('', '-', '@', ':', '+', '!'), word, fc.array(argWord, { minLength: 1, maxLength: 4 }))
  .map(([p, prog, args]) => `${p}/usr/bin/${prog} ${args.join(' ')}`);

function valueArb(d: Directive): fc.Arbitrary<unknown> {
  const k = d.kind;
  switch (k.t) {
    case 'string':
      if (d.name === 'UMask' || d.name.endsWith('DirectoryMode')) return fc.constantFrom('0022', '027', '0777');
      if (d.name === 'StandardOutput' || d.name === 'StandardError') return fc.constantFrom('journal', 'null', 'inherit', 'file:/var/log/x.log', 'append:/tmp/y');
      if (d.name === 'StandardInput') return fc.constantFrom('null', 'tty', 'file:/dev/zero');
      if (d.name === 'CPUQuota' || d.name === 'ManagedOOMMemoryPressureLimit') return fc.constantFrom('20%', '150%', '0.5%');
      if (/Allowed(CPUs|MemoryNodes)$/.test(d.name)) return fc.constantFrom('0-3', '0 2', '1,3');
      if (d.name === 'TimerSlackNSec') return fc.constantFrom('50000', '50us');
      return text;
    case 'boolOr': return fc.constantFrom('true', 'false', ...(k.values ?? ['cgroup ipc', '~net']));
    case 'intOrString': return fc.oneof(fc.integer({ min: k.min ?? 0, max: k.max ?? 100000 }), fc.constantFrom(...['idle', 'infinity', '80%'].filter((w) => new RegExp(k.pattern).test(w))));
    case 'size': return fc.oneof(fc.nat(1_000_000_000), fc.constantFrom('512M', '50%', 'infinity', '1.5G'));
    case 'list': return fc.array(word, { minLength: 1, maxLength: 3 });
    case 'bool': return fc.boolean();
    case 'timespan': return fc.oneof(fc.nat(100000), fc.constantFrom('infinity', '5min 20s', '100ms', '2h', '1.5s', '3d'));
    case 'int': return fc.integer({ min: k.min ?? -1000, max: k.max ?? 1000 });
    case 'enum': return fc.constantFrom(...k.values);
    case 'commands': return fc.array(command, { minLength: 1, maxLength: 1 });
    case 'environment': return fc.array(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}=[A-Za-z0-9 '"\\=]{0,10}$/), { minLength: 1, maxLength: 3 });
    case 'lines': return fc.array(fc.stringMatching(/^-?\/etc\/default\/[a-z]{1,8}$/), { minLength: 1, maxLength: 2 });
    case 'exitStatus': return fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom('SIGKILL', 'TEMPFAIL', 'SIGUSR1')), { minLength: 1, maxLength: 3 });
    case 'signal': return fc.oneof(fc.constantFrom('SIGTERM', 'SIGINT', 'TERM', 'SIGRTMIN+3'), fc.integer({ min: 1, max: 31 }));
    case 'limit': return fc.oneof(fc.nat(1_000_000), fc.constantFrom('infinity', '1024:4096', '8M'));
    case 'condition': return fc.array(fc.stringMatching(/^\|?!?\/[a-z]{1,8}$/), { minLength: 1, maxLength: 2 });
  }
}

function sectionArb(section: Directive['section']): fc.Arbitrary<Record<string, unknown>> {
  const ds = DIRECTIVES.filter((d) => d.section === section && d.name !== 'Type');
  return fc.record(Object.fromEntries(ds.map((d) => [d.field, valueArb(d)])), { requiredKeys: [] })
    .chain((r) => fc.subarray(Object.keys(r), { maxLength: Math.min(12, Object.keys(r).length) }).map((keys) => Object.fromEntries(keys.map((key) => [key, r[key]]))));
}

const specArb = fc.record({
  unit: sectionArb('Unit'),
  service: fc.tuple(sectionArb('Service'), command, fc.constantFrom('simple', 'exec', 'forking', 'notify', 'notify-reload', 'idle')).map(([s, start, type]) => ({ ...s, type, execStart: [start] })),
  install: sectionArb('Install'),
});

test('any valid spec renders to a unit file that converts back to the same spec', () => {
  let checked = 0;
  fc.assert(fc.property(specArb, (spec) => {
    const su: ServiceUnit = { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'prop' }, spec: {} };
    for (const k of ['unit', 'service', 'install'] as const) if (Object.keys(spec[k]).length > 0) su.spec[k] = spec[k];
    fc.pre(validateServiceUnit(su).errors.length === 0);
    const back = convertText(renderUnit(su), 'prop.service');
    assert.deepEqual(back.object.spec, su.spec);
    checked++;
  }), { numRuns: 300 });
  assert.ok(checked > 100, `only ${checked} specs were valid; the generator needs fixing`);
});
