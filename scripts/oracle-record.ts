// Re-records test/fixtures/oracle/*.jsonl: runs each scenario unit through the real systemd 257
// (../shared/tools/systemd-oracle) and saves the timeline it prints. Needs root and debootstrap
// (the oracle builds its root the first time). Usage: node scripts/oracle-record.ts [NAME...]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = join(root, 'test', 'fixtures', 'oracle');
const oracle = process.env['SYSTEMD_ORACLE'] ?? join(root, '..', 'shared', 'tools', 'systemd-oracle');
if (!existsSync(oracle)) { process.stderr.write(`no systemd-oracle at ${oracle} (set SYSTEMD_ORACLE)\n`); process.exit(1); }
const only = process.argv.slice(2);
const sh = (cmd: string): string => {
  const r = spawnSync(oracle, ['sh', cmd], { encoding: 'utf8' });
  if (r.status !== 0) { process.stderr.write(`${cmd}: ${r.stderr}\n`); process.exit(1); }
  return r.stdout;
};
// PID 1 logs unit messages (with µs monotonic timestamps) to the journal, for restart delays.
sh('systemd-analyze log-level info; systemd-analyze log-target journal');
for (const f of readdirSync(dir).filter((x) => x.endsWith('.service')).sort()) {
  if (only.length > 0 && !only.some((o) => f.includes(o))) continue;
  const head = /^# oracle: (.*)$/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1] ?? '';
  const secs = /secs=([0-9]+)/.exec(head)?.[1] ?? '3';
  const stop = /stop_ms=([0-9]+)/.exec(head)?.[1];
  process.stderr.write(`recording ${f} (${secs} s${stop ? `, stop at ${stop} ms` : ''})...\n`);
  const cursor = /-- cursor: (.*)/.exec(sh('journalctl -n0 --show-cursor'))?.[1] ?? '';
  const r = spawnSync(oracle, ['run', join(dir, f), secs, ...(stop ? [stop] : [])], { encoding: 'utf8' });
  if (r.status !== 0) { process.stderr.write(r.stderr); process.exit(1); }
  writeFileSync(join(dir, f.replace(/\.service$/, '.jsonl')), r.stdout);
  const journal = sh(`journalctl -u ${f} --after-cursor='${cursor}' -o json --no-pager`).split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as { MESSAGE: string; __MONOTONIC_TIMESTAMP: string; _PID: string })
    .filter((e) => e._PID === '1')
    .map((e) => JSON.stringify({ us: Number(e.__MONOTONIC_TIMESTAMP), message: e.MESSAGE.replace(/^[^:]+\.service: /, '') }));
  writeFileSync(join(dir, f.replace(/\.service$/, '.journal.jsonl')), journal.join('\n') + '\n');
}
