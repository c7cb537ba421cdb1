// unitctl list | status | start | stop | restart | reload | reset-failed | is-active | is-failed
// | logs | cat — systemctl's habits against the standalone agent.

import { parseArgs } from 'node:util';
import { existsSync, readFileSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { dirOf } from '../agent/host.ts';
import { hasUnitState, journalPath, readUnitState, unitDirOfJournal } from '../runner/store.ts';
import { socketPath } from '../agent/standalone.ts';
import { request, resolveStateDir, AgentUnreachable } from './client.ts';
import { listTable, statusView, terminalStyle } from './format.ts';
import { renderUnit } from '../unitfile/render.ts';
import { API_VERSION, KIND } from '../api/schema.ts';
import { parseTimespan } from '../api/timespan.ts';
import type { DependencyNode, UnitStatus, Verb } from '../agent/protocol.ts';
import { EXIT, UsageError, type Io } from './io.ts';

const common = { 'state-dir': { type: 'string' as const }, output: { type: 'string' as const, short: 'o' }, help: { type: 'boolean' as const, short: 'h' } };

async function call<T>(stateDir: string, req: Parameters<typeof request>[1], pick: (r: Extract<Awaited<ReturnType<typeof request>>, { ok: true }>) => T, io: Io, onExit?: (code: number) => void, timeoutMs?: number): Promise<T | undefined> {
  try {
    const res = await request(stateDir, req, timeoutMs);
    if (!res.ok) { io.stderr(`${res.error}\n`); if (res.exit !== undefined) onExit?.(res.exit); return undefined; }
    return pick(res);
  } catch (e) {
    if (e instanceof AgentUnreachable) { io.stderr(`unitctl: ${e.message}\n`); onExit?.(EXIT.failure); return undefined; }
    throw e;
  }
}

function readLogTail(path: string, n: number, sinceMs?: number, all = false): string[] {
  const files = [`${path}.1`, path].filter(existsSync);
  const lines = files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
  const filtered = sinceMs === undefined ? lines : lines.filter((l) => Date.parse(l.slice(0, 27)) >= sinceMs);
  return (n > 0 ? filtered.slice(-n) : filtered).map((l) => shownLogLine(l, all));
}

/** What a terminal would act on: C0 controls but tab (ESC, CR, BS…), DEL, C1, and invalid UTF-8 (read as U+FFFD). */
const NOT_PRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffd]/;

/**
 * A journal line as journalctl shows it: a message with characters a terminal would act on is
 * "[N blob data]" unless --all (systemd's utf8_is_printable()): a service's output cannot move
 * the cursor, recolour, retitle or overwrite the line before it on the reader's terminal.
 * The line: "TIMESTAMP STREAM MESSAGE" (shim/logcap.c).
 */
export function shownLogLine(line: string, all: boolean): string {
  if (all) return line;
  const at = line.indexOf(' ', line.indexOf(' ') + 1);
  if (at < 0) return NOT_PRINTABLE.test(line) ? `[${blobSize(Buffer.byteLength(line))} blob data]` : line;
  const message = line.slice(at + 1);
  return NOT_PRINTABLE.test(message) ? `${line.slice(0, at + 1)}[${blobSize(Buffer.byteLength(message))} blob data]` : line;
}

/** systemd's FORMAT_BYTES(): B, then K/M/G with one decimal, truncated. */
function blobSize(n: number): string {
  if (n < 1024) return `${n}B`;
  let unit = 0, factor = 1024;
  while (unit < 2 && n >= factor * 1024) { factor *= 1024; unit++; }
  return `${Math.floor(n / factor)}.${Math.floor((n * 10) / factor) % 10}${'KMG'[unit]}`;
}

export async function runList(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: common });
  if (values.help) { io.stdout('Usage: unitctl list [-o json] [--state-dir DIR]\n\nLists the units of the standalone agent: UNIT, LOAD, ACTIVE, SUB, RESULT, RESTARTS, DESCRIPTION.\n'); return EXIT.ok; }
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  const units = await call(stateDir, { cmd: 'list' }, (r) => r.units ?? [], io);
  if (!units) return EXIT.failure;
  const problems = await call(stateDir, { cmd: 'problems' }, (r) => r.problems ?? [], io) ?? [];
  if (values.output === 'json') { io.stdout(JSON.stringify({ units, problems }, null, 2) + '\n'); return EXIT.ok; }
  io.stdout(listTable(units, terminalStyle()));
  for (const p of problems) io.stderr(`skipped ${p.file}: ${p.message}\n`);
  return EXIT.ok;
}

