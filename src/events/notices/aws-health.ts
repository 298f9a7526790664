/**
 * AWS Health scheduled changes for EC2 instances (EventBridge `source: aws.health`, detail-type
 * "AWS Health Event"): a retirement, stop or reboot AWS scheduled for the instances it names. Schema and
 * samples: https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html.
 * As aws-node-termination-handler does, only `service: EC2` with `eventTypeCategory: scheduledChange` is
 * acted on, at once (the change may be days away: an early warning whose deadline is `startTime`); other
 * Health events (issues, account notifications, other services) are recognised and ignored.
 * The instances are `detail.affectedEntities[].entityValue` (else `resources`) that are instance ids.
 */
import { ajv } from '../../validation/ajv.js';
import { assertValid } from './invalid.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

export const HEALTH_SOURCE = 'aws.health';
export const HEALTH_EVENT = 'AWS Health Event';
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

interface HealthEvent {
  time: string;
  resources?: string[];
  detail: {
    service: string;
    eventTypeCode: string;
    eventTypeCategory: string;
    startTime?: string;
    affectedEntities?: Array<{ entityValue?: string }>;
  };
}

const validate = ajv.compile<HealthEvent>({
  type: 'object',
  required: ['time', 'detail'],
  properties: {
    time: { type: 'string', format: 'date-time' },
    resources: { type: 'array', items: { type: 'string' } },
    detail: {
      type: 'object',
      required: ['service', 'eventTypeCode', 'eventTypeCategory'],
      properties: {
        service: { type: 'string' },
        eventTypeCode: { type: 'string' },
        eventTypeCategory: { type: 'string' },
        startTime: { type: 'string' },
        affectedEntities: {
          type: 'array',
          items: { type: 'object', properties: { entityValue: { type: 'string' } } },
        },
      },
    },
  },
});

export function looksLikeAwsHealthEvent(data: unknown): boolean {
  const record = data as Record<string, unknown> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    record['source'] === HEALTH_SOURCE &&
    record['detail-type'] === HEALTH_EVENT
  );
}

export function parseAwsHealthEvent(data: unknown): NoticeResult {
  assertValid(validate, data, 'invalid AWS Health event');
  const { detail } = data;
  const format = NoticeFormat.AWS_HEALTH_SCHEDULED_CHANGE;
  if (detail.service !== 'EC2' || detail.eventTypeCategory !== 'scheduledChange') {
    return { format, ignored: `${detail.service} ${detail.eventTypeCategory} event ${detail.eventTypeCode}` };
  }
  const entities = (detail.affectedEntities ?? []).map((e) => e.entityValue ?? '');
  const named = entities.some((e) => INSTANCE_ID.test(e)) ? entities : (data.resources ?? []);
  const instances = [...new Set(named.filter((e) => INSTANCE_ID.test(e)))];
  if (instances.length === 0) return { format, ignored: `${detail.eventTypeCode} names no EC2 instance` };
  // startTime is an RFC 1123 date in the documented samples ("Sat, 05 Jun 2021 15:10:09 GMT").
  const start = detail.startTime === undefined ? Number.NaN : Date.parse(detail.startTime);
  return {
    format,
    urgency: Urgency.EARLY,
    ...(Number.isNaN(start) ? {} : { deadline: new Date(start) }),
    nodes: instances.map((providerIdSuffix) => ({ providerIdSuffix })),
    reason: `AWS Health ${detail.eventTypeCode} for ${instances.join(', ')}`,
  };
}
