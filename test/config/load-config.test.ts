import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import type { OptionsSpec } from '../../src/config/options.js';
import { ErrorCode, SnapbackError } from '../../src/errors.js';

const spec = {
  listen: {
    type: 'string',
    description: 'address',
    env: 'T_LISTEN',
    default: '127.0.0.1:7070',
    schema: { pattern: '^[^:]+:\\d+$' },
  },
  storage: { type: 'string', description: 'dir', env: 'T_STORAGE', required: true },
  runtime: {
    type: 'string',
    description: 'rt',
    default: 'process',
    schema: { enum: ['process', 'containerd'] },
  },
  concurrency: { type: 'integer', description: 'n', default: 4, schema: { minimum: 1 } },
  leaveRunning: { type: 'boolean', description: 'lr', default: true },
  namespaces: { type: 'string[]', description: 'ns', env: 'T_NS', default: [] },
} as const satisfies OptionsSpec;

function problemsOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SnapbackError);
    assert.equal(err.code, ErrorCode.INVALID_ARGUMENT);
    return [...err.details];
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('reads flags, then the environment, then defaults', () => {
    const { values } = loadConfig(spec, ['--storage', '/s', '--concurrency=8', '--no-leave-running'], {
      T_NS: 'a, b',
    });
    assert.deepEqual(values, {
      listen: '127.0.0.1:7070',
      storage: '/s',
      runtime: 'process',
      concurrency: 8,
      leaveRunning: false,
      namespaces: ['a', 'b'],
    });
  });

  it('prefers a flag over its environment variable', () => {
    const { values } = loadConfig(spec, ['--storage=/flag'], { T_STORAGE: '/env' });
    assert.equal(values.storage, '/flag');
  });

  it('keeps positionals after -- apart from flags', () => {
    const { positionals } = loadConfig(
      spec,
      ['--storage', '/s', '--', 'sleep', '--help'],
      {},
      { maxPositionals: 0 },
    );
    assert.deepEqual(positionals, ['sleep', '--help']);
  });

  it('reports every problem at once, each naming its flag', () => {
    const problems = problemsOf(() =>
      loadConfig(spec, ['--concurrency', 'lots', '--runtime', 'docker', '--bogus', '--leave-running=maybe'], {
        T_LISTEN: 'nope',
      }),
    );
    const fields = problems.map((p) => p.field).sort();
    assert.deepEqual(
      fields,
      ['--bogus', '--concurrency', '--leave-running', '--listen', '--runtime', '--storage'].sort(),
    );
    assert.match(problems.find((p) => p.field === '--runtime')!.message, /process, containerd/);
    assert.match(problems.find((p) => p.field === '--listen')!.message, /from T_LISTEN/);
    assert.match(problems.find((p) => p.field === '--storage')!.message, /required.*T_STORAGE/);
    assert.match(problems.find((p) => p.field === '--concurrency')!.message, /number.*lots/);
  });

  it('rejects values outside the schema and flags missing their value', () => {
    const problems = problemsOf(() =>
      loadConfig(spec, ['--storage', '/s', '--concurrency', '0', '--listen'], {}),
    );
    assert.deepEqual(problems.map((p) => p.field).sort(), ['--concurrency', '--listen']);
    assert.match(problems.find((p) => p.field === '--listen')!.message, /needs a value/);
  });

  it('refuses unexpected positionals', () => {
    const problems = problemsOf(() => loadConfig(spec, ['--storage', '/s', 'extra'], {}));
    assert.deepEqual(problems, [{ field: 'extra', message: 'unexpected argument' }]);
  });

  it('puts every problem in the message too', () => {
    assert.throws(
      () => loadConfig(spec, ['--runtime', 'x'], {}),
      /invalid configuration: (?=.*--runtime: must be one of)(?=.*--storage: is required)/,
    );
  });
});
