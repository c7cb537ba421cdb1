// tail.ts readNewLines(): offsets are counted in the log's bytes, never in decoded text. A
// service's STATUS= reaches the event log raw above 0x7f (notify.c escapes only control bytes);
// each invalid UTF-8 byte decodes to U+FFFD (three bytes), and an offset measured on the text ran
// ahead: the next read began inside a later line the service wrote, and "exit PID exited 0"
// there was read as the holder's own line (a forged exit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readNewLines } from '../../src/runner/tail.ts';
import { parseShimLine } from '../../src/runner/shimproto.ts';

test('readNewLines(): a line with invalid UTF-8 moves the offset by its bytes, so the next read starts at the next line, not inside it', { skip: process.getuid?.() !== 0 ? 'needs root (a log of the agent\'s uid)' : false }, (t) => {
  const d = mkdtempSync(join(tmpdir(), 'uo-tail-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'events');
  const first = Buffer.concat([Buffer.from('notify2 5 0 0 STATUS='), Buffer.alloc(11, 0xff), Buffer.from('\n')]);
  writeFileSync(f, first, { mode: 0o600 });
  const a = readNewLines(f, 0);
  assert.equal(a.lines.length, 1);
  assert.equal(a.offset, first.length, 'the offset is the line\'s length in bytes');
  assert.deepEqual(a.ends, [first.length]);
  // the next datagram: text that, read from 22 bytes in, is an exit line
  appendFileSync(f, 'notify2 5 0 0 STATUS=Xexit 5 exited 0 1\n');
  const b = readNewLines(f, a.offset);
  assert.deepEqual(b.lines, ['notify2 5 0 0 STATUS=Xexit 5 exited 0 1']);
  assert.equal(parseShimLine(b.lines[0]!)?.t, 'notify', 'a notification, not an exit');
  assert.equal(b.offset, statSync(f).size);
  // a partial last line is left for later; each whole line's end is given
  appendFileSync(f, 'exit 5 exited 0 2\nempt');
  const c = readNewLines(f, b.offset);
  assert.deepEqual(c.lines, ['exit 5 exited 0 2']);
  assert.deepEqual(c.ends, [b.offset + 'exit 5 exited 0 2\n'.length]);
});
