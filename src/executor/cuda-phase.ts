/**
 * The CUDA steps as the executor sees them (DESIGN §3): lock + checkpoint before the CRIU dump,
 * restore + unlock after it (or after a CRIU restore), and a rollback that brings every touched
 * process back to `running`. Implemented over src/lib/cuda by `createCudaPhase`.
 */
import type { PhaseClock } from './phase-clock.js';

export interface CudaPhase {
  /** The pids of `pids` that have a CUDA context. */
  findCudaPids(pids: readonly number[], signal?: AbortSignal): Promise<number[]>;
  /** lock all, then checkpoint all; records `cudaLock` and `cudaCheckpoint`. */
  suspend(pids: readonly number[], clock: PhaseClock, signal?: AbortSignal): Promise<void>;
  /** restore all (with the device map), then unlock all; records `cudaRestore` and `cudaUnlock`. */
  resume(pids: readonly number[], clock: PhaseClock, deviceMap?: string, signal?: AbortSignal): Promise<void>;
  /** Best effort, never throws: every pid back to `running`. Returns the steps that ran. */
  rollback(pids: readonly number[]): Promise<string[]>;
  /** UUIDs of the GPUs this node has (or the container holds). */
  gpus(): Promise<string[]>;
  /** The `--device-map` for a restore of a checkpoint taken on `checkpointed` GPUs, undefined for identity. */
  deviceMap(checkpointed: readonly string[]): Promise<string | undefined>;
}
