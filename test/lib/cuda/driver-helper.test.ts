/**
 * The driver binding: snapback-cuda-helper (built from native/) over the libcuda stand-in, on real
 * processes. What it must do beyond the phases both backends share (phases.test.ts): initialise CUDA once
 * per helper, call the driver in the right order with the right arguments, keep calls for different
 * processes independent, say why it cannot serve, and survive its helper's death.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ErrorCode, SnapbackError } from '../../../src/errors.js';
import {
  buildDeviceMap,
  CudaDriverError,
  createCudaCheckpoint,
  createDriverCheckpoint,
  cuUuidHex,
  gpuPairsOf,
  resumeAll,
  rollback,
  suspendAll,
} from '../../../src/lib/cuda/index.js';
import { isAlive, waitFor } from '../../helpers/proc.js';
import { buildDriverStandIn } from './driver-standin.js';
import { createStandIn, type StandIn } from './standin.js';

const gpu = (n: number, vendor = 'a') => `GPU-${vendor.repeat(8)}-0000-0000-0000-00000000000${n}`;
const HERE = `${gpu(1)},${gpu(2)}`;
const isCode = (code: string, message?: RegExp) => (err: unknown) =>
  err instanceof SnapbackError && err.code === code && (message === undefined || message.test(err.message));

describe('CUDA UUIDs for the driver', () => {
  it('turns GPU-/MIG- UUIDs into the 16 bytes of a CUuuid, and device maps into GPU pairs', () => {
    assert.equal(cuUuidHex('GPU-0A1B2C3D-0000-1111-2222-333344445555'), '0a1b2c3d000011112222333344445555');
    assert.equal(cuUuidHex('MIG-0a1b2c3d-0000-1111-2222-333344445555'), '0a1b2c3d000011112222333344445555');
    assert.equal(
      gpuPairsOf(`${gpu(1)}=${gpu(3, 'b')},${gpu(2)}=${gpu(2)}`),
      'aaaaaaaa000000000000000000000001:bbbbbbbb000000000000000000000003,' +
        'aaaaaaaa000000000000000000000002:aaaaaaaa000000000000000000000002',
    );
  });

  it('refuses what the driver could not be given', () => {
    for (const bad of ['GPU-0', 'GPU-0a1b2c3d-0000-1111-2222-33334444555', 'MIG-GPU-x/1/0', 'gpu']) {
      assert.throws(() => cuUuidHex(bad), isCode(ErrorCode.INVALID_ARGUMENT, /GPU-xxxxxxxx/));
    }
  });
});

describe('driver helper over the libcuda stand-in (real processes)', () => {
  let standIn: StandIn;
  let a: number;
  let b: number;

  beforeEach(async () => {
    standIn = await createStandIn();
    a = await standIn.spawnProcess();
    b = await standIn.spawnProcess();
    await standIn.register(a);
    await standIn.register(b);
  });
  afterEach(async () => {
    await standIn.cleanup();
  });

  const callsOf = async (fn?: string) =>
    (await standIn.driverCalls()).filter((c) => fn === undefined || c.fn === fn);

  it('initialises CUDA once for every call of a helper, first, and calls the API in phase order', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_GPUS: HERE, CUDA_STANDIN_INIT_DELAY_MS: '200' });
    assert.deepEqual(await cuda.available(), { ok: true, version: '13.0', deviceMap: true });
    const pids = await cuda.findCudaPids([a, b, process.pid]);
    assert.deepEqual(pids, [a, b]);
    await suspendAll(cuda, pids);
    await resumeAll(cuda, pids);
    for (const pid of pids) assert.equal(await cuda.getState(pid), 'running');

    const calls = await standIn.driverCalls();
    assert.equal(calls[0]!.fn, 'cuInit', 'cuInit comes before any checkpoint call');
    assert.equal((await callsOf('cuInit')).length, 1, 'one initialisation for the whole round');
    assert.equal(new Set(calls.map((c) => c.caller)).size, 1, 'one helper made every call');
    for (const pid of [a, b]) {
      assert.deepEqual(
        calls
          .filter((c) => c.pid === pid)
          .map((c) => `${c.fn.replace('cuCheckpointProcess', '')} ${c.details ?? ''}`),
        ['GetState ', 'Lock timeoutMs=10000', 'Checkpoint ', 'Restore ', 'Unlock ', 'GetState '],
      );
    }
    assert.deepEqual(await standIn.actions(a), [
      'lock running->locked',
      'checkpoint locked->checkpointed',
      'restore checkpointed->locked',
      'unlock locked->running',
    ]);
  });

  it('restores onto other GPUs with the device map as CUuuid pairs, and sends nothing for a bad UUID', async () => {
    await suspendAll(await standIn.driver({ CUDA_STANDIN_GPUS: HERE }), [a]);
    const otherNode = `${gpu(1, 'b')},${gpu(2, 'b')}`;
    const elsewhere = await standIn.driver({ CUDA_STANDIN_GPUS: otherNode });
    await assert.rejects(elsewhere.restore(a, 'GPU-0=GPU-1'), isCode(ErrorCode.INVALID_ARGUMENT));
    assert.deepEqual(await callsOf('cuCheckpointProcessRestore'), [], 'no restore was attempted');

    const deviceMap = buildDeviceMap(HERE.split(','), otherNode.split(','))!;
    await elsewhere.restore(a, deviceMap);
    const [restore] = await callsOf('cuCheckpointProcessRestore');
    assert.equal(restore!.details, deviceMap, 'the driver got every pair, in order');
    assert.equal(await standIn.state(a), 'locked');
    await elsewhere.unlock(a);
    assert.equal(await standIn.state(a), 'running');
  });

  it('keeps the driver’s own error names, and reads any refusal of a query as "not a CUDA process"', async () => {
    const cuda = await standIn.driver();
    const plain = await standIn.spawnProcess();
    await assert.rejects(cuda.checkpoint(a), (err: unknown) => {
      assert.ok(err instanceof CudaDriverError);
      assert.equal(err.cudaError, 'CUDA_ERROR_ILLEGAL_STATE');
      assert.equal(err.code, ErrorCode.INTERNAL);
      assert.match(
        err.message,
        new RegExp(
          `^cuCheckpointProcessCheckpoint on process ID ${a} failed: CUDA_ERROR_ILLEGAL_STATE \\(the operation`,
        ),
      );
      return true;
    });
    await assert.rejects(cuda.lock(plain), { cudaError: 'CUDA_ERROR_NOT_INITIALIZED' });
    assert.equal(await cuda.getState(plain), undefined);
    assert.equal(await cuda.getRestoreTid(plain), undefined);
    assert.equal(await cuda.getRestoreTid(a), a);
    await standIn.register(b, 'failed');
    assert.equal(await cuda.getState(b), 'failed');
  });

  it('gives a lock the timeout, and the driver gives up after it, leaving the process running', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_HANG: `lock:${a}` }, { lockTimeoutMs: 200 });
    await assert.rejects(cuda.lock(a), { cudaError: 'CUDA_ERROR_TIMEOUT' });
    assert.deepEqual(
      (await callsOf('cuCheckpointProcessLock')).map((c) => c.details),
      ['timeoutMs=200'],
    );
    assert.equal(await standIn.state(a), 'running');
  });

  it('runs calls for different processes in parallel: a hung lock holds up no other process', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_HANG: `lock:${b}` }, { lockTimeoutMs: 2_000 });
    await cuda.available();
    const started = Date.now();
    let hungSettled = false;
    const hung = cuda.lock(b).finally(() => {
      hungSettled = true;
    });
    await cuda.lock(a);
    await cuda.checkpoint(a);
    assert.equal(hungSettled, false, 'a and its next step went through while b’s lock was still waiting');
    await assert.rejects(hung, { cudaError: 'CUDA_ERROR_TIMEOUT' });
    assert.ok(Date.now() - started >= 2_000);
    assert.equal(await standIn.state(a), 'checkpointed');
  });

  it('answers a cancelled call at once, but the next call for that process waits for the driver to settle', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_HANG: `lock:${b}` }, { lockTimeoutMs: 1_500 });
    await cuda.available();
    const controller = new AbortController();
    const lockStarted = Date.now();
    const locking = cuda.lock(b, controller.signal);
    await waitFor(
      'the lock to reach the driver',
      async () => (await callsOf('cuCheckpointProcessLock')).length,
    );
    controller.abort();
    await assert.rejects(
      locking,
      isCode(ErrorCode.CANCELLED, /cuCheckpointProcessLock on process ID \d+ was cancelled/),
    );
    assert.ok(Date.now() - lockStarted < 1_500, 'the cancellation did not wait for the driver');
    // A rollback asks for the state next: not before the abandoned lock has given up.
    assert.equal(await cuda.getState(b), 'running');
    assert.ok(Date.now() - lockStarted >= 1_500, 'the state was read while the lock was still in flight');
  });

  it('kills a helper whose call runs past its timeout; the next call starts a new one, initialised once', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_HANG: `checkpoint:${b}` }, { actionTimeoutMs: 300 });
    await cuda.lock(b);
    await assert.rejects(
      cuda.checkpoint(b),
      isCode(
        ErrorCode.DEADLINE_EXCEEDED,
        /cuCheckpointProcessCheckpoint on process ID \d+ did not finish in 300 ms/,
      ),
    );
    const [first] = await callsOf('cuInit');
    await waitFor('the first helper to be gone', () => !isAlive(first!.caller));
    const undone = await rollback(cuda, [b]);
    assert.deepEqual(undone, { steps: [`cuda unlock ${b}`], errors: [] });
    const inits = await callsOf('cuInit');
    assert.equal(inits.length, 2);
    assert.notEqual(inits[0]!.caller, inits[1]!.caller);
  });

  it('fails the calls in flight when the helper dies, naming them, and restarts on the next call', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_HANG: `lock:${b}` }, { lockTimeoutMs: 60_000 });
    const locking = cuda.lock(b);
    const [lock] = await waitFor('the lock to reach the driver', () =>
      callsOf('cuCheckpointProcessLock').then((c) => c.length > 0 && c),
    );
    process.kill(lock!.caller, 'SIGKILL');
    await assert.rejects(
      locking,
      isCode(
        ErrorCode.UNAVAILABLE,
        /ended while cuCheckpointProcessLock on process ID \d+ was in flight: .*killed by SIGKILL/,
      ),
    );
    await cuda.lock(a);
    assert.equal(await standIn.state(a), 'locked');
    assert.equal((await callsOf('cuInit')).length, 2);
  });

  it('shares the state with the cuda-checkpoint stand-in: one process may pass through both', async () => {
    const driver = await standIn.driver({ CUDA_STANDIN_GPUS: HERE });
    const tool = createCudaCheckpoint({ run: standIn.runner({ CUDA_STANDIN_GPUS: HERE }) });
    await tool.lock(a);
    await driver.checkpoint(a);
    await tool.restore(a);
    assert.equal(await driver.getState(a), 'locked');
    await driver.unlock(a);
    assert.equal(await tool.getState(a), 'running');
    assert.deepEqual(await standIn.actions(a), [
      'lock running->locked',
      'checkpoint locked->checkpointed',
      'restore checkpointed->locked',
      'unlock locked->running',
    ]);
  });

  it('closes its helper; a later call starts one afresh', async () => {
    const cuda = await standIn.driver();
    assert.equal(await cuda.getState(a), 'running');
    const [first] = await callsOf('cuInit');
    await cuda.close();
    assert.equal(isAlive(first!.caller), false);
    assert.equal(await cuda.getState(a), 'running');
    assert.equal((await callsOf('cuInit')).length, 2);
  });
});

describe('driver helper availability', () => {
  let standIn: StandIn;
  beforeEach(async () => {
    standIn = await createStandIn();
  });
  afterEach(async () => {
    await standIn.cleanup();
  });

  it('says why it cannot serve: no libcuda, a driver without the checkpoint API, cuInit failing, no helper', async () => {
    const { oldLibrary } = await buildDriverStandIn();
    const reasons = {
      'no libcuda': await standIn.driver({}, { library: '/nonexistent/libcuda.so.1' }),
      'a driver older than 570': await standIn.driver({}, { library: oldLibrary }),
      'no GPU': await standIn.driver({ CUDA_STANDIN_FAIL: 'init' }),
      'no helper': createDriverCheckpoint({ helper: 'snapback-cuda-helper-not-here' }),
    };
    const expected = {
      'no libcuda': /\/nonexistent\/libcuda\.so\.1 could not be loaded/,
      'a driver older than 570': /has no cuCheckpointProcessGetState: .*driver 570/,
      'no GPU': /cuInit failed: CUDA_ERROR_NO_DEVICE/,
      'no helper': /snapback-cuda-helper-not-here is not installed/,
    };
    for (const [why, cuda] of Object.entries(reasons)) {
      const found = await cuda.available();
      assert.equal(found.ok, false, why);
      assert.match(found.ok ? '' : found.reason, expected[why as keyof typeof expected], why);
      await assert.rejects(
        cuda.getState(process.pid),
        isCode(ErrorCode.FAILED_PRECONDITION, /unavailable/),
        why,
      );
      await cuda.close();
    }
  });

  it('knows a driver before CUDA 13.0 cannot remap GPUs', async () => {
    const cuda = await standIn.driver({ CUDA_STANDIN_CUDA_VERSION: '12080' });
    assert.deepEqual(await cuda.available(), { ok: true, version: '12.8', deviceMap: false });
  });
});
