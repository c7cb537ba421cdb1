// Talks to a running standalone agent over its Unix socket.

import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Request, Response } from '../agent/protocol.ts';
import { socketPath } from '../agent/standalone.ts';

/** --state-dir, else $UNIT_OPERATOR_STATE_DIR, else ./.state when an agent runs there (npm start), else the system default. */
export function resolveStateDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag) return flag;
  if (env['UNIT_OPERATOR_STATE_DIR']) return env['UNIT_OPERATOR_STATE_DIR'];
  if (existsSync(join('.state', 'agent.sock'))) return '.state';
  return process.getuid?.() === 0 ? '/var/lib/unit-operator' : join(env['HOME'] ?? homedir(), '.local', 'state', 'unit-operator');
}

export class AgentUnreachable extends Error {}

export function request(stateDir: string, req: Request, timeoutMs = 5000): Promise<Response> {
  const path = socketPath(stateDir);
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) { reject(new AgentUnreachable(`no agent is running with state folder ${stateDir} (no ${path}); start one with: unitctl agent --manifests DIR --state-dir ${stateDir}`)); return; }
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new AgentUnreachable(`the agent at ${path} did not answer within ${timeoutMs / 1000} s`)); }, timeoutMs);
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) { clearTimeout(timer); sock.end(); resolve(JSON.parse(buf.slice(0, nl)) as Response); }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(new AgentUnreachable(`cannot reach the agent at ${path}: ${e.message}; is it running?`)); });
  });
}
