/**
 * Suspend, resume and rollback over several real processes with each backend — the cuda-checkpoint
 * stand-in, and the driver helper over the libcuda stand-in — : the state sequence of a full round, and every
 * process back to `running` after a failure, a hang or a cancellation.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ErrorCode, SnapbackError } from '../../../src/errors.js';
import {
  buildDeviceMap,
  type CudaBackend,
  type CudaCheckpoint,
  createCudaCheckpoint,
  resumeAll,
  rollback,
  suspendAll,
} from '../../../src/lib/cuda/index.js';
import { findProcesses } from '../../../src/lib/procfs/index.js';
import { isRunning, waitFor } from '../../helpers/proc.js';
import { createStandIn, type StandIn } from './standin.js';

const ROUND = ['lock running->locked', 'checkpoint locked->checkpointed', 'restore checkpointed->locked'];
const FULL = [...ROUND, 'unlock locked->running'];
/** GPU UUIDs as nvidia-smi spells them (the driver needs their 16 bytes to remap). */
const gpu = (n: number) => `GPU-0000000${n}-0000-0000-0000-000000000000`;

/** How each backend words "ACTION on PID failed": the tool's message, or the driver function's name. */
const failed: Record<CudaBackend, (action: string) => RegExp> = {
  tool: (action) => new RegExp(`Could not ${action} on process ID \\d+`),
  driver: (action) =>
    new RegExp(
      `cuCheckpointProcess${action[0]!.toUpperCase()}${action.slice(1)} on process ID \\d+ failed: CUDA_ERROR_`,
    ),
};

