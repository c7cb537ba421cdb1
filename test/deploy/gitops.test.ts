// The GitOps example (examples/gitops/): every committed ServiceUnit YAML is the conversion of
// the .service file beside it, and validates offline. (The cluster side, a server-side dry run
// of the production kustomization, is in test/cluster/deploy.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dump, load } from 'js-yaml';
import { convertText } from '../../src/unitfile/index.ts';
import { validateServiceUnit } from '../../src/api/validate.ts';
import { REPO } from '../support/paths.ts';

const GITOPS = join(REPO, 'examples', 'gitops');
const services = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? services(join(dir, e.name)) : e.name.endsWith('.service') ? [join(dir, e.name)] : []));

test('each unit of the GitOps example is committed as its .service file and the YAML unitctl convert makes of it', () => {
  const files = services(GITOPS);
  assert.ok(files.length >= 3, `found ${files.length} unit files`);
  for (const f of files) {
    const yaml = f.replace(/\.service$/, '.yaml');
    const r = convertText(readFileSync(f, 'utf8'), f.split('/').pop()!);
    assert.equal(readFileSync(yaml, 'utf8'), dump(r.object, { lineWidth: -1, noRefs: true }), `${relative(REPO, yaml)} is stale: npx unitctl convert ${relative(REPO, f)} -o ${relative(REPO, yaml)}`);
    assert.deepEqual(validateServiceUnit(load(readFileSync(yaml, 'utf8'))).errors, [], relative(REPO, yaml));
  }
});
