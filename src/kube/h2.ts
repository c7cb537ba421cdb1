// The client's requests over HTTP/2 (issue 19): one TLS connection to the API server carries
// every request at once, each a stream of its own, as client-go does. Over HTTP/1.1 a request
// holds a connection until its answer: in a burst of 200 new units the agent's 200 status writes
// queued ~1 s behind its 8 pooled connections (and the bench's 200 creates as long), while the
// API server could have worked on all of them. The session is opened on first use, kept while
// it lives (unref'd when idle, so it never keeps a process alive), and replaced when the server
// closes it or the credentials change (rotated certificates open a new one; requests still on
// the old one finish there).

import { connect, constants, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';

export interface H2Request {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** Fails the request when the stream is silent this long (ms); 0: never. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface H2Answer { readonly status: number; readonly body: string; readonly retryAfter?: string | undefined }

/** The TLS settings of a session: requests with other ones (rotated credentials) get a new session. */
export type H2Tls = Pick<SecureClientSessionOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'>;

/** Thrown when the server does not speak HTTP/2 (ALPN chose none): the caller uses HTTP/1.1 instead. */
export class NoHttp2 extends Error {}

/** Failures of the session before the request left: it never reached the server, and is sent again once on a new session. */
const NEVER_SENT = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_OUT_OF_STREAMS']);
/** The connection went away with the request on it: the server may have done it — sent again only when harmless (IDEMPOTENT). */
const MAYBE_SENT = new Set(['ERR_HTTP2_STREAM_CANCEL', 'ECONNRESET']);

const STREAM_WINDOW = 4 * 1024 * 1024;
const CONNECTION_WINDOW = 1024 * 1024 * 1024;

/** Methods sent again after a connection reset (the server may have had them): reads only. */
const IDEMPOTENT = new Set(['GET', 'HEAD']);

const tlsKey = (tls: H2Tls): string => JSON.stringify([tls.ca, tls.cert, tls.key, tls.pfx, tls.passphrase, tls.rejectUnauthorized, tls.servername].map((v) =>
  Buffer.isBuffer(v) ? v.toString('base64') : Array.isArray(v) ? v.map((x) => (Buffer.isBuffer(x) ? x.toString('base64') : String(x))) : v));

interface Live { readonly key: string; readonly session: ClientHttp2Session; active: number; used: boolean }

export class H2Sessions {
  private live: Live | undefined;
  /** The server answered without HTTP/2 once: every request goes over HTTP/1.1 from then on. */
  unsupported = false;
  private readonly origin: string;

  constructor(origin: string) { this.origin = origin; }

  private session(tls: H2Tls): Live {
    const key = tlsKey(tls);
    const cur = this.live;
    if (cur && cur.key === key && !cur.session.closed && !cur.session.destroyed) return cur;
    if (cur && !cur.session.closed) cur.session.close(); // its streams finish; no new ones
    // flow-control windows as client-go's (4 MB a stream, 1 GB the connection): at HTTP/2's
    // default 64 KB a large LIST over a distant link would come 64 KB a round trip
    const session = connect(this.origin, { ...tls, settings: { initialWindowSize: STREAM_WINDOW } });
    session.once('connect', () => { try { session.setLocalWindowSize(CONNECTION_WINDOW); } catch { /* the default then */ } });
    const l: Live = { key, session, active: 0, used: false };
    const drop = (): void => { if (this.live === l) this.live = undefined; };
    session.on('connect', () => { if (session.alpnProtocol !== 'h2') { this.unsupported = true; drop(); session.destroy(); } });
    session.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') this.unsupported = true; drop(); });
    session.on('goaway', drop);
    session.on('close', drop);
    session.unref();
    this.live = l;
    return l;
  }

  /** One request; rejects with NoHttp2 when the server turned out not to speak HTTP/2. */
  request(tls: H2Tls, r: H2Request): Promise<H2Answer> {
    return this.send(tls, r, true);
  }

  private send(tls: H2Tls, r: H2Request, retry: boolean): Promise<H2Answer> {
    return new Promise<H2Answer>((resolve, reject) => {
      if (this.unsupported) { reject(new NoHttp2()); return; }
      const l = this.session(tls);
      const reused = l.used;
      let answered = false;
      let settled = false;
      let stream: ReturnType<ClientHttp2Session['request']> | undefined;
      /** The stream ended without a whole answer: sent again when the connection (not the request) failed. */
      const failed = (e: NodeJS.ErrnoException): void => {
        if (settled) return;
        settled = true;
        // decided once the session's own events are in (a failed ALPN reaches the stream first)
        setImmediate(() => {
          if (this.unsupported && !answered) { reject(new NoHttp2()); return; }
          const refused = stream?.rstCode === constants.NGHTTP2_REFUSED_STREAM;
          // no new stream fits the session: a new one for what follows
          if (e.code === 'ERR_HTTP2_OUT_OF_STREAMS') this.retire(l);
          // a connection that went away may have carried the request to the server: sent again only
          // when that is harmless (a read), never a create or a write (a create done twice answers
          // 409, a generateName one makes two objects)
          const code = e.code ?? '';
          const gone = refused || NEVER_SENT.has(code) || (MAYBE_SENT.has(code) && IDEMPOTENT.has(r.method) && (code !== 'ECONNRESET' || reused));
          if (retry && !answered && gone && !r.signal?.aborted) { this.send(tls, r, false).then(resolve, reject); return; }
          reject(e);
        });
      };
      const headers: Record<string, string | number> = { ':method': r.method, ':path': r.path };
      for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
      if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
      let s: ReturnType<ClientHttp2Session['request']>;
      try {
        s = stream = l.session.request(headers, { endStream: r.body === undefined, ...(r.signal ? { signal: r.signal } : {}) });
      } catch (e) { failed(e as NodeJS.ErrnoException); return; }
      l.used = true;
      if (l.active++ === 0) l.session.ref();
      const done = (): void => { if (--l.active === 0 && !l.session.destroyed) l.session.unref(); };
      // silent this long: the stream fails, and the session is not given another request — a
      // connection dropped without a word (a NAT's or load balancer's idle timeout, a failed-over
      // server) would otherwise take every later request until TCP gives up (~15 min); its
      // other streams finish or time out on it
      if (r.timeoutMs > 0) s.setTimeout(r.timeoutMs, () => { this.retire(l); s.destroy(new Error(`${r.method} ${r.path}: timed out`)); });
      let status = 0;
      let body = '';
      let ended = false;
      s.setEncoding('utf8');
      let length: number | undefined;
      let retryAfter: string | undefined;
      s.on('response', (h) => {
        answered = true; status = Number(h[':status'] ?? 0);
        if (h['content-length'] !== undefined) length = Number(h['content-length']);
        if (typeof h['retry-after'] === 'string') retryAfter = h['retry-after'];
      });
      s.on('data', (d: string) => { body += d; });
      s.on('end', () => { ended = true; });
      s.on('error', (e: NodeJS.ErrnoException) => failed(e));
      // whole only when the stream closed cleanly (a reset after part of the body also "ends" it)
      s.on('close', () => {
        done();
        if (settled) return;
        const whole = answered && ended && s.rstCode === constants.NGHTTP2_NO_ERROR && (length === undefined || Buffer.byteLength(body) === length);
        if (whole) { settled = true; resolve({ status, body, retryAfter }); return; }
        // cancelled with its connection, before an answer: the connection went away under it
        const dropped = !answered && s.rstCode === constants.NGHTTP2_CANCEL && (l.session.destroyed || l.session.closed);
        failed(Object.assign(new Error(`${r.method} ${r.path}: stream closed ${answered ? 'in the middle of the answer' : dropped ? 'without an answer: its connection went away' : 'without an answer'} (HTTP/2 error code ${s.rstCode})`), { code: dropped ? 'ERR_HTTP2_STREAM_CANCEL' : 'ERR_HTTP2_STREAM_ERROR' }));
      });
      if (r.body !== undefined) s.end(r.body);
    });
  }

  /** No new request goes to this session (the next opens another); its streams finish first. */
  private retire(l: Live): void {
    if (this.live === l) this.live = undefined;
    if (!l.session.closed && !l.session.destroyed) l.session.close();
  }

  /** Closes the session (its streams finish first). */
  close(): void { this.live?.session.close(); this.live = undefined; }
}
