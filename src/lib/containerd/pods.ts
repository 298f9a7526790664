/**
 * The pod a containerd container belongs to, as containerd itself records it (never as a request claims).
 * Under Kubernetes the CRI plugin labels the pod's sandbox ("pause") container with the pod's labels
 * (`buildLabels(config.Labels, …, containerKindSandbox)` in containerd's sandbox_run.go, where kubelet's
 * PodSandboxConfig labels are the pod's own) and gives every other container of the pod only kubelet's
 * `io.kubernetes.*` labels plus, in its OCI spec, the annotation `io.kubernetes.cri.sandbox-id` — the
 * sandbox container's id. So the pod's labels are read from the sandbox that annotation names.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { TargetRef } from '../runtime/index.js';
import type { ContainerdClient } from './client.js';
import { findContainer, POD_NAME_LABEL, POD_NAMESPACE_LABEL } from './targets.js';

/** containerd's CRI annotation naming a container's pod sandbox (pkg/cri/annotations). */
export const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

export interface PodFacts {
  /** The container the target resolved to: acting on it by id means acting on exactly what was checked. */
  containerId: string;
  /** Present when the container belongs to a Kubernetes pod (CRI labels). */
  namespace?: string;
  pod?: string;
  /** The pod's labels (its sandbox's); for a container outside any pod, the container's own labels. */
  labels: Readonly<Record<string, string>>;
}

/** Resolves `target` on this node's containerd and reads its pod's labels; NOT_FOUND when no container. */
export async function podOf(client: ContainerdClient, target: TargetRef): Promise<PodFacts> {
  const container = await findContainer(client, target);
  const sandboxId = container.spec.annotations?.[SANDBOX_ID_ANNOTATION];
  let labels: Record<string, string> = container.labels;
  if (sandboxId !== undefined && sandboxId !== '' && sandboxId !== container.id) {
    try {
      labels = (await client.getContainer(sandboxId)).labels;
    } catch (err) {
      if (!(err instanceof SnapbackError && err.code === ErrorCode.NOT_FOUND)) throw err;
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `container ${container.id}: its pod sandbox ${sandboxId} is gone, so its pod's labels cannot be read`,
        { cause: err },
      );
    }
  }
  const namespace = container.labels[POD_NAMESPACE_LABEL] ?? labels[POD_NAMESPACE_LABEL];
  const pod = container.labels[POD_NAME_LABEL] ?? labels[POD_NAME_LABEL];
  return {
    containerId: container.id,
    ...(namespace === undefined ? {} : { namespace }),
    ...(pod === undefined ? {} : { pod }),
    labels,
  };
}
