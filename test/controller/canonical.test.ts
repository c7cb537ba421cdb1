// The canonical form of what runs (src/api/canonical.ts): re-spellings of one spec are one
// revision (the controller's hash) and one runtime hash (the agent restarts nothing); a real
// change is another. The fixed defaults it drops are checked against the engine's own reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXED_DEFAULTS, canonicalSpec } from '../../src/api/canonical.ts';
import { hashRevision, legacyHashRevision, revisionData, revisionHash, revisionHolds, revisionName } from '../../src/api/revision.ts';
import { runtimeHash } from '../../src/agent/host.ts';
import { configFromSpec } from '../../src/engine/config.ts';
import { revisionProblem } from '../../src/controller/controller.ts';
import type { ServiceUnitSpec } from '../../src/api/types.ts';

const base: ServiceUnitSpec = { unit: { description: 'x', after: ['a.service'] }, service: { execStart: ['/bin/sleep 10'], restart: 'on-failure', restartSec: '5s', killSignal: 'SIGINT', memoryMax: '512M', successExitStatus: [75, 'SIGKILL'], remainAfterExit: true } };

/** The same spec, spelled otherwise: key order, units, names, words, defaults and empty lists written out. */
const respelled: ServiceUnitSpec = {
  service: {
    remainAfterExit: 'yes', successExitStatus: ['SIGKILL', 'TEMPFAIL', '75'], memoryMax: 536870912, killSignal: 'INT',
    restartSec: 5, restart: 'on-failure', execStart: ['/bin/sleep 10'], execStartPre: [], sendSIGKILL: true, killMode: 'control-group',
    finalKillSignal: 9, restartMode: 'normal', watchdogSec: '0', runtimeMaxSec: 'infinity', guessMainPID: 'true',
  },
  unit: { startLimitBurst: '5', startLimitIntervalSec: '10000ms', after: ['a.service'], description: 'other words' },
};

test('equivalent spellings of one spec are one revision and one runtime hash', () => {
  assert.equal(revisionHash(respelled), revisionHash(base));
  assert.equal(runtimeHash(respelled), runtimeHash(base));
  assert.deepEqual(canonicalSpec(respelled).service, canonicalSpec(base).service);
  // one at a time, each spelling on its own
  const one = (service: Record<string, unknown>): string => revisionHash({ ...base, service: { ...base.service, ...service } });
  const h = revisionHash(base);
  for (const s of [{ restartSec: '5000ms' }, { restartSec: '5s 0ms' }, { killSignal: 2 }, { killSignal: '2' }, { memoryMax: '524288K' }, { remainAfterExit: 'on' }, { timeoutStartFailureMode: 'terminate' }, { reloadSignal: 'HUP' }, { execStop: [] }, { successExitStatus: [75, 'KILL', 75] }]) {
    assert.equal(one(s), h, JSON.stringify(s));
  }
  assert.equal(revisionHash({ service: { execStart: ['/bin/true'] } }), revisionHash({ service: { execStart: ['/bin/true'] }, unit: {} }));
  assert.equal(revisionHash({ service: { execStart: ['/bin/true'], delegate: 'yes' } }), revisionHash({ service: { execStart: ['/bin/true'], delegate: 'true' } }));
  assert.equal(revisionHash({ service: { execStart: ['/bin/true'], cpuWeight: '100' } }), revisionHash({ service: { execStart: ['/bin/true'], cpuWeight: 100 } }));
});

test('a real change is another revision and another runtime hash', () => {
  const h = revisionHash(base);
  const r = runtimeHash(base);
  for (const s of [{ execStart: ['/bin/sleep 11'] }, { restartSec: '6s' }, { restartSec: '5001ms' }, { killSignal: 'SIGTERM' }, { restart: 'always' }, { remainAfterExit: false },
    { successExitStatus: [75] }, { successExitStatus: [76, 'SIGKILL'] }, { timeoutStartSec: '90s' }, { restartKillSignal: 'SIGINT' }, { type: 'simple' }]) {
    const changed = { ...base, service: { ...base.service, ...s } };
    assert.notEqual(revisionHash(changed), h, JSON.stringify(s));
    assert.notEqual(runtimeHash(changed), r, JSON.stringify(s));
  }
  // a size is a number of bytes: one byte more is a change; a percentage stays as written
  assert.notEqual(revisionHash({ service: { execStart: ['/bin/true'], tasksMax: 100 } }), revisionHash({ service: { execStart: ['/bin/true'], tasksMax: 101 } }));
  assert.notEqual(revisionHash({ service: { execStart: ['/bin/true'], memoryHigh: '1K' } }), revisionHash({ service: { execStart: ['/bin/true'], memoryHigh: 1025 } }));
  assert.notEqual(revisionHash({ service: { execStart: ['/bin/true'], memoryHigh: '10%' } }), revisionHash({ service: { execStart: ['/bin/true'], memoryHigh: '11%' } }));
  // the order of commands and of environment assignments is what runs
  assert.notEqual(revisionHash({ service: { type: 'oneshot', execStart: ['/bin/a', '/bin/b'] } }), revisionHash({ service: { type: 'oneshot', execStart: ['/bin/b', '/bin/a'] } }));
});

