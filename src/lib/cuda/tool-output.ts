/**
 * The runner explains a failure from stderr. NVIDIA's tools do not always say why there: nvidia-smi prints
 * "No devices were found" on stdout, and CRIU's CUDA plugin reads cuda-checkpoint's stdout and stderr as one
 * stream, so either is possible. When stderr said nothing, the reason is taken from stdout instead.
 */
import { ToolError } from '../tools/index.js';

const TAIL_LINES = 12;

export function withStdout(err: unknown): unknown {
  if (!(err instanceof ToolError) || err.tail !== '' || err.result.stdout.trim() === '') return err;
  const said = err.result.stdout.trim().split('\n').slice(-TAIL_LINES).join('\n  ');
  return new ToolError(err.code, `${err.message}:\n  ${said}`, err.result, `:\n  ${said}`);
}
