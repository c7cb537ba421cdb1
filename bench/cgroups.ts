// The cost of a cgroup per unit (issue 13): the restart gap (RestartSec=0, exit → next start,
// measured by the process itself) of unit-operator with its cgroups and with
// UNIT_OPERATOR_CGROUPS=off, in the same run. Per start the agent makes sure the unit's cgroup
// and the holders' scope exist in every hierarchy and applies the unit's limits; uo-shim writes
// the command's PID into cgroup.procs of each hierarchy before exec. The two variants take turns
// (rounds), so that the load of the machine falls on both alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { detectCgroups } from '../src/runner/cgroup/index.ts';
import { Ours } from './peers/ours.ts';
import { percentile } from './lib.ts';

export interface CgroupCostRow {
  readonly peer: string;
  readonly cgroups: string;
  readonly n?: number;
  readonly p50?: number;
  readonly p99?: number;
  readonly mean?: number;
  readonly note?: string;
}

/** `restarts` gaps per variant, in `rounds` alternating rounds; the rows with cgroups first. */
export async function cgroupCost(restarts: number, rounds: number, say: (s: string) => void): Promise<CgroupCostRow[]> {
  const layout = detectCgroups();
  const on = layout.mode === 'none' ? `none (${layout.notes[0] ?? 'no writable hierarchy'})` : `${layout.mode}, ${layout.hierarchies.length} hierarchies`;
  const variants = [
    { peer: new Ours(), cgroups: on, gaps: [] as number[], error: '' },
    { peer: new Ours({ name: 'unit-operator', env: { UNIT_OPERATOR_CGROUPS: 'off' } }), cgroups: 'off (UNIT_OPERATOR_CGROUPS=off)', gaps: [] as number[], error: '' },
  ];
  const per = Math.ceil(restarts / rounds);
  for (let round = 1; round <= rounds; round++) {
    for (const v of variants) {
      const dir = mkdtempSync(join(tmpdir(), 'uo-bench-'));
      say(`unit-operator, cgroups ${v.cgroups}: restart gap, round ${round} of ${rounds} (${per} restarts)...`);
      try {
        const got = await v.peer.restartDelays(0, per, dir);
        v.gaps.push(...got);
        if (got.length < per) v.error = `round ${round}: ${got.length} of ${per} restarts measured`;
      } catch (e) { v.error = `error: ${(e as Error).message}`; } finally {
        await v.peer.cleanup().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return variants.map((v) => (v.gaps.length === 0
    ? { peer: v.peer.name, cgroups: v.cgroups, note: v.error || 'no restart measured' }
    : { peer: v.peer.name, cgroups: v.cgroups, n: v.gaps.length, p50: percentile(v.gaps, 50), p99: percentile(v.gaps, 99), mean: v.gaps.reduce((a, b) => a + b, 0) / v.gaps.length, ...(v.error ? { note: v.error } : {}) }));
}
