// Access to the control plane the test runner started (scripts/test.ts): kubectl with the
// admin kubeconfig, a namespace per test, and the CRD applied once.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ControlPlaneState } from '../../testenv/cluster.ts';
import { REPO } from './paths.ts';

export const CLUSTER_ENV = 'UNIT_OPERATOR_TEST_CLUSTER';

export function clusterState(): ControlPlaneState {
  const f = process.env[CLUSTER_ENV];
  if (!f) throw new Error(`${CLUSTER_ENV} is not set: run cluster tests through npm test (scripts/test.ts starts the control plane)`);
  return JSON.parse(readFileSync(f, 'utf8')) as ControlPlaneState;
}

export function kubectl(args: string[], input?: string): SpawnSyncReturns<string> {
  const s = clusterState();
  return spawnSync(s.kubectl, ['--kubeconfig', s.kubeconfig, ...args], { encoding: 'utf8', input, timeout: 60_000 });
}

export function kubectlOk(args: string[], input?: string): string {
  const r = kubectl(args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

let crdApplied = false;
export function ensureCrd(): void {
  if (crdApplied) return;
  kubectlOk(['apply', '-f', join(REPO, 'crds', 'serviceunit.yaml')]);
  // polled rather than `kubectl wait`: on a CRD created a moment ago, .status.conditions may not
  // exist yet, and kubectl wait then fails at once ("accessor error: <nil>") instead of waiting
  const deadline = Date.now() + 60_000;
  const established = (): string => kubectl(['get', 'crd', 'serviceunits.unit-operator.dev', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']).stdout.trim();
  while (established() !== 'True') {
    if (Date.now() > deadline) throw new Error('the ServiceUnit CRD was not Established within 60 s (kubectl get crd serviceunits.unit-operator.dev -o yaml)');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // ensureCrd is synchronous
  }
  crdApplied = true;
}

/** A fresh namespace for one test; deleted after (it stays Terminating without a controller-manager, which is harmless). */
export function testNamespace(t: { after: (fn: () => void) => void }, prefix = 't'): string {
  const ns = `${prefix}-${randomBytes(4).toString('hex')}`;
  kubectlOk(['create', 'namespace', ns]);
  t.after(() => { kubectl(['delete', 'namespace', ns, '--wait=false']); });
  return ns;
}
