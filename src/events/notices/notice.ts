/** What every preemption-notice parser produces: which nodes, by when, and how urgent. */
export const NoticeFormat = {
  AWS_SPOT_INTERRUPTION: 'aws-spot-interruption-warning',
  AWS_REBALANCE: 'aws-rebalance-recommendation',
  AWS_STATE_CHANGE: 'aws-ec2-instance-state-change',
  AWS_HEALTH_SCHEDULED_CHANGE: 'aws-health-scheduled-change',
  AWS_ASG_TERMINATE: 'aws-autoscaling-terminate-lifecycle-action',
  GCP_INSTANCE_PREEMPTED: 'gcp-audit-log-instances-preempted',
  AZURE_PREEMPT: 'azure-scheduled-events-preempt',
  AZURE_TERMINATE: 'azure-scheduled-events-terminate',
  NODE_TAINT: 'kubernetes-node-taint',
  POD_DISRUPTION: 'kubernetes-pod-disruption-target',
  POD_PREEMPTED_EVENT: 'kubernetes-preempted-event',
  PRESTOP_HOOK: 'kubernetes-prestop-hook',
  SNAPBACK: 'io.snapback.preemption.noticed',
} as const;
export type NoticeFormat = (typeof NoticeFormat)[keyof typeof NoticeFormat];

/** Human descriptions, listed in the 400 answer to a notice no parser understands. */
export const understoodFormats: readonly string[] = [
  `${NoticeFormat.SNAPBACK} (data {node, deadline?, urgency?})`,
  'AWS EventBridge events, as data or as the raw request body (an API destination), of these kinds:',
  'AWS EventBridge "EC2 Spot Instance Interruption Warning" (source aws.ec2)',
  'AWS EventBridge "EC2 Instance Rebalance Recommendation" (source aws.ec2)',
  'AWS EventBridge "EC2 Instance State-change Notification" (source aws.ec2; acted on when stopping or shutting-down)',
  'AWS EventBridge "AWS Health Event" (source aws.health, service EC2, category scheduledChange)',
  'AWS EventBridge "EC2 Instance-terminate Lifecycle Action" (source aws.autoscaling)',
  'GCP Eventarc google.cloud.audit.log.v1.written for compute.instances.preempted',
  'Azure Scheduled Events document with Preempt or Terminate events as data',
  'Knative ApiServerSource Node add/update (dev.knative.apiserver.resource.*) with a termination taint',
  'Knative ApiServerSource Pod add/update whose status carries DisruptionTarget=True',
  'Knative ApiServerSource Event add/update of reason Preempted about a Pod',
];

export const Urgency = {
  /** The node goes away at the deadline: checkpoint now. */
  IMMINENT: 'imminent',
  /** An early warning without a deadline (rebalance, consolidation): checkpoint, less urgently. */
  EARLY: 'early',
} as const;
export type Urgency = (typeof Urgency)[keyof typeof Urgency];

/**
 * How a notice names its node: by name, by the end of `spec.providerID` (AWS instance ids), by the whole
 * `spec.providerID` (GCE's `gce://PROJECT/ZONE/NAME`), or by cloud VM name (Azure).
 */
export type NodeRef =
  | { node: string }
  | { providerIdSuffix: string }
  | { providerId: string }
  | { vmName: string };

export interface PreemptionNotice {
  format: NoticeFormat;
  urgency: Urgency;
  /** When the node goes; absent for early warnings (a default budget applies). */
  deadline?: Date;
  nodes: NodeRef[];
  reason: string;
}

/** A pod a notice names, with its uid when the notice carries it (a pod of the same name may replace it). */
export interface PodRef {
  namespace: string;
  pod: string;
  uid?: string;
}

/**
 * A notice about one pod: Kubernetes is about to disrupt it (preemption, eviction, a taint it does not
 * tolerate, the kubelet) or its container is stopping (its preStop hook).
 */
export interface PodNotice {
  format: NoticeFormat;
  urgency: Urgency;
  pod: PodRef;
  /** When the pod is killed, if the notice says: its `deletionTimestamp` (grace period included). */
  deadline?: Date;
  /** When the disruption began (the condition's `lastTransitionTime`, the Event's time). */
  since?: Date;
  /** The pod's `terminationGracePeriodSeconds`, when the notice carries the pod. */
  gracePeriodSeconds?: number;
  reason: string;
}

/** A recognised event that asks for nothing (a node update without a termination taint). */
export interface IgnoredNotice {
  format: NoticeFormat;
  ignored: string;
}

export type NoticeResult = PreemptionNotice | IgnoredNotice;
export type PodNoticeResult = PodNotice | IgnoredNotice;

export function isIgnored(result: NoticeResult | PodNoticeResult): result is IgnoredNotice {
  return 'ignored' in result;
}
