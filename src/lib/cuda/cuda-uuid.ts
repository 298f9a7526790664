/**
 * GPU identity as the driver's checkpoint API takes it. CUDA names a GPU by a 16-byte CUuuid; nvidia-smi
 * and cuda-checkpoint's `--device-map` spell the same bytes as `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
 * (a MIG instance as `MIG-` and the same form). snapback-cuda-helper takes each as 32 hex digits.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { parseDeviceMap } from './device-map.js';

const UUID = /^(?:GPU|MIG)-([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** `GPU-…` → the CUuuid's 16 bytes as 32 lowercase hex digits; INVALID_ARGUMENT for anything else. */
export function cuUuidHex(uuid: string): string {
  const parts = UUID.exec(uuid.trim());
  if (parts === null) {
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `GPU UUID ${JSON.stringify(uuid)} is not of the form GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, ` +
        'which the CUDA driver needs to remap GPUs',
    );
  }
  return parts.slice(1).join('').toLowerCase();
}

/** A device map (`OLD=NEW,...`, see buildDeviceMap) as the helper's GPU pairs: `OLDHEX:NEWHEX,...`. */
export function gpuPairsOf(deviceMap: string): string {
  return [...parseDeviceMap(deviceMap)]
    .map(([old, target]) => `${cuUuidHex(old)}:${cuUuidHex(target)}`)
    .join(',');
}
