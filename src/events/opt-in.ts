/**
 * How a pod opts in to snapback (docs/deploy.md, step 4 and "Restore into the replacement pod"):
 * - checkpoints: the label `snapback.io/enabled: "true"`, the container to checkpoint in the annotation
 *   `snapback.io/container` (else the pod's first container), and how many checkpoints of its workload to
 *   keep in the annotation `snapback.io/keep` (else the agent's default, 2);
 * - restore into the pod when it starts: the label `snapback.io/restore`, `latest` or a checkpoint id. A
 *   label, not an annotation, because an ApiServerSource selects objects by label only (and informers too):
 *   the source then sends the updates of the pods that opted in, and of no other pod in the cluster.
 *   Checkpoint ids are DNS-1123 labels, which every label value can hold.
 * - hooks (docs/hooks.md): `snapback.io/pre-checkpoint` and `snapback.io/post-restore`.
 * - rank when a preemption's deadline cannot hold every checkpoint of the node: `snapback.io/priority`, a
 *   whole number, higher first (0 when absent; src/dispatch/planner.ts).
 */
export const OPT_IN_LABEL = 'snapback.io/enabled';
export const OPT_IN_VALUE = 'true';
export const CONTAINER_ANNOTATION = 'snapback.io/container';
export const KEEP_ANNOTATION = 'snapback.io/keep';
export const PRIORITY_ANNOTATION = 'snapback.io/priority';
/** Asked of the workload before its checkpoint, e.g. `http POST :8000/sleep?level=1 timeout=2m`. */
export const PRE_CHECKPOINT_ANNOTATION = 'snapback.io/pre-checkpoint';
/** Asked of the workload after its restore (and of the original after a checkpoint that quiesced it). */
export const POST_RESTORE_ANNOTATION = 'snapback.io/post-restore';
/** The label selector of opted-in pods. */
export const ENABLED_SELECTOR = `${OPT_IN_LABEL}=${OPT_IN_VALUE}`;

export const RESTORE_LABEL = 'snapback.io/restore';
/** `snapback.io/restore: latest`: the latest checkpoint of the pod's workload the pod can take. */
export const RESTORE_LATEST = 'latest';
/** What the restore function wrote on the pod: `restored <id>`, `cold: <why>`, `failed: <why>, started cold`. */
export const RESTORE_STATUS_ANNOTATION = 'snapback.io/restore-status';
/**
 * The pod condition the restore function sets, for a readiness gate of that type: the pod turns Ready only
 * once it is True (restored, or started cold).
 * https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-readiness-gate
 */
export const RESTORED_CONDITION = 'snapback.io/restored';
/**
 * The CloudEvents extension attribute the restore source adds to its events (`ceOverrides`), which the
 * Triggers route on: the same Pod updates from the disruption source go to the preemption function.
 */
export const RESTORE_SOURCE_EXTENSION = 'snapbackfor';
export const RESTORE_SOURCE_VALUE = 'restore';

/** Whether a pod's labels (anything, as read from an event) opt it in. */
export function isOptedIn(labels: unknown): boolean {
  return (
    typeof labels === 'object' &&
    labels !== null &&
    (labels as Record<string, unknown>)[OPT_IN_LABEL] === OPT_IN_VALUE
  );
}
