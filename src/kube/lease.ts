// Leases (coordination.k8s.io/v1): a heartbeat for a node's agent, and leader election for
// the controller (acquire when free or expired, renew, step down when renewals fail). Time
// comes from a Clock (tests drive a fake one).

import { ApiError, type KubeClient } from './client.ts';
import { realClock, type Clock } from './clock.ts';

export const LEASES_PATH = (ns: string): string => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
const micro = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

interface Lease {
  metadata: { name: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

export function leaseExpired(l: Lease | undefined, now = Date.now()): boolean {
  if (!l?.spec.renewTime) return true;
  return Date.parse(l.spec.renewTime) + (l.spec.leaseDurationSeconds ?? 40) * 1000 < now;
}

/**
 * Creates or renews a lease held by `holder`; returns false when another holder has it.
 * `renewed` is told the renewTime written (ms), once the write succeeded.
 */
export async function tryHold(client: KubeClient, ns: string, name: string, holder: string, durationS: number, steal = false, clock: Clock = realClock, renewed?: (renewTimeMs: number) => void): Promise<boolean> {
  let current: Lease | undefined;
  try { current = await client.request<Lease>(`${LEASES_PATH(ns)}/${name}`); } catch (e) { if (!(e instanceof ApiError && e.status === 404)) throw e; }
  const now = new Date(clock.now());
  if (!current) {
    try {
      await client.request(LEASES_PATH(ns), { method: 'POST', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: ns }, spec: { holderIdentity: holder, leaseDurationSeconds: durationS, acquireTime: micro(now), renewTime: micro(now), leaseTransitions: 0 } } });
      renewed?.(now.getTime());
      return true;
    } catch (e) { if (e instanceof ApiError && e.status === 409) return false; throw e; }
  }
  const mine = current.spec.holderIdentity === holder;
  const free = !current.spec.holderIdentity; // released
  if (!mine && !free && !steal && !leaseExpired(current, now.getTime())) return false;
  const spec = { ...current.spec, holderIdentity: holder, leaseDurationSeconds: durationS, renewTime: micro(now), ...(mine ? {} : { acquireTime: micro(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }) };
  try {
    await client.request(`${LEASES_PATH(ns)}/${name}`, { method: 'PUT', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: current.metadata, spec } });
    renewed?.(now.getTime());
    return true;
  } catch (e) { if (e instanceof ApiError && e.status === 409) return false; throw e; }
}

export interface Elector {
  readonly isLeader: () => boolean;
  /** Stops renewing; waits for a renewal in flight, steps down (onStop) and releases the lease
   *  if this identity holds it, so a standby takes over at its next try instead of waiting for
   *  the lease to expire. */
  stop(): Promise<void>;
}

/** Leader election: calls onStart when leadership is won and onStop when it is lost. */
export function elect(client: KubeClient, ns: string, name: string, identity: string, opts: { durationS?: number; renewMs?: number; onStart: () => void; onStop: () => void; log?: (m: string) => void; clock?: Clock }): Elector {
  const duration = opts.durationS ?? 15;
  const clock = opts.clock ?? realClock;
  let leader = false;
  let lastRenew = 0;
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  /** Past the renew deadline without a renewal: leadership ends, whether or not a renewal is still on the wire. */
  const overdue = (): boolean => leader && clock.now() - lastRenew > duration * 1000 * 0.8;
  const stepDown = (why: string): void => { leader = false; opts.log?.(why); opts.onStop(); };
  const tick = async (): Promise<void> => {
    // the renewal counts from the renewTime it wrote (others judge the lease by it), not from its answer
    let wrote = 0;
    try {
      const ok = await tryHold(client, ns, name, identity, duration, false, clock, (t) => { wrote = t; });
      if (stopped) return; // stop() came while this renewal was on the wire: it decides now
      if (ok) { lastRenew = wrote; if (!leader) { leader = true; opts.log?.(`became leader (${identity})`); opts.onStart(); } }
      else if (leader) { leader = false; opts.log?.('lost leadership to another holder'); opts.onStop(); }
    } catch (e) {
      if (stopped) return;
      opts.log?.(`lease renewal failed: ${(e as Error).message}`);
      if (overdue()) stepDown('could not renew in time; stepping down');
    }
  };
  // one renewal at a time: a slow API server must not stack them up; but one that hangs (a
  // throttled or silent server) must not keep a leader past its deadline — another replica
  // takes the lease once it expires, and two would lead
  const next = (): void => {
    if (!stopped && overdue()) stepDown('the lease renewal is overdue; stepping down');
    if (!stopped && !inFlight) inFlight = tick().finally(() => { inFlight = undefined; });
  };
  next();
  const timer = clock.setInterval(next, opts.renewMs ?? 2000);
  return {
    isLeader: () => leader,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clock.clear(timer);
      await inFlight;
      if (leader) { leader = false; opts.onStop(); }
      try {
        if (await release(client, ns, name, identity, clock)) opts.log?.(`released the lease ${ns}/${name}`);
      } catch (e) { opts.log?.(`could not release the lease ${ns}/${name} (it expires in ${duration} s): ${(e as Error).message}`); }
    },
  };
}

/** Gives up a lease `holder` holds, as client-go's ReleaseOnCancel does: no holder, a 1 s
 *  duration. Returns false when somebody else holds it (nothing to release). */
export async function release(client: KubeClient, ns: string, name: string, holder: string, clock: Clock = realClock): Promise<boolean> {
  let current: Lease;
  try { current = await client.request<Lease>(`${LEASES_PATH(ns)}/${name}`, { timeoutMs: 5000 }); } catch (e) { if (e instanceof ApiError && e.status === 404) return false; throw e; }
  if (current.spec.holderIdentity !== holder) return false;
  const now = micro(new Date(clock.now()));
  const spec = { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
  try {
    await client.request(`${LEASES_PATH(ns)}/${name}`, { method: 'PUT', timeoutMs: 5000, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: current.metadata, spec } });
    return true;
  } catch (e) { if (e instanceof ApiError && e.status === 409) return false; throw e; }
}
