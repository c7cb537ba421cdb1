// The folders above the state folder (a hostile probe, issue 19's session 32): a user who could
// write the state folder's parent moved the agent's folder away and put their own in its place;
// the agent then handed a fake fork server every service's command line and environment
// (DB_PASSWORD=…) and root's unitctl believed a fake control socket. The agent now refuses a state
// folder any of whose ancestors (as named, and as they really are) someone other than root or the
// agent can change — every folder and link passed through, a link reached through another link
// too; /tmp's sticky bit and a root-owned symbolic link are fine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, lchownSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SKIP, createUser, scope, startAgent, tempRoot } from './support.ts';

test('a state folder under a folder a user owns is refused, naming that folder; under a root-owned link it runs', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const user = createUser(s);
  const root = tempRoot(s);
  const manifests = join(root, 'manifests');
  mkdirSync(manifests);
  const theirs = join(root, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  chownSync(theirs, user.uid, user.gid);
  const state = join(theirs, 'state');
  const a = await startAgent(s, { manifests, state, wait: false });
  const code = await a.waitExit(20_000);
  assert.notEqual(code, 0, 'the agent refused to run');
  assert.notEqual(code, undefined, 'the agent exited');
  assert.match(a.log(), new RegExp(`${theirs.replace(/[.]/g, '\\.')} is owned by uid ${user.uid}`), a.log());
  assert.equal(existsSync(join(state, 'agent.sock')), false, 'no socket was bound there');

  // a root-owned link to a root-owned folder: nobody else can change either
  mkdirSync(join(root, 'real'), { mode: 0o755 });
  symlinkSync(join(root, 'real'), join(root, 'link'));
  const ok = await startAgent(s, { manifests, state: join(root, 'link', 'state') });
  assert.equal(ok.unitctl('list').status, 0, ok.log());
  await ok.stop();

  // a root-owned link to a link the user owns (repointable by them) to a root folder: neither the
  // path as named nor as it really is holds the user's link; the walk through every link does
  symlinkSync(join(root, 'real'), join(root, 'theirs-link'));
  lchownSync(join(root, 'theirs-link'), user.uid, user.gid);
  symlinkSync(join(root, 'theirs-link'), join(root, 'via'));
  const via = await startAgent(s, { manifests, state: join(root, 'via', 'state2'), wait: false });
  assert.notEqual(await via.waitExit(20_000), 0);
  assert.match(via.log(), new RegExp(`${join(root, 'theirs-link').replace(/[.]/g, '\\.')} is a symbolic link owned by uid ${user.uid}`), via.log());
});