export async function runStatus(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, lines: { type: 'string', short: 'n' } } });
  if (values.help) { io.stdout('Usage: unitctl status UNIT... [-o json] [-n LINES] [--state-dir DIR]\n       unitctl status NAME --namespace NS [--kubeconfig FILE] [-o json]   (cluster: kubectl unit status)\n\nShows a unit as systemctl status does; -o json prints the systemd properties for scripts.\nWith --namespace, --kubeconfig or --cluster it reads the ServiceUnit from the cluster and\nshows one block per node.\nExit status 0 when all units are active, 3 otherwise, 4 when a unit does not exist.\n'); return EXIT.ok; }
  if (positionals.length === 0) throw new UsageError('status: name a unit (unitctl status web.service)');
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  let code: number = EXIT.ok;
  const all: UnitStatus[] = [];
  for (const name of positionals) {
    const u = await call(stateDir, { cmd: 'status', unit: name }, (r) => r.unit, io);
    if (!u) { code = 4; continue; }
    all.push(u);
    if (u.ActiveState !== 'active' && u.ActiveState !== 'reloading' && code === EXIT.ok) code = 3;
    if (values.output !== 'json') io.stdout(statusView(u, readLogTail(u.LogPath, Number(values.lines ?? 10)), terminalStyle()) + (positionals.length > 1 ? '\n' : ''));
  }
  if (values.output === 'json') io.stdout(JSON.stringify(all.length === 1 ? all[0] : all, null, 2) + '\n');
  return code;
}

/** A job may take as long as its unit's start (systemctl waits without a limit): the longest timer node allows. */
const JOB_WAIT_MS = 2_147_483_647;

const JOB_MODE_HELP = '--job-mode=MODE: how the job meets the queued ones, as systemctl\'s: replace (default), fail,\nreplace-irreversibly, isolate (start only: the folder\'s other units are stopped), flush,\nignore-dependencies, ignore-requirements.\n';

export function verb(v: Verb, forcedMode?: 'isolate') {
  return async (args: string[], io: Io): Promise<number> => {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, 'no-block': { type: 'boolean' }, ...(forcedMode || v === 'reset-failed' ? {} : { 'job-mode': { type: 'string' as const } }) } });
    const cmdName = forcedMode ?? v;
    if (values.help) {
      const usage = `Usage: unitctl ${cmdName} UNIT${forcedMode ? '' : '...'} [--no-block]${forcedMode || v === 'reset-failed' ? '' : ' [--job-mode=MODE]'} [--state-dir DIR]\n`;
      const more = forcedMode ? '\nStarts UNIT (it must have AllowIsolate=yes) and the units it pulls in, and stops every other unit of\nthe folder that is running, except those with IgnoreOnIsolate=yes (systemctl isolate); the node\'s\nown targets and mounts are never stopped. Waits for the job as start does.\n'
        : v === 'reset-failed' ? '' : `\nWaits for the job (and so for the jobs it waits for, After=/Before=) and fails as systemctl does\nwhen it does not end well (exit 1); --no-block returns once the job is queued.\n${JOB_MODE_HELP}`;
      io.stdout(usage + more); return EXIT.ok;
    }
    if (positionals.length === 0) throw new UsageError(`${cmdName}: name a unit (unitctl ${cmdName} web.service)`);
    if (forcedMode && positionals.length > 1) throw new UsageError(`${cmdName}: name one unit`);
    const jobMode = forcedMode ?? (values as { 'job-mode'?: string })['job-mode'];
    const stateDir = resolveStateDir(values['state-dir'], process.env);
    let code: number = EXIT.ok;
    // systemctl's exit statuses: 5 for a unit that is not there, 6 for one with a bad setting, 1 for a job that failed
    for (const name of positionals) {
      let exit: number | undefined;
      const req = { cmd: v, unit: name, ...(values['no-block'] ? { noBlock: true } : {}), ...(jobMode !== undefined ? { jobMode } : {}) };
      if (!(await call(stateDir, req, () => true, io, (e) => { exit = e; }, values['no-block'] ? undefined : JOB_WAIT_MS))) code = exit ?? (v === 'reload' ? EXIT.failure : 5);
    }
    return code;
  };
}

/** unitctl isolate UNIT: systemctl isolate, a start in job mode isolate. */
export const runIsolate = verb('start', 'isolate');

