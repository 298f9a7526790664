/** Checkpoint storage (ids are src/ids.ts's): layout, staging and atomic promotion, manifests. */

export * from './agent-lease.js';
export * from './chunked-hash.js';
export * from './durable.js';
export * from './file-parts.js';
export * from './growing-files.js';
export * from './identity.js';
export * from './manifest.js';
export * from './object-store.js';
export * from './paths.js';
export * from './store.js';
export * from './tiered-store.js';
