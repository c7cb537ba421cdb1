// The narrow client against a local HTTP server that misbehaves: an answer cut off mid-body
// must reject the request (the agent retries), not leave it pending forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube/client.ts';

test('a response cut off mid-body (the API server goes away) is a rejected request, not one left pending forever', { timeout: 10_000 }, async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
    res.write('{"items": [');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c' });
  const client = new KubeClient(kc);
  const seen: number[] = [];
  client.observer = { request: (_v, _p, code) => seen.push(code), watchRestart: () => {} };
  await assert.rejects(client.request('/api/v1/nodes', { timeoutMs: 5000 }), /aborted|ECONNRESET|socket hang up/);
  assert.ok(seen.includes(0), `the observer saw a failed request (${JSON.stringify(seen)})`);
  assert.equal(client.stats.errors >= 1, true);
});
