/**
 * Preemption notices in every format snapback understands (docs/architecture.md, "Events"), each turned into the nodes it
 * names, a deadline and an urgency. An event in no known format is answered 400 listing the formats.
 */
import type { CloudEvent } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { dataOf, decodePreemptionNoticed } from '../schemas.js';
import { EventType } from '../types.js';
import { looksLikeAwsEc2Notice, parseAwsEc2Notice } from './aws.js';
import { looksLikeAzureScheduledEvents, parseAzureScheduledEvents } from './azure.js';
import { looksLikeNodeResourceEvent, parseNodeTaints } from './node-taints.js';
import { NoticeFormat, type NoticeResult, Urgency, understoodFormats } from './notice.js';

export * from './notice.js';

/** Whether an event is a preemption notice in a known format (without validating it fully). */
export function isPreemptionNotice(event: CloudEvent<unknown>): boolean {
  const data = dataOf(event);
  return (
    event.type === EventType.PREEMPTION_NOTICED ||
    looksLikeAwsEc2Notice(data) ||
    looksLikeAzureScheduledEvents(data) ||
    looksLikeNodeResourceEvent(event.type, data)
  );
}

/** The notice an event carries; throws INVALID_ARGUMENT (malformed, or no known format). */
export function parsePreemptionNotice(event: CloudEvent<unknown>, now = new Date()): NoticeResult {
  const data = dataOf(event);
  if (event.type === EventType.PREEMPTION_NOTICED) {
    const notice = decodePreemptionNoticed(event);
    return {
      format: NoticeFormat.SNAPBACK,
      urgency: Urgency.IMMINENT,
      deadline: new Date(notice.deadline),
      nodes: [{ node: notice.node }],
      reason: notice.reason ?? `${EventType.PREEMPTION_NOTICED} for ${notice.node}`,
    };
  }
  if (looksLikeAwsEc2Notice(data)) return parseAwsEc2Notice(data);
  if (looksLikeAzureScheduledEvents(data)) return parseAzureScheduledEvents(data, now);
  if (looksLikeNodeResourceEvent(event.type, data)) return parseNodeTaints(data, now);
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
