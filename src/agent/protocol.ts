// The standalone agent's control protocol: one JSON request per line on a Unix socket under the
// state folder, one JSON response per line.

import type { UnitStatus } from '../api/status.ts';

export type Verb = 'start' | 'stop' | 'restart' | 'reload' | 'reset-failed';

export type Request =
  | { readonly cmd: 'list' }
  | { readonly cmd: 'status'; readonly unit: string }
  /**
   * noBlock: answer once the job is queued (systemctl --no-block); otherwise once it finished.
   * jobMode: systemctl --job-mode= (default replace); `unitctl isolate X` is a start in mode isolate.
   */
  | { readonly cmd: Verb; readonly unit: string; readonly noBlock?: boolean; readonly jobMode?: string }
  | { readonly cmd: 'list-jobs' }
  | { readonly cmd: 'list-dependencies'; readonly unit: string; readonly reverse?: boolean }
  | { readonly cmd: 'problems' }
  | { readonly cmd: 'ping' }
  | { readonly cmd: 'stats' };

/** A unit's status: the one status model's shape (src/api/status.ts). */
export type { UnitStatus };

export type Response =
  | {
    readonly ok: true; readonly units?: UnitStatus[]; readonly unit?: UnitStatus; readonly problems?: Array<{ file: string; message: string }>; readonly stats?: AgentStats;
    /** A verb's job: its id and, once it finished, its result (systemd's job results: done, skipped…). */
    readonly job?: { readonly id: number; readonly result?: string };
    readonly jobs?: readonly JobInfo[];
    readonly dependencies?: DependencyNode;
  }
  /** exit: systemctl's exit status for this error when it is not the verb's usual one (6: a bad unit setting). */
  | { readonly ok: false; readonly error: string; readonly exit?: number };

export interface AgentStats {
  readonly units: number;
  readonly stateWrites: number;
  readonly decisions: number;
  /** The units' automatic restarts so far (the sum of their NRestarts=): the benchmark's restarts a second. */
  readonly restarts?: number;
  readonly pid: number;
  /** process.memoryUsage() of the agent (bytes). */
  readonly memory?: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number; readonly arrayBuffers: number };
}

/** An installed job (systemctl list-jobs: JOB UNIT TYPE STATE). */
export interface JobInfo { readonly id: number; readonly unit: string; readonly type: string; readonly state: 'waiting' | 'running' }

/** systemctl list-dependencies' tree: a unit, its ActiveState, and the units it needs (or, reversed, that need it). */
export interface DependencyNode { readonly unit: string; readonly active: string; readonly children: readonly DependencyNode[] }
