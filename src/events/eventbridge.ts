/**
 * Raw AWS EventBridge events, as an EventBridge API destination posts them: the event JSON itself as the
 * body, no CloudEvent envelope (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html,
 * event structure: https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).
 * Such a request is read as if it were the CloudEvent carrying the event: type
 * `com.amazonaws.eventbridge.event`, `source` and `id` the event's own (EventBridge's `id` is unique per
 * event and kept across its retries, so redeliveries are recognised), subject its `detail-type`, data the
 * whole event. Anything else without `ce-` headers keeps the binary-mode answer (which names them).
 */
import type { CloudEvent } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../errors.js';
import { envelopeProblems, toCloudEvent } from './envelope.js';
import { EVENTBRIDGE_EVENT_TYPE } from './types.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Whether a request carries any binary-mode CloudEvent attribute. */
export function hasCloudEventHeaders(headers: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(headers).some((name) => name.toLowerCase().startsWith('ce-'));
}

/** An EventBridge event's envelope: `source`, `detail-type` and `detail` (the fields every event has). */
function isEventBridgeEvent(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record['source'] === 'string' &&
    typeof record['detail-type'] === 'string' &&
    typeof record['detail'] === 'object' &&
    record['detail'] !== null
  );
}

/**
 * The CloudEvent a raw EventBridge request stands for, or undefined when the body is no EventBridge event.
 * Throws INVALID_ARGUMENT when it is one whose `id` or `source` cannot identify it.
 */
export function eventOfRawEventBridge(body: Buffer): CloudEvent<unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isEventBridgeEvent(parsed)) return undefined;
  const time = parsed['time'];
  const attributes: Record<string, unknown> = {
    specversion: '1.0',
    id: parsed['id'],
    source: parsed['source'],
    type: EVENTBRIDGE_EVENT_TYPE,
    subject: parsed['detail-type'],
    datacontenttype: 'application/json',
    ...(typeof time === 'string' && RFC3339.test(time) ? { time } : {}),
    data: parsed,
  };
  const problems = envelopeProblems(attributes).map((p) => ({
    field: `data.${p.field}`,
    message: p.field === 'id' ? `${p.message}: it identifies the event across redeliveries` : p.message,
  }));
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `invalid EventBridge event: ${summary}`, {
      details: problems,
    });
  }
  return toCloudEvent(attributes);
}
