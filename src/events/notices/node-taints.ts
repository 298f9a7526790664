/**
 * Knative ApiServerSource events in Resource mode (`dev.knative.apiserver.resource.update`, data = the Node)
 * whose taints announce the node's end:
 * - `aws-node-termination-handler/spot-itn`: NTH saw a spot interruption notice (2 minutes from the taint).
 * - `karpenter.sh/disrupted` (Karpenter v1) and `karpenter.sh/disruption=disrupting` (the same taint before
 *   v1, value included): Karpenter is about to drain the node (no deadline of its own).
 *   https://github.com/kubernetes-sigs/karpenter/blob/main/designs/v1-roadmap.md
 * - `ToBeDeletedByClusterAutoscaler` (value: the Unix time it was added): cluster-autoscaler is scaling the
 *   node down and drains it at once, each pod within its grace period (at most `--max-graceful-termination-sec`,
 *   600 s by default), so no deadline of its own either. `DeletionCandidateOfClusterAutoscaler` (a soft
 *   PreferNoSchedule mark on candidates) is not a notice.
 *   https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md
 * - `node.kubernetes.io/out-of-service`: the node is already down (an administrator says so): its deadline
 *   is the taint's time, so its opted-in pods are reported in `preemption.handled` as too late, not tried.
 * - `cloud.google.com/impending-node-termination`: GKE spot/preemptible VM, 30 seconds.
 * Node updates without these taints are recognised and ignored: ApiServerSource sends every update.
 */
import { ErrorCode, SnapbackError } from '../../errors.js';
import { ApiServerSourceType } from '../types.js';
import { NoticeFormat, type NoticeResult, Urgency } from './notice.js';

export interface Taint {
  key: string;
  value?: string;
  effect?: string;
  timeAdded?: string;
}

/** How a termination taint is read: time from the taint to the node's end (undefined: none), urgency. */
export interface TaintRule {
  noticeMs: number | undefined;
  urgency: Urgency;
  /** Only a taint with this value counts (a key some producer also sets with other meanings). */
  value?: string;
}

/** Per taint key: how long after the taint the node goes (undefined: no deadline), and the urgency. */
export const terminationTaints: Readonly<Record<string, TaintRule>> = {
  'aws-node-termination-handler/spot-itn': { noticeMs: 120_000, urgency: Urgency.IMMINENT },
  'karpenter.sh/disrupted': { noticeMs: undefined, urgency: Urgency.EARLY },
  'karpenter.sh/disruption': { noticeMs: undefined, urgency: Urgency.EARLY, value: 'disrupting' },
  ToBeDeletedByClusterAutoscaler: { noticeMs: undefined, urgency: Urgency.IMMINENT },
  'node.kubernetes.io/out-of-service': { noticeMs: 0, urgency: Urgency.IMMINENT },
  'cloud.google.com/impending-node-termination': { noticeMs: 30_000, urgency: Urgency.IMMINENT },
};

export function looksLikeNodeResourceEvent(type: string, data: unknown): boolean {
  return (
    (type === ApiServerSourceType.UPDATE || type === ApiServerSourceType.ADD) &&
    typeof data === 'object' &&
    data !== null &&
    (data as { kind?: unknown }).kind === 'Node'
  );
}

/** Whether one taint of a node is a termination taint (its key, and its value where the rule names one). */
function isTerminationTaint(taint: unknown): taint is Taint {
  const t = taint as Partial<Taint> | null;
  if (typeof t?.key !== 'string') return false;
  const rule = terminationTaints[t.key];
  return rule !== undefined && (rule.value === undefined || t.value === rule.value);
}

export function parseNodeTaints(data: unknown, now: Date): NoticeResult {
  const node = data as { metadata?: { name?: unknown }; spec?: { taints?: unknown } };
  const name = node.metadata?.name;
  if (typeof name !== 'string' || name === '') {
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, 'invalid Node event', {
      details: [{ field: 'data.metadata.name', message: 'is required' }],
    });
  }
  const taints: unknown[] = Array.isArray(node.spec?.taints) ? node.spec.taints : [];
  const found = taints.filter(isTerminationTaint);
  if (found.length === 0) {
    return { format: NoticeFormat.NODE_TAINT, ignored: `node ${name} has no termination taint` };
  }
  let deadline: number | undefined;
  let urgency: Urgency = Urgency.EARLY;
  for (const taint of found) {
    const rule = terminationTaints[taint.key]!;
    if (rule.urgency === Urgency.IMMINENT) urgency = Urgency.IMMINENT;
    if (rule.noticeMs === undefined) continue;
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : Number.NaN;
    const at = (Number.isNaN(added) ? now.getTime() : added) + rule.noticeMs;
    deadline = deadline === undefined ? at : Math.min(deadline, at);
  }
  return {
    format: NoticeFormat.NODE_TAINT,
    urgency,
    ...(deadline === undefined ? {} : { deadline: new Date(deadline) }),
    nodes: [{ node: name }],
    reason: `node ${name} tainted ${found.map((t) => (t.value ? `${t.key}=${t.value}` : t.key)).join(', ')}`,
  };
}
