// Kubernetes Events for the transitions a user cares about (Started, Exited, Restarting,
// Failed, StartLimitHit, Stopped), derived from consecutive unit properties; rate-limited.

import type { KubeClient } from '../kube/client.ts';
import type { UnitRunner } from '../runner/unit.ts';

export interface UnitEvent { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string }

export type Snapshot = UnitRunner['props'] & { readonly exitUs: number | undefined };

/** The events between two snapshots of a unit (pure). */
export function transitions(prev: Snapshot, cur: Snapshot, restartInMs: number | undefined): UnitEvent[] {
  const out: UnitEvent[] = [];
  const exited = cur.ExecMainCode > 0 && cur.exitUs !== undefined && cur.exitUs !== prev.exitUs;
  if (exited) {
    const what = cur.ExecMainCode === 1 ? `code=exited, status=${cur.ExecMainStatus}` : `code=${cur.ExecMainCode === 2 ? 'killed' : 'dumped'}, signal=${cur.ExecMainStatus}`;
    out.push({ type: cur.ExecMainCode === 1 && cur.ExecMainStatus === 0 ? 'Normal' : 'Warning', reason: 'Exited', message: `Main process exited, ${what}` });
  }
  if (cur.SubState === 'auto-restart' && prev.SubState !== 'auto-restart') {
    out.push({ type: 'Normal', reason: 'Restarting', message: `Scheduled restart in ${restartInMs !== undefined ? (restartInMs / 1000).toFixed(1) : '?'} s (restart ${cur.NRestarts + 1})` });
  }
  // a simple service is active at fork; its PID can follow in a later decision
  if (cur.ActiveState === 'active' && cur.MainPID > 0 && (prev.ActiveState !== 'active' || prev.MainPID === 0)) out.push({ type: 'Normal', reason: 'Started', message: `Started, main PID ${cur.MainPID}` });
  if (cur.ActiveState === 'failed' && prev.ActiveState !== 'failed') out.push({ type: 'Warning', reason: 'Failed', message: `Failed with result '${cur.Result}'` });
  if (cur.SubState === 'dead' && prev.SubState !== 'dead' && prev.ActiveState !== 'inactive') out.push({ type: 'Normal', reason: 'Stopped', message: 'Stopped' });
  return out;
}

export class EventRecorder {
  private tokens = 20;
  private last = Date.now();
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly host: string;
  constructor(client: KubeClient, component: string, host: string) { this.client = client; this.component = component; this.host = host; }

  record(ref: { namespace: string; name: string; uid?: string }, ev: UnitEvent): void {
    const now = Date.now();
    this.tokens = Math.min(20, this.tokens + (now - this.last) / 500);
    this.last = now;
    if (this.tokens < 1) return;
    this.tokens--;
    const ts = new Date().toISOString();
    void this.client.request(`/api/v1/namespaces/${ref.namespace}/events`, {
      method: 'POST',
      body: {
        apiVersion: 'v1', kind: 'Event', metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
        involvedObject: { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', name: ref.name, namespace: ref.namespace, ...(ref.uid ? { uid: ref.uid } : {}) },
        reason: ev.reason, message: `${this.host}: ${ev.message}`, type: ev.type,
        source: { component: this.component, host: this.host }, firstTimestamp: ts, lastTimestamp: ts, count: 1,
      },
    }).catch(() => { /* events are best effort */ });
  }
}