/** unitctl list-jobs: systemctl's table (JOB UNIT TYPE STATE), "No jobs running." when there are none. */
export async function runListJobs(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: common });
  if (values.help) { io.stdout('Usage: unitctl list-jobs [-o json] [--state-dir DIR]\n\nThe jobs the agent has queued or is running: JOB, UNIT, TYPE, STATE.\n'); return EXIT.ok; }
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  const jobs = await call(stateDir, { cmd: 'list-jobs' }, (r) => r.jobs ?? [], io);
  if (!jobs) return EXIT.failure;
  if (values.output === 'json') { io.stdout(JSON.stringify(jobs, null, 2) + '\n'); return EXIT.ok; }
  if (jobs.length === 0) { io.stdout('No jobs running.\n'); return EXIT.ok; }
  const rows = [['JOB', 'UNIT', 'TYPE', 'STATE'], ...jobs.map((j) => [String(j.id), j.unit, j.type, j.state])];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) io.stdout(`${r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c)).join(' ')}\n`);
  io.stdout(`\n${jobs.length} job${jobs.length === 1 ? '' : 's'} listed.\n`);
  return EXIT.ok;
}

/** systemctl's order among siblings (list_dependencies_compare(), v257): targets last, then by name, ignoring case. */
function treeOrder(a: DependencyNode, b: DependencyNode): number {
  const ta = a.unit.endsWith('.target'), tb = b.unit.endsWith('.target');
  if (ta !== tb) return ta ? 1 : -1;
  const x = a.unit.toLowerCase(), y = b.unit.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The tree as systemctl prints it without colours: "●" active, "○" inactive, "×" failed. */
export function renderTree(t: DependencyNode): string {
  const glyph = (s: string): string => (s === 'failed' ? '×' : s === 'inactive' ? '○' : '●');
  const lines = [t.unit];
  const walk = (n: DependencyNode, prefix: string): void => {
    const children = [...n.children].sort(treeOrder);
    children.forEach((c, i) => {
      const last = i === children.length - 1;
      lines.push(`${glyph(c.active)} ${prefix}${last ? '└─' : '├─'}${c.unit}`);
      walk(c, prefix + (last ? '  ' : '│ '));
    });
  };
  walk(t, '');
  return lines.join('\n') + '\n';
}

/** unitctl list-dependencies UNIT [--reverse]: systemctl's tree (Requires=, Requisite=, Wants=, BindsTo=, Upholds=, ConsistsOf=). */
export async function runListDependencies(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, reverse: { type: 'boolean' } } });
  if (values.help) { io.stdout('Usage: unitctl list-dependencies UNIT [--reverse] [-o json] [--state-dir DIR]\n\nThe units UNIT needs (Requires=, Requisite=, Wants=, BindsTo=, Upholds=, ConsistsOf=),\nor with --reverse the units that need it; targets are expanded. ● active, ○ inactive, × failed.\n'); return EXIT.ok; }
  if (positionals.length !== 1) throw new UsageError('list-dependencies: name one unit');
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  let exit: number | undefined;
  const tree = await call(stateDir, { cmd: 'list-dependencies', unit: positionals[0]!, ...(values.reverse ? { reverse: true } : {}) }, (r) => r.dependencies, io, (e) => { exit = e; });
  if (!tree) return exit ?? EXIT.failure;
  io.stdout(values.output === 'json' ? JSON.stringify(tree, null, 2) + '\n' : renderTree(tree));
  return EXIT.ok;
}

/** is-active / is-failed: systemctl's exit codes (0 when it is, 3 when not, 4 unknown unit). */
export function isState(which: 'active' | 'failed') {
  return async (args: string[], io: Io): Promise<number> => {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, quiet: { type: 'boolean', short: 'q' } } });
    if (values.help) { io.stdout(`Usage: unitctl is-${which} UNIT... [-q]\n`); return EXIT.ok; }
    if (positionals.length === 0) throw new UsageError(`is-${which}: name a unit`);
    const stateDir = resolveStateDir(values['state-dir'], process.env);
    let any = false;
    for (const name of positionals) {
      const u = await call(stateDir, { cmd: 'status', unit: name }, (r) => r.unit, { ...io, stderr: () => {} });
      const state = u?.ActiveState ?? 'inactive';
      if (!values.quiet) io.stdout(`${u ? state : 'inactive'}\n`);
      if (which === 'active' ? state === 'active' || state === 'reloading' : state === 'failed') any = true;
    }
    return any ? EXIT.ok : 3;
  };
}