test('a spec already in canonical form hashes as before canonical hashing: an upgrade renames no such revision', () => {
  const canonical: ServiceUnitSpec = { unit: { after: ['a.service'] }, service: { execStart: ['/bin/sleep 10'], restart: 'on-failure', restartSec: '5s', killSignal: 'SIGINT', memoryMax: '512M', successExitStatus: [75, 'SIGKILL'], remainAfterExit: true, timeoutStopSec: '1min 30s' } };
  assert.equal(hashRevision(revisionData(canonical)), legacyHashRevision(revisionData(canonical)));
  // a spelling that is not canonical was named otherwise: an older controller's name still holds it
  const old = legacyHashRevision(revisionData(respelled));
  assert.notEqual(old, revisionHash(respelled));
  assert.equal(revisionHolds(revisionData(respelled), old), true);
  assert.equal(revisionHolds(revisionData(respelled), revisionHash(respelled)), true);
  assert.equal(revisionHolds(revisionData(base), legacyHashRevision({ service: { execStart: ['/bin/false'] } })), false);
});

test('every fixed default the canonical form drops is what the engine reads when the field is absent', () => {
  for (const [key, defaults] of Object.entries(FIXED_DEFAULTS) as Array<['unit' | 'service', Record<string, unknown>]>) {
    for (const [field, value] of Object.entries(defaults)) {
      for (const execStart of [['/bin/true'], []]) {
        const without: ServiceUnitSpec = { service: { execStart } };
        const withIt: ServiceUnitSpec = { ...without, [key]: { ...(without[key] ?? {}), [field]: value } };
        assert.deepEqual(configFromSpec(withIt, 'u.service'), configFromSpec(without, 'u.service'), `${key}.${field}: ${JSON.stringify(value)}`);
        assert.equal(revisionHash(withIt), revisionHash(without), `${key}.${field}`);
      }
    }
  }
});

test('a ControllerRevision name stays within 253 characters, ending in the hash', () => {
  assert.equal(revisionName('web', 'abcdef0123'), 'web-abcdef0123');
  const long = `${'a'.repeat(241)}.bcd`;
  const n = revisionName(long, 'abcdef0123');
  assert.ok(n.length <= 253, String(n.length));
  assert.match(n, /^a+-abcdef0123$/, 'no "." or "-" left before the hash');
  assert.equal(revisionName('a'.repeat(242), 'abcdef0123').length, 253);
});

test('a ControllerRevision found under the name is checked: the unit label, the hash label, the data', () => {
  const data = revisionData(base);
  const h = revisionHash(base);
  const labels = { 'unit-operator.dev/serviceunit': 'web', 'unit-operator.dev/revision-hash': h };
  assert.equal(revisionProblem({ metadata: { labels }, data }, 'web', h), undefined);
  assert.equal(revisionProblem({ metadata: { labels }, data: revisionData(respelled) }, 'web', h), undefined, 'the same revision, spelled otherwise');
  assert.match(revisionProblem({ metadata: { labels }, data: { service: { execStart: ['/bin/evil'] } } }, 'web', h)!, /holds data of revision \w{10}, not/);
  assert.match(revisionProblem({ metadata: { labels: { ...labels, 'unit-operator.dev/serviceunit': 'other' } }, data }, 'web', h)!, /labelled for serviceunit "other", not "web"/);
  assert.match(revisionProblem({ metadata: {}, data }, 'web', h)!, /labelled for serviceunit null/);
  assert.match(revisionProblem({ metadata: { labels: { ...labels, 'unit-operator.dev/revision-hash': 'ffffffffff' } }, data }, 'web', h)!, /labelled revision "ffffffffff"/);
});
