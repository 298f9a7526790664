/**
 * Which containerd container a request means. A target names a container in one of two ways:
 * - `containerId`: the containerd container id (what `crictl ps` and `ctr containers ls` show);
 * - `pod` (+ `namespace`, + `container` when the pod has several): a Kubernetes pod, matched through the
 *   labels the CRI plugin puts on every container (`io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`,
 *   `io.kubernetes.container.name`); pause (sandbox) containers are never targets. When no pod matches,
 *   `pod` is tried as a container id, so `snapback checkpoint --target ID` works outside Kubernetes too.
 * Then its task: the container must be running.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import type { TargetRef } from '../runtime/index.js';
import type { ContainerdClient, ContainerInfo, TaskInfo } from './client.js';

export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';
const KIND_LABEL = 'io.cri-containerd.kind';

export interface ResolvedContainer {
  container: ContainerInfo;
  task: TaskInfo;
  /** The target as Kubernetes names it (labels), or the container id where there are none. */
  names: { namespace: string; pod: string; container?: string };
}

/** Filter values are quoted strings in containerd's filter syntax. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The container a target names (running or not); NOT_FOUND when none. */
export async function findContainer(client: ContainerdClient, target: TargetRef): Promise<ContainerInfo> {
  if (target.containerId !== undefined && target.containerId !== '')
    return client.getContainer(target.containerId);
  const filter = [`labels.${quoted(POD_NAME_LABEL)}==${quoted(target.pod)}`];
  if (target.namespace !== '')
    filter.push(`labels.${quoted(POD_NAMESPACE_LABEL)}==${quoted(target.namespace)}`);
  if (target.container !== undefined && target.container !== '') {
    filter.push(`labels.${quoted(CONTAINER_NAME_LABEL)}==${quoted(target.container)}`);
  }
  const matches = (await client.listContainers([filter.join(',')])).filter(
    (c) => c.labels[KIND_LABEL] !== 'sandbox',
  );
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const names = matches.map((c) => c.labels[CONTAINER_NAME_LABEL] ?? c.id).join(', ');
    throw new SnapbackError(
      ErrorCode.INVALID_ARGUMENT,
      `pod ${target.namespace}/${target.pod} has several containers (${names}): name one`,
      {
        details: [{ field: 'target.container', message: 'is required when the pod has several containers' }],
      },
    );
  }
  try {
    return await client.getContainer(target.pod);
  } catch (err) {
    if (err instanceof SnapbackError && err.code === ErrorCode.NOT_FOUND) {
      throw new SnapbackError(
        ErrorCode.NOT_FOUND,
        `no container for ${describe(target)} in containerd namespace ${client.namespace} (neither a pod's container nor a container id)`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** The container and its running task; NOT_FOUND / FAILED_PRECONDITION otherwise. */
export async function resolveRunning(
  client: ContainerdClient,
  target: TargetRef,
): Promise<ResolvedContainer> {
  const container = await findContainer(client, target);
  let task: TaskInfo;
  try {
    task = await client.getTask(container.id);
  } catch (err) {
    if (err instanceof SnapbackError && err.code === ErrorCode.NOT_FOUND) {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        `container ${container.id} has no task (it was never started or has been deleted)`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  if (task.status !== 'RUNNING' || task.pid <= 0) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `container ${container.id} is not running (task ${task.status.toLowerCase()})`,
    );
  }
  const pod = container.labels[POD_NAME_LABEL];
  const names =
    pod === undefined
      ? { namespace: target.namespace || 'default', pod: container.id }
      : {
          namespace: container.labels[POD_NAMESPACE_LABEL] ?? target.namespace,
          pod,
          ...(container.labels[CONTAINER_NAME_LABEL] === undefined
            ? {}
            : { container: container.labels[CONTAINER_NAME_LABEL] }),
        };
  return { container, task, names };
}

export function describe(target: TargetRef): string {
  if (target.containerId) return `container ${target.containerId}`;
  const base = target.namespace ? `${target.namespace}/${target.pod}` : target.pod;
  return target.container ? `${base}/${target.container}` : base;
}
