/**
 * The executor's CUDA phase from the agent's config: on when cuda-checkpoint answers with `--action`
 * (driver 555 or newer), off — and said so in the log — on nodes without it.
 */
import { type CudaPhase, createCudaPhase } from '../executor/cuda-phase.js';
import { createCudaCheckpoint } from '../lib/cuda/index.js';
import { runTool } from '../lib/runner/index.js';
import type { Logger } from '../log.js';

export async function createCudaPhaseFromConfig(
  binary: string,
  lockTimeoutMs: number,
  logger: Logger,
): Promise<CudaPhase | undefined> {
  const cuda = createCudaCheckpoint({ binary, run: runTool, lockTimeoutMs });
  const availability = await cuda.available();
  if (!availability.ok) {
    logger.info({ reason: availability.reason }, 'CUDA phase off');
    return undefined;
  }
  logger.info({ binary, version: availability.version, deviceMap: availability.deviceMap }, 'CUDA phase on');
  return createCudaPhase({ cuda, run: runTool });
}
