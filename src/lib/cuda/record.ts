/**
 * `cuda.json`, kept beside the CRIU images of a checkpoint version: which processes held CUDA state, on which
 * GPUs, under which driver. A restore reads it to know what to restore and to build the device map.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';

/** The file name inside a checkpoint version directory. */
export const CUDA_RECORD_FILE = 'cuda.json';

export interface CudaRecord {
  version: 1;
  /** The CUDA processes, as PIDs in the workload's own PID namespace (what CRIU restores them as). */
  pids: number[];
  /** UUIDs of the GPUs the processes were checkpointed on, in index order. */
  gpus: string[];
  driverVersion?: string;
}

export function serializeCudaRecord(record: CudaRecord): string {
  const { version, pids, gpus, driverVersion } = record;
  return `${JSON.stringify({ version, pids, gpus, ...(driverVersion === undefined ? {} : { driverVersion }) }, null, 2)}\n`;
}

/**
 * Parses and checks a `cuda.json`. A damaged or foreign file makes the checkpoint unusable for a GPU
 * restore, hence FAILED_PRECONDITION naming what is wrong.
 */
export function parseCudaRecord(text: string): CudaRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad(`is not JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('is not an object');
  const v = value as Record<string, unknown>;
  if (v['version'] !== 1) throw bad(`has version ${JSON.stringify(v['version'])}; only 1 is understood`);
  const pids = v['pids'];
  if (!Array.isArray(pids) || !pids.every((p) => Number.isSafeInteger(p) && (p as number) > 0)) {
    throw bad('needs "pids": an array of positive integers');
  }
  const gpus = v['gpus'];
  if (!Array.isArray(gpus) || !gpus.every((g) => typeof g === 'string' && g !== '')) {
    throw bad('needs "gpus": an array of GPU UUIDs');
  }
  const driver = v['driverVersion'];
  if (driver !== undefined && typeof driver !== 'string')
    throw bad('has a "driverVersion" that is not a string');
  return {
    version: 1,
    pids: pids as number[],
    gpus: gpus as string[],
    ...(driver === undefined ? {} : { driverVersion: driver }),
  };
}

function bad(what: string): SnapbackError {
  return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${CUDA_RECORD_FILE} ${what}`);
}
