// Talks to a running standalone agent over its Unix socket.

import { createConnection } from 'node:net';
import { existsSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Request, Response } from '../agent/protocol.ts';
import { READ_ONLY, reachablePath, readSocketPath, socketPath } from '../agent/socket.ts';

/** --state-dir, else $UNIT_OPERATOR_STATE_DIR, else ./.state when an agent runs there (npm start), else the system default. */
export function resolveStateDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag) return flag;
  if (env['UNIT_OPERATOR_STATE_DIR']) return env['UNIT_OPERATOR_STATE_DIR'];
  if (existsSync(join('.state', 'agent.sock'))) return '.state';
  return process.getuid?.() === 0 ? '/var/lib/unit-operator' : join(env['HOME'] ?? homedir(), '.local', 'state', 'unit-operator');
}

export class AgentUnreachable extends Error {}

type Attempt = { res: Response } | { code: string | undefined; message: string };

/** One request on one socket (a path too long for sun_path is reached through /proc/self/fd). */
function attempt(path: string, req: Request, timeoutMs: number): Promise<Attempt> {
  let via: ReturnType<typeof reachablePath>;
  try { via = reachablePath(path, 'the agent\'s socket'); } catch (e) { return Promise.resolve({ code: undefined, message: (e as Error).message }); }
  return new Promise((resolve) => {
    const sock = createConnection(via.path);
    let buf = '';
    let settled = false;
    const finish = (a: Attempt): void => { if (settled) return; settled = true; clearTimeout(timer); sock.destroy(); via.done(); resolve(a); };
    const timer = setTimeout(() => finish({ code: 'ETIMEDOUT', message: `the agent at ${path} did not answer within ${timeoutMs / 1000} s` }), timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish({ res: JSON.parse(buf.slice(0, nl)) as Response });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ code: e.code, message: `cannot reach the agent at ${path}: ${e.message.replace(via.path, path)}; is it running?` }));
    // the agent went away (it stopped, crashed) before it answered: no answer will come
    const gone = (): void => finish({ code: 'ECONNRESET', message: `the agent at ${path} closed the connection without answering (it stopped or crashed, or refused one connection too many); see its log` });
    sock.on('end', gone);
    sock.on('close', gone);
  });
}

/** Whether path exists, is absent, or cannot be looked at (a folder we may not enter). */
function presence(path: string): 'yes' | 'no' | 'denied' {
  try { lstatSync(path); return 'yes'; } catch (e) { return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no' : 'denied'; }
}

/**
 * Sends one request to the agent of stateDir: on agent.sock (root and the agent's uid), else,
 * for a read-only command from a user agent.sock refuses, on agent-ro.sock (--read-socket-group).
 */
export async function request(stateDir: string, req: Request, timeoutMs = 5000): Promise<Response> {
  const path = socketPath(stateDir);
  const ro = readSocketPath(stateDir);
  const here = presence(path);
  if (here === 'no') throw new AgentUnreachable(`no agent is running with state folder ${stateDir} (no ${path}); start one with: unitctl agent --manifests DIR --state-dir ${stateDir}`);
  const first = await attempt(path, req, timeoutMs);
  if ('res' in first) return first.res;
  if (first.code !== 'EACCES' && here !== 'denied') throw new AgentUnreachable(first.message);
  // agent.sock is root's (or the agent user's) alone
  if (READ_ONLY.has(req.cmd) && presence(ro) === 'yes') {
    const second = await attempt(ro, req, timeoutMs);
    if ('res' in second) return second.res;
    if (second.code !== 'EACCES') throw new AgentUnreachable(second.message);
  }
  throw new AgentUnreachable(READ_ONLY.has(req.cmd)
    ? `Access denied: the agent's socket ${path} is for root and the agent's user only, and ${presence(ro) === 'yes' ? `you are not in the group of ${ro}` : 'no read-only socket is open to you (the agent runs without --read-socket-group, or you may not enter its state folder)'}`
    : `Access denied: only root (or the agent's user) may ${req.cmd} units; ${path} refused the connection`);
}
