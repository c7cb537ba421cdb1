// Leases (coordination.k8s.io/v1): a heartbeat for a node's agent, and leader election for
// the controller (acquire when free or expired, renew, step down when renewals fail).

import { ApiError, type KubeClient } from './client.ts';

const LEASES = (ns: string): string => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
const micro = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

interface Lease {
  metadata: { name: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

export function leaseExpired(l: Lease | undefined, now = Date.now()): boolean {
  if (!l?.spec.renewTime) return true;
  return Date.parse(l.spec.renewTime) + (l.spec.leaseDurationSeconds ?? 40) * 1000 < now;
}

/** Creates or renews a lease held by `holder`; returns false when another holder has it. */
export async function tryHold(client: KubeClient, ns: string, name: string, holder: string, durationS: number, steal = false): Promise<boolean> {
  let current: Lease | undefined;
  try { current = await client.request<Lease>(`${LEASES(ns)}/${name}`); } catch (e) { if (!(e instanceof ApiError && e.status === 404)) throw e; }
  const now = new Date();
  if (!current) {
    try {
      await client.request(LEASES(ns), { method: 'POST', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: ns }, spec: { holderIdentity: holder, leaseDurationSeconds: durationS, acquireTime: micro(now), renewTime: micro(now), leaseTransitions: 0 } } });
      return true;
    } catch (e) { if (e instanceof ApiError && e.status === 409) return false; throw e; }
  }
  const mine = current.spec.holderIdentity === holder;
  if (!mine && !steal && !leaseExpired(current)) return false;
  const spec = { ...current.spec, holderIdentity: holder, leaseDurationSeconds: durationS, renewTime: micro(now), ...(mine ? {} : { acquireTime: micro(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }) };
  try {
    await client.request(`${LEASES(ns)}/${name}`, { method: 'PUT', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: current.metadata, spec } });
    return true;
  } catch (e) { if (e instanceof ApiError && e.status === 409) return false; throw e; }
}

export interface Elector {
  readonly isLeader: () => boolean;
  stop(): void;
}

/** Leader election: calls onStart when leadership is won and onStop when it is lost. */
export function elect(client: KubeClient, ns: string, name: string, identity: string, opts: { durationS?: number; renewMs?: number; onStart: () => void; onStop: () => void; log?: (m: string) => void }): Elector {
  const duration = opts.durationS ?? 15;
  let leader = false;
  let lastRenew = 0;
  let stopped = false;
  const tick = async (): Promise<void> => {
    if (stopped) return;
    try {
      const ok = await tryHold(client, ns, name, identity, duration);
      if (ok) { lastRenew = Date.now(); if (!leader) { leader = true; opts.log?.(`became leader (${identity})`); opts.onStart(); } }
      else if (leader) { leader = false; opts.log?.('lost leadership to another holder'); opts.onStop(); }
    } catch (e) {
      opts.log?.(`lease renewal failed: ${(e as Error).message}`);
      if (leader && Date.now() - lastRenew > duration * 1000 * 0.8) { leader = false; opts.log?.('could not renew in time; stepping down'); opts.onStop(); }
    }
  };
  void tick();
  const timer = setInterval(() => { void tick(); }, opts.renewMs ?? 2000);
  return { isLeader: () => leader, stop: () => { stopped = true; clearInterval(timer); if (leader) { leader = false; opts.onStop(); } } };
}
