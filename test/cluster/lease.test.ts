// Leader election against the real API server: a stop that lands while a renewal is on the wire,
// and giving the lease back on stop (client-go's ReleaseOnCancel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '../../src/kube/client.ts';
import { elect, tryHold } from '../../src/kube/lease.ts';
import { clusterState, kubectl, testNamespace } from '../support/cluster.ts';
import { sleep, until } from '../support/wait.ts';

const holder = (ns: string, name: string): string | undefined => {
  const r = kubectl(['get', 'lease', name, '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}']);
  return r.status === 0 ? r.stdout : undefined;
};

test('stop() while the first lease request is on the wire: no leadership starts afterwards, and the lease is given back', async (t) => {
  const ns = testNamespace(t, 'lease');
  const client = KubeClient.load(clusterState().kubeconfig);
  const calls: string[] = [];
  // elect() sends its first request at once; stop() comes before the answer
  const e = elect(client, ns, 'race', 'a', { durationS: 30, renewMs: 200, onStart: () => calls.push('start'), onStop: () => calls.push('stop') });
  await e.stop();
  await sleep(1000); // several renew periods: nothing may run any more
  assert.deepEqual(calls, [], 'never led: the answer came after stop()');
  assert.equal(e.isLeader(), false);
  assert.equal(holder(ns, 'race'), '', 'the lease the in-flight request took was released');
  // a released lease is free at once for another identity, though its duration has not passed
  assert.equal(await tryHold(client, ns, 'race', 'b', 30), true);
  assert.equal(holder(ns, 'race'), 'b');
});

test('a leader that stops steps down once and releases; a standby takes over at its next try, not after the lease expires', async (t) => {
  const ns = testNamespace(t, 'lease');
  const client = KubeClient.load(clusterState().kubeconfig);
  const calls: string[] = [];
  const a = elect(client, ns, 'handover', 'a', { durationS: 60, renewMs: 200, onStart: () => calls.push('a start'), onStop: () => calls.push('a stop') });
  await until('a to lead', () => a.isLeader(), 5000);
  assert.equal(a.isLeader(), true);
  const b = elect(client, ns, 'handover', 'b', { durationS: 60, renewMs: 200, onStart: () => calls.push('b start'), onStop: () => calls.push('b stop') });
  try {
    await sleep(600);
    assert.equal(b.isLeader(), false, 'b waits while a renews');
    await a.stop();
    // released before stop() returned: free, or already b's (b tries every 200 ms and may have
    // taken it in between — CI saw 'b' once); never still a's
    assert.ok(['', 'b'].includes(holder(ns, 'handover') ?? 'none'), `released before stop() returned (holder: ${holder(ns, 'handover')})`);
    await until('b to lead within 5 s (the lease would last 60 s)', () => b.isLeader(), 5000);
    assert.equal(b.isLeader(), true, 'b leads well within the 60 s the lease would have lasted');
    assert.deepEqual(calls, ['a start', 'a stop', 'b start']);
  } finally { await b.stop(); }
});
