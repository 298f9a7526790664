/**
 * AWS EventBridge EC2 notices (source `aws.ec2`), as a CloudEvent's `data` or as the raw body an
 * EventBridge API destination posts:
 * - "EC2 Spot Instance Interruption Warning": the instance is reclaimed two minutes after the event's
 *   `time` (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html).
 * - "EC2 Instance Rebalance Recommendation": elevated risk, no deadline
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html).
 * - "EC2 Instance State-change Notification": acted on for `stopping` and `shutting-down`, the states
 *   aws-node-termination-handler acts on too; every other state is recognised and ignored
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html).
 * The node is the one whose `spec.providerID` (`aws:///us-east-2a/i-…`) ends in the instance id.
 */
import { ajv } from '../../validation/ajv.js';
import { assertValid, invalidNotice } from './invalid.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

export const SPOT_INTERRUPTION = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE = 'EC2 Instance Rebalance Recommendation';
export const STATE_CHANGE = 'EC2 Instance State-change Notification';
/** Spot instances get a two-minute warning. */
export const SPOT_NOTICE_MS = 120_000;
/**
 * EC2 documents no notice before a stop or a termination: the OS is told to shut down, and what is left is
 * how long the node takes to (the kubelet's `shutdownGracePeriod` where graceful node shutdown is on, 30 s
 * in Kubernetes' own example). snapback tries within that much of the event.
 */
export const STATE_CHANGE_BUDGET_MS = 30_000;
/** The states that mean the instance is going away now. */
export const leavingStates: readonly string[] = ['stopping', 'shutting-down'];

const ec2DetailTypes: readonly string[] = [SPOT_INTERRUPTION, REBALANCE, STATE_CHANGE];
const INSTANCE_ID = '^i-[0-9a-f]{8,17}$';

export interface EventBridgeEc2Event {
  source: 'aws.ec2';
  'detail-type': string;
  time: string;
  id?: string;
  region?: string;
  resources?: string[];
  detail: { 'instance-id': string; 'instance-action'?: string; state?: string };
}

const validate = ajv.compile<EventBridgeEc2Event>({
  type: 'object',
  required: ['source', 'detail-type', 'time', 'detail'],
  properties: {
    source: { const: 'aws.ec2' },
    'detail-type': { enum: ec2DetailTypes },
    time: { type: 'string', format: 'date-time' },
    detail: {
      type: 'object',
      required: ['instance-id'],
      properties: {
        'instance-id': { type: 'string', pattern: INSTANCE_ID },
        'instance-action': { type: 'string' },
        state: { type: 'string' },
      },
    },
  },
});

export function looksLikeAwsEc2Notice(data: unknown): boolean {
  const record = data as Record<string, unknown> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    record['source'] === 'aws.ec2' &&
    ec2DetailTypes.includes(record['detail-type'] as string)
  );
}

export function parseAwsEc2Notice(data: unknown): NoticeResult {
  assertValid(validate, data, 'invalid AWS EventBridge EC2 notice');
  const instanceId = data.detail['instance-id'];
  const nodes = [{ providerIdSuffix: instanceId }];
  const detailType = data['detail-type'];
  if (detailType === REBALANCE) {
    return {
      format: NoticeFormat.AWS_REBALANCE,
      urgency: Urgency.EARLY,
      nodes,
      reason: `${REBALANCE} for ${instanceId}`,
    };
  }
  if (detailType === STATE_CHANGE) {
    const state = data.detail.state;
    if (state === undefined) {
      throw invalidNotice('invalid AWS EventBridge EC2 notice', [
        { field: 'data.detail.state', message: 'is required' },
      ]);
    }
    if (!leavingStates.includes(state)) {
      return { format: NoticeFormat.AWS_STATE_CHANGE, ignored: `instance ${instanceId} is ${state}` };
    }
    return {
      format: NoticeFormat.AWS_STATE_CHANGE,
      urgency: Urgency.IMMINENT,
      deadline: new Date(Date.parse(data.time) + STATE_CHANGE_BUDGET_MS),
      nodes,
      reason: `${STATE_CHANGE}: ${instanceId} is ${state}`,
    };
  }
  return {
    format: NoticeFormat.AWS_SPOT_INTERRUPTION,
    urgency: Urgency.IMMINENT,
    deadline: new Date(Date.parse(data.time) + SPOT_NOTICE_MS),
    nodes,
    reason: `${SPOT_INTERRUPTION} for ${instanceId} (${data.detail['instance-action'] ?? 'terminate'})`,
  };
}
