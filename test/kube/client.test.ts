// The narrow client against a local HTTP server that misbehaves: an answer cut off mid-body
// must reject the request (the agent retries), not leave it pending forever; over plain HTTP
// requests share a bounded pool of kept-alive connections, over HTTPS one HTTP/2 connection.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { constants, createSecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeClient, MAX_CONNECTIONS, MAX_RETRIES, MAX_RETRY_AFTER_MS, retryAfterMs } from '../../src/kube/client.ts';
import { makePki } from '../../testenv/pki.ts';

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

test(`over plain HTTP, 100 requests at once share at most MAX_CONNECTIONS (${MAX_CONNECTIONS}) kept-alive connections, and later ones reuse them`, { timeout: 10_000 }, async (t) => {
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

test('Retry-After is taken from a 429 or a 5xx, in whole seconds, at most MAX_RETRY_AFTER_MS; anything else is no retry (client-go\'s checkWait)', () => {
  assert.equal(retryAfterMs({ status: 429, body: '', retryAfter: '1' }), 1000);
  assert.equal(retryAfterMs({ status: 503, body: '', retryAfter: '2' }), 2000);
  assert.equal(retryAfterMs({ status: 500, body: '', retryAfter: '0' }), 0);
  assert.equal(retryAfterMs({ status: 429, body: '', retryAfter: '999999' }), MAX_RETRY_AFTER_MS, 'a hostile wait is capped');
  assert.equal(retryAfterMs({ status: 429, body: '' }), undefined, 'no header: no retry');
  for (const h of ['soon', '-1', '1.5', 'Wed, 21 Oct 2026 07:28:00 GMT', '']) assert.equal(retryAfterMs({ status: 429, body: '', retryAfter: h }), undefined, JSON.stringify(h));
  for (const st of [200, 400, 404, 409, 422]) assert.equal(retryAfterMs({ status: st, body: '', retryAfter: '1' }), undefined, String(st));
});

test('over HTTP/1.1, a 429 with Retry-After is sent again (a POST too: the server did not act on it); at most MAX_RETRIES times, then the 429 is the error', { timeout: 20_000 }, async (t) => {
  const seen: string[] = [];
  let mode: 'twice' | 'always' | 'no-header' | '400' = 'twice';
  let n = 0;
  const { client } = await serve(t, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { body += d; });
    req.on('end', () => {
      n++;
      seen.push(`${req.method} ${body}`);
      const busy = mode === 'always' || (mode === 'twice' && n <= 2);
      if (busy) { res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '0' }); res.end('{"kind":"Status","reason":"TooManyRequests","message":"too many requests"}'); return; }
      if (mode === 'no-header') { res.writeHead(503, { 'Content-Type': 'application/json' }); res.end('{"reason":"ServiceUnavailable"}'); return; }
      if (mode === '400') { res.writeHead(400, { 'Content-Type': 'application/json', 'Retry-After': '0' }); res.end('{"reason":"BadRequest"}'); return; }
      res.writeHead(201, { 'Content-Type': 'application/json' }); res.end(`{"n":${n}}`);
    });
  });
  const codes: number[] = [];
  client.observer = { request: (_v, _p, code) => codes.push(code), watchRestart: () => {} };
  assert.deepEqual(await client.request('/api/v1/namespaces', { method: 'POST', body: { a: 1 } }), { n: 3 });
  assert.deepEqual(seen, ['POST {"a":1}', 'POST {"a":1}', 'POST {"a":1}'], 'the same request, three times');
  assert.deepEqual(codes, [429, 429, 201], 'each answer observed');
  assert.equal(client.stats.throttled, 2);
  assert.equal(client.stats.errors, 0);
  mode = 'always'; seen.length = 0;
  await assert.rejects(client.request('/api/v1/nodes'), (e: unknown) => e instanceof ApiError && e.status === 429 && e.reason === 'TooManyRequests');
  assert.equal(seen.length, MAX_RETRIES + 1, 'bounded');
  for (const m of ['no-header', '400'] as const) {
    mode = m; seen.length = 0;
    await assert.rejects(client.request('/api/v1/nodes'), (e: unknown) => e instanceof ApiError);
    assert.equal(seen.length, 1, `${m}: not sent again`);
  }
});

