/** What every preemption-notice parser produces: which nodes, by when, and how urgent. */
export const NoticeFormat = {
  AWS_SPOT_INTERRUPTION: 'aws-spot-interruption-warning',
  AWS_REBALANCE: 'aws-rebalance-recommendation',
  AZURE_PREEMPT: 'azure-scheduled-events-preempt',
  NODE_TAINT: 'kubernetes-node-taint',
  SNAPBACK: 'io.snapback.preemption.noticed',
} as const;
export type NoticeFormat = (typeof NoticeFormat)[keyof typeof NoticeFormat];

/** Human descriptions, listed in the 400 answer to a notice no parser understands. */
export const understoodFormats: readonly string[] = [
  `${NoticeFormat.SNAPBACK} (data {node, deadline})`,
  'AWS EventBridge "EC2 Spot Instance Interruption Warning" (source aws.ec2) as data',
  'AWS EventBridge "EC2 Instance Rebalance Recommendation" (source aws.ec2) as data',
  'Azure Scheduled Events document with Preempt events as data',
  'Knative ApiServerSource Node add/update (dev.knative.apiserver.resource.*) with a termination taint',
];

export const Urgency = {
  /** The node goes away at the deadline: checkpoint now. */
  IMMINENT: 'imminent',
  /** An early warning without a deadline (rebalance, consolidation): checkpoint, less urgently. */
  EARLY: 'early',
} as const;
export type Urgency = (typeof Urgency)[keyof typeof Urgency];

/** How a notice names its node: by name, by the end of `spec.providerID`, or by cloud VM name. */
export type NodeRef = { node: string } | { providerIdSuffix: string } | { vmName: string };

export interface PreemptionNotice {
  format: NoticeFormat;
  urgency: Urgency;
  /** When the node goes; absent for early warnings (a default budget applies). */
  deadline?: Date;
  nodes: NodeRef[];
  reason: string;
}

/** A recognised event that asks for nothing (a node update without a termination taint). */
export interface IgnoredNotice {
  format: NoticeFormat;
  ignored: string;
}

export type NoticeResult = PreemptionNotice | IgnoredNotice;

export function isIgnored(result: NoticeResult): result is IgnoredNotice {
  return 'ignored' in result;
}
