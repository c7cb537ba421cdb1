// The CLI edge of observability: --log-format and --metrics-bind-address turned into a logger
// and a served endpoint, with flag errors as usage errors. ("0" or no address: no endpoint.)

import { UsageError, type Io } from './io.ts';
import type { Metrics } from '../observability/metrics.ts';
import { serveEndpoint, type Endpoint } from '../observability/http.ts';
import { createLogger, parseLogFormat, type Log } from '../observability/log.ts';

export interface ObservabilityFlags { 'metrics-bind-address'?: string | undefined; 'log-format'?: string | undefined }

export function logger(io: Io, flags: ObservabilityFlags, base: Record<string, string>): Log {
  let format;
  try { format = parseLogFormat(flags['log-format'], !!process.stderr.isTTY); } catch (e) { throw new UsageError((e as Error).message); }
  return createLogger({ format, write: (l) => io.stderr(l), color: !!process.stderr.isTTY && !process.env['NO_COLOR'], base }).log;
}

export async function endpoint(flags: ObservabilityFlags, metrics: Metrics, notReady: () => string | undefined, log: Log): Promise<Endpoint | undefined> {
  const address = flags['metrics-bind-address'];
  if (!address || address === '0') return undefined;
  let ep: Endpoint;
  try { ep = await serveEndpoint(address, metrics, { notReady }); } catch (e) { throw new UsageError(`--metrics-bind-address ${address}: ${(e as Error).message}`); }
  log('info', `serving /metrics, /healthz and /readyz on ${ep.url}`);
  return ep;
}
