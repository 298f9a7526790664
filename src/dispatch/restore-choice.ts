/**
 * Which checkpoint a replacement pod takes (its label `snapback.io/restore`), asked of the agent of the
 * pod's node, which reads the shared storage:
 * - `latest`: FindLatestCheckpoint with the pod's workload — the newest complete checkpoint of the same
 *   namespace, owner, ordinal and container with the same image digest, GPU count and model, architecture
 *   (src/lib/storage/identity.ts); none: the pod starts cold, and the newer ones passed over say why;
 * - a checkpoint id: that one, if it is there and fits — same image, architecture and GPUs. It may come from
 *   another workload (it was named: a copy of a workload into another is the pod's owner's choice).
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import { RESTORE_LATEST } from '../events/opt-in.js';
import type { WorkloadIdentity as WireIdentity } from '../generated/snapback/agent/v1/agent.js';
import { incompatibility, type WorkloadIdentity } from '../lib/storage/identity.js';
import type { AgentDispatcher } from './agent-dispatcher.js';

export type Choice = { checkpointId: string } | { cold: string };

/** How a workload is named in words: `Deployment ml/d, container main`. */
export function describeWorkload(identity: WireIdentity): string {
  const ordinal = identity.ordinal === undefined ? '' : ` #${identity.ordinal}`;
  return `${identity.ownerKind} ${identity.namespace}/${identity.ownerName}${ordinal}, container ${identity.container}`;
}

/**
 * The pod's identity as the storage compares it. What the pod does not know (its node's architecture) is
 * taken as the checkpoint's: the agent compares it with its own node before it touches anything.
 */
function wantedAs(wire: WireIdentity, taken: WorkloadIdentity): WorkloadIdentity {
  return {
    // A named checkpoint may be another workload's: only what must match for CRIU and the GPUs is compared.
    namespace: taken.namespace,
    owner: taken.owner,
    ...(taken.ordinal === undefined ? {} : { ordinal: taken.ordinal }),
    container: taken.container,
    image: wire.image || taken.image,
    gpus: { count: wire.gpuCount ?? taken.gpus.count, ...(wire.gpuModel ? { model: wire.gpuModel } : {}) },
    arch: wire.arch || taken.arch,
  };
}

async function named(
  agents: AgentDispatcher,
  address: string,
  checkpointId: string,
  identity: WireIdentity,
  deadline: Date,
): Promise<Choice> {
  let manifestJson: string;
  try {
    ({ manifestJson } = await agents.getCheckpoint(address, checkpointId, { deadline }));
  } catch (err) {
    if (SnapbackError.from(err).code === ErrorCode.NOT_FOUND)
      return { cold: `checkpoint ${checkpointId} is not in the storage` };
    throw err;
  }
  const taken = (JSON.parse(manifestJson) as { identity?: WorkloadIdentity }).identity;
  // A checkpoint taken before workloads were recorded: the agent's own checks (image, GPUs) still apply.
  if (taken === undefined) return { checkpointId };
  const why = incompatibility(taken, wantedAs(identity, taken));
  return why === undefined ? { checkpointId } : { cold: `checkpoint ${checkpointId} does not fit: ${why}` };
}

/** The checkpoint to restore into the pod, or why it starts cold; an agent that cannot answer rejects. */
export async function chooseCheckpoint(
  agents: AgentDispatcher,
  address: string,
  from: string,
  identity: WireIdentity,
  deadline: Date,
): Promise<Choice> {
  if (from !== RESTORE_LATEST) return named(agents, address, from, identity, deadline);
  const { checkpoint, passedOver } = await agents.findLatestCheckpoint(address, identity, { deadline });
  if (checkpoint !== undefined) return { checkpointId: checkpoint.checkpointId };
  const workload = describeWorkload(identity);
  if (passedOver.length === 0) return { cold: `no checkpoint of ${workload} yet` };
  const shown = passedOver.slice(0, 3).join('; ');
  const more = passedOver.length > 3 ? ` and ${passedOver.length - 3} more` : '';
  return { cold: `no checkpoint of ${workload} fits this pod (${shown}${more})` };
}
