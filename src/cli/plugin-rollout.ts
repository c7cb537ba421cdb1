// kubectl unit rollout status|pause|resume NAME (issue 18): status waits as `kubectl rollout
// status` does — a line per change of progress, exit 0 once every targeted node runs the current
// revision and is Ready, 1 when the rollout halted (naming the node and the Result) or the
// timeout passed; pause and resume set spec.paused.

import { parseArgs } from 'node:util';
import { KubeClient, ApiError } from '../kube/client.ts';
import type { ServiceUnit } from '../api/types.ts';
import { SU_PATH } from '../api/contract.ts';
import { revisionHash } from '../api/revision.ts';
import { EXIT, UsageError, type Io } from './io.ts';

const options = {
  namespace: { type: 'string', short: 'n' }, kubeconfig: { type: 'string' }, timeout: { type: 'string' },
  watch: { type: 'boolean', short: 'w', default: true }, 'no-watch': { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, cluster: { type: 'boolean' },
} as const;

export const ROLLOUT_HELP = `kubectl unit rollout status|pause|resume NAME [-n NAMESPACE] [--timeout 5m] [--no-watch]

  status NAME   wait until every targeted node runs the current revision and is Ready (exit 0);
                exit 1 when the rollout halted (the node and its Result are named) or --timeout
                passed; --no-watch prints the state once (exit 0 done, 1 halted, 2 in progress)
  pause NAME    no node is granted a new revision (spec.paused: true)
  resume NAME   the rollout goes on (spec.paused removed)
`;

const nameOf = (arg: string): string => arg.replace(/^(serviceunits?|su)\//, '').replace(/\.service$/, '');

function timeoutMs(t: string | undefined): number {
  if (t === undefined || t === '0' || t === '0s') return Infinity;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(t);
  if (!m) throw new UsageError(`--timeout "${t}": use a duration such as 30s or 5m`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']);
}

/** Where a rollout stands, in one line, and whether it is done / halted (pure). */
export function rolloutState(su: ServiceUnit): { line: string; done: boolean; halted: boolean; paused: boolean } {
  const name = su.metadata.name;
  const st = su.status;
  const target = revisionHash(su.spec);
  const total = st?.rollout?.nodes?.length ?? 0;
  const stalled = st?.conditions?.find((c) => c.type === 'Stalled');
  const ready = st?.conditions?.find((c) => c.type === 'Ready');
  const observed = st?.observedGeneration === su.metadata.generation && st?.rollout?.updatedRevision === target;
  // a ControllerRevision in the way (RevisionConflict): nothing is granted until someone acts —
  // the revision may never show as observed, so this ends the wait before that check
  if (st?.observedGeneration === su.metadata.generation && stalled?.status === 'True' && stalled.reason === 'RevisionConflict') {
    return { line: `error: rollout of serviceunit "${name}" is blocked: ${stalled.message ?? 'RevisionConflict'}`, done: false, halted: true, paused: false };
  }
  if (!observed) return { line: `Waiting for the controller to observe generation ${su.metadata.generation ?? '?'} of serviceunit "${name}"...`, done: false, halted: false, paused: false };
  if (st?.rollout?.halted) return { line: `error: rollout of serviceunit "${name}" halted: ${st.rollout.halted.message}`, done: false, halted: true, paused: false };
  // a unit failed on a node: an error only where that node runs this revision — a node still
  // failed on the revision being replaced (just after a fixed spec was applied) is about to be
  // updated, and the controller halts the rollout if the new revision fails there too
  const failedOnTarget = (st?.nodes ?? []).some((n) => n.activeState === 'failed' && n.revision === target);
  if (stalled?.status === 'True' && failedOnTarget) return { line: `error: serviceunit "${name}" is stalled: ${stalled.message ?? stalled.reason ?? ''}`, done: false, halted: true, paused: false };
  const updated = st?.rollout?.updatedNodes ?? 0;
  if (ready?.status === 'True' && observed && ready.observedGeneration === su.metadata.generation) {
    return { line: `serviceunit "${name}" successfully rolled out (revision ${target} on ${total} node(s))`, done: true, halted: false, paused: false };
  }
  if (su.spec.paused) return { line: `serviceunit "${name}" rollout is paused: ${updated} of ${total} node(s) updated (kubectl unit rollout resume ${name})`, done: false, halted: false, paused: true };
  return { line: `Waiting for serviceunit "${name}" rollout to finish: ${updated} of ${total} node(s) updated${st?.rollout?.message ? ` (${st.rollout.message})` : ''}...`, done: false, halted: false, paused: false };
}

export async function clusterRollout(args: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parseArgs({ args, allowPositionals: true, options });
  const [sub, arg] = positionals;
  if (v.help || sub === undefined) { io.stdout(ROLLOUT_HELP); return v.help ? EXIT.ok : EXIT.usage; }
  if (!['status', 'pause', 'resume'].includes(sub)) throw new UsageError(`rollout ${sub}: use status, pause or resume`);
  if (arg === undefined) throw new UsageError(`rollout ${sub}: name a ServiceUnit (kubectl unit rollout ${sub} web -n NAMESPACE)`);
  let c: KubeClient;
  try { c = KubeClient.load(v.kubeconfig); } catch (e) { throw new UsageError(`cannot load a kubeconfig: ${(e as Error).message}`); }
  const ns = v.namespace ?? 'default';
  const name = nameOf(arg);
  const path = SU_PATH(ns, name);
  const notFound = (e: unknown): number => {
    io.stderr(e instanceof ApiError && e.status === 404 ? `ServiceUnit ${ns}/${name} not found\n` : `cannot reach ServiceUnit ${ns}/${name}: ${(e as Error).message}\n`);
    return 4;
  };
  if (sub === 'pause' || sub === 'resume') {
    try { await c.mergePatch(path, { spec: { paused: sub === 'pause' ? true : null } }, 'kubectl-unit'); } catch (e) { return notFound(e); }
    io.stdout(`serviceunit ${ns}/${name} ${sub === 'pause' ? 'paused' : 'resumed'}\n`);
    return EXIT.ok;
  }
  const deadline = Date.now() + timeoutMs(v.timeout);
  let last = '';
  for (;;) {
    let su: ServiceUnit;
    try { su = await c.request<ServiceUnit>(path); } catch (e) { return notFound(e); }
    const s = rolloutState(su);
    if (s.line !== last) { if (s.halted) io.stderr(`${s.line}\n`); else io.stdout(`${s.line}\n`); last = s.line; }
    if (s.done) return EXIT.ok;
    if (s.halted) return EXIT.failure;
    if (v['no-watch'] || v.watch === false) return 2;
    if (Date.now() > deadline) { io.stderr(`error: timed out waiting for the rollout of serviceunit "${name}"\n`); return EXIT.failure; }
    await new Promise((r) => setTimeout(r, 500));
  }
}
