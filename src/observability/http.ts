// The agent's and the controller's HTTP endpoint: /metrics (Prometheus text format), /healthz
// (liveness: the process answers) and /readyz (readiness: the component says it is ready,
// with the reason when it is not). One listener, like kubelet's and controller-runtime's.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';

export interface Probes {
  /** undefined when ready; otherwise why not. */
  readonly notReady: () => string | undefined;
}

/** ":8080" → all interfaces; "127.0.0.1:0" → loopback, a free port. */
export function parseBindAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`bind address "${address}" is not HOST:PORT (for example ":8080" or "127.0.0.1:8080")`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface Endpoint { readonly server: Server; readonly url: string; close(): Promise<void> }

export async function serveEndpoint(address: string, metrics: Metrics, probes: Probes): Promise<Endpoint> {
  const { host, port } = parseBindAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => { res.writeHead(code, { 'Content-Type': type }); res.end(body); };
    if (req.method !== 'GET' && req.method !== 'HEAD') { reply(405, 'only GET\n'); return; }
    if (path === '/metrics') {
      metrics.text().then((t) => reply(200, t, metrics.registry.contentType), (e: Error) => reply(500, `collecting metrics failed: ${e.message}\n`));
    } else if (path === '/healthz' || path === '/livez') {
      reply(200, 'ok\n');
    } else if (path === '/readyz') {
      const why = probes.notReady();
      if (why === undefined) reply(200, 'ok\n'); else reply(503, `not ready: ${why}\n`);
    } else {
      reply(404, 'not found; try /metrics, /healthz or /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, () => resolve()); });
  const a = server.address() as AddressInfo;
  const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server, url: `http://${shown === '0.0.0.0' ? '127.0.0.1' : shown}:${a.port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
