/**
 * What the restore loop writes on a pod: its annotations (the `snapback.io/restore-status` claim and
 * outcome) with a JSON merge patch, and one condition of its status (`snapback.io/restored`, for the
 * pod's readiness gate) with a strategic merge patch of `pods/status`, where conditions merge by type —
 * the way Kubernetes asks controllers to set a readiness gate's condition
 * (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-readiness-gate).
 * A claim carries the resourceVersion the event saw: the API server refuses it (409) if the pod changed
 * since, so of two function replicas racing on one pod, one claims it
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions).
 */
import {
  type CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1PodCondition,
} from '@kubernetes/client-node';
import { ErrorCode, SnapbackError } from '../errors.js';

const FIELD_MANAGER = 'snapback';

export interface PodWriter {
  /** The pod as it is now; undefined when it is gone. */
  read(namespace: string, name: string): Promise<V1Pod | undefined>;
  /**
   * Sets annotations; with `resourceVersion`, only while the pod is still at it (false when it is not).
   * NOT_FOUND when the pod is gone.
   */
  annotate(
    namespace: string,
    name: string,
    annotations: Readonly<Record<string, string>>,
    resourceVersion?: string,
  ): Promise<boolean>;
  /** Sets one condition of the pod's status (the others are left alone). */
  setCondition(namespace: string, name: string, condition: V1PodCondition): Promise<void>;
}

function writeErrorOf(err: unknown, what: string): SnapbackError {
  const status = (err as { code?: unknown }).code;
  if (status === 404)
    return new SnapbackError(ErrorCode.NOT_FOUND, `${what}: the pod is gone`, { cause: err });
  if (status === 403 || status === 401)
    return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `${what}: not allowed`, { cause: err });
  return new SnapbackError(ErrorCode.UNAVAILABLE, `${what}: Kubernetes API failed`, { cause: err });
}

export function createKubePodWriter(api: CoreV1Api): PodWriter {
  return {
    async read(namespace, name) {
      try {
        return await api.readNamespacedPod({ namespace, name });
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return undefined;
        throw writeErrorOf(err, `reading pod ${namespace}/${name}`);
      }
    },
    async annotate(namespace, name, annotations, resourceVersion) {
      const body = { metadata: { annotations, ...(resourceVersion ? { resourceVersion } : {}) } };
      try {
        await api.patchNamespacedPod(
          { namespace, name, body, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return true;
      } catch (err) {
        if ((err as { code?: unknown }).code === 409 && resourceVersion !== undefined) return false;
        throw writeErrorOf(err, `annotating pod ${namespace}/${name}`);
      }
    },
    async setCondition(namespace, name, condition) {
      try {
        await api.patchNamespacedPodStatus(
          { namespace, name, body: { status: { conditions: [condition] } }, fieldManager: FIELD_MANAGER },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        );
      } catch (err) {
        throw writeErrorOf(err, `setting ${condition.type} on pod ${namespace}/${name}`);
      }
    },
  };
}
