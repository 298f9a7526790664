/**
 * Preemption notices in every format snapback understands (docs/architecture.md, "Events"), each turned into the nodes it
 * names, a deadline and an urgency — or, for the pod-level formats (a pod's DisruptionTarget condition, a
 * Preempted Event), into the one pod it names. An event in no known format is answered 400 listing the formats.
 */
import type { CloudEvent } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { dataOf, decodePreemptionNoticed } from '../schemas.js';
import { EventType } from '../types.js';
import { looksLikeAwsEc2Notice, parseAwsEc2Notice } from './aws.js';
import { looksLikeAsgTerminateAction, parseAsgTerminateAction } from './aws-autoscaling.js';
import { looksLikeAwsHealthEvent, parseAwsHealthEvent } from './aws-health.js';
import { looksLikeAzureScheduledEvents, parseAzureScheduledEvents } from './azure.js';
import { looksLikeGcpAuditLog, parseGcpAuditLog } from './gcp.js';
import { looksLikeNodeResourceEvent, parseNodeTaints } from './node-taints.js';
import {
  NoticeFormat,
  type NoticeResult,
  type PodNoticeResult,
  Urgency,
  understoodFormats,
} from './notice.js';
import { looksLikePodResourceEvent, parsePodDisruption } from './pod-disruption.js';
import { looksLikeKubeEventResource, parsePreemptedEvent } from './preempted-event.js';

export * from './notice.js';

/** One format: whether an event is in it (type and data), and how to read it. */
interface Format {
  matches(type: string, data: unknown): boolean;
  parse(data: unknown, now: Date): NoticeResult;
}

/** The cloud formats, keyed on the data (the event type is whatever the carrier chose), or the type. */
const formats: readonly Format[] = [
  { matches: (_t, d) => looksLikeAwsEc2Notice(d), parse: (d) => parseAwsEc2Notice(d) },
  { matches: (_t, d) => looksLikeAwsHealthEvent(d), parse: (d) => parseAwsHealthEvent(d) },
  { matches: (_t, d) => looksLikeAsgTerminateAction(d), parse: (d) => parseAsgTerminateAction(d) },
  { matches: (_t, d) => looksLikeAzureScheduledEvents(d), parse: parseAzureScheduledEvents },
  { matches: looksLikeGcpAuditLog, parse: (d) => parseGcpAuditLog(d) },
  { matches: looksLikeNodeResourceEvent, parse: parseNodeTaints },
];

/** The formats that name one pod (Kubernetes objects from the ApiServerSource), keyed on the type and data. */
const podFormats: ReadonlyArray<{
  matches(type: string, data: unknown): boolean;
  parse(data: unknown): PodNoticeResult;
}> = [
  { matches: looksLikePodResourceEvent, parse: parsePodDisruption },
  { matches: looksLikeKubeEventResource, parse: parsePreemptedEvent },
];

/** Whether an event is a preemption notice in a known format (without validating it fully). */
export function isPreemptionNotice(event: CloudEvent<unknown>): boolean {
  const data = dataOf(event);
  return (
    event.type === EventType.PREEMPTION_NOTICED ||
    formats.some((f) => f.matches(event.type, data)) ||
    podFormats.some((f) => f.matches(event.type, data))
  );
}

/**
 * The notice a pod-level event carries (ignored when it asks for nothing), or `undefined` when the event
 * is in no pod-level format (then `parsePreemptionNotice` reads it). Throws INVALID_ARGUMENT naming fields.
 */
export function parsePodNotice(event: CloudEvent<unknown>): PodNoticeResult | undefined {
  const data = dataOf(event);
  return podFormats.find((f) => f.matches(event.type, data))?.parse(data);
}

/** The notice an event carries; throws INVALID_ARGUMENT (malformed, or no known format). */
export function parsePreemptionNotice(event: CloudEvent<unknown>, now = new Date()): NoticeResult {
  const data = dataOf(event);
  if (event.type === EventType.PREEMPTION_NOTICED) {
    const notice = decodePreemptionNoticed(event);
    const deadline = notice.deadline === undefined ? undefined : new Date(notice.deadline);
    return {
      format: NoticeFormat.SNAPBACK,
      urgency: notice.urgency ?? (deadline === undefined ? Urgency.EARLY : Urgency.IMMINENT),
      ...(deadline === undefined ? {} : { deadline }),
      nodes: [{ node: notice.node }],
      reason: notice.reason ?? `${EventType.PREEMPTION_NOTICED} for ${notice.node}`,
    };
  }
  const format = formats.find((f) => f.matches(event.type, data));
  if (format !== undefined) return format.parse(data, now);
  throw new SnapbackError(
    ErrorCode.INVALID_ARGUMENT,
    `event type "${event.type}" is not a preemption notice snapback understands; understood: ${understoodFormats.join('; ')}`,
    {
      details: [
        { field: 'type', message: `not understood; understood formats: ${understoodFormats.join('; ')}` },
      ],
    },
  );
}
