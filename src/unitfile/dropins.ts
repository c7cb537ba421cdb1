// Drop-in discovery (systemd.unit(5), "Description"): for foo-bar@baz.service, the folders
// foo-bar@baz.service.d/, foo-bar@.service.d/, foo-.service.d/ and service.d/ are read; their
// *.conf files apply in lexicographic order of file name across all folders, and a file name
// in a more specific folder hides the same name in a less specific one.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Folder names to look for, most specific first. */
export function dropInDirNames(unitName: string): string[] {
  const names = [`${unitName}.d`];
  const stem = unitName.replace(/\.service$/, '');
  const at = stem.indexOf('@');
  if (at >= 0 && at < stem.length - 1) names.push(`${stem.slice(0, at + 1)}.service.d`);
  const prefix = at >= 0 ? stem.slice(0, at) : stem;
  const parts = prefix.split('-');
  for (let k = parts.length - 1; k >= 1; k--) names.push(`${parts.slice(0, k).join('-')}-.service.d`);
  names.push('service.d');
  return names;
}

/**
 * The drop-in files for a unit under `root`, in the order systemd applies them. `root` is a
 * folder holding `<unit>.d/` folders (like /etc/systemd/system), or one `.d` folder itself.
 */
export function findDropIns(root: string, unitName: string): string[] {
  if (!existsSync(root)) return [];
  const dirs = /\.d\/?$/.test(root) && !dropInDirNames(unitName).some((n) => existsSync(join(root, n)))
    ? [root]
    : dropInDirNames(unitName).map((n) => join(root, n));
  const chosen = new Map<string, string>();
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.conf') || chosen.has(f)) continue;
      chosen.set(f, join(dir, f));
    }
  }
  return [...chosen.keys()].sort().map((k) => chosen.get(k)!);
}
