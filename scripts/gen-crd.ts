// npm run gen:crd — writes crds/serviceunit.yaml from src/api/ (the one source of the schema).
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdYaml } from '../src/api/crd.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
// crds/ is what `kubectl apply -f crds/` takes; manifests/crd/ is the same file inside the
// kustomize base (kustomize refuses files outside its root).
for (const out of [join(root, 'crds', 'serviceunit.yaml'), join(root, 'manifests', 'crd', 'serviceunit.yaml')]) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderCrdYaml());
  process.stdout.write(`wrote ${out}\n`);
}
