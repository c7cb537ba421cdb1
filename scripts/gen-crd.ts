// npm run gen:crd — writes crds/serviceunit.yaml from src/api/ (the one source of the schema).
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrdYaml } from '../src/api/crd.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'crds', 'serviceunit.yaml');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, renderCrdYaml());
process.stdout.write(`wrote ${out}\n`);
