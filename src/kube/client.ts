// A narrow Kubernetes client: JSON requests (over one HTTP/2 connection where the server speaks
// it, h2.ts) and streaming watches over HTTPS, with the credentials and TLS settings of
// @kubernetes/client-node's KubeConfig (kubeconfig file, in-cluster service account, exec
// plugins). Counts requests for metrics and benchmarks.

import { request as httpsRequest, Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { H2Sessions, NoHttp2, type H2Tls } from './h2.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(status: number, reason: string, message: string, body: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
    this.body = body;
  }
}

export interface RequestInit {
  readonly method?: string;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly timeoutMs?: number;
  /** Aborting it fails the request at once (an informer being stopped). */
  readonly signal?: AbortSignal;
}

/** `throttled`: answers that asked to be asked again later (429, 5xx with Retry-After) and were. */
export interface ClientStats { requests: number; errors: number; watchRestarts: number; latencyMsTotal: number; throttled: number }

/** An answer: its status, its body, and its Retry-After header when it has one. */
export interface Answer { readonly status: number; readonly body: string; readonly retryAfter?: string | undefined }

/** How many times a request the server asks to send again later is sent again (client-go's default). */
export const MAX_RETRIES = 10;
/** The longest Retry-After taken as given (a broken or hostile server's "Retry-After: 999999" waits this long). */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long to wait before sending the request again, from the answer (client-go's checkWait): a
 * 429, or a 5xx, that carries Retry-After with a whole number of seconds in it; else undefined.
 */
export function retryAfterMs(a: Answer): number | undefined {
  if (a.status !== 429 && a.status < 500) return undefined;
  if (a.retryAfter === undefined || !/^\s*[0-9]{1,9}\s*$/.test(a.retryAfter)) return undefined;
  return Math.min(Number(a.retryAfter) * 1000, MAX_RETRY_AFTER_MS);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const t = setTimeout(() => { signal?.removeEventListener('abort', done); resolve(); }, ms);
    const done = (): void => { clearTimeout(t); resolve(); };
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Told about every request (code 0: no answer) and every watch restart (metrics). */
export interface RequestObserver {
  request(verb: string, path: string, code: number, seconds: number): void;
  watchRestart(path: string): void;
}

/**
 * HTTP/1.1 connections kept open for requests where HTTP/2 is not used (a plain-HTTP server, a
 * proxy, a server without HTTP/2; watches have their own). client-node's agent opens a new TLS
 * connection per request and any number at once: a status write for each of 1,000 units
 * starting together meant 1,000 handshakes and ~120 MB of OpenSSL buffers the process kept.
 * Requests beyond this many wait for a free connection. Over HTTPS, requests go over one HTTP/2
 * connection instead (h2.ts), as client-go's.
 */
export const MAX_CONNECTIONS = 8;

export class KubeClient {
  readonly kc: KubeConfig;
  readonly server: string;
  /** Our kept-alive connections; undefined behind a proxy (client-node's proxy agent then). */
  private readonly pool: HttpsAgent | HttpAgent | undefined;
  /** Requests over one HTTP/2 connection (HTTPS without a proxy); the pool when the server has no HTTP/2. */
  private readonly h2: H2Sessions | undefined;
  readonly stats: ClientStats = { requests: 0, errors: 0, watchRestarts: 0, latencyMsTotal: 0, throttled: 0 };
  observer: RequestObserver | undefined;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster; pass --kubeconfig or set KUBECONFIG');
    this.server = cluster.server.replace(/\/$/, '');
    const pool = { keepAlive: true, maxSockets: MAX_CONNECTIONS, maxFreeSockets: MAX_CONNECTIONS };
    if (!cluster.proxyUrl) this.pool = this.server.startsWith('https:') ? new HttpsAgent(pool) : new HttpAgent(pool);
    if (!cluster.proxyUrl && this.server.startsWith('https:')) this.h2 = new H2Sessions(new URL(this.server).origin);
  }

  /** --kubeconfig FILE, else $KUBECONFIG / ~/.kube/config / in-cluster (client-node's default order). */
  static load(kubeconfig?: string): KubeClient {
    const kc = new KubeConfig();
    if (kubeconfig) kc.loadFromFile(kubeconfig); else kc.loadFromDefault();
    return new KubeClient(kc);
  }

  /** Request options with the kubeconfig's credentials; `pooled`: over the kept-alive connections. */
  private async options(method: string, url: URL, headers: Record<string, string>, timeoutMs: number, pooled = true): Promise<RequestOptions> {
    const opts: RequestOptions = { method, headers, timeout: timeoutMs };
    await this.kc.applyToHTTPSOptions(opts as never);
    // client-node's agent stays only where it is needed: a proxy. Our agents take the TLS
    // options (ca, cert, key) from each request, so rotated credentials open new connections.
    if (this.pool) opts.agent = pooled ? this.pool : false;
    opts.headers = { ...(opts.headers as Record<string, string> | undefined), ...headers };
    opts.hostname = url.hostname;
    opts.port = url.port;
    opts.path = url.pathname + url.search;
    return opts;
  }

  url(path: string, query?: RequestInit['query']): URL {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  /** One JSON request; throws ApiError with the API server's message on a non-2xx answer. */
  async request<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
    const method = init.method ?? 'GET';
    const url = this.url(path, init.query);
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = init.contentType ?? 'application/json';
    const opts = { ...(await this.options(method, url, headers, init.timeoutMs ?? 15_000)), ...(init.signal ? { signal: init.signal } : {}) };
    const started = Date.now();
    // the retries' budget: the request's own timeout (its default 15 s) from its first send, so a
    // throttled caller (a lease renewal among them) hears of it within the time it allowed
    const budget = init.timeoutMs ?? 15_000;
    const deadline = started + (budget > 0 ? budget : MAX_RETRY_AFTER_MS);
    this.stats.requests++;
    let answer: Answer;
    let sent = started;
    for (let retries = 0; ; retries++) {
      sent = Date.now();
      try {
        answer = this.h2 && !this.h2.unsupported ? await this.overHttp2(this.h2, opts, body, init) : await this.overHttp1(url.protocol === 'https:', opts, body);
      } catch (e) {
        // no answer, or one cut off mid-body (timeout, API server gone): this request failed
        this.stats.errors++;
        this.observer?.request(method, path, 0, (Date.now() - sent) / 1000);
        throw e;
      }
      // the server asks to be asked again later (client-go's checkWait): after the time it names,
      // at most MAX_RETRIES times, within the budget. A 429 (API Priority and Fairness) was not
      // acted on: any verb goes again. A 5xx with Retry-After (a storage timeout, a server
      // shutting down) may have been: a create (POST) is not sent again — every other write here
      // is idempotent (server-side apply, PUT/PATCH with a resourceVersion or a test)
      const wait = retryAfterMs(answer);
      if (wait === undefined || (answer.status !== 429 && method === 'POST')) break;
      if (retries >= MAX_RETRIES || init.signal?.aborted || Date.now() + wait > deadline) break;
      this.observer?.request(method, path, answer.status, (Date.now() - sent) / 1000);
      this.stats.throttled++;
      await abortableSleep(wait, init.signal);
      if (init.signal?.aborted) break;
    }
    this.stats.latencyMsTotal += Date.now() - started;
    let parsed: unknown = answer.body;
    try { parsed = answer.body ? JSON.parse(answer.body) : undefined; } catch { /* not JSON */ }
    this.observer?.request(method, path, answer.status, (Date.now() - sent) / 1000); // each answer timed alone
    if (answer.status >= 200 && answer.status < 300) return parsed as T;
    this.stats.errors++;
    const st = parsed as { message?: string; reason?: string } | undefined;
    throw new ApiError(answer.status, st?.reason ?? String(answer.status), `${method} ${path}: ${answer.status} ${st?.message ?? answer.body.slice(0, 200)}`, parsed);
  }

  /** A request on the HTTP/2 session; over HTTP/1.1 when the server turns out not to speak HTTP/2. */
  private async overHttp2(h2: H2Sessions, opts: RequestOptions, body: string | undefined, init: RequestInit): Promise<Answer> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (opts.auth) headers['authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const o = opts as RequestOptions & H2Tls;
    try {
      return await h2.request({ ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase, rejectUnauthorized: o.rejectUnauthorized, servername: o.servername }, {
        method: opts.method ?? 'GET', path: opts.path ?? '/', headers, body, timeoutMs: init.timeoutMs ?? 15_000, signal: init.signal,
      });
    } catch (e) {
      if (e instanceof NoHttp2) return this.overHttp1(true, opts, body);
      throw e;
    }
  }

  /** A request on the pooled HTTP/1.1 connections (a proxy, a plain-HTTP server, or no HTTP/2). */
  private overHttp1(https: boolean, opts: RequestOptions, body: string | undefined): Promise<Answer> {
    const method = opts.method ?? 'GET';
    return new Promise((resolve, reject) => {
      const send = (retry: boolean): void => {
        let answered = false;
        const req = (https ? httpsRequest : httpRequest)(opts, (res) => {
          answered = true;
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => { data += d; });
          res.on('error', reject);
          const after = res.headers['retry-after'];
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, retryAfter: typeof after === 'string' ? after : undefined }));
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${opts.path ?? ''}: timed out`)));
        req.on('error', (e: NodeJS.ErrnoException) => {
          // a kept-alive connection the server closed as it was reused: the request never reached it
          if (retry && !answered && req.reusedSocket && e.code === 'ECONNRESET') { send(false); return; }
          reject(e);
        });
        if (body !== undefined) req.write(body);
        req.end();
      };
      send(true);
    });
  }

  /** Server-side apply (JSON is YAML) under a field manager. */
  apply<T = unknown>(path: string, obj: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>(path, { method: 'PATCH', body: obj, contentType: 'application/apply-patch+yaml', query: { fieldManager, force } });
  }

  mergePatch<T = unknown>(path: string, patch: unknown, fieldManager?: string): Promise<T> {
    return this.request<T>(path, { method: 'PATCH', body: patch, contentType: 'application/merge-patch+json', query: { fieldManager } });
  }

  jsonPatch<T = unknown>(path: string, ops: unknown[], fieldManager?: string): Promise<T> {
    return this.request<T>(path, { method: 'PATCH', body: ops, contentType: 'application/json-patch+json', query: { fieldManager } });
  }

  /**
   * A streaming watch: calls onEvent for each JSON line; resolves when the server closes the
   * stream, rejects on an error. abort() ends it.
   */
  async watchStream(path: string, query: RequestInit['query'], onEvent: (ev: { type: string; object: unknown }) => void, signal: AbortSignal): Promise<void> {
    const url = this.url(path, { ...query, watch: true });
    const opts = await this.options('GET', url, { Accept: 'application/json' }, 0, false);
    this.stats.requests++;
    return new Promise<void>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)({ ...opts, signal }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          let data = '';
          res.on('data', (d: Buffer) => { data += d.toString(); });
          res.on('end', () => {
            let st: { message?: string; reason?: string } | undefined;
            try { st = JSON.parse(data) as typeof st; } catch { /* plain */ }
            reject(new ApiError(res.statusCode ?? 0, st?.reason ?? '', `watch ${path}: ${res.statusCode} ${st?.message ?? data.slice(0, 200)}`, st));
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try { onEvent(JSON.parse(line) as { type: string; object: unknown }); } catch (e) { req.destroy(e as Error); return; }
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      req.end();
    });
  }
}