/**
 * Where a unit's journal is: asked of the standalone agent, or read from the state folder
 * directly (a cluster agent's units, namespace/name, have no socket to ask: kubectl unit logs).
 */
async function unitLog(stateDir: string, id: string, io: Io): Promise<{ LogPath: string } | undefined> {
  const unitDir = join(stateDir, 'units', dirOf(id));
  const direct = journalPath(unitDir);
  const hasDir = hasUnitState(unitDir);
  if (id.includes('/') || (hasDir && !existsSync(socketPath(stateDir)))) {
    if (hasDir) return { LogPath: direct };
    io.stderr(`Unit ${id} has no state under ${join(stateDir, 'units')}: it has not run on this node.\n`);
    return undefined;
  }
  return call(stateDir, { cmd: 'status', unit: id }, (r) => r.unit, io);
}

export async function runLogs(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' }, since: { type: 'string' }, all: { type: 'boolean', short: 'a' } } });
  if (values.help) { io.stdout('Usage: unitctl logs UNIT [-f] [-n N] [--since 10min|ISO-TIME] [-a]\n\nPrints the unit\'s captured stdout/stderr (journal-like: timestamped, rotated by size). A line with control characters is shown as "[N blob data]", as journalctl shows it; -a/--all prints it as it is.\n'); return EXIT.ok; }
  if (positionals.length !== 1) throw new UsageError('logs: name one unit');
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  const u = await unitLog(stateDir, positionals[0]!, io);
  if (!u) return 4;
  let sinceMs: number | undefined;
  if (values.since) {
    const abs = Date.parse(values.since);
    if (!Number.isNaN(abs)) sinceMs = abs;
    else { try { sinceMs = Date.now() - parseTimespan(values.since.replace(/ ago$/, '')) / 1000; } catch { throw new UsageError(`logs: --since "${values.since}" is neither a time ("2026-11-22T10:00:00Z") nor a span ("10min")`); } }
  }
  const n = values.lines !== undefined ? Number(values.lines) : (values.follow ? 10 : 0);
  const all = values.all === true;
  for (const l of readLogTail(u.LogPath, n, sinceMs, all)) io.stdout(l + '\n');
  if (!values.follow) return EXIT.ok;
  let offset = existsSync(u.LogPath) ? statSync(u.LogPath).size : 0;
  let partial = Buffer.alloc(0);
  const pump = (): void => {
    if (!existsSync(u.LogPath)) return;
    const size = statSync(u.LogPath).size;
    if (size < offset) { offset = 0; partial = Buffer.alloc(0); } // rotated
    if (size > offset) {
      // whole lines, each decoded and shown as above (the shim writes a line at once: a part, or a
      // character cut between two reads, waits for the line's end)
      const bytes = Buffer.concat([partial, readFileSync(u.LogPath).subarray(offset, size)]);
      offset = size;
      const end = bytes.lastIndexOf(0x0a);
      partial = bytes.subarray(end + 1);
      if (end < 0) return;
      for (const l of bytes.subarray(0, end).toString('utf8').split('\n')) if (l) io.stdout(shownLogLine(l, all) + '\n');
    }
  };
  const w = watch(u.LogPath.replace(/[^/]+$/, ''), pump);
  const timer = setInterval(pump, 500);
  return new Promise((resolve) => process.on('SIGINT', () => { w.close(); clearInterval(timer); resolve(EXIT.ok); }));
}

export async function runCat(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: common });
  if (values.help) { io.stdout('Usage: unitctl cat UNIT\n\nPrints the unit as a systemd unit file.\n'); return EXIT.ok; }
  if (positionals.length !== 1) throw new UsageError('cat: name one unit');
  const stateDir = resolveStateDir(values['state-dir'], process.env);
  const u = await call(stateDir, { cmd: 'status', unit: positionals[0]! }, (r) => r.unit, io);
  if (!u) return 4;
  const spec = readUnitState(unitDirOfJournal(u.LogPath))?.spec;
  if (!spec) { io.stderr(`Unit ${u.Id} has no readable saved state under ${unitDirOfJournal(u.LogPath)}.\n`); return 4; }
  io.stdout(`# ${u.FragmentPath}\n` + renderUnit({ apiVersion: API_VERSION as 'unit-operator.dev/v1alpha1', kind: KIND as 'ServiceUnit', metadata: { name: u.Id.replace(/\.service$/, '') }, spec }, { header: false }));
  return EXIT.ok;
}
