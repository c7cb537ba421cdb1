// What a new cgroup per invocation costs a restart (bench/results/cgroup-invocation.txt): N times
// the unit's emptied cgroup removed and made again in every hierarchy of this node, against the
// restart before (an existing cgroup ensured), and mkdir+rmdir per hierarchy. Needs root; its
// cgroups live under unit-operator.slice/uo-test-<pid>.slice and are removed at the end.
//
//   flock /tmp/uo-heavy.lock node_modules/.bin/node bench/cgroup-churn.ts
import { mkdirSync, rmdirSync, readFileSync } from 'node:fs';
const { detectCgroups, unitCgroup, ensureUnitCgroup, removeUnitCgroup, removeBaseTree } = await import('../src/runner/cgroup/index.ts');
const layout = detectCgroups();
const ctx = { layout, base: `unit-operator.slice/uo-test-${process.pid.toString(16)}.slice` };
const cg = unitCgroup(ctx, 'churn.service', undefined, undefined);
if (!cg) throw new Error(`no cgroup here (${layout.mode})`);
ensureUnitCgroup(cg);
const N = 500;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
// whole unit: remove (leaf) + ensure
let t0 = performance.now(), c0 = cpu();
for (let i = 0; i < N; i++) { removeUnitCgroup(cg, true); ensureUnitCgroup(cg); }
console.log(`remove+ensure, ${layout.hierarchies.length} hierarchies: ${((performance.now() - t0) / N).toFixed(3)} ms wall, ${((cpu() - c0) / N).toFixed(3)} ms CPU per restart`);
t0 = performance.now(); c0 = cpu();
for (let i = 0; i < N; i++) ensureUnitCgroup(cg);
console.log(`ensure only (existing, main's restart): ${((performance.now() - t0) / N).toFixed(3)} ms wall, ${((cpu() - c0) / N).toFixed(3)} ms CPU`);
for (const h of layout.hierarchies) {
  const d = `${h.mount}/${cg.rel}`;
  rmdirSync(d);
  t0 = performance.now(); c0 = cpu();
  for (let i = 0; i < N; i++) { mkdirSync(d); rmdirSync(d); }
  console.log(`  ${h.key.padEnd(12)} mkdir+rmdir ${((performance.now() - t0) / N * 1000).toFixed(0)} µs wall, ${((cpu() - c0) / N * 1000).toFixed(0)} µs CPU`);
  mkdirSync(d);
}
removeBaseTree(layout, ctx.base);
console.log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
