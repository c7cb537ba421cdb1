// Fixture builders: a valid ServiceUnit with overrides, so each test shows only what matters.
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
