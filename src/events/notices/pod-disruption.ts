/**
 * Knative ApiServerSource Pod events in Resource mode (`dev.knative.apiserver.resource.add|update`, data =
 * the Pod) whose status carries the condition `DisruptionTarget` with status `True`: Kubernetes is about to
 * delete the pod for a reason outside it — `PreemptionByScheduler`, `DeletionByTaintManager` (a NoExecute
 * taint it does not tolerate), `EvictionByEvictionAPI` (drains, autoscalers), `DeletionByPodGC` (its node is
 * gone), `TerminationByKubelet` (node pressure, graceful node shutdown); any other reason is acted on too.
 * https://kubernetes.io/docs/concepts/workloads/pods/disruptions/#pod-disruption-conditions
 *
 * The source sends every update of every pod it selects, so most of them ask for nothing: the condition is
 * looked for first, without validating anything else, and an update without it is ignored at once. Only a
 * pod that carries it is validated (what snapback reads from it) and must have opted in.
 * The deadline: `deletionTimestamp` when the pod is already being deleted (the API server sets it to the
 * deletion plus its grace period: when the kubelet kills it); otherwise the condition's time plus the pod's
 * `terminationGracePeriodSeconds` (the condition is written just before the delete, which then sets exactly
 * that) — or the functions' configured default when neither is there.
 */

import { ajv } from '../../validation/ajv.js';
import { isOptedIn } from '../opt-in.js';
import { dataProblems, objectRefProperties } from '../schemas.js';
import { ApiServerSourceType } from '../types.js';
import { assertValid, invalidNotice } from './invalid.js';
import { NoticeFormat, type PodNoticeResult, Urgency } from './notice.js';

export const DISRUPTION_TARGET = 'DisruptionTarget';

/** The reasons Kubernetes documents for the DisruptionTarget condition. */
export const DisruptionReason = {
  PREEMPTION_BY_SCHEDULER: 'PreemptionByScheduler',
  DELETION_BY_TAINT_MANAGER: 'DeletionByTaintManager',
  EVICTION_BY_EVICTION_API: 'EvictionByEvictionAPI',
  DELETION_BY_POD_GC: 'DeletionByPodGC',
  TERMINATION_BY_KUBELET: 'TerminationByKubelet',
} as const;

const timestamp = { type: 'string', format: 'date-time' };

/** What snapback reads from a disrupted pod; everything else in it is left alone. */
const validatePod = ajv.compile<{
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec?: { terminationGracePeriodSeconds?: number };
}>({
  type: 'object',
  required: ['metadata'],
  properties: {
    metadata: {
      type: 'object',
      required: ['name', 'namespace', 'uid'],
      properties: {
        ...objectRefProperties,
        deletionTimestamp: timestamp,
      },
    },
    spec: {
      type: 'object',
      properties: { terminationGracePeriodSeconds: { type: 'integer', minimum: 0 } },
    },
  },
});

const validateCondition = ajv.compile<{ reason?: string; message?: string; lastTransitionTime?: string }>({
  type: 'object',
  properties: {
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string' },
    lastTransitionTime: timestamp,
  },
});

export function looksLikePodResourceEvent(type: string, data: unknown): boolean {
  return (
    (type === ApiServerSourceType.UPDATE || type === ApiServerSourceType.ADD) &&
    typeof data === 'object' &&
    data !== null &&
    (data as { kind?: unknown }).kind === 'Pod'
  );
}

/** The index of the DisruptionTarget=True condition, looked for without trusting the list's shape. */
function disruptionIndex(conditions: unknown): number {
  if (!Array.isArray(conditions)) return -1;
  return conditions.findIndex((c) => {
    const condition = c as { type?: unknown; status?: unknown } | null;
    return condition?.type === DISRUPTION_TARGET && condition.status === 'True';
  });
}

const nameOf = (data: unknown) => {
  const meta = (data as { metadata?: { namespace?: unknown; name?: unknown } }).metadata;
  return `${typeof meta?.namespace === 'string' ? meta.namespace : '?'}/${typeof meta?.name === 'string' ? meta.name : '?'}`;
};

export function parsePodDisruption(data: unknown): PodNoticeResult {
  const format = NoticeFormat.POD_DISRUPTION;
  const conditions = (data as { status?: { conditions?: unknown } }).status?.conditions;
  const index = disruptionIndex(conditions);
  if (index < 0) return { format, ignored: `pod ${nameOf(data)} is no disruption target` };
  const raw = (conditions as unknown[])[index];
  assertValid(validatePod, data, 'invalid Pod event');
  // The condition's own problems, named where they are in the pod.
  const problems = dataProblems(validateCondition, raw).map((d) => ({
    field: d.field.replace(/^data/, `data.status.conditions[${index}]`),
    message: d.message,
  }));
  if (problems.length > 0) throw invalidNotice('invalid DisruptionTarget condition', problems);
  const { metadata, spec } = data;
  if (!isOptedIn((metadata as { labels?: unknown }).labels)) {
    return { format, ignored: `pod ${metadata.namespace}/${metadata.name} did not opt in` };
  }
  const condition = raw as { reason?: string; message?: string; lastTransitionTime?: string };
  const deletion =
    metadata.deletionTimestamp === undefined ? undefined : new Date(metadata.deletionTimestamp);
  const since =
    condition.lastTransitionTime === undefined ? undefined : new Date(condition.lastTransitionTime);
  const message = condition.message === undefined ? '' : `: ${condition.message.slice(0, 200)}`;
  return {
    format,
    urgency: Urgency.IMMINENT,
    pod: { namespace: metadata.namespace, pod: metadata.name, uid: metadata.uid },
    ...(deletion === undefined ? {} : { deadline: deletion }),
    ...(since === undefined ? {} : { since }),
    ...(spec?.terminationGracePeriodSeconds === undefined
      ? {}
      : { gracePeriodSeconds: spec.terminationGracePeriodSeconds }),
    reason: `pod ${metadata.namespace}/${metadata.name} is a disruption target (${condition.reason ?? 'no reason'}${message})`,
  };
}
