/**
 * The workload a pod belongs to (agent.proto's WorkloadIdentity; src/lib/storage/identity.ts says what must
 * match): what a checkpoint of the pod records, and what a replacement pod asks "the latest" for. A
 * Deployment's replacement pod has another name, uid and node; what it shares with the pod it replaces is
 * its controlling owner, its container, and what CRIU and the GPUs need to be the same.
 * - Owner: the ownerReference with `controller: true`
 *   (https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/); a ReplicaSet is
 *   followed to its own controller (a Deployment), since a rollout's or a scale-up's pods share the
 *   Deployment, not the ReplicaSet; a StatefulSet pod adds its ordinal (label
 *   `apps.kubernetes.io/pod-index`, else its name's suffix), as its replacement has the same one; a Job,
 *   a LeaderWorkerSet's StatefulSet or any other kind is taken as it is; no controller: the pod itself.
 * - Image: the digest the node ran (`status.containerStatuses[].imageID`), else the spec's reference.
 * - GPUs: the container's `nvidia.com/gpu` limit (else request); the model from the node's
 *   `nvidia.com/gpu.product` label (GPU feature discovery), when there.
 * - Architecture: the node's `kubernetes.io/arch` label, else `status.nodeInfo.architecture`.
 * - Retention: the pod's `snapback.io/keep` annotation (1…100), else the agent's default.
 */
import type { V1Container, V1Node, V1OwnerReference, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { KEEP_ANNOTATION } from '../events/opt-in.js';
import type { WorkloadIdentity } from '../generated/snapback/agent/v1/agent.js';

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const ARCH_LABEL = 'kubernetes.io/arch';
/** Set by the StatefulSet controller since Kubernetes 1.28. */
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const MAX_KEEP = 100;

/** What resolving an identity reads besides the pod. */
export interface WorkloadLookups {
  /** A ReplicaSet; undefined when there is none of that name. Rejects when it cannot be read. */
  replicaSet(namespace: string, name: string): Promise<V1ReplicaSet | undefined>;
  /** A node; undefined when it is not known. */
  node(name: string): Promise<V1Node | undefined>;
}

/** A pod's workload as a checkpoint records it, and how many checkpoints of it to keep. */
export interface PodWorkload {
  identity: WorkloadIdentity;
  /** From `snapback.io/keep`; absent: the agent's default. */
  keep?: number;
  /** Why `snapback.io/keep` cannot be used: a checkpoint is then refused, naming the annotation. */
  keepProblem?: string;
  /** What could not be read and what was taken instead (logged by the caller). */
  warnings: string[];
}

function controllerOf(references: readonly V1OwnerReference[] | undefined): V1OwnerReference | undefined {
  return references?.find((r) => r.controller === true);
}

/** A StatefulSet pod's ordinal: its pod-index label, else the number its name ends in after `<set>-`. */
export function ordinalOf(pod: V1Pod, statefulSet: string): number | undefined {
  const label = pod.metadata?.labels?.[POD_INDEX_LABEL];
  const name = pod.metadata?.name ?? '';
  const suffix = name.startsWith(`${statefulSet}-`) ? name.slice(statefulSet.length + 1) : undefined;
  const text = label ?? suffix;
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

async function ownerOf(
  pod: V1Pod,
  lookups: WorkloadLookups,
  warnings: string[],
): Promise<Pick<WorkloadIdentity, 'ownerKind' | 'ownerName' | 'ordinal'>> {
  const controller = controllerOf(pod.metadata?.ownerReferences);
  if (controller === undefined) return { ownerKind: 'Pod', ownerName: pod.metadata?.name ?? '' };
  const asIs = { ownerKind: controller.kind, ownerName: controller.name };
  if (controller.kind === 'StatefulSet') {
    const ordinal = ordinalOf(pod, controller.name);
    return ordinal === undefined ? asIs : { ...asIs, ordinal };
  }
  if (controller.kind !== 'ReplicaSet') return asIs;
  const namespace = pod.metadata?.namespace ?? 'default';
  try {
    const replicaSet = await lookups.replicaSet(namespace, controller.name);
    const deployment = controllerOf(replicaSet?.metadata?.ownerReferences);
    if (replicaSet === undefined) warnings.push(`ReplicaSet ${namespace}/${controller.name} is gone`);
    // A ReplicaSet without a controller (made by hand, or orphaned) is the workload itself.
    return deployment === undefined ? asIs : { ownerKind: deployment.kind, ownerName: deployment.name };
  } catch (err) {
    warnings.push(
      `cannot read ReplicaSet ${namespace}/${controller.name} (${(err as Error).message}): the ReplicaSet stands for its Deployment`,
    );
    return asIs;
  }
}

/** `docker-pullable://repo@sha256:…` (dockershim) and `repo@sha256:…` (containerd) are the same image. */
function imageOf(pod: V1Pod, container: V1Container | undefined): string {
  const status = pod.status?.containerStatuses?.find((s) => s.name === container?.name);
  const ran = status?.imageID?.replace(/^[a-z-]+:\/\//, '');
  return ran || container?.image || '';
}

/** A quantity of whole devices ("1", 2); anything else counts as none (the API server allows integers only). */
export function deviceCount(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** `snapback.io/keep`: a whole number from 1 to MAX_KEEP, or why not. */
export function keepOf(pod: V1Pod): Pick<PodWorkload, 'keep' | 'keepProblem'> {
  const text = pod.metadata?.annotations?.[KEEP_ANNOTATION];
  if (text === undefined) return {};
  const n = /^\d{1,3}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (n >= 1 && n <= MAX_KEEP) return { keep: n };
  const shown = JSON.stringify(text.slice(0, 40));
  return {
    keepProblem: `annotation ${KEEP_ANNOTATION}: ${shown} must be a whole number from 1 to ${MAX_KEEP} (checkpoints of the workload to keep)`,
  };
}

/** The workload of `pod`'s container `container`, as a checkpoint records it. */
export async function podWorkload(
  pod: V1Pod,
  container: string,
  lookups: WorkloadLookups,
): Promise<PodWorkload> {
  const warnings: string[] = [];
  const spec = pod.spec?.containers.find((c) => c.name === container);
  const nodeName = pod.spec?.nodeName;
  const [owner, node] = await Promise.all([
    ownerOf(pod, lookups, warnings),
    nodeName ? lookups.node(nodeName).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  const resources = spec?.resources;
  const gpuCount = deviceCount(resources?.limits?.[GPU_RESOURCE] ?? resources?.requests?.[GPU_RESOURCE]);
  const labels = node?.metadata?.labels ?? {};
  return {
    identity: {
      namespace: pod.metadata?.namespace ?? 'default',
      ...owner,
      container,
      image: imageOf(pod, spec),
      gpuCount,
      // The model matters only to a pod that holds GPUs.
      gpuModel: gpuCount > 0 ? (labels[GPU_PRODUCT_LABEL] ?? '') : '',
      arch: labels[ARCH_LABEL] ?? node?.status?.nodeInfo?.architecture ?? '',
    },
    ...keepOf(pod),
    warnings,
  };
}
