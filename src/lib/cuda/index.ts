/**
 * The CUDA side of snapback: NVIDIA's cuda-checkpoint (state, lock/checkpoint/restore/unlock), the
 * parallel suspend/resume phases with their rollback, GPU identity, device maps and the `cuda.json` record.
 */
export * from './cuda-checkpoint.js';
export * from './device-map.js';
export * from './gpus.js';
export * from './phases.js';
export * from './record.js';
