import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimespan, formatTimespan, TIMESPAN_PATTERN } from '../../src/api/timespan.ts';

const S = 1_000_000;
const re = new RegExp(TIMESPAN_PATTERN);

test('parses time spans as systemd.time(7) describes them', () => {
  const cases: Array<[string | number, number]> = [
    ['5min 20s', 320 * S], ['5min20s', 320 * S], ['2h', 7200 * S], ['100ms', 100_000], ['30', 30 * S],
    ['1.5h', 5400 * S], ['0', 0], ['.5s', 500_000], ['5 s', 5 * S], ['10us', 10], ['2m', 120 * S],
    ['1M', 2_629_800 * S], ['1y', 31_557_600 * S], ['1w 2d', 9 * 86_400 * S], ['3min', 180 * S], [90, 90 * S], [0.5, 500_000],
  ];
  for (const [input, usec] of cases) {
    assert.equal(parseTimespan(input), usec, `parseTimespan(${JSON.stringify(input)})`);
    if (typeof input === 'string') assert.ok(re.test(input), `pattern accepts ${input}`);
  }
  assert.equal(parseTimespan('infinity'), Infinity);
});

test('rejects malformed time spans, and the schema pattern agrees', () => {
  for (const bad of ['', 'abc', '-5', '5 parsecs', '5minx', '1.2.3', 'infinity 5s', '5s infinity', 'min']) {
    assert.throws(() => parseTimespan(bad), Error, `parseTimespan(${JSON.stringify(bad)}) should throw`);
    assert.ok(!re.test(bad), `pattern rejects ${JSON.stringify(bad)}`);
  }
});

test('formats microseconds as systemctl shows them', () => {
  assert.equal(formatTimespan(320 * S), '5min 20s');
  assert.equal(formatTimespan(100_000), '100ms');
  assert.equal(formatTimespan(Infinity), 'infinity');
  assert.equal(formatTimespan(5400 * S), '1h 30min');
});
