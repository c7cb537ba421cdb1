// Kubernetes Events for the transitions a user cares about (Started, Exited, Restarting,
// Failed, StartLimitHit, Stopped), read from the engine's typed transitions; rate-limited.

import type { KubeClient } from '../kube/client.ts';
import type { Transition } from '../engine/index.ts';
import { exitText } from '../api/status.ts';

export interface UnitEvent { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string }

/** The Event for one transition, if users see one (pure). */
export function unitEvent(t: Transition): UnitEvent | undefined {
  switch (t.t) {
    case 'main-exited':
      return { type: t.code === 'exited' && t.status === 0 ? 'Normal' : 'Warning', reason: 'Exited', message: `Main process exited, ${exitText(t.code, t.status)}` };
    case 'restart-scheduled':
      return { type: 'Normal', reason: 'Restarting', message: `Scheduled restart in ${Number.isFinite(t.delayUSec) ? (t.delayUSec / 1_000_000).toFixed(1) : '?'} s (restart ${t.nRestarts})` };
    case 'start-limit-hit':
      return { type: 'Warning', reason: 'StartLimitHit', message: 'Start request repeated too quickly (StartLimitBurst= reached)' };
    case 'started':
      return { type: 'Normal', reason: 'Started', message: t.mainPid > 0 ? `Started, main PID ${t.mainPid}` : 'Started' };
    case 'failed':
      return { type: 'Warning', reason: 'Failed', message: `Failed with result '${t.result}'` };
    case 'stopped':
      return { type: 'Normal', reason: 'Stopped', message: 'Stopped' };
    default:
      return undefined;
  }
}

export class EventRecorder {
  private tokens = 20;
  private last = Date.now();
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly host: string;
  constructor(client: KubeClient, component: string, host: string) { this.client = client; this.component = component; this.host = host; }

  /** Sends the Event (best effort); false when the rate limit dropped it. */
  record(ref: { namespace: string; name: string; uid?: string }, ev: UnitEvent): boolean {
    const now = Date.now();
    this.tokens = Math.min(20, this.tokens + (now - this.last) / 500);
    this.last = now;
    if (this.tokens < 1) return false;
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
    return true;
  }
}
