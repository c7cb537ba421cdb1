// The execution context: [Service] parsed once into what the runner and the shim use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executionContext, outputSpec } from '../../src/runner/context.ts';

test('User=, groups, UMask=, WorkingDirectory=, Limit*=, the environment directives, as written', () => {
  const c = executionContext({ service: {
    execStart: ['/bin/true'], user: 'app', group: 'app', supplementaryGroups: ['adm', 'video'], umask: '0027', workingDirectory: '-~',
    limitNOFILE: '512:1024', limitCORE: 'infinity', environment: ['A=1', 'B=%u'], environmentFile: ['-/etc/app.env'], passEnvironment: ['TZ'], unsetEnvironment: ['B'],
  } });
  assert.deepEqual(c, {
    user: 'app', group: 'app', supplementaryGroups: ['adm', 'video'], umask: '0027', workingDirectory: '-~',
    limits: [['NOFILE', '512:1024'], ['CORE', 'infinity']], stdout: 'journal', stderr: 'journal',
    environment: ['A=1', 'B=%u'], environmentFiles: ['-/etc/app.env'], passEnvironment: ['TZ'], unsetEnvironment: ['B'],
  });
});

test('an empty [Service] gives the defaults', () => {
  assert.deepEqual(executionContext({}), {
    user: undefined, group: undefined, supplementaryGroups: [], umask: undefined, workingDirectory: undefined, limits: [],
    stdout: 'journal', stderr: 'journal', environment: [], environmentFiles: [], passEnvironment: [], unsetEnvironment: [],
  });
});

test('StandardOutput=/StandardError= map to the shim\'s specs; stderr inherits stdout', () => {
  const out = (standardOutput?: string, standardError?: string) => {
    const c = executionContext({ service: { ...(standardOutput ? { standardOutput } : {}), ...(standardError ? { standardError } : {}) } });
    return [c.stdout, c.stderr];
  };
  assert.deepEqual(out('null'), ['null', 'null']);
  assert.deepEqual(out('file:/tmp/a', 'inherit'), ['o:/tmp/a', 'o:/tmp/a']);
  assert.deepEqual(out('append:/tmp/a', 'truncate:/tmp/b'), ['a:/tmp/a', 'w:/tmp/b']);
  assert.deepEqual(out(undefined, 'null'), ['journal', 'null']);
  assert.deepEqual(out('tty'), ['journal', 'journal'], 'what the shim cannot do goes to the journal (as before; issue 11 item 2 reports it)');
  assert.equal(outputSpec('inherit', 'a:/x'), 'a:/x');
});
