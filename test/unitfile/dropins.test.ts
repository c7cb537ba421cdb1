import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join, basename } from 'node:path';
import { tmpdir } from 'node:os';
import { findDropIns, dropInDirNames, convertText } from '../../src/unitfile/index.ts';

test('looks in the instance, template, dash-prefix and type-wide folders, most specific first', () => {
  assert.deepEqual(dropInDirNames('foo-bar@baz.service'), ['foo-bar@baz.service.d', 'foo-bar@.service.d', 'foo-.service.d', 'service.d']);
  assert.deepEqual(dropInDirNames('a.service'), ['a.service.d', 'service.d']);
});

test('applies drop-ins in file-name order across folders; a more specific folder hides the same name', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'uo-dropins-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const put = (dir: string, file: string, text: string): void => { mkdirSync(join(root, dir), { recursive: true }); writeFileSync(join(root, dir, file), text); };
  put('web@.service.d', '10-a.conf', '[Service]\nRestartSec=10\n');
  put('web@.service.d', '20-b.conf', '[Service]\nRestartSec=20\n');
  put('web@one.service.d', '20-b.conf', '[Service]\nRestartSec=25\n');
  put('service.d', '15-all.conf', '[Service]\nRestart=always\n');
  put('web@.service.d', 'ignored.txt', '[Service]\nRestartSec=99\n');
  const files = findDropIns(root, 'web@one.service');
  assert.deepEqual(files.map((f) => basename(f)), ['10-a.conf', '15-all.conf', '20-b.conf']);
  assert.ok(files[2]!.includes('web@one.service.d'));
  const r = convertText('[Service]\nExecStart=/bin/true\nRestartSec=1\n', 'web@.service', files.map((f) => ({ file: f, text: readFileSync(f, 'utf8') })), { instance: 'one' });
  assert.equal(r.object.spec.service?.['restartSec'], 25);
  assert.equal(r.object.spec.service?.['restart'], 'always');
});
