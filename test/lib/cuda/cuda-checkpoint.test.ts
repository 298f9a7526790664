/**
 * The cuda-checkpoint binding and GPU discovery against the stand-ins (test/fixtures), through the real
 * runner, on real processes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, SnapbackError } from '../../../src/errors.js';
import { createCudaCheckpoint, driverVersion, listGpus } from '../../../src/lib/cuda/index.js';
import { isRunning, waitFor } from '../../helpers/proc.js';
import { createStandIn, type StandIn } from './standin.js';

const isCode = (code: string, message?: RegExp) => (err: unknown) =>
  err instanceof SnapbackError && err.code === code && (message === undefined || message.test(err.message));

describe('cuda-checkpoint binding (stand-in)', () => {
  let standIn: StandIn;
  before(async () => {
    standIn = await createStandIn();
  });
  after(async () => {
    await standIn.cleanup();
  });

  it('finds a usable 580 tool with device maps', async () => {
    const cuda = createCudaCheckpoint({ run: standIn.runner() });
    assert.deepEqual(await cuda.available(), { ok: true, version: '580.65.06', deviceMap: true });
  });

  it('says a missing tool is missing, naming it, and never mistakes it for "no CUDA here"', async () => {
    const cuda = createCudaCheckpoint({ binary: 'cuda-checkpoint-not-here', run: standIn.runner() });
    const found = await cuda.available();
    assert.equal(found.ok, false);
    assert.match(!found.ok ? found.reason : '', /cuda-checkpoint-not-here is not installed/);
    await assert.rejects(
      cuda.ensureAvailable(),
      isCode(ErrorCode.FAILED_PRECONDITION, /cuda-checkpoint-not-here/),
    );
    await assert.rejects(cuda.getState(process.pid), isCode(ErrorCode.FAILED_PRECONDITION));
  });

  it('calls a tool without --action too old', async () => {
    const cuda = createCudaCheckpoint({ run: standIn.runner({ CUDA_STANDIN_HELP: 'old' }) });
    await assert.rejects(
      cuda.ensureAvailable(),
      isCode(ErrorCode.FAILED_PRECONDITION, /cuda-checkpoint 550\.54\.14 is too old/),
    );
  });

  it('reads states; a process without CUDA, or one that is gone, is simply not a CUDA process', async () => {
    const cuda = createCudaCheckpoint({ run: standIn.runner() });
    const [gpuProc, plain, gone] = [
      await standIn.spawnProcess(),
      await standIn.spawnProcess(),
      await standIn.spawnProcess(),
    ];
    await standIn.register(gpuProc, 'locked');
    await standIn.register(gone);
    process.kill(gone, 'SIGKILL');
    await waitFor('the killed process to be gone', async () => !(await isRunning(gone)));
    assert.equal(await cuda.getState(gpuProc), 'locked');
    assert.equal(await cuda.getState(plain), undefined);
    assert.equal(await cuda.getState(gone), undefined);
    assert.deepEqual(await cuda.findCudaPids([plain, gpuProc, gone]), [gpuProc]);
    assert.equal(await cuda.getRestoreTid(gpuProc), gpuProc);
    assert.equal(await cuda.getRestoreTid(plain), undefined);
  });

  it('registers CUDA processes from CUDA_STANDIN_PIDS too', async () => {
    const pid = await standIn.spawnProcess();
    const cuda = createCudaCheckpoint({ run: standIn.runner({ CUDA_STANDIN_PIDS: `1,${pid}` }) });
    assert.equal(await cuda.getState(pid), 'running');
  });

  it('refuses transitions the driver refuses, with the tool’s own words', async () => {
    const cuda = createCudaCheckpoint({ run: standIn.runner() });
    const pid = await standIn.spawnProcess();
    await standIn.register(pid);
    await assert.rejects(
      cuda.checkpoint(pid),
      /Could not checkpoint on process ID \d+: "the operation cannot/,
    );
    await assert.rejects(cuda.unlock(pid), /Could not unlock/);
    await assert.rejects(cuda.restore(pid), /Could not restore/);
    await cuda.lock(pid);
    await assert.rejects(cuda.lock(pid), /Could not lock/);
    await cuda.unlock(pid);
    assert.deepEqual(await standIn.actions(pid), ['lock running->locked', 'unlock locked->running']);
  });

  it('gives up a lock after its timeout (the tool’s --timeout)', async () => {
    const pid = await standIn.spawnProcess();
    await standIn.register(pid);
    const cuda = createCudaCheckpoint({
      run: standIn.runner({ CUDA_STANDIN_HANG: 'lock' }),
      lockTimeoutMs: 200,
    });
    const started = Date.now();
    await assert.rejects(cuda.lock(pid), /timed out/);
    assert.ok(Date.now() - started < 4_000);
    assert.equal(await standIn.state(pid), 'running');
  });
});

describe('GPU discovery (nvidia-smi stand-in)', () => {
  let standIn: StandIn;
  before(async () => {
    standIn = await createStandIn();
  });
  after(async () => {
    await standIn.cleanup();
  });

  it('lists GPUs by UUID and index, and the driver version', async () => {
    const run = standIn.runner({ CUDA_STANDIN_GPUS: 'GPU-aa,GPU-bb', CUDA_STANDIN_DRIVER: '580.82.07' });
    assert.deepEqual(await listGpus(run), {
      gpus: [
        { uuid: 'GPU-aa', index: 0 },
        { uuid: 'GPU-bb', index: 1 },
      ],
    });
    assert.equal(await driverVersion(run), '580.82.07');
  });

  it('has no GPUs, with a reason, when there are none or no tool', async () => {
    const none = await listGpus(standIn.runner());
    assert.deepEqual(none.gpus, []);
    assert.match(none.reason ?? '', /No devices were found/);
    const missing = await listGpus(standIn.runner(), { binary: 'nvidia-smi-not-here' });
    assert.deepEqual(missing.gpus, []);
    assert.match(missing.reason ?? '', /nvidia-smi-not-here is not installed/);
    assert.equal(await driverVersion(standIn.runner(), { binary: 'nvidia-smi-not-here' }), undefined);
  });
});
