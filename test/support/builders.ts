// Fixture builders: a valid ServiceUnit with overrides, so each test shows only what matters;
// manifests (YAML) for the tests that apply units to a cluster.
import { dump } from 'js-yaml';
import type { ServiceUnit, ServiceUnitSpec } from '../../src/api/types.ts';

export function serviceUnit(spec: ServiceUnitSpec = {}, name = 'demo'): ServiceUnit {
  return {
    apiVersion: 'unit-operator.dev/v1alpha1',
    kind: 'ServiceUnit',
    metadata: { name },
    spec: { service: { execStart: ['/bin/sleep 1000'] }, ...spec },
  };
}

export function withService(service: Record<string, unknown>, rest: ServiceUnitSpec = {}): ServiceUnit {
  return serviceUnit({ ...rest, service });
}

/** A ServiceUnit manifest as one applies it: exactly the spec given, in `namespace`. */
export function manifest(name: string, namespace: string, spec: Record<string, unknown>, annotations?: Record<string, string>): ServiceUnit {
  return { apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, spec: spec as ServiceUnitSpec };
}

/** The same as YAML, for `kubectl apply -f -` (join several with '---\n'). */
export const manifestYaml = (name: string, namespace: string, spec: Record<string, unknown>, annotations?: Record<string, string>): string =>
  dump(manifest(name, namespace, spec, annotations));
