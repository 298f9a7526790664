/**
 * The CUDA phase of a checkpoint and a restore, over every CUDA process of a workload at once:
 * suspend = lock all → checkpoint all; resume = restore all (with a device map) → unlock all.
 *
 * cuda-checkpoint has no rollback of its own: after a failure a process stays locked or checkpointed (frozen)
 * until someone restores and unlocks it. So every helper records each PID it starts an action on in a
 * caller-owned `touched` set, *before* the action runs (a lock that was cancelled half-way may still have
 * taken), and `rollback` brings every touched PID back to `running`, whatever state it was left in.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type CudaCheckpoint, CudaState } from './cuda-checkpoint.js';

/** Milliseconds per step, named as in completion events. */
export interface SuspendDurations {
  cudaLock: number;
  cudaCheckpoint: number;
}
export interface ResumeDurations {
  cudaRestore: number;
  cudaUnlock: number;
}

export interface PhaseOptions {
  /** Aborts waiting (running tools are killed); the caller still owes a `rollback`. */
  signal?: AbortSignal;
  /** Where touched PIDs are recorded; pass the same set to `rollback`. A new one when absent. */
  touched?: Set<number>;
}

export interface ResumeOptions extends PhaseOptions {
  /** `OLD=NEW,...` from `buildDeviceMap`; undefined restores onto the GPUs the processes had. */
  deviceMap?: string | undefined;
}

export interface PhaseResult<D> {
  durations: D;
  /** Every PID an action was started on: what `rollback` must look at. */
  touched: Set<number>;
}

/** Lock every PID, then checkpoint every PID (device memory moves into host memory), each step in parallel. */
export async function suspendAll(
  cuda: CudaCheckpoint,
  pids: readonly number[],
  options: PhaseOptions = {},
): Promise<PhaseResult<SuspendDurations>> {
  const touched = options.touched ?? new Set<number>();
  const cudaLock = await step('cudaLock', pids, touched, options.signal, (pid) =>
    cuda.lock(pid, options.signal),
  );
  const cudaCheckpoint = await step('cudaCheckpoint', pids, touched, options.signal, (pid) =>
    cuda.checkpoint(pid, options.signal),
  );
  return { durations: { cudaLock, cudaCheckpoint }, touched };
}

/** Restore every PID (onto the mapped GPUs), then unlock every PID, each step in parallel. */
export async function resumeAll(
  cuda: CudaCheckpoint,
  pids: readonly number[],
  options: ResumeOptions = {},
): Promise<PhaseResult<ResumeDurations>> {
  const touched = options.touched ?? new Set<number>();
  const cudaRestore = await step('cudaRestore', pids, touched, options.signal, (pid) =>
    cuda.restore(pid, options.deviceMap, options.signal),
  );
  const cudaUnlock = await step('cudaUnlock', pids, touched, options.signal, (pid) =>
    cuda.unlock(pid, options.signal),
  );
  return { durations: { cudaRestore, cudaUnlock }, touched };
}

/**
 * Runs `fn` for every PID in parallel and waits for all of them to settle, even after one fails: a rollback
 * must not race a lock still in flight. Fails with the first real error (a cancellation only when nothing
 * else went wrong), attributed to `phase`.
 */
async function step(
  phase: string,
  pids: readonly number[],
  touched: Set<number>,
  signal: AbortSignal | undefined,
  fn: (pid: number) => Promise<void>,
): Promise<number> {
  if (signal?.aborted) throw abortError(signal).inPhase(phase);
  const started = performance.now();
  const outcomes = await Promise.allSettled(
    pids.map((pid) => {
      touched.add(pid);
      return fn(pid);
    }),
  );
  const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [SnapbackError.from(o.reason)] : []));
  const first = errors.find((e) => e.code !== ErrorCode.CANCELLED) ?? errors[0];
  if (first !== undefined) throw first.inPhase(phase);
  return Math.round(performance.now() - started);
}

function abortError(signal: AbortSignal): SnapbackError {
  const reason: unknown = signal.reason;
  if (reason instanceof SnapbackError) return reason;
  if (reason instanceof Error) return SnapbackError.from(reason);
  return new SnapbackError(ErrorCode.CANCELLED, 'the CUDA phase was cancelled', { cause: reason });
}

export interface RollbackResult {
  /** Steps that ran and succeeded, in order per PID: `cuda restore 1234`, `cuda unlock 1234`. */
  steps: string[];
  /** What could not be undone; each names the PID. Empty when every touched PID is `running` again. */
  errors: string[];
}

export interface RollbackOptions {
  /**
   * The device map of the restore being undone: a checkpointed process can only come back onto GPUs that
   * exist here. Leave undefined when undoing a checkpoint (the processes never left their GPUs).
   */
  deviceMap?: string | undefined;
}

/**
 * Brings every PID back to `running`, whatever state it is in: checkpointed → restore → unlock;
 * locked → unlock; running or not (any longer) a CUDA process → nothing. Best effort over all PIDs in
 * parallel, with no signal of its own (it runs *because* the caller was cancelled); never throws.
 * A PID in state `failed` cannot be brought back by the tool and is reported in `errors`.
 */
export async function rollback(
  cuda: CudaCheckpoint,
  pids: Iterable<number>,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  const perPid = await Promise.all(
    [...new Set(pids)].map((pid) => rollbackOne(cuda, pid, options.deviceMap)),
  );
  return { steps: perPid.flatMap((r) => r.steps), errors: perPid.flatMap((r) => r.errors) };
}

async function rollbackOne(
  cuda: CudaCheckpoint,
  pid: number,
  deviceMap: string | undefined,
): Promise<RollbackResult> {
  const steps: string[] = [];
  const errors: string[] = [];
  const attempt = async (name: 'restore' | 'unlock', fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      steps.push(`cuda ${name} ${pid}`);
      return true;
    } catch (err) {
      errors.push(`cuda ${name} ${pid}: ${SnapbackError.from(err).message}`);
      return false;
    }
  };

  let state: CudaState | undefined;
  try {
    state = await cuda.getState(pid);
  } catch (err) {
    // Not knowing the state, an unlock is the least harmful guess: it only succeeds on a locked process.
    errors.push(`cuda get-state ${pid}: ${SnapbackError.from(err).message}`);
    await attempt('unlock', () => cuda.unlock(pid));
    return { steps, errors };
  }
  if (state === CudaState.FAILED) {
    errors.push(`cuda ${pid} is in state failed, which cuda-checkpoint cannot undo`);
  } else if (state === CudaState.CHECKPOINTED) {
    if (await attempt('restore', () => cuda.restore(pid, deviceMap)))
      await attempt('unlock', () => cuda.unlock(pid));
  } else if (state === CudaState.LOCKED) {
    await attempt('unlock', () => cuda.unlock(pid));
  }
  return { steps, errors };
}
