/**
 * The `--device-map` of `cuda-checkpoint --action restore` (driver ≥ 580): `OLD_UUID=NEW_UUID,...`, which
 * "must contain all checkpointed devices if specified" (the tool's --help). Without it the process comes
 * back on the GPUs it was checkpointed on.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';

/**
 * Pairs the GPUs a process was checkpointed on with those it is restored onto. A GPU present on both sides
 * stays itself (a restore on the same node changes nothing); the others pair up by position, in the order
 * given (nvidia-smi's index order, which is how CUDA numbers devices by default).
 *
 * Returns undefined when every GPU maps to itself, so nothing is passed to the tool and older drivers work;
 * otherwise the map names every checkpointed GPU. A different number of GPUs is a FAILED_PRECONDITION,
 * raised before anything is touched.
 */
export function buildDeviceMap(
  checkpointed: readonly string[],
  available: readonly string[],
): string | undefined {
  assertDistinct('checkpointed', checkpointed);
  assertDistinct('available', available);
  if (checkpointed.length !== available.length) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `the checkpoint was taken on ${checkpointed.length} GPU(s) but ${available.length} are available to ` +
        `restore onto; cuda-checkpoint needs one target GPU for each checkpointed GPU`,
    );
  }
  const here = new Set(available);
  const before = new Set(checkpointed);
  const spareTargets = available.filter((uuid) => !before.has(uuid));
  let next = 0;
  const pairs = checkpointed.map((old) => [old, here.has(old) ? old : spareTargets[next++]!] as const);
  if (pairs.every(([old, target]) => old === target)) return undefined;
  return pairs.map(([old, target]) => `${old}=${target}`).join(',');
}

/** Parses an `OLD=NEW,...` map back into pairs (e.g. to log or to check what a restore will use). */
export function parseDeviceMap(map: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const part of map.split(',')) {
    const [old, target, ...rest] = part.split('=');
    if (!old || !target || rest.length > 0) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `bad device map entry ${JSON.stringify(part)}`);
    }
    pairs.set(old.trim(), target.trim());
  }
  return pairs;
}

function assertDistinct(which: string, uuids: readonly string[]): void {
  const seen = new Set<string>();
  for (const uuid of uuids) {
    if (uuid.trim() === '' || uuid.includes(',') || uuid.includes('=')) {
      throw new SnapbackError(
        ErrorCode.INVALID_ARGUMENT,
        `${which} GPU UUID ${JSON.stringify(uuid)} is not valid`,
      );
    }
    if (seen.has(uuid)) {
      throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `${which} GPU ${uuid} is listed twice`);
    }
    seen.add(uuid);
  }
}
