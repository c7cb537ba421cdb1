// The exec runtime's rules (src/runner/nsruntime.ts), as systemd 257's unit_setup_exec_runtime()
// and exec_shared_runtime_*() apply them; the holders here are stand-ins (the real ones and the
// namespaces: test/ns/probe.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRuntimeRecord, runtimeRecordPath, writeRuntimeRecord } from '../../src/runner/store.ts';
import { namespaceEnv, runtimeGaps, runtimeNeeds, SharedRuntimes, type Holder, type SharedNs } from '../../src/runner/nsruntime.ts';

function registry(): { r: SharedRuntimes; made: SharedNs[][]; ended: number[] } {
  const made: SharedNs[][] = [], ended: number[] = [];
  let pid = 100;
  const r = new SharedRuntimes((types) => { made.push([...types]); return { pid: ++pid, start: 7, types }; }, (h: Holder) => { ended.push(h.pid); });
  return { r, made, ended };
}
const ALL = { net: true, ipc: true, tmp: true };

test('runtimeNeeds: PrivateNetwork=, PrivateIPC=, PrivateTmp=yes (not disconnected, not with /tmp and /var/tmp inaccessible); a namespace path counts', () => {
  assert.deepEqual(runtimeNeeds({ privateNetwork: true, privateIPC: 'yes', privateTmp: 'true' }), { net: true, ipc: true, tmp: true });
  assert.deepEqual(runtimeNeeds({ privateTmp: 'disconnected' }), { net: false, ipc: false, tmp: false });
  assert.deepEqual(runtimeNeeds({ privateTmp: 'true', inaccessiblePaths: ['/tmp', '-/var'] }), { net: false, ipc: false, tmp: false });
  assert.deepEqual(runtimeNeeds({ privateTmp: 'true', inaccessiblePaths: ['/tmp'] }).tmp, true);
  assert.deepEqual(runtimeNeeds({ networkNamespacePath: '/run/netns/x' }), { net: true, ipc: false, tmp: false, paths: { net: '/run/netns/x' } }, 'a path needs the runtime\'s namespace store (exec_needs_network_namespace())');
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

// After an agent restart (store.ts runtime.json, test/ns/restart.test.ts with real processes)
const X = 'a'.repeat(32);
function takingRegistry(): { r: SharedRuntimes; from: (number | undefined)[] } {
  const from: (number | undefined)[] = [];
  let pid = 500;
  const r = new SharedRuntimes((types, src) => { from.push(src?.pid); return { pid: ++pid, start: 7, types }; }, () => {});
  return { r, from };
}

test('rejoin(): a saved runtime is rebuilt under its owner\'s name and id; its namespaces come from a live process of a unit that asked for them', () => {
  const { r, from } = takingRegistry();
  r.declare('a', []);
  r.declare('b', ['a.service']);
  const saved = { owner: 'a', id: X, tmp: true, types: ['net' as const], paths: {} };
  r.rejoin('a', saved, ALL, () => ({ pid: 41, start: 1 }));
  r.rejoin('b', saved, { net: false, ipc: false, tmp: true }, () => ({ pid: 42, start: 1 }));
  // b (PrivateTmp= only) runs a command first: the runtime is a's, the network namespace is taken from a's process
  const rt = r.acquire('b', { net: false, ipc: false, tmp: true }, 'b'.repeat(32))!;
  assert.equal(rt.owner, 'a');
  assert.equal(rt.id, X, 'the PrivateTmp= folders are those of a\'s invocation that made it');
  assert.deepEqual(from, [41], 'taken from a\'s process, not from b\'s (which runs in the host\'s network namespace)');
  assert.equal(r.acquire('a', ALL, 'c'.repeat(32)), rt, 'a holds the same one');
  assert.equal(r.release('b'), undefined, 'a still holds it: its folders stay');
  assert.equal(r.release('a'), rt);
});

test('rejoin(): a record never makes a unit join a runtime it does not ask for; a runtime living with another id is not replaced', () => {
  const { r } = takingRegistry();
  r.declare('a', []);
  r.declare('b', []); // b no longer lists a
  r.rejoin('b', { owner: 'a', id: X, tmp: true, types: [], paths: {} }, ALL, () => undefined);
  const b = r.acquire('b', ALL, 'b'.repeat(32))!;
  assert.equal(b.owner, 'b', 'b gets a runtime of its own');
  assert.match(r.takeWarnings('b').join(), /a's, which it does not join/);
  r.declare('c', ['a']);
  const a = r.acquire('a', ALL, 'd'.repeat(32))!;
  r.rejoin('c', { owner: 'a', id: X, tmp: true, types: [], paths: {} }, ALL, () => undefined);
  assert.equal(r.acquire('c', ALL, 'c'.repeat(32)), a, 'c joins a\'s live runtime');
  assert.match(r.takeWarnings('c').join(), /not the one a holds now/);
});

test('runtime.json: written atomically 0600, read back; a broken, hostile or foreign file is an error naming it, never half-read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uo-nsk-record-'));
  try {
    const file = runtimeRecordPath(dir);
    assert.deepEqual(readRuntimeRecord(dir), {});
    const rec = { invocation: 'b'.repeat(32), owner: 'nsk-a', id: X, tmp: true, types: ['net' as const], paths: {} };
    writeRuntimeRecord(dir, rec);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readRuntimeRecord(dir), { record: rec });
    const bad = (text: string, why: RegExp): void => {
      writeFileSync(file, text, { mode: 0o600 });
      const got = readRuntimeRecord(dir);
      assert.equal(got.record, undefined, text);
      assert.ok(got.error?.startsWith(file), got.error);
      assert.match(got.error!, why);
    };
    bad('{"version":1,', /JSON/);
    bad(JSON.stringify({ ...rec, version: 2 }), /version/);
    bad(JSON.stringify({ ...rec, version: 1, owner: '../../etc' }), /owner/);
    bad(JSON.stringify({ ...rec, version: 1, id: '../x' }), /\(id\)/);
    bad(JSON.stringify({ ...rec, version: 1, types: ['net', 'mnt'] }), /types/);
    bad(JSON.stringify({ ...rec, version: 1, extra: 1 }), /unknown field/);
    bad(JSON.stringify({ ...rec, version: 1, paths: { net: 'relative' } }), /paths/);
    bad(JSON.stringify({ ...rec, version: 1, paths: { mnt: '/x' } }), /paths/);
    writeRuntimeRecord(dir, rec);
    chmodSync(file, 0o666);
    assert.match(readRuntimeRecord(dir).error ?? '', /refused/);
    rmSync(file);
    symlinkSync('/etc/hostname', file);
    assert.match(readRuntimeRecord(dir).error ?? '', /symbolic link/);
    writeRuntimeRecord(dir, undefined);
    assert.deepEqual(readRuntimeRecord(dir), {});
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('NetworkNamespacePath=, IPCNamespacePath= in a JoinsNamespaceOf= group: the maker\'s paths are what the runtime stores; a partner\'s path is not joined (oracle: nsk-pa…nsk-rb)', () => {
  const { r, made } = registry();
  const PATHS = { networkNamespacePath: '/run/x-net', ipcNamespacePath: '/run/x-ipc' };
  const PRIV = { privateNetwork: true, privateIPC: true };
  r.declare('pa', ['pb']); r.declare('pb', []);
  const pa = r.acquire('pa', runtimeNeeds(PATHS), 'i-pa')!;
  assert.deepEqual(made, [], 'no holder: both namespaces come from the paths');
  assert.deepEqual(namespaceEnv(PATHS, pa), { UO_SHIM_NETNS_PATH: '/run/x-net', UO_SHIM_IPCNS_PATH: '/run/x-ipc' });
  assert.equal(r.acquire('pb', runtimeNeeds(PRIV), 'i-pb'), pa);
  assert.deepEqual(namespaceEnv(PRIV, pa), { UO_SHIM_NETNS_PATH: '/run/x-net', UO_SHIM_IPCNS_PATH: '/run/x-ipc' }, 'PrivateNetwork=, PrivateIPC= join the stored namespaces: the paths\'');
  assert.deepEqual(runtimeGaps(PRIV, pa, 'pb'), []);
  // the other way round: the maker's PrivateNetwork= made the namespaces; the partner's paths are not joined
  r.declare('qa', ['qb']); r.declare('qb', []);
  const qa = r.acquire('qa', runtimeNeeds(PRIV), 'i-qa')!;
  assert.equal(r.acquire('qb', runtimeNeeds(PATHS), 'i-qb'), qa);
  assert.deepEqual(namespaceEnv(PATHS, qa), { UO_SHIM_JOIN_NS: `${qa.holder!.pid}:7:net,ipc` });
  assert.match(runtimeGaps(PATHS, qa, 'qb').join('\n'), /NetworkNamespacePath=\/run\/x-net is not joined: the runtime of qa \(JoinsNamespaceOf=\) holds a network namespace already/);
  // a runtime without namespaces: the paths are not joined at all (the host's)
  r.declare('ra', ['rb']); r.declare('rb', []);
  const ra = r.acquire('ra', { net: false, ipc: false, tmp: true }, 'i-ra')!;
  assert.equal(r.acquire('rb', runtimeNeeds(PATHS), 'i-rb'), ra);
  assert.deepEqual(namespaceEnv(PATHS, ra), {});
  assert.equal(runtimeGaps(PATHS, ra, 'rb').length, 2);
  assert.match(runtimeGaps(PATHS, ra, 'rb')[0]!, /made without a network namespace, so in the host's network namespace/);
});

test('partners(): those a unit lists, then those listing it in the order they were first declared; a re-declared unit that no longer lists it is no partner', () => {
  const r = new SharedRuntimes(() => 'unused');
  r.declare('c.service', ['a.service']);
  r.declare('b.service', ['a.service']);
  r.declare('a.service', ['d.service']);
  r.declare('e.service', []);
  r.declare('e.service', ['a.service']); // listed later, declared before nothing of a's: its place is its first declare
  assert.deepEqual(r.partners('a.service'), ['d.service', 'c.service', 'b.service', 'e.service']);
  r.declare('c.service', ['x.service']);
  assert.deepEqual(r.partners('a.service'), ['d.service', 'b.service', 'e.service']);
  assert.deepEqual(r.partners('x.service'), ['c.service']);
  r.declare('a.service', ['a.service']); // itself: never its own partner
  assert.deepEqual(r.partners('a.service'), ['b.service', 'e.service']);
});

test('forget(): a unit removed for good takes its own declarations and saved runtime along; what others list stays theirs; a unit declared after it is ordered after the rest', () => {
  const { r, ended } = registry();
  r.declare('a.service', ['b.service']);
  r.declare('c.service', ['b.service']);
  r.declare('b.service', []);
  const rt = r.acquire('a.service', ALL, 'i-a')!;
  r.forget('a.service'); // still holding its runtime: let go first, its holder ends (its last unit)
  assert.deepEqual(ended, [rt.holder!.pid]);
  assert.equal(r.of('a.service'), undefined);
  assert.deepEqual(r.partners('b.service'), ['c.service'], 'a no longer lists b');
  assert.equal(r.declaredUnits, 2);
  r.forget('b.service');
  assert.deepEqual(r.partners('c.service'), ['b.service'], 'c still lists b: a b.service added again is its partner');
  r.declare('d.service', ['b.service']);
  r.declare('b.service', []);
  assert.deepEqual(r.partners('b.service'), ['c.service', 'd.service'], 'places are never reused: d comes after c');
  r.forget('b.service'); r.forget('c.service'); r.forget('d.service');
  assert.equal(r.idle, true);
});
