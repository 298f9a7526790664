/**
 * The identity a checkpoint records (src/lib/storage/identity.ts): what the caller said (the functions
 * resolve a pod's controlling owner, image digest and GPUs through the Kubernetes API), over what the
 * runtime can tell (the pod or workload name, the container, the image) and the node's architecture.
 */
import { nodeArch, type WorkloadIdentity } from '../lib/storage/index.js';
import type { InspectedTarget } from './inspect.js';

/** What a request may say of the workload; anything left out is the runtime's or the node's. */
export type RequestedIdentity = Partial<Omit<WorkloadIdentity, 'owner' | 'gpus'>> & {
  owner?: WorkloadIdentity['owner'];
  gpus?: Partial<WorkloadIdentity['gpus']>;
};

export function checkpointIdentity(
  inspection: InspectedTarget,
  requested: RequestedIdentity | undefined,
  gpusHeld: number,
): WorkloadIdentity {
  const model = requested?.gpus?.model;
  return {
    namespace: requested?.namespace || inspection.target.namespace,
    owner: requested?.owner?.name ? requested.owner : inspection.identity.owner,
    ...(requested?.ordinal === undefined ? {} : { ordinal: requested.ordinal }),
    container: requested?.container ?? inspection.identity.container,
    image: requested?.image || inspection.identity.image,
    gpus: { count: requested?.gpus?.count ?? gpusHeld, ...(model ? { model } : {}) },
    arch: requested?.arch || nodeArch(),
  };
}