test('a 5xx with Retry-After (the server may have acted: a storage timeout) is sent again for a read or an idempotent write, never for a create; the retries stay within the request\'s timeout', { timeout: 20_000 }, async (t) => {
  const seen: string[] = [];
  const { client } = await serve(t, (req, res) => {
    seen.push(String(req.method));
    req.resume();
    req.on('end', () => { res.writeHead(504, { 'Content-Type': 'application/json', 'Retry-After': seen.length < 3 ? '0' : '1' }); res.end('{"reason":"Timeout"}'); });
  });
  await assert.rejects(client.request('/api/v1/namespaces', { method: 'POST', body: {} }), (e: unknown) => e instanceof ApiError && e.status === 504);
  assert.deepEqual(seen, ['POST'], 'a create is not sent again');
  seen.length = 0;
  // two answers with Retry-After: 0, then 1 s waits: a 1.5 s timeout allows one more send at most
  await assert.rejects(client.request('/api/v1/nodes', { timeoutMs: 1500 }), (e: unknown) => e instanceof ApiError && e.status === 504);
  assert.ok(seen.length >= 3 && seen.length <= 4, `sent ${seen.length} times within the budget`);
  assert.ok(seen.every((m) => m === 'GET'));
});

test('a request waiting out a Retry-After is ended by its abort signal, not after the wait', { timeout: 10_000 }, async (t) => {
  const { client } = await serve(t, (_req, res) => { res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '30' }); res.end('{"reason":"TooManyRequests"}'); });
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 200);
  await assert.rejects(client.request('/api/v1/nodes', { signal: abort.signal }), (e: unknown) => e instanceof ApiError && e.status === 429);
});

