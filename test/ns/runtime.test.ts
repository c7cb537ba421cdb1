// The exec runtime's rules (src/runner/nsruntime.ts), as systemd 257's unit_setup_exec_runtime()
// and exec_shared_runtime_*() apply them; the holders here are stand-ins (the real ones and the
// namespaces: test/ns/probe.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespaceEnv, runtimeGaps, runtimeNeeds, SharedRuntimes, type Holder, type SharedNs } from '../../src/runner/nsruntime.ts';

function registry(): { r: SharedRuntimes; made: SharedNs[][]; ended: number[] } {
  const made: SharedNs[][] = [], ended: number[] = [];
  let pid = 100;
  const r = new SharedRuntimes((types) => { made.push([...types]); return { pid: ++pid, start: 7, types }; }, (h: Holder) => { ended.push(h.pid); });
  return { r, made, ended };
}
const ALL = { net: true, ipc: true, tmp: true };

test('runtimeNeeds: PrivateNetwork=, PrivateIPC=, PrivateTmp=yes (not disconnected, not with /tmp and /var/tmp inaccessible); a path is joined by path', () => {
  assert.deepEqual(runtimeNeeds({ privateNetwork: true, privateIPC: 'yes', privateTmp: 'true' }), { net: true, ipc: true, tmp: true });
  assert.deepEqual(runtimeNeeds({ privateTmp: 'disconnected' }), { net: false, ipc: false, tmp: false });
  assert.deepEqual(runtimeNeeds({ privateTmp: 'true', inaccessiblePaths: ['/tmp', '-/var'] }), { net: false, ipc: false, tmp: false });
  assert.deepEqual(runtimeNeeds({ privateTmp: 'true', inaccessiblePaths: ['/tmp'] }).tmp, true);
  assert.deepEqual(runtimeNeeds({ privateNetwork: true, networkNamespacePath: '/run/netns/x' }).net, false);
  assert.deepEqual(runtimeNeeds(undefined), { net: false, ipc: false, tmp: false });
});

test('JoinsNamespaceOf= goes both ways: the first unit that runs makes the runtime, the other takes it; it ends with the last one', () => {
  const { r, made, ended } = registry();
  r.declare('a', ['b.service']); // only a lists b
  r.declare('b', []);
  const b = r.acquire('b', ALL, 'i-b')!;
  assert.equal(b.owner, 'b');
  assert.deepEqual(made, [['net', 'ipc']]);
  const a = r.acquire('a', { net: false, ipc: false, tmp: false }, 'i-a');
  assert.equal(a, b, 'a joins b\'s runtime though it needs none of its own');
  assert.equal(r.acquire('a', ALL, 'i-a2'), b, 'held until released');
  assert.equal(r.release('b'), undefined, 'a still holds it');
  assert.deepEqual(ended, []);
  assert.equal(r.ownedBy('b'), b);
  // b starts again while a runs: it takes its own runtime back (still named after it)
  assert.equal(r.acquire('b', ALL, 'i-b2'), b);
  r.release('a');
  assert.equal(r.release('b'), b, 'the last unit ends it');
  assert.deepEqual(ended, [101]);
  assert.equal(r.ownedBy('b'), undefined);
});

test('a unit without JoinsNamespaceOf= has a runtime of its own; none when it needs none; a runtime holds what its maker needed', () => {
  const { r, made } = registry();
  r.declare('x', []); r.declare('y', []);
  assert.equal(r.acquire('x', { net: false, ipc: false, tmp: false }, 'i'), undefined);
  const x = r.acquire('x', { net: false, ipc: true, tmp: false }, 'i')!;
  const y = r.acquire('y', ALL, 'j')!;
  assert.notEqual(x, y);
  assert.deepEqual(made, [['ipc'], ['net', 'ipc']]);
  // z joins x, whose runtime holds no network namespace: z's PrivateNetwork= gets none (as systemd)
  r.declare('z', ['x']);
  const z = r.acquire('z', ALL, 'k')!;
  assert.equal(z, x);
  assert.deepEqual(namespaceEnv({ privateNetwork: true, privateIPC: true }, z), { UO_SHIM_JOIN_NS: `${x.holder!.pid}:7:ipc` });
  assert.deepEqual(namespaceEnv({ privateIPC: true }, y), { UO_SHIM_JOIN_NS: `${y.holder!.pid}:7:ipc` }, 'a command joins what its own unit asks for');
  assert.deepEqual(runtimeGaps({ privateNetwork: true, privateIPC: true }, z, 'z'), ['PrivateNetwork=yes is not applied: the unit runs in the runtime of x (JoinsNamespaceOf=), made without a network namespace, so in the host\'s network namespace, as under systemd 257']);
  assert.deepEqual(runtimeGaps({ privateNetwork: true }, y, 'y'), [], 'its own runtime has what it needs');
});

test('namespaceEnv: the paths, PrivateUsers= yes/self/identity (systemd 257 ignores "full")', () => {
  assert.deepEqual(namespaceEnv({ networkNamespacePath: '/run/netns/a', ipcNamespacePath: '/run/ipc' }, undefined), { UO_SHIM_NETNS_PATH: '/run/netns/a', UO_SHIM_IPCNS_PATH: '/run/ipc' });
  assert.deepEqual(namespaceEnv({ privateUsers: 'true' }, undefined), { UO_SHIM_PRIVATE_USERS: 'self' });
  assert.deepEqual(namespaceEnv({ privateUsers: 'self' }, undefined), { UO_SHIM_PRIVATE_USERS: 'self' });
  assert.deepEqual(namespaceEnv({ privateUsers: 'identity' }, undefined), { UO_SHIM_PRIVATE_USERS: 'identity' });
  assert.deepEqual(namespaceEnv({ privateUsers: 'full' }, undefined), {});
  assert.deepEqual(namespaceEnv({ privateUsers: 'false' }, undefined), {});
});

test('a holder that cannot be made fails the acquisition (the spawn fails, Result=resources), and nothing is registered', () => {
  const r = new SharedRuntimes(() => 'could not set up the net namespaces: errno 1');
  assert.throws(() => r.acquire('u', ALL, 'i'), /errno 1/);
  assert.equal(r.of('u'), undefined);
});
