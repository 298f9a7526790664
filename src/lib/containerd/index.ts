/** containerd: a small API client and the `containerd` runtime (restore into placeholder containers). */
export * from './client.js';
export { snapbackInitOf } from './init-protocol.js';
export { classifyMounts, parseMountinfo } from './mounts.js';
export { type PodFacts, podOf } from './pods.js';
export { createContainerdRuntime } from './runtime.js';
