/**
 * The CudaCheckpoint binding over the CUDA driver's own checkpoint API (cuCheckpointProcess*, driver ≥ 570),
 * through snapback-cuda-helper: CUDA is initialised once for the agent instead of once per action and
 * process, which is what a cuda-checkpoint run costs (seconds). The same states, the same transitions, and
 * failures named as the driver names them (CUDA_ERROR_ILLEGAL_STATE …), as CudaDriverError.
 */
import pLimit from 'p-limit';
import { ErrorCode, SnapbackError } from '../../errors.js';
import {
  CudaBackend,
  type CudaCheckpoint,
  CudaState,
  DEFAULT_ACTION_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  LOCK_GRACE_MS,
} from './cuda-checkpoint.js';
import { gpuPairsOf } from './cuda-uuid.js';
import { CudaDriverError, createHelperConnection, type HelperVerb } from './helper-connection.js';

/** The helper's executable as `make setup` installs it (on PATH). */
export const DEFAULT_CUDA_HELPER = 'snapback-cuda-helper';

/**
 * CUDA 13.0 (driver 580): from here on a restore takes GPU pairs. The reference documents gpuPairs in
 * CUcheckpointRestoreArgs from the 13.x headers on (12.8 and 12.9 have only reserved fields); cuda-checkpoint
 * gained `--device-map` with driver 580, which implements CUDA 13.0, and this follows that.
 */
const GPU_PAIRS_SINCE = 13_000;

/** Queries cost the helper a thread each, not a process: more of them may be in flight than for the tool. */
const PROBE_CONCURRENCY = 32;

/** CUprocessState, by its number. */
const STATES: readonly CudaState[] = [
  CudaState.RUNNING,
  CudaState.LOCKED,
  CudaState.CHECKPOINTED,
  CudaState.FAILED,
];

export interface DriverCheckpointOptions {
  /** The helper's executable, name or path (default `snapback-cuda-helper`, looked up on PATH). */
  helper?: string;
  /** The libcuda to load; by default the loader finds libcuda.so.1. */
  library?: string;
  /** Added to the helper's environment. */
  env?: Record<string, string>;
  /** How long a lock may wait for in-flight CUDA work (CUcheckpointLockArgs.timeoutMs). Default 10 s. */
  lockTimeoutMs?: number;
  /** Upper bound for any other call; checkpoint and restore copy device memory. Default 5 min. */
  actionTimeoutMs?: number;
  /** How long loading the driver and cuInit may take. Default 120 s. */
  startTimeoutMs?: number;
}

/** `13000` → `13.0`, as CUDA numbers its versions (1000 × major + 10 × minor). */
export function cudaVersionString(version: number): string {
  return `${Math.floor(version / 1000)}.${Math.floor((version % 1000) / 10)}`;
}

export function createDriverCheckpoint(options: DriverCheckpointOptions = {}): CudaCheckpoint {
  const binary = options.helper ?? DEFAULT_CUDA_HELPER;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const actionTimeoutMs = options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS;
  const helper = createHelperConnection({
    binary,
    ...(options.library === undefined ? {} : { library: options.library }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
  });

  const call = (verb: HelperVerb, pid: number, arg: string | undefined, signal?: AbortSignal) =>
    helper.call(verb, pid, arg, {
      timeoutMs: verb === 'lock' ? lockTimeoutMs + LOCK_GRACE_MS : actionTimeoutMs,
      ...(signal === undefined ? {} : { signal }),
    });

  /** A query the driver refuses is answered "not a CUDA process", as the tool's non-zero exit is. */
  const query = async (verb: HelperVerb, pid: number, signal?: AbortSignal): Promise<number | undefined> => {
    let value: string;
    try {
      value = await call(verb, pid, undefined, signal);
    } catch (err) {
      if (err instanceof CudaDriverError) return undefined;
      throw err;
    }
    const n = Number(value);
    if (value === '' || !Number.isSafeInteger(n)) {
      throw new SnapbackError(ErrorCode.INTERNAL, `${binary} answered ${verb} with ${JSON.stringify(value)}`);
    }
    return n;
  };

  const action = async (verb: HelperVerb, pid: number, arg: string | undefined, signal?: AbortSignal) => {
    await call(verb, pid, arg, signal);
  };

  const self: CudaCheckpoint = {
    backend: CudaBackend.DRIVER,
    binary,
    async available(signal) {
      const greeting = await helper.handshake(signal);
      if (!greeting.ok) return { ok: false, reason: greeting.reason };
      return {
        ok: true,
        version: cudaVersionString(greeting.cudaVersion),
        deviceMap: greeting.cudaVersion >= GPU_PAIRS_SINCE,
      };
    },
    async ensureAvailable(signal) {
      const found = await self.available(signal);
      if (!found.ok) {
        throw new SnapbackError(
          ErrorCode.FAILED_PRECONDITION,
          `the CUDA driver helper is unavailable: ${found.reason}`,
        );
      }
      return found;
    },
    async getState(pid, signal) {
      const n = await query('state', pid, signal);
      if (n === undefined) return undefined;
      const state = STATES[n];
      if (state === undefined) {
        throw new SnapbackError(
          ErrorCode.INTERNAL,
          `the CUDA driver reported an unknown state ${n} for ${pid}`,
        );
      }
      return state;
    },
    async findCudaPids(pids, signal) {
      const found = await pLimit(PROBE_CONCURRENCY).map(pids, async (pid) => {
        return (await self.getState(pid, signal)) !== undefined;
      });
      return pids.filter((_, i) => found[i]);
    },
    lock: (pid, signal) => action('lock', pid, String(lockTimeoutMs), signal),
    checkpoint: (pid, signal) => action('checkpoint', pid, undefined, signal),
    // The pairs are worked out before anything is sent: a malformed UUID touches no process.
    restore: async (pid, deviceMap, signal) =>
      action('restore', pid, deviceMap === undefined ? undefined : gpuPairsOf(deviceMap), signal),
    unlock: (pid, signal) => action('unlock', pid, undefined, signal),
    async getRestoreTid(pid, signal) {
      const tid = await query('restore-tid', pid, signal);
      if (tid === undefined) return undefined;
      if (tid <= 0) {
        throw new SnapbackError(
          ErrorCode.INTERNAL,
          `the CUDA driver reported restore thread ${tid} for ${pid}`,
        );
      }
      return tid;
    },
    close: () => helper.close(),
  };
  return self;
}
