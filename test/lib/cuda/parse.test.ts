/** What snapback reads from cuda-checkpoint and nvidia-smi, and the cuda.json record. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, SnapbackError } from '../../../src/errors.js';
import {
  parseCudaHelp,
  parseCudaRecord,
  parseCudaState,
  parseGpuList,
  serializeCudaRecord,
} from '../../../src/lib/cuda/index.js';

describe('cuda-checkpoint output', () => {
  it('reads the four states and nothing else', () => {
    assert.equal(parseCudaState('running\n'), 'running');
    assert.equal(parseCudaState(' locked '), 'locked');
    assert.equal(parseCudaState('checkpointed'), 'checkpointed');
    assert.equal(parseCudaState('failed'), 'failed');
    assert.equal(parseCudaState('Could not get state'), undefined);
    assert.equal(parseCudaState(''), undefined);
  });

  it('tells a 580 tool (device map) from a 570 one and a pre-555 one (no --action)', () => {
    const v580 =
      'Version 580.65.06. Copyright\n--action lock | checkpoint | restore | unlock --pid <pid> [--device-map <uuids>]';
    assert.deepEqual(parseCudaHelp(v580), { ok: true, version: '580.65.06', deviceMap: true });
    const v570 = 'Version 570.86.10. Copyright\n--action lock | checkpoint | restore | unlock --pid <pid>';
    assert.deepEqual(parseCudaHelp(v570), { ok: true, version: '570.86.10', deviceMap: false });
    const old = parseCudaHelp('Version 550.54.14. Copyright\n--toggle --pid <pid>', '/opt/cuda-checkpoint');
    assert.equal(old.ok, false);
    assert.match(!old.ok ? old.reason : '', /\/opt\/cuda-checkpoint 550\.54\.14 is too old.*--action/);
  });
});

describe('nvidia-smi output', () => {
  it('parses uuid,index lines, sorted by index, ignoring anything else', () => {
    const out = 'GPU-bbb, 1\nGPU-aaa, 0\nNo devices were found\n\nMIG-ccc, 2';
    assert.deepEqual(parseGpuList(out), [
      { uuid: 'GPU-aaa', index: 0 },
      { uuid: 'GPU-bbb', index: 1 },
      { uuid: 'MIG-ccc', index: 2 },
    ]);
    assert.deepEqual(parseGpuList('No devices were found'), []);
  });
});

describe('cuda.json', () => {
  it('round-trips, with and without a driver version', () => {
    const record = { version: 1 as const, pids: [7, 9], gpus: ['GPU-a'], driverVersion: '580.65.06' };
    assert.deepEqual(parseCudaRecord(serializeCudaRecord(record)), record);
    const bare = { version: 1 as const, pids: [], gpus: [] };
    assert.deepEqual(parseCudaRecord(serializeCudaRecord(bare)), bare);
  });

  it('refuses damaged or foreign records as FAILED_PRECONDITION saying what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['{', /not JSON/],
      ['[]', /not an object/],
      ['{"version":2,"pids":[],"gpus":[]}', /version 2/],
      ['{"version":1,"pids":[-1],"gpus":[]}', /pids/],
      ['{"version":1,"pids":[1],"gpus":[3]}', /gpus/],
      ['{"version":1,"pids":[1],"gpus":[],"driverVersion":5}', /driverVersion/],
    ];
    for (const [text, why] of cases) {
      assert.throws(
        () => parseCudaRecord(text),
        (err: unknown) =>
          err instanceof SnapbackError && err.code === ErrorCode.FAILED_PRECONDITION && why.test(err.message),
        text,
      );
    }
  });
});
