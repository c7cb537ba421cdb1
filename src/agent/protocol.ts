// The standalone agent's control protocol: one JSON request per line on a Unix socket under the
// state folder, one JSON response per line.

export type Verb = 'start' | 'stop' | 'restart' | 'reload' | 'reset-failed';

export type Request =
  | { readonly cmd: 'list' }
  | { readonly cmd: 'status'; readonly unit: string }
  | { readonly cmd: Verb; readonly unit: string }
  | { readonly cmd: 'problems' }
  | { readonly cmd: 'ping' }
  | { readonly cmd: 'stats' };

export interface UnitStatus {
  readonly Id: string;
  readonly Description: string;
  readonly LoadState: 'loaded' | 'not-found' | 'masked' | 'error';
  readonly ActiveState: string;
  readonly SubState: string;
  readonly Result: string;
  readonly NRestarts: number;
  readonly MainPID: number;
  readonly ControlPID: number;
  readonly ExecMainCode: number;
  readonly ExecMainStatus: number;
  readonly ExecMainStartTimestamp: string | undefined;
  readonly ExecMainExitTimestamp: string | undefined;
  readonly StateChangeTimestamp: string | undefined;
  readonly ActiveEnterTimestamp: string | undefined;
  readonly ActiveExitTimestamp: string | undefined;
  readonly InactiveEnterTimestamp: string | undefined;
  readonly InactiveExitTimestamp: string | undefined;
  readonly StatusText: string | undefined;
  readonly InvocationID: string;
  readonly Type: string;
  readonly Restart: string;
  readonly ExecStart: string | undefined;
  readonly FragmentPath: string;
  readonly LogPath: string;
  readonly MemoryCurrent: number | undefined;
  readonly CPUUsageNSec: number | undefined;
  readonly TasksCurrent: number | undefined;
}

export type Response =
  | { readonly ok: true; readonly units?: UnitStatus[]; readonly unit?: UnitStatus; readonly problems?: Array<{ file: string; message: string }>; readonly stats?: AgentStats }
  | { readonly ok: false; readonly error: string };

export interface AgentStats {
  readonly units: number;
  readonly stateWrites: number;
  readonly decisions: number;
  readonly pid: number;
  /** process.memoryUsage() of the agent (bytes). */
  readonly memory?: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number; readonly arrayBuffers: number };
}
