/** Phase 1, inspect: the runtime resolves the target; CUDA processes of its tree are found. */
import { residentBytes } from '../lib/procfs/index.js';
import type { Inspection, TargetRef } from '../lib/runtime/index.js';
import type { ExecutorDeps } from './deps.js';

export interface InspectedTarget extends Inspection {
  cudaPids: number[];
  /** Resident bytes of the tree: what the dump will roughly write. */
  residentBytes: number;
}

export async function inspectTarget(
  deps: ExecutorDeps,
  target: TargetRef,
  noCuda: boolean,
  signal: AbortSignal,
): Promise<InspectedTarget> {
  const inspection = await deps.runtime.inspect(target, signal);
  const cudaPids =
    noCuda || deps.cuda === undefined ? [] : await deps.cuda.findCudaPids(inspection.pids, signal);
  return { ...inspection, cudaPids, residentBytes: await residentBytes(inspection.pids) };
}
