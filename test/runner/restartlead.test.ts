// The restart lead (restartlead.ts): sized by what held commands say of their set-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEAD_WINDOW, MAX_LEAD_US, MIN_LEAD_US, RestartLead } from '../../src/runner/restartlead.ts';

test('the lead is 1.5 × the longest set-up of the last LEAD_WINDOW prepared restarts, within [MIN_LEAD_US, MAX_LEAD_US]', () => {
  const l = new RestartLead();
  assert.equal(l.current(), MIN_LEAD_US, 'nothing measured yet');
  l.observe(30_000, 28_000); // needed 2 ms: the floor
  assert.equal(l.current(), MIN_LEAD_US);
  l.observe(30_000, 6_000); // needed 24 ms
  assert.equal(l.current(), 36_000);
  l.observe(36_000, -4_000); // late by 4 ms: needed 40 ms
  assert.equal(l.current(), 60_000);
  l.observe(60_000, -500_000); // a load spike: capped
  assert.equal(l.current(), MAX_LEAD_US);
  // the spike leaves the window after LEAD_WINDOW more; the 40 ms one before it too
  for (let i = 0; i < LEAD_WINDOW; i++) l.observe(MAX_LEAD_US, MAX_LEAD_US - 10_000);
  assert.equal(l.current(), MIN_LEAD_US, 'LEAD_WINDOW set-ups of 10 ms: the floor');
  for (let i = 0; i < LEAD_WINDOW - 1; i++) l.observe(MIN_LEAD_US, MIN_LEAD_US - 25_000);
  assert.equal(l.current(), 37_500, 'the window holds LEAD_WINDOW: one 10 ms and 63 of 25 ms');
});

test('what cannot be a measure is not one', () => {
  const l = new RestartLead();
  for (const [lead, slack] of [[0, 5], [-1, 5], [NaN, 5], [30_000, NaN], [Infinity, 0]] as const) l.observe(lead, slack);
  assert.equal(l.current(), MIN_LEAD_US);
});
