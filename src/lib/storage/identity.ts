/**
 * Which workload a checkpoint belongs to, and which checkpoints a new pod of it can take. A Deployment's
 * replacement pod has another name, uid and node than the pod that was checkpointed; what it shares with it
 * is its controlling owner, its container, and what must match for CRIU and the GPUs: the image, the GPU
 * count and model, the architecture.
 */
export interface WorkloadIdentity {
  namespace: string;
  /**
   * The controlling owner, resolved through ownerReferences (a ReplicaSet to its Deployment): Deployment,
   * StatefulSet, Job, LeaderWorkerSet…; the pod itself (kind Pod) when it has none; under the process
   * runtime, the workload's name (kind Workload).
   */
  owner: { kind: string; name: string };
  /** A StatefulSet pod's ordinal: its replacement has the same one, and takes its checkpoint. */
  ordinal?: number;
  container: string;
  /** The image as it ran: by digest when known (`…@sha256:…`), else by reference. */
  image: string;
  gpus: { count: number; model?: string };
  arch: string;
}

/** This machine's architecture in Kubernetes' (Go's) names, as nodes report it (`kubernetes.io/arch`). */
export function nodeArch(): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm: 'arm',
    arm64: 'arm64',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return names[process.arch] ?? process.arch;
}

/** Same workload: same namespace, owner, ordinal and container (checkpoints of it are kept N at a time). */
export function sameWorkload(a: WorkloadIdentity, b: WorkloadIdentity): boolean {
  return (
    a.namespace === b.namespace &&
    a.owner.kind === b.owner.kind &&
    a.owner.name === b.owner.name &&
    a.ordinal === b.ordinal &&
    a.container === b.container
  );
}

/** Why a checkpoint of `taken` cannot go into a pod of `wanted`, or undefined when it can. */
export function incompatibility(taken: WorkloadIdentity, wanted: WorkloadIdentity): string | undefined {
  if (!sameWorkload(taken, wanted)) return 'another workload';
  if (imageKey(taken.image) !== imageKey(wanted.image))
    return `image ${taken.image}, the pod runs ${wanted.image}`;
  if (taken.arch !== wanted.arch) return `architecture ${taken.arch}, the node is ${wanted.arch}`;
  if (taken.gpus.count !== wanted.gpus.count)
    return `${taken.gpus.count} GPU(s), the pod has ${wanted.gpus.count}`;
  if (
    taken.gpus.model !== undefined &&
    wanted.gpus.model !== undefined &&
    taken.gpus.model !== wanted.gpus.model
  )
    return `GPU model ${taken.gpus.model}, the pod has ${wanted.gpus.model}`;
  return undefined;
}

/** A digest, where the reference has one, is the image: tags move, digests do not. */
function imageKey(image: string): string {
  const at = image.indexOf('@sha256:');
  return at < 0 ? image : image.slice(at + 1);
}

/** What these functions read of a checkpoint's manifest (manifest.ts's Manifest, which has the identity). */
interface Identified {
  checkpointId: string;
  version: string;
  createdAt: string;
  identity?: WorkloadIdentity;
}

/** Newest first, by creation time (ties by version uuid, so the order is total). */
export function newestFirst(a: Identified, b: Identified): number {
  return b.createdAt.localeCompare(a.createdAt) || b.version.localeCompare(a.version);
}

/** The latest checkpoint a pod of `wanted` can take, with why each newer one could not, in words. */
export function latestCompatible<M extends Identified>(
  manifests: readonly M[],
  wanted: WorkloadIdentity,
): { manifest: M | undefined; passedOver: string[] } {
  const passedOver: string[] = [];
  for (const manifest of [...manifests].filter((m) => m.identity !== undefined).sort(newestFirst)) {
    const why = incompatibility(manifest.identity!, wanted);
    if (why === undefined) return { manifest, passedOver };
    if (why !== 'another workload') passedOver.push(`${manifest.checkpointId}: ${why}`);
  }
  return { manifest: undefined, passedOver };
}

/** The checkpoints of `identity`'s workload past the newest `keep`, oldest last: retention removes them. */
export function beyondRetention<M extends Identified>(
  manifests: readonly M[],
  identity: WorkloadIdentity,
  keep: number,
): M[] {
  return manifests
    .filter((m) => m.identity !== undefined && sameWorkload(m.identity, identity))
    .sort(newestFirst)
    .slice(Math.max(0, keep));
}
