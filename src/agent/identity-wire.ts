/** Workload identities between the wire (agent.proto's WorkloadIdentity) and the store's (identity.ts). */
import type { RequestedIdentity } from '../executor/identity.js';
import type { WorkloadIdentity as WireIdentity } from '../generated/snapback/agent/v1/agent.js';
import { nodeArch, type WorkloadIdentity } from '../lib/storage/index.js';

/** What a request says of its workload; undefined when it says nothing. */
export function requestedIdentity(wire: WireIdentity | undefined): RequestedIdentity | undefined {
  if (wire === undefined) return undefined;
  return {
    ...(wire.namespace ? { namespace: wire.namespace } : {}),
    ...(wire.ownerName ? { owner: { kind: wire.ownerKind || 'Pod', name: wire.ownerName } } : {}),
    ...(wire.ordinal === undefined ? {} : { ordinal: wire.ordinal }),
    ...(wire.container ? { container: wire.container } : {}),
    ...(wire.image ? { image: wire.image } : {}),
    gpus: {
      ...(wire.gpuCount === undefined ? {} : { count: wire.gpuCount }),
      ...(wire.gpuModel ? { model: wire.gpuModel } : {}),
    },
    ...(wire.arch ? { arch: wire.arch } : {}),
  };
}

/** A pod's identity as asked for, whole: the architecture and GPU count are this node's when not said. */
export function wantedIdentity(wire: WireIdentity, nodeGpus: number): WorkloadIdentity {
  return {
    namespace: wire.namespace || 'default',
    owner: { kind: wire.ownerKind || 'Pod', name: wire.ownerName },
    ...(wire.ordinal === undefined ? {} : { ordinal: wire.ordinal }),
    container: wire.container,
    image: wire.image,
    gpus: { count: wire.gpuCount ?? nodeGpus, ...(wire.gpuModel ? { model: wire.gpuModel } : {}) },
    arch: wire.arch || nodeArch(),
  };
}
