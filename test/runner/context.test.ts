// The execution context: [Service] parsed once into what the runner and the shim use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { executionContext, outputSpec } from '../../src/runner/context.ts';

/** The fields that are set (undefined ones are "not set"). */
const set = (o: object): object => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

test('User=, groups, UMask=, WorkingDirectory=, Limit*=, the environment directives, as written', () => {
  const c = executionContext({ service: {
    execStart: ['/bin/true'], user: 'app', group: 'app', supplementaryGroups: ['adm', 'video'], umask: '0027', workingDirectory: '-~',
    limitNOFILE: '512:1024', limitCORE: 'infinity', environment: ['A=1', 'B=%u'], environmentFile: ['-/etc/app.env'], passEnvironment: ['TZ'], unsetEnvironment: ['B'],
  } });
  assert.deepEqual(set(c), {
    user: 'app', group: 'app', supplementaryGroups: ['adm', 'video'], umask: '0027', workingDirectory: '-~',
    limits: [['NOFILE', '512:1024'], ['CORE', 'infinity']], stdout: 'journal', stderr: 'journal', stdin: 'null', ignoreSigpipe: true,
    environment: ['A=1', 'B=%u'], environmentFiles: ['-/etc/app.env'], passEnvironment: ['TZ'], unsetEnvironment: ['B'],
  });
});

test('an empty [Service] gives the defaults', () => {
  assert.deepEqual(set(executionContext({})), {
    supplementaryGroups: [], limits: [],
    stdout: 'journal', stderr: 'journal', stdin: 'null', ignoreSigpipe: true, environment: [], environmentFiles: [], passEnvironment: [], unsetEnvironment: [],
  });
});

test('Nice=, OOMScoreAdjust=, RootDirectory=, IOSchedulingClass= none (best-effort, as ioprio_normalize()), CPUSchedulingPolicy=, CPUAffinity=, StandardInput=tty with TTYPath=, StandardOutput=inherit of a tty, IgnoreSIGPIPE=no', () => {
  const c = executionContext({ service: { nice: 5, oomScoreAdjust: -5, rootDirectory: '/srv/root', ioSchedulingClass: 'none', cpuSchedulingPolicy: 'batch', cpuAffinity: ['0 1', '3'], standardInput: 'tty', ttyPath: '/dev/tty1', standardOutput: 'inherit', ignoreSIGPIPE: false } });
  assert.deepEqual([c.nice, c.oomScoreAdjust, c.rootDirectory, c.ioScheduling, c.cpuScheduling, c.cpuAffinity, c.stdin, c.stdout, c.stderr, c.ignoreSigpipe],
    [5, -5, '/srv/root', 'best-effort:4', 'batch:0:0', '0,1,3', 'tty:/dev/tty1', 'inherit', 'inherit', false]);
});

test('StandardInputText= (C escapes, a newline each) then StandardInputData= (base64) make StandardInput= default to data', () => {
  const c = executionContext({ service: { standardInputText: ['a\\tb', 'c'], standardInputData: ['ZGF0YQ=='] } });
  assert.equal(c.stdin, `data:${Buffer.from('a\tb\nc\ndata').toString('base64')}`);
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
