/**
 * EC2 Auto Scaling "EC2 Instance-terminate Lifecycle Action" (EventBridge `source: aws.autoscaling`): the
 * group is terminating the instance and holds it in Terminating:Wait until the lifecycle hook completes or
 * its heartbeat timeout runs out. The event does not carry that timeout, so the default budget applies.
 * Completing the lifecycle action (CompleteLifecycleAction) stays the user's (docs/deploy.md).
 * Sample: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html (an
 * instance going back to a warm pool yields this event too, `Destination: WarmPool`: it may be stopped, so
 * it is acted on all the same).
 * Test notifications (`autoscaling:TEST_NOTIFICATION`) are recognised and ignored.
 */
import { ajv } from '../../validation/ajv.js';
import { assertValid, invalidNotice } from './invalid.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

export const AUTOSCALING_SOURCE = 'aws.autoscaling';
export const TERMINATE_LIFECYCLE_ACTION = 'EC2 Instance-terminate Lifecycle Action';
const TEST_NOTIFICATION = 'autoscaling:TEST_NOTIFICATION';

interface LifecycleEvent {
  detail: {
    EC2InstanceId?: string;
    AutoScalingGroupName?: string;
    LifecycleHookName?: string;
    LifecycleTransition?: string;
    Event?: string;
  };
}

const validate = ajv.compile<LifecycleEvent>({
  type: 'object',
  required: ['detail'],
  properties: {
    detail: {
      type: 'object',
      properties: {
        EC2InstanceId: { type: 'string', pattern: '^i-[0-9a-f]{8,17}$' },
        AutoScalingGroupName: { type: 'string' },
        LifecycleHookName: { type: 'string' },
        LifecycleTransition: { type: 'string' },
        Event: { type: 'string' },
      },
    },
  },
});

export function looksLikeAsgTerminateAction(data: unknown): boolean {
  const record = data as Record<string, unknown> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    record['source'] === AUTOSCALING_SOURCE &&
    record['detail-type'] === TERMINATE_LIFECYCLE_ACTION
  );
}

export function parseAsgTerminateAction(data: unknown): NoticeResult {
  assertValid(validate, data, 'invalid Auto Scaling lifecycle action');
  const { detail } = data;
  const format = NoticeFormat.AWS_ASG_TERMINATE;
  if (detail.LifecycleTransition === TEST_NOTIFICATION || detail.Event === TEST_NOTIFICATION) {
    return { format, ignored: 'an Auto Scaling test notification' };
  }
  const instanceId = detail.EC2InstanceId;
  if (instanceId === undefined) {
    // Required only here: a test notification carries no instance.
    throw invalidNotice('invalid Auto Scaling lifecycle action', [
      { field: 'data.detail.EC2InstanceId', message: 'is required' },
    ]);
  }
  return {
    format,
    urgency: Urgency.IMMINENT,
    nodes: [{ providerIdSuffix: instanceId }],
    reason: `Auto Scaling group ${detail.AutoScalingGroupName ?? '?'} terminates ${instanceId} (hook ${detail.LifecycleHookName ?? '?'})`,
  };
}
