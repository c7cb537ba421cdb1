// The narrow client against a local HTTP server that misbehaves: an answer cut off mid-body
// must reject the request (the agent retries), not leave it pending forever; requests share a
// bounded pool of kept-alive connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, MAX_CONNECTIONS } from '../../src/kube/client.ts';

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

/** A local HTTP "API server" and a client for it; `handle` may misbehave. */
async function serve(t: { after: (f: () => void) => void }, handle: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ client: KubeClient; connections: () => number }> {
  let connections = 0;
  const server = createServer(handle);
  server.on('connection', () => { connections++; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c' });
  return { client: new KubeClient(kc), connections: () => connections };
}

test(`100 requests at once share at most MAX_CONNECTIONS (${MAX_CONNECTIONS}) kept-alive connections, and later ones reuse them`, { timeout: 10_000 }, async (t) => {
  const { client, connections } = await serve(t, (_req, res) => { setTimeout(() => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"ok":true}'); }, 5); });
  const answers = await Promise.all(Array.from({ length: 100 }, () => client.request<{ ok: boolean }>('/api/v1/nodes')));
  assert.equal(answers.filter((a) => a.ok).length, 100);
  assert.ok(connections() <= MAX_CONNECTIONS, `${connections()} connections for 100 requests`);
  const before = connections();
  await client.request('/api/v1/nodes');
  assert.equal(connections(), before, 'a later request reuses a kept-alive connection');
});

test('a kept-alive connection the server closes as it is reused: the request is sent again on a new one', { timeout: 10_000 }, async (t) => {
  let n = 0;
  const { client, connections } = await serve(t, (req, res) => {
    n++;
    if (n === 2) { req.socket.destroy(); return; } // the second request arrives on the first's connection
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(`{"n":${n}}`);
  });
  assert.deepEqual(await client.request('/api/v1/nodes'), { n: 1 });
  assert.deepEqual(await client.request('/api/v1/nodes'), { n: 3 }, 'answered by the retry');
  assert.equal(connections(), 2);
  assert.equal(client.stats.errors, 0, 'not counted as a failed request');
});
