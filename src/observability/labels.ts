// The labels (metrics) and fields (logs) a unit id becomes: "namespace/name" in a cluster,
// "name.service" standalone.

export function unitLabels(id: string): { namespace: string; unit: string } {
  const slash = id.indexOf('/');
  return slash < 0 ? { namespace: '', unit: id } : { namespace: id.slice(0, slash), unit: id.slice(slash + 1) };
}
