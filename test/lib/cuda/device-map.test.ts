/** Device maps for a restore: identity, remap by position keeping shared GPUs, and refusing other counts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, SnapbackError } from '../../../src/errors.js';
import { buildDeviceMap, parseDeviceMap } from '../../../src/lib/cuda/index.js';

describe('buildDeviceMap', () => {
  it('passes nothing when every GPU is the same, in any order', () => {
    assert.equal(buildDeviceMap(['GPU-a', 'GPU-b'], ['GPU-a', 'GPU-b']), undefined);
    assert.equal(buildDeviceMap(['GPU-a', 'GPU-b'], ['GPU-b', 'GPU-a']), undefined);
    assert.equal(buildDeviceMap([], []), undefined);
  });

  it('pairs different GPUs by position and names every checkpointed GPU', () => {
    assert.equal(buildDeviceMap(['GPU-a', 'GPU-b'], ['GPU-c', 'GPU-d']), 'GPU-a=GPU-c,GPU-b=GPU-d');
  });

  it('keeps a GPU present on both sides where it is and pairs only the rest', () => {
    // GPU-b stays on GPU-b even though it sits at another position; GPU-a and GPU-c take what is left.
    assert.equal(
      buildDeviceMap(['GPU-a', 'GPU-b', 'GPU-c'], ['GPU-b', 'GPU-x', 'GPU-y']),
      'GPU-a=GPU-x,GPU-b=GPU-b,GPU-c=GPU-y',
    );
  });

  it('refuses a different number of GPUs with both counts, before anything is touched', () => {
    assert.throws(
      () => buildDeviceMap(['GPU-a', 'GPU-b'], ['GPU-c']),
      (err: unknown) =>
        err instanceof SnapbackError &&
        err.code === ErrorCode.FAILED_PRECONDITION &&
        /2 GPU\(s\)/.test(err.message) &&
        /1 are available/.test(err.message),
    );
  });

  it('refuses a GPU listed twice', () => {
    assert.throws(() => buildDeviceMap(['GPU-a', 'GPU-a'], ['GPU-b', 'GPU-c']), /listed twice/);
  });

  it('round-trips through parseDeviceMap', () => {
    const map = buildDeviceMap(['GPU-a', 'GPU-b'], ['GPU-b', 'GPU-z'])!;
    assert.deepEqual(
      [...parseDeviceMap(map)],
      [
        ['GPU-a', 'GPU-z'],
        ['GPU-b', 'GPU-b'],
      ],
    );
    assert.throws(() => parseDeviceMap('GPU-a'), /bad device map entry/);
  });
});