for (const backend of ['tool', 'driver'] as const) {
  describe(`CUDA phases over the ${backend} (stand-in, real processes)`, () => {
    let standIn: StandIn;
    let a: number;
    let b: number;
    const bind = (knobs: Record<string, string>, timeouts = {}): Promise<CudaCheckpoint> | CudaCheckpoint =>
      backend === 'tool'
        ? createCudaCheckpoint({ run: standIn.runner(knobs), ...timeouts })
        : standIn.driver(knobs, timeouts);
    const cudaWith = (knobs: Record<string, string> = {}, timeouts = {}) =>
      bind({ CUDA_STANDIN_GPUS: `${gpu(0)},${gpu(1)}`, ...knobs }, timeouts);

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

    /** Whether a lock of `pid` has been asked for and has not answered: a tool run, or a driver call. */
    async function lockInFlight(pid: number): Promise<boolean> {
      if (backend === 'driver')
        return (await standIn.driverCalls()).some((c) => c.fn === 'cuCheckpointProcessLock' && c.pid === pid);
      const runs = await findProcesses(
        (argv) => argv.some((arg) => arg.endsWith('/cuda-checkpoint')) && argv.includes(String(pid)),
      );
      return runs.length > 0;
    }

    async function assertAllRunning(): Promise<void> {
      assert.equal(await standIn.state(a), 'running');
      assert.equal(await standIn.state(b), 'running');
    }

    it('runs lock → checkpoint → restore (onto other GPUs) → unlock, ignoring a process without CUDA', async () => {
      const plain = await standIn.spawnProcess();
      const cuda = await cudaWith();
      const pids = await cuda.findCudaPids([a, plain, b]);
      assert.deepEqual(pids, [a, b]);

      const suspended = await suspendAll(cuda, pids);
      assert.deepEqual([...suspended.touched].sort(), [a, b].sort());
      assert.ok(suspended.durations.cudaLock >= 0 && suspended.durations.cudaCheckpoint >= 0);
      assert.equal(await standIn.state(a), 'checkpointed');

      // The "restore node" has GPUs 1 and 7: 1 stays, 0 moves to 7.
      const deviceMap = buildDeviceMap([gpu(0), gpu(1)], [gpu(1), gpu(7)]);
      assert.equal(deviceMap, `${gpu(0)}=${gpu(7)},${gpu(1)}=${gpu(1)}`);
      const elsewhere = await bind({ CUDA_STANDIN_GPUS: `${gpu(1)},${gpu(7)}` });
      const resumed = await resumeAll(elsewhere, pids, { deviceMap });
      assert.ok(resumed.durations.cudaRestore >= 0 && resumed.durations.cudaUnlock >= 0);

      assert.deepEqual(await standIn.actions(a), FULL);
      assert.deepEqual(await standIn.actions(b), FULL);
      assert.deepEqual(await standIn.actions(plain), []);
      await assertAllRunning();
      assert.ok(await isRunning(plain));
    });

    it('a restore onto other GPUs without a device map fails, and rollback with the map recovers', async () => {
      await suspendAll(await cudaWith(), [a, b]);
      const elsewhere = await bind({ CUDA_STANDIN_GPUS: `${gpu(8)},${gpu(9)}` });
      const touched = new Set<number>();
      await assert.rejects(resumeAll(elsewhere, [a, b], { touched }), (err: unknown) => {
        return (
          err instanceof SnapbackError && err.phase === 'cudaRestore' && /invalid argument/.test(err.message)
        );
      });
      const deviceMap = buildDeviceMap([gpu(0), gpu(1)], [gpu(8), gpu(9)]);
      const undone = await rollback(elsewhere, touched, { deviceMap });
      assert.deepEqual(undone.errors, []);
      await assertAllRunning();
    });

    it('failure at lock: the other process is unlocked again', async () => {
      const cuda = await cudaWith({ CUDA_STANDIN_FAIL: `lock:${b}` });
      const touched = new Set<number>();
      await assert.rejects(suspendAll(cuda, [a, b], { touched }), (err: unknown) => {
        return (
          err instanceof SnapbackError &&
          err.phase === 'cudaLock' &&
          failed[backend]('lock').test(err.message)
        );
      });
      assert.equal(await standIn.state(a), 'locked');
      const undone = await rollback(cuda, touched);
      assert.deepEqual(undone, { steps: [`cuda unlock ${a}`], errors: [] });
      await assertAllRunning();
    });

    it('failure at checkpoint: checkpointed ones are restored and unlocked, locked ones unlocked', async () => {
      const cuda = await cudaWith({ CUDA_STANDIN_FAIL: `checkpoint:${b}` });
      const touched = new Set<number>();
      await assert.rejects(suspendAll(cuda, [a, b], { touched }), { phase: 'cudaCheckpoint' });
      assert.equal(await standIn.state(a), 'checkpointed');
      assert.equal(await standIn.state(b), 'locked');
      const undone = await rollback(cuda, touched);
      assert.deepEqual(
        undone.steps.sort(),
        [`cuda restore ${a}`, `cuda unlock ${a}`, `cuda unlock ${b}`].sort(),
      );
      assert.deepEqual(undone.errors, []);
      await assertAllRunning();
      assert.deepEqual(await standIn.actions(a), FULL);
    });

    it('failure at restore (once): rollback retries the restore and unlocks everything', async () => {
      await suspendAll(await cudaWith(), [a, b]);
      const cuda = await cudaWith({ CUDA_STANDIN_FAIL: `restore:${a}`, CUDA_STANDIN_FAIL_TIMES: '1' });
      const touched = new Set<number>();
      await assert.rejects(resumeAll(cuda, [a, b], { touched }), { phase: 'cudaRestore' });
      assert.equal(await standIn.state(a), 'checkpointed');
      assert.equal(await standIn.state(b), 'locked');
      const undone = await rollback(cuda, touched);
      assert.deepEqual(undone.errors, []);
      assert.ok(undone.steps.includes(`cuda restore ${a}`) && undone.steps.includes(`cuda unlock ${b}`));
      await assertAllRunning();
    });

    it('a restore that keeps failing: rollback does what it can, reports the rest and does not throw', async () => {
      await suspendAll(await cudaWith(), [a, b]);
      const cuda = await cudaWith({ CUDA_STANDIN_FAIL: `restore:${a}` });
      const undone = await rollback(cuda, [a, b]);
      assert.deepEqual(undone.steps.sort(), [`cuda restore ${b}`, `cuda unlock ${b}`].sort());
      assert.equal(undone.errors.length, 1);
      assert.match(
        undone.errors[0]!,
        new RegExp(`^cuda restore ${a}: .*${failed[backend]('restore').source}`, 's'),
      );
      assert.equal(await standIn.state(a), 'checkpointed');
      assert.equal(await standIn.state(b), 'running');
    });

    it('a hung lock is abandoned on abort; the rollback still unlocks what was locked', async () => {
      // The helper's rollback waits for the abandoned lock to give up (its timeout) before it asks for the
      // state, so that wait is kept short there; the tool's run is killed at once.
      const lockTimeoutMs = backend === 'tool' ? 60_000 : 3_000;
      const cuda = await cudaWith({ CUDA_STANDIN_HANG: `lock:${b}` }, { lockTimeoutMs });
      const controller = new AbortController();
      const touched = new Set<number>();
      const started = Date.now();
      const suspending = suspendAll(cuda, [a, b], { signal: controller.signal, touched });
      // Aborted once a is locked and b's lock hangs: what the abort must abandon, and the rollback undo.
      await waitFor('a locked and b’s lock in flight', async () => {
        return (await standIn.state(a)) === 'locked' && (await lockInFlight(b));
      });
      controller.abort();
      await assert.rejects(suspending, (err: unknown) => {
        return err instanceof SnapbackError && err.code === ErrorCode.CANCELLED && err.phase === 'cudaLock';
      });
      assert.ok(Date.now() - started < Math.min(10_000, lockTimeoutMs), 'the abort did not end the wait');
      const undone = await rollback(cuda, touched);
      assert.deepEqual(undone, { steps: [`cuda unlock ${a}`], errors: [] });
      await assertAllRunning();
    });

    it('a hung checkpoint runs into the action timeout; the rollback restores and unlocks', async () => {
      const cuda = await cudaWith({ CUDA_STANDIN_HANG: `checkpoint:${b}` }, { actionTimeoutMs: 500 });
      const touched = new Set<number>();
      await assert.rejects(suspendAll(cuda, [a, b], { touched }), (err: unknown) => {
        return (
          err instanceof SnapbackError &&
          err.code === ErrorCode.DEADLINE_EXCEEDED &&
          err.phase === 'cudaCheckpoint'
        );
      });
      const undone = await rollback(cuda, touched);
      assert.deepEqual(undone.errors, []);
      assert.equal(undone.steps.length, 3);
      await assertAllRunning();
    });

    it('an already-aborted signal touches nothing', async () => {
      const touched = new Set<number>();
      const reason = new SnapbackError(ErrorCode.DEADLINE_EXCEEDED, 'preemption deadline passed');
      await assert.rejects(
        suspendAll(await cudaWith(), [a, b], { signal: AbortSignal.abort(reason), touched }),
        {
          code: ErrorCode.DEADLINE_EXCEEDED,
          phase: 'cudaLock',
        },
      );
      assert.equal(touched.size, 0);
      assert.deepEqual(await standIn.actions(a), []);
    });
  });
}
