// Where the repository and the shared folder (corpus, oracle) are, for tests.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = process.env['UNIT_OPERATOR_SHARED'] ?? join(REPO, '..', 'shared');
export const CORPUS = join(SHARED, 'corpus');
export const hasCorpus = existsSync(join(CORPUS, 'units'));
export const FIXTURES = join(REPO, 'test', 'fixtures');
export const UNITCTL = join(REPO, 'bin', 'unitctl.js');
