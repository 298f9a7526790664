/**
 * The executor's CUDA phase from the agent's config (`--cuda-backend`):
 *   driver  snapback-cuda-helper on libcuda's checkpoint API (driver ≥ 570): CUDA initialised once per agent;
 *   tool    NVIDIA's cuda-checkpoint once per action, when it answers with `--action` (driver ≥ 555);
 *   auto    the driver where the helper can serve, the tool otherwise.
 * Where the chosen backend cannot serve, the phase is off; the log says which backend runs, or why none.
 */
import { type CudaPhase, createCudaPhase } from '../executor/cuda-phase.js';
import { type CudaCheckpoint, createCudaCheckpoint, createDriverCheckpoint } from '../lib/cuda/index.js';
import { runTool } from '../lib/tools/index.js';
import type { Logger } from '../log.js';

export interface CudaConfig {
  backend: 'auto' | 'driver' | 'tool';
  /** The cuda-checkpoint binary (backend tool). */
  tool: string;
  /** The snapback-cuda-helper binary (backend driver). */
  helper: string;
  /** The libcuda the helper loads; the loader's libcuda.so.1 when absent. */
  driverLib?: string;
  lockTimeoutMs: number;
}

export async function createCudaPhaseFromConfig(
  config: CudaConfig,
  logger: Logger,
): Promise<CudaPhase | undefined> {
  let driverUnavailable: string | undefined;
  if (config.backend !== 'tool') {
    const driver = createDriverCheckpoint({
      helper: config.helper,
      ...(config.driverLib === undefined ? {} : { library: config.driverLib }),
      lockTimeoutMs: config.lockTimeoutMs,
    });
    const found = await driver.available();
    if (found.ok) return on(driver, { cudaVersion: found.version, deviceMap: found.deviceMap }, logger);
    await driver.close();
    driverUnavailable = found.reason;
    if (config.backend === 'driver') {
      logger.warn({ backend: 'driver', reason: found.reason }, 'CUDA phase off');
      return undefined;
    }
  }
  const tool = createCudaCheckpoint({
    binary: config.tool,
    run: runTool,
    lockTimeoutMs: config.lockTimeoutMs,
  });
  const found = await tool.available();
  if (!found.ok) {
    logger.info({ reason: found.reason, driverUnavailable }, 'CUDA phase off');
    return undefined;
  }
  return on(tool, { version: found.version, deviceMap: found.deviceMap, driverUnavailable }, logger);
}

function on(cuda: CudaCheckpoint, details: Record<string, unknown>, logger: Logger): CudaPhase {
  logger.info({ backend: cuda.backend, binary: cuda.binary, ...details }, 'CUDA phase on');
  return createCudaPhase({ cuda, run: runTool });
}
