/**
 * The CUDA steps as the executor sees them (docs/architecture.md, "Executor"): lock + checkpoint before the CRIU dump,
 * restore + unlock after it (or after a CRIU restore), and a rollback that brings every touched
 * process back to `running`. Implemented over src/lib/cuda by `createCudaPhase`.
 */
import {
  buildDeviceMap,
  type CudaBackend,
  type CudaCheckpoint,
  driverVersion,
  listGpus,
  resumeAll,
  rollback,
  suspendAll,
} from '../lib/cuda/index.js';
import type { Runner } from '../lib/tools/index.js';
import type { PhaseClock } from './phase-clock.js';

export interface CudaPhase {
  /** How the driver is reached: the helper on its checkpoint API, or cuda-checkpoint (GetInfo says which). */
  readonly backend: CudaBackend;
  /** The pids of `pids` that have a CUDA context. */
  findCudaPids(pids: readonly number[], signal?: AbortSignal): Promise<number[]>;
  /** lock all, then checkpoint all; records `cudaLock` and `cudaCheckpoint`. */
  suspend(pids: readonly number[], clock: PhaseClock, signal?: AbortSignal): Promise<void>;
  /** restore all (with the device map), then unlock all; records `cudaRestore` and `cudaUnlock`. */
  resume(pids: readonly number[], clock: PhaseClock, deviceMap?: string, signal?: AbortSignal): Promise<void>;
  /** Best effort, never throws: every pid back to `running`. Returns the steps that ran. */
  rollback(pids: readonly number[]): Promise<string[]>;
  /** UUIDs of the GPUs this node has (or the container holds), and the driver version, for cuda.json. */
  identity(): Promise<{ gpus: string[]; driverVersion: string | undefined }>;
  /** The `--device-map` for a restore of a checkpoint taken on `checkpointed` GPUs, undefined for identity. */
  deviceMap(checkpointed: readonly string[]): Promise<string | undefined>;
  /** Ends what the backend keeps running (the driver helper); for the agent's shutdown. */
  close(): Promise<void>;
}

export interface CudaPhaseOptions {
  cuda: CudaCheckpoint;
  run: Runner;
  /** nvidia-smi binary, for the node's GPU UUIDs. */
  nvidiaSmi?: string;
}

/** The executor's CUDA phase over src/lib/cuda: every step on every pid in parallel, timed by the clock. */
export function createCudaPhase(options: CudaPhaseOptions): CudaPhase {
  const { cuda, run } = options;
  const nvidiaSmi = options.nvidiaSmi ?? 'nvidia-smi';
  const gpus = async () => (await listGpus(run, { binary: nvidiaSmi })).gpus.map((g) => g.uuid);
  return {
    backend: cuda.backend,
    findCudaPids: (pids, signal) => cuda.findCudaPids(pids, signal),
    async suspend(pids, clock, signal) {
      clock.progress({ phase: 'cudaLock', state: 'STARTED' });
      const { durations } = await suspendAll(cuda, pids, signal === undefined ? {} : { signal });
      clock.record('cudaLock', durations.cudaLock);
      clock.record('cudaCheckpoint', durations.cudaCheckpoint);
      clock.progress({ phase: 'cudaCheckpoint', state: 'FINISHED' });
    },
    async resume(pids, clock, deviceMap, signal) {
      clock.progress({ phase: 'cudaRestore', state: 'STARTED' });
      const { durations } = await resumeAll(cuda, pids, {
        ...(deviceMap === undefined ? {} : { deviceMap }),
        ...(signal === undefined ? {} : { signal }),
      });
      clock.record('cudaRestore', durations.cudaRestore);
      clock.record('cudaUnlock', durations.cudaUnlock);
      clock.progress({ phase: 'cudaUnlock', state: 'FINISHED' });
    },
    async rollback(pids) {
      const { steps, errors } = await rollback(cuda, pids);
      return [...steps, ...errors.map((e) => `failed: ${e}`)];
    },
    async identity() {
      const [uuids, driver] = await Promise.all([gpus(), driverVersion(run, { binary: nvidiaSmi })]);
      return { gpus: uuids, driverVersion: driver };
    },
    async deviceMap(checkpointed) {
      if (checkpointed.length === 0) return undefined;
      return buildDeviceMap([...checkpointed], await gpus());
    },
    close: () => cuda.close(),
  };
}
