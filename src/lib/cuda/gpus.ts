/**
 * GPU identity through nvidia-smi's query interface (`nvidia-smi --help-query-gpu`):
 * `--query-gpu=uuid,index --format=csv,noheader` prints one `GPU-…, 0` line per GPU, and
 * `--query-gpu=driver_version` the driver's version once per GPU. A node without the tool or a driver simply
 * has no GPUs to tell about; the reason is kept so a caller can say why.
 *
 * In a cluster the GPUs a *container* holds come from the kubelet PodResources API; that lookup is not here
 * yet, and nvidia-smi inside the container's view is the fallback the design names.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { Runner } from '../tools/index.js';
import { withStdout } from './tool-output.js';

export interface Gpu {
  uuid: string;
  index: number;
}

export interface GpuList {
  /** Sorted by index. Empty when there is no tool, no driver or no GPU. */
  gpus: Gpu[];
  /** Why `gpus` is empty, when it is for a reason other than "the tool found none". */
  reason?: string;
}

export interface NvidiaSmiOptions {
  /** Executable name or path (default `nvidia-smi`). */
  binary?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Parses `uuid, index` CSV lines; lines that are not such (e.g. "No devices were found") are ignored. */
export function parseGpuList(stdout: string): Gpu[] {
  const gpus: Gpu[] = [];
  for (const line of stdout.split('\n')) {
    const [uuid, index] = line.split(',').map((field) => field.trim());
    if (!uuid?.startsWith('GPU-') && !uuid?.startsWith('MIG-')) continue;
    const n = Number(index);
    if (index === undefined || index === '' || !Number.isInteger(n) || n < 0) continue;
    gpus.push({ uuid, index: n });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

/** The GPUs nvidia-smi sees, by UUID and index. Never throws except when cancelled. */
export async function listGpus(run: Runner, options: NvidiaSmiOptions = {}): Promise<GpuList> {
  const answer = await ask(run, ['--query-gpu=uuid,index', '--format=csv,noheader'], options);
  if ('reason' in answer) return { gpus: [], reason: answer.reason };
  return { gpus: parseGpuList(answer.stdout) };
}

/** The NVIDIA driver version (e.g. `580.65.06`), or undefined when nvidia-smi cannot tell. */
export async function driverVersion(
  run: Runner,
  options: NvidiaSmiOptions = {},
): Promise<string | undefined> {
  const answer = await ask(run, ['--query-gpu=driver_version', '--format=csv,noheader'], options);
  if ('reason' in answer) return undefined;
  const first = answer.stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^\d+(\.\d+)*$/.test(l));
  return first;
}

async function ask(
  run: Runner,
  args: readonly string[],
  options: NvidiaSmiOptions,
): Promise<{ stdout: string } | { reason: string }> {
  const binary = options.binary ?? 'nvidia-smi';
  try {
    const { stdout } = await run(binary, args, {
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      signal: options.signal,
    });
    return { stdout };
  } catch (err) {
    const e = SnapbackError.from(withStdout(err));
    if (e.code === ErrorCode.CANCELLED) throw e;
    return { reason: e.message };
  }
}