// Over HTTPS the requests travel as streams of one HTTP/2 connection (src/kube/h2.ts), as client-go's.
describe('over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-h2-test-'));
  const pki = makePki(dir);
  after(() => rmSync(dir, { recursive: true, force: true }));

  const clientFor = (port: number): KubeClient => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caFile: pki.caCert }], users: [{ name: 'u', token: 'secret-token' }], contexts: [{ name: 'c', cluster: 'c', user: 'u' }], currentContext: 'c' });
    return new KubeClient(kc);
  };

  /** A local HTTP/2 "API server"; `handle` answers each stream (or misbehaves). */
  async function serveH2(t: { after: (f: () => void) => void }, handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, n: number) => void): Promise<{ client: KubeClient; sessions: () => number }> {
    let sessions = 0, n = 0;
    const server = createSecureServer({ key: readFileSync(pki.servingKey), cert: readFileSync(pki.servingCert) });
    const open = new Set<ServerHttp2Session>();
    server.on('session', (s) => { sessions++; open.add(s); s.on('close', () => open.delete(s)); });
    server.on('stream', (stream, headers) => { stream.on('error', () => { /* the streams a test resets */ }); handle(stream, headers, ++n); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => { for (const s of open) s.destroy(); server.close(); });
    return { client: clientFor((server.address() as AddressInfo).port), sessions: () => sessions };
  }
  const answer = (stream: ServerHttp2Stream, body: object): void => { stream.respond({ ':status': 200, 'content-type': 'application/json' }); stream.end(JSON.stringify(body)); };

  test('100 requests at once are in flight together on one connection, with the credentials and the body of each', { timeout: 10_000 }, async (t) => {
    let inFlight = 0, most = 0;
    const seen: string[] = [];
    const { client, sessions } = await serveH2(t, (stream, headers) => {
      inFlight++; most = Math.max(most, inFlight);
      seen.push(`${headers[':method']} ${headers['authorization']}`);
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => { body += d; });
      stream.on('end', () => setTimeout(() => { inFlight--; answer(stream, { got: body ? JSON.parse(body) : null }); }, 20));
    });
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => client.request<{ got: { i: number } }>('/api/v1/namespaces', { method: 'POST', body: { i } })));
    assert.deepEqual(answers.map((a) => a.got.i), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(sessions(), 1, 'one connection');
    assert.ok(most > MAX_CONNECTIONS, `requests in flight at once: ${most} (HTTP/1.1's pool would allow ${MAX_CONNECTIONS})`);
    assert.deepEqual(new Set(seen), new Set(['POST Bearer secret-token']));
  });

  test('an error answer is an ApiError with the server\'s reason and message', { timeout: 10_000 }, async (t) => {
    const { client } = await serveH2(t, (stream) => {
      stream.respond({ ':status': 404, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'nodes "x" not found' }));
    });
    await assert.rejects(client.request('/api/v1/nodes/x'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.reason === 'NotFound' && /nodes "x" not found/.test(e.message));
  });

  test('an answer cut off mid-body (the API server goes away) is a rejected request, not sent again', { timeout: 10_000 }, async (t) => {
    const { client } = await serveH2(t, (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.write('{"items": [');
      setTimeout(() => stream.session?.socket.destroy(), 20); // the API server goes away
    });
    await assert.rejects(client.request('/api/v1/nodes', { timeoutMs: 5000 }), /stream|closed|NGHTTP2/i);
    assert.equal(client.stats.requests, 1);
    assert.equal(client.stats.errors, 1);
  });

  test('a stream the server refuses (REFUSED_STREAM: never processed) is sent again once', { timeout: 10_000 }, async (t) => {
    const { client } = await serveH2(t, (stream, _h, n) => { if (n === 1) stream.close(constants.NGHTTP2_REFUSED_STREAM); else answer(stream, { n }); });
    assert.deepEqual(await client.request('/api/v1/nodes'), { n: 2 });
    assert.equal(client.stats.errors, 0);
  });

  test('a connection the server ends (GOAWAY) is replaced by a new one for the next request', { timeout: 10_000 }, async (t) => {
    const { client, sessions } = await serveH2(t, (stream, _h, n) => { answer(stream, { n }); if (n === 1) stream.session?.close(); });
    assert.deepEqual(await client.request('/api/v1/nodes'), { n: 1 });
    await new Promise((r) => setTimeout(r, 50)); // the GOAWAY arrives (if not yet, the refused stream is sent again: the same outcome)
    assert.deepEqual(await client.request('/api/v1/nodes'), { n: 2 });
    assert.equal(sessions(), 2);
  });

  test('a request that times out retires its connection (it may be dead without a word): the next request opens a new one', { timeout: 10_000 }, async (t) => {
    const { client, sessions } = await serveH2(t, (stream, _h, n) => { if (n !== 1) answer(stream, { n }); }); // the first is never answered
    await assert.rejects(client.request('/api/v1/nodes', { timeoutMs: 300 }), /timed out/);
    assert.deepEqual(await client.request('/api/v1/nodes', { timeoutMs: 5000 }), { n: 2 });
    assert.equal(sessions(), 2, 'a new connection after the timeout');
  });

  test('a connection that dies under a request before its answer: a GET is sent again, a POST (the server may have done it) is not', { timeout: 10_000 }, async (t) => {
    const seen: string[] = [];
    const { client } = await serveH2(t, (stream, headers, n) => {
      seen.push(String(headers[':method']));
      if (n === 1) { answer(stream, { n }); return; } // the session is in use before
      if (n === 2 || n === 4) { stream.session?.socket.destroy(); return; }
      answer(stream, { n });
    });
    assert.deepEqual(await client.request('/api/v1/nodes'), { n: 1 });
    assert.deepEqual(await client.request('/api/v1/nodes', { timeoutMs: 5000 }), { n: 3 }, 'the GET sent again');
    await assert.rejects(client.request('/api/v1/namespaces', { method: 'POST', body: { x: 1 }, timeoutMs: 5000 }));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, ['GET', 'GET', 'GET', 'POST'], 'the POST reached the server once');
  });

  test('a 429 with Retry-After over HTTP/2 (API Priority and Fairness) is sent again after it, body and all', { timeout: 10_000 }, async (t) => {
    const bodies: string[] = [];
    const { client } = await serveH2(t, (stream, _h, n) => {
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => { body += d; });
      stream.on('end', () => {
        bodies.push(body);
        if (n === 1) { stream.respond({ ':status': 429, 'retry-after': '0', 'content-type': 'application/json' }); stream.end('{"kind":"Status","reason":"TooManyRequests"}'); return; }
        answer(stream, { n });
      });
    });
    assert.deepEqual(await client.request('/api/v1/namespaces', { method: 'POST', body: { x: 1 } }), { n: 2 });
    assert.deepEqual(bodies, ['{"x":1}', '{"x":1}']);
    assert.equal(client.stats.throttled, 1);
    assert.equal(client.stats.errors, 0);
  });

  test('a server without HTTP/2 (HTTPS, HTTP/1.1 only) is answered over HTTP/1.1 instead', { timeout: 10_000 }, async (t) => {
    let connections = 0;
    const server = createHttpsServer({ key: readFileSync(pki.servingKey), cert: readFileSync(pki.servingCert) }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ auth: req.headers.authorization ?? null, version: req.httpVersion }));
    });
    server.on('secureConnection', () => { connections++; });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => { server.closeAllConnections(); server.close(); });
    const client = clientFor((server.address() as AddressInfo).port);
    assert.deepEqual(await client.request('/api/v1/nodes'), { auth: 'Bearer secret-token', version: '1.1' });
    assert.deepEqual(await client.request('/api/v1/nodes'), { auth: 'Bearer secret-token', version: '1.1' });
    assert.equal(client.stats.errors, 0);
    assert.ok(connections <= 2, `the second request goes straight to HTTP/1.1 (${connections} TLS connections: the refused HTTP/2 one, then HTTP/1.1's)`);
  });
});
