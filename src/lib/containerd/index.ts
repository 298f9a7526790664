/** containerd: a small API client and the `containerd` runtime (restore into placeholder containers). */
export * from './client.js';
export { INIT_NAME, parseInitState, snapbackInitOf } from './init-protocol.js';
export type { ContainerWorkload } from './inspect-helpers.js';
export { type ClassifiedMount, classifyMounts, type MountKind, parseMountinfo } from './mounts.js';
export { type PodFacts, podOf, SANDBOX_ID_ANNOTATION } from './pods.js';
export { DELETED_FILES_FILE, type DeletedFiles, ROOTFS_DIFF_FILE } from './rootfs.js';
export { type ContainerdRuntimeOptions, createContainerdRuntime } from './runtime.js';
export { CONTAINER_NAME_LABEL, POD_NAME_LABEL, POD_NAMESPACE_LABEL } from './targets.js';
