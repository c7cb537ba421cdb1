// Structured logs (pino): one JSON object per line with the component, node and unit fields
// (unit → namespace + unit), or `--log-format pretty` for humans (pino-pretty). The agents'
// log levels are systemd's (debug, notice, warning); pino's names are used on the wire, and
// debug lines are dropped (pino's level is info).

import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { unitLabels } from './labels.ts';

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';
export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function parseLogFormat(v: string | undefined, tty: boolean): LogFormat {
  if (v === undefined) return tty ? 'pretty' : 'json';
  if (v === 'json' || v === 'pretty') return v;
  throw new Error(`--log-format "${v}": use json or pretty`);
}

const LEVEL: Record<LogLevel, 'debug' | 'info' | 'warn' | 'error'> = { debug: 'debug', info: 'info', notice: 'info', warning: 'warn', error: 'error' };

export function createLogger(opts: { format: LogFormat; write: (line: string) => void; color?: boolean; base: Record<string, string> }): { log: Log; logger: Logger } {
  const prettify = opts.format === 'pretty' ? prettyFactory({ colorize: !!opts.color, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true }) : undefined;
  const logger = pino({ base: opts.base, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, {
    write: (line: string) => opts.write(prettify ? prettify(line) : line),
  });
  const log: Log = (level, message, fields) => {
    const { unit, ...rest } = fields ?? {};
    const extra = typeof unit === 'string' ? { ...rest, ...unitLabels(unit) } : rest;
    logger[LEVEL[level]](extra, message);
  };
  return { log, logger };
}
