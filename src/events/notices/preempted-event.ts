/**
 * Knative ApiServerSource Event events in Resource mode (data = a Kubernetes Event) of reason `Preempted`:
 * the scheduler records one on each pod it preempts ("Preempted by pod … on node …") as it deletes it. On
 * clusters whose pods get the DisruptionTarget condition (`pod-disruption.ts`) both arrive for the same pod,
 * and the functions act once. The Event is read in both shapes the API serves it: core/v1 (`involvedObject`,
 * `lastTimestamp`) and events.k8s.io/v1 (`regarding`, `eventTime`).
 * https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 * Events of any other reason are ignored first, without validating anything: the source sends every Event
 * of the cluster. The Event does not say whether the pod opted in, nor when it will be killed: the functions
 * look the pod up (its uid must match, a pod of the same name may have replaced it).
 */

import { ajv, type ValidateFunction } from '../../validation/ajv.js';
import { objectRefProperties } from '../schemas.js';
import { ApiServerSourceType } from '../types.js';
import { assertValid } from './invalid.js';
import { NoticeFormat, type PodNoticeResult, Urgency } from './notice.js';

export const PREEMPTED_REASON = 'Preempted';

interface ObjectReference {
  kind?: string;
  namespace: string;
  name: string;
  uid?: string;
}

const reference = {
  type: 'object',
  required: ['namespace', 'name'],
  properties: {
    kind: { type: 'string' },
    ...objectRefProperties,
  },
} as const;

/** The Event's pod reference as core/v1 names it, and as events.k8s.io/v1 does. */
const validators: Readonly<Record<'involvedObject' | 'regarding', ValidateFunction<unknown>>> = {
  involvedObject: ajv.compile({
    type: 'object',
    required: ['involvedObject'],
    properties: { involvedObject: reference },
  }),
  regarding: ajv.compile({
    type: 'object',
    required: ['regarding'],
    properties: { regarding: reference },
  }),
};

export function looksLikeKubeEventResource(type: string, data: unknown): boolean {
  return (
    (type === ApiServerSourceType.UPDATE || type === ApiServerSourceType.ADD) &&
    typeof data === 'object' &&
    data !== null &&
    (data as { kind?: unknown }).kind === 'Event'
  );
}

/** The first of the Event's times that parses. */
function timeOf(event: Record<string, unknown>): Date | undefined {
  for (const key of ['eventTime', 'lastTimestamp', 'deprecatedLastTimestamp', 'firstTimestamp']) {
    const value = event[key];
    const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  return undefined;
}

export function parsePreemptedEvent(data: unknown): PodNoticeResult {
  const format = NoticeFormat.POD_PREEMPTED_EVENT;
  const event = data as Record<string, unknown>;
  if (event['reason'] !== PREEMPTED_REASON) {
    return { format, ignored: `an Event of reason ${String(event['reason']).slice(0, 100)}` };
  }
  const field = 'regarding' in event && !('involvedObject' in event) ? 'regarding' : 'involvedObject';
  if ((event[field] as { kind?: unknown } | null)?.kind !== 'Pod') {
    return { format, ignored: 'a Preempted Event about something other than a pod' };
  }
  assertValid(validators[field], data, 'invalid Preempted Event');
  const ref = event[field] as ObjectReference;
  const since = timeOf(event);
  const note = event['message'] ?? event['note'];
  return {
    format,
    urgency: Urgency.IMMINENT,
    pod: { namespace: ref.namespace, pod: ref.name, ...(ref.uid === undefined ? {} : { uid: ref.uid }) },
    ...(since === undefined ? {} : { since }),
    reason: `pod ${ref.namespace}/${ref.name}: ${typeof note === 'string' ? note.slice(0, 200) : PREEMPTED_REASON}`,
  };
}
