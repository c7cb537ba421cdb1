// The Argo CD health check (manifests/argocd/argocd-cm-patch.yaml), run by a Lua VM (fengari;
// Argo CD runs gopher-lua, the script keeps to the common Lua 5.1 subset) on ServiceUnits whose
// conditions the controller's own compute() produced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import fengari from 'fengari';
import { compute } from '../../src/controller/conditions.ts';
import type { NodeStatus, ServiceUnit } from '../../src/api/types.ts';
import { REPO } from '../support/paths.ts';

const { lua, lauxlib, lualib, to_luastring, to_jsstring } = fengari;
const KEY = 'resource.customizations.health.unit-operator.dev_ServiceUnit';
const script = (load(readFileSync(join(REPO, 'manifests', 'argocd', 'argocd-cm-patch.yaml'), 'utf8')) as { data: Record<string, string> }).data[KEY]!;

/** JSON → a Lua table constructor. */
function luaValue(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(luaValue).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `[${JSON.stringify(k)}] = ${luaValue(x)}`).join(', ')}}`;
}

function health(obj: unknown): { status: string; message: string } {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  const program = `local obj = ${luaValue(obj)}\nlocal function check()\n${script}\nend\nlocal hs = check()\nreturn hs.status, hs.message`;
  if (lauxlib.luaL_dostring(L, to_luastring(program)) !== lua.LUA_OK) throw new Error(to_jsstring(lua.lua_tostring(L, -1)));
  return { status: to_jsstring(lua.lua_tostring(L, -2)), message: to_jsstring(lua.lua_tostring(L, -1)) };
}

const unit = (spec: Partial<ServiceUnit['spec']> = {}, generation = 2): ServiceUnit => ({
  apiVersion: 'unit-operator.dev/v1alpha1', kind: 'ServiceUnit', metadata: { name: 'web', namespace: 'prod', generation }, spec: { nodeName: 'n1', service: { execStart: ['/bin/web'] }, ...spec },
});
function withStatus(su: ServiceUnit, nodes: NodeStatus[], targeted = ['n1']): ServiceUnit {
  const c = compute({ ...su, status: { nodes } }, targeted, '2026-11-22T00:00:00Z');
  return { ...su, status: { observedGeneration: su.metadata.generation, conditions: c.conditions, nodes } };
}

test('no status yet: Progressing, waiting for the controller', () => {
  assert.deepEqual(health(unit()), { status: 'Progressing', message: 'Waiting for the unit-operator controller to report' });
});

test('active on every targeted node for this generation: Healthy', () => {
  const su = withStatus(unit(), [{ node: 'n1', activeState: 'active', subState: 'running', observedGeneration: 2 }]);
  assert.deepEqual(health(su), { status: 'Healthy', message: 'active on 1/1 node(s)' });
});

test('failed for good (start limit): Degraded with the node and result', () => {
  const su = withStatus(unit(), [{ node: 'n1', activeState: 'failed', subState: 'failed', result: 'exit-code', nRestarts: 4, observedGeneration: 2 }]);
  assert.deepEqual(health(su), { status: 'Degraded', message: "n1: failed with result 'exit-code' after 4 restart(s)" });
});

test('restarting (auto-restart) or an older generation on a node: Progressing, saying which', () => {
  const restarting = withStatus(unit(), [{ node: 'n1', activeState: 'activating', subState: 'auto-restart', observedGeneration: 2 }]);
  assert.deepEqual(health(restarting), { status: 'Progressing', message: 'n1: activating (auto-restart)' });
  const old = withStatus(unit(), [{ node: 'n1', activeState: 'active', subState: 'running', observedGeneration: 1 }]);
  assert.deepEqual(health(old), { status: 'Progressing', message: 'n1: active (running), generation 1 of 2' });
});

test('the controller has not observed the new generation: Progressing', () => {
  const su = withStatus(unit(), [{ node: 'n1', activeState: 'active', subState: 'running', observedGeneration: 2 }]);
  assert.deepEqual(health({ ...su, metadata: { ...su.metadata, generation: 3 } }), { status: 'Progressing', message: 'Waiting for the controller to observe generation 3' });
});

test('state: stopped and stopped everywhere: Healthy; no node matches the selector: Degraded', () => {
  const stopped = withStatus(unit({ state: 'stopped' }), [{ node: 'n1', activeState: 'inactive', subState: 'dead', observedGeneration: 2 }]);
  assert.deepEqual(health(stopped), { status: 'Healthy', message: 'stopped on 1 node(s)' });
  const nowhere = withStatus(unit({ nodeName: undefined, nodeSelector: { role: 'gpu' } } as never), [], []);
  assert.deepEqual(health(nowhere), { status: 'Degraded', message: 'no node matches the placement' });
});

test('a node that will not start it until something changes (a refused protection, another unit of the name): Stalled with the reason, Degraded; not while stopped or for an older generation', () => {
  const refused = withStatus(unit(), [{ node: 'n1', activeState: 'inactive', subState: 'dead', notStarted: 'StartRefused', message: 'not started: RootImage= is not applied on this node', observedGeneration: 2 }]);
  const stalled = refused.status!.conditions!.find((c) => c.type === 'Stalled')!;
  assert.deepEqual([stalled.status, stalled.reason, stalled.message], ['True', 'StartRefused', 'n1: not started: RootImage= is not applied on this node']);
  assert.equal(refused.status!.conditions!.find((c) => c.type === 'Reconciling')!.status, 'False');
  assert.deepEqual(health(refused), { status: 'Degraded', message: 'n1: not started: RootImage= is not applied on this node' });
  const named = withStatus(unit(), [{ node: 'n1', activeState: 'inactive', subState: 'dead', notStarted: 'UnitNameConflict', message: 'not started: web.service is run on this node by ServiceUnit prod/other', observedGeneration: 2 }]);
  assert.deepEqual([named.status!.conditions!.find((c) => c.type === 'Ready')!.reason, named.status!.conditions!.find((c) => c.type === 'Stalled')!.reason], ['UnitNameConflict', 'UnitNameConflict']);
  // a failure on another node still names its Result first, and both nodes are said
  const both = withStatus(unit(), [{ node: 'n1', activeState: 'inactive', subState: 'dead', notStarted: 'UnitNameConflict', message: 'not started: x', observedGeneration: 2 }, { node: 'n2', activeState: 'failed', subState: 'failed', result: 'exit-code', nRestarts: 1, observedGeneration: 2 }], ['n1', 'n2']);
  const s2 = both.status!.conditions!.find((c) => c.type === 'Stalled')!;
  assert.deepEqual([s2.reason, s2.message], ['exit-code', "n2: failed with result 'exit-code' after 1 restart(s); n1: not started: x"]);
  // wanted stopped: nothing to start, nothing stalled
  const stopped = withStatus(unit({ state: 'stopped' }), [{ node: 'n1', activeState: 'inactive', subState: 'dead', notStarted: 'StartRefused', message: 'not started: x', observedGeneration: 2 }]);
  assert.equal(stopped.status!.conditions!.find((c) => c.type === 'Stalled')!.status, 'False');
  // an entry of an older generation is not a verdict on this one
  const older = withStatus(unit(), [{ node: 'n1', activeState: 'inactive', subState: 'dead', notStarted: 'StartRefused', message: 'not started: x', observedGeneration: 1 }]);
  assert.equal(older.status!.conditions!.find((c) => c.type === 'Stalled')!.status, 'False');
});
