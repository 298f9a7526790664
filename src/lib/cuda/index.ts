/**
 * The CUDA side of snapback: CUDA's checkpoint API (state, lock/checkpoint/restore/unlock) over NVIDIA's
 * cuda-checkpoint or over the driver helper, the parallel suspend/resume phases with their rollback, GPU
 * identity, device maps and the `cuda.json` record.
 */
export * from './cuda-checkpoint.js';
export * from './cuda-uuid.js';
export * from './device-map.js';
export * from './driver-helper.js';
export * from './gpus.js';
export { CudaDriverError } from './helper-connection.js';
export * from './phases.js';
export * from './record.js';
