/** Builds the executor's CUDA phase from the agent's config (src/lib/cuda over the shared runner). */
import type { CudaPhase } from '../executor/cuda-phase.js';
import type { Logger } from '../log.js';

export async function createCudaPhaseFromConfig(
  _binary: string,
  _lockTimeoutMs: number,
  _logger: Logger,
): Promise<CudaPhase | undefined> {
  // Wired to src/lib/cuda when that library lands; until then the agent runs without a CUDA phase.
  return undefined;
}
