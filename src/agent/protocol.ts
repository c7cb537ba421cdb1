// The standalone agent's control protocol: one JSON request per line on a Unix socket under the
// state folder, one JSON response per line.

import type { UnitStatus } from '../api/status.ts';

export type Verb = 'start' | 'stop' | 'restart' | 'reload' | 'reset-failed';

export type Request =
  | { readonly cmd: 'list' }
  | { readonly cmd: 'status'; readonly unit: string }
  | { readonly cmd: Verb; readonly unit: string }
  | { readonly cmd: 'problems' }
  | { readonly cmd: 'ping' }
  | { readonly cmd: 'stats' };

/** A unit's status: the one status model's shape (src/api/status.ts). */
export type { UnitStatus };

export type Response =
  | { readonly ok: true; readonly units?: UnitStatus[]; readonly unit?: UnitStatus; readonly problems?: Array<{ file: string; message: string }>; readonly stats?: AgentStats }
  /** exit: systemctl's exit status for this error when it is not the verb's usual one (6: a bad unit setting). */
  | { readonly ok: false; readonly error: string; readonly exit?: number };

export interface AgentStats {
  readonly units: number;
  readonly stateWrites: number;
  readonly decisions: number;
  readonly pid: number;
  /** process.memoryUsage() of the agent (bytes). */
  readonly memory?: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number; readonly arrayBuffers: number };
}
