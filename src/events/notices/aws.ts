/**
 * AWS EventBridge EC2 notices, carried as a CloudEvent's `data` (any CE type):
 * - "EC2 Spot Instance Interruption Warning": the instance is reclaimed two minutes after the event's
 *   `time` (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html).
 * - "EC2 Instance Rebalance Recommendation": elevated risk, no deadline
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html).
 * The node is the one whose `spec.providerID` (`aws:///us-east-2a/i-…`) ends in the instance id.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { ajv } from '../../validation/ajv.js';
import { dataProblems } from '../schemas.js';
import { NoticeFormat, type PreemptionNotice, Urgency } from './notice.js';

export const SPOT_INTERRUPTION = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE = 'EC2 Instance Rebalance Recommendation';
/** Spot instances get a two-minute warning. */
export const SPOT_NOTICE_MS = 120_000;

export interface EventBridgeEc2Event {
  source: 'aws.ec2';
  'detail-type': string;
  time: string;
  id?: string;
  region?: string;
  resources?: string[];
  detail: { 'instance-id': string; 'instance-action'?: string };
}

const validate = ajv.compile<EventBridgeEc2Event>({
  type: 'object',
  required: ['source', 'detail-type', 'time', 'detail'],
  properties: {
    source: { const: 'aws.ec2' },
    'detail-type': { enum: [SPOT_INTERRUPTION, REBALANCE] },
    time: { type: 'string', format: 'date-time' },
    detail: {
      type: 'object',
      required: ['instance-id'],
      properties: { 'instance-id': { type: 'string', pattern: '^i-[0-9a-f]{8,17}$' } },
    },
  },
});

export function looksLikeAwsEc2Notice(data: unknown): boolean {
  const record = data as Record<string, unknown> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    record['source'] === 'aws.ec2' &&
    (record['detail-type'] === SPOT_INTERRUPTION || record['detail-type'] === REBALANCE)
  );
}

export function parseAwsEc2Notice(data: unknown): PreemptionNotice {
  const problems = dataProblems(validate, data);
  if (problems.length > 0) {
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'invalid AWS EventBridge EC2 notice', {
      details: problems,
    });
  }
  const event = data as EventBridgeEc2Event;
  const instanceId = event.detail['instance-id'];
  if (event['detail-type'] === REBALANCE) {
    return {
      format: NoticeFormat.AWS_REBALANCE,
      urgency: Urgency.EARLY,
      nodes: [{ providerIdSuffix: instanceId }],
      reason: `${REBALANCE} for ${instanceId}`,
    };
  }
  return {
    format: NoticeFormat.AWS_SPOT_INTERRUPTION,
    urgency: Urgency.IMMINENT,
    deadline: new Date(Date.parse(event.time) + SPOT_NOTICE_MS),
    nodes: [{ providerIdSuffix: instanceId }],
    reason: `${SPOT_INTERRUPTION} for ${instanceId} (${event.detail['instance-action'] ?? 'terminate'})`,
  };
}
