/** The hooks' one-line form (annotations, `snapback run` flags): what it reads, what it refuses, and how. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SnapbackError } from '../../../src/errors.js';
import { formatHook, type Hook, parseHook, parseWorkloadHooks } from '../../../src/lib/hooks/index.js';

const SOURCE = 'annotation snapback.io/pre-checkpoint';

describe('hook grammar', () => {
  it('reads http hooks: method, optional host, port, path and query, timeout', () => {
    assert.deepEqual(parseHook('http POST :8000/sleep?level=1', SOURCE), {
      kind: 'http',
      method: 'POST',
      host: '127.0.0.1',
      port: 8000,
      path: '/sleep?level=1',
      timeoutMs: 30_000,
    });
    assert.deepEqual(parseHook('  http GET [::1]:9000 timeout=1500ms ', SOURCE), {
      kind: 'http',
      method: 'GET',
      host: '::1',
      port: 9000,
      path: '/',
      timeoutMs: 1500,
    });
    assert.equal(parseHook('http PUT localhost:1/x timeout=2m', SOURCE).timeoutMs, 120_000);
  });

  it('reads exec hooks: a JSON array of strings, spaces and brackets inside included', () => {
    assert.deepEqual(parseHook('exec ["/bin/sh","-c","kill -USR1 1; echo [ok]"] timeout=5s', SOURCE), {
      kind: 'exec',
      command: ['/bin/sh', '-c', 'kill -USR1 1; echo [ok]'],
      timeoutMs: 5000,
    });
  });

  const refusals: Array<[string, RegExp]> = [
    ['', /it is empty/],
    ['ftp GET :21/', /"ftp" is neither http nor exec/],
    ['http POST', /needs a method and \[HOST\]:PORT\/PATH/],
    ['http POST 8000/sleep', /is not \[HOST\]:PORT\/PATH/],
    ['http POST :0/sleep', /port must be a port number/],
    ['http POST :70000/sleep', /port must be a port number/],
    ['http BREW :8000/', /method must be one of GET, POST/],
    ['http POST example.com:80/', /host must be an IP address or localhost/],
    ['http POST :8000/a b', /unknown option "b"/],
    ['http POST :8000/ timeout=30', /timeout "30" is not a whole number of ms, s or m/],
    ['http POST :8000/ timeout=11m', /timeout must be between 1 ms and 10 min/],
    ['http POST :8000/ retries=3', /unknown option "retries=3"/],
    ['exec sh -c true', /needs its command as a JSON array/],
    ['exec ["sh", 1]', /must be a JSON array of strings/],
    ['exec []', /command must name a program/],
    ['exec ["sh",] timeout=1s', /is not a JSON array/],
  ];
  for (const [text, why] of refusals) {
    it(`refuses ${JSON.stringify(text)}, naming where it came from`, () => {
      assert.throws(
        () => parseHook(text, SOURCE),
        (err: unknown) => {
          assert.ok(err instanceof SnapbackError);
          assert.equal(err.code, 'INVALID_ARGUMENT');
          assert.ok(err.message.startsWith(`${SOURCE} "${text}": `), err.message);
          assert.match(err.message, why);
          assert.equal(err.details[0]?.field, SOURCE);
          return true;
        },
      );
    });
  }

  it('both hooks at once: each error names its own source; none declared is undefined', () => {
    const sources = { preCheckpoint: '--pre-checkpoint', postRestore: '--post-restore' };
    assert.equal(parseWorkloadHooks({}, sources), undefined);
    assert.equal(
      parseWorkloadHooks({ postRestore: 'http POST :1/wake_up' }, sources)?.postRestore?.kind,
      'http',
    );
    assert.throws(
      () => parseWorkloadHooks({ preCheckpoint: 'http POST :1/', postRestore: 'exec [' }, sources),
      /^SnapbackError: --post-restore "exec \["/,
    );
  });

  it('formats every hook so that it reads back the same (property)', () => {
    const token = fc.stringMatching(/^[\x21-\x7e]{0,20}$/);
    const http = fc.record({
      kind: fc.constant('http' as const),
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
      host: fc.constantFrom('127.0.0.1', '::1', 'localhost', '10.0.0.7', 'fe80::1'),
      port: fc.integer({ min: 1, max: 65535 }),
      path: token.map((t) => `/${t}`),
      timeoutMs: fc.integer({ min: 1, max: 600_000 }),
    });
    const exec = fc.record({
      kind: fc.constant('exec' as const),
      command: fc.array(
        fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\0')),
        {
          minLength: 1,
          maxLength: 5,
        },
      ),
      timeoutMs: fc.integer({ min: 1, max: 600_000 }),
    });
    fc.assert(
      fc.property(fc.oneof(http, exec), (hook: Hook) => {
        assert.deepEqual(parseHook(formatHook(hook), SOURCE), { ...hook });
      }),
      { numRuns: 500 },
    );
  });
});
