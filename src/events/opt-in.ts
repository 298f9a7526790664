/**
 * How a pod opts in to snapback (docs/deploy.md, step 4): the label `snapback.io/enabled: "true"`, and the
 * container to checkpoint in the annotation `snapback.io/container` (else the pod's first container); its
 * hooks (docs/hooks.md) in `snapback.io/pre-checkpoint` and `snapback.io/post-restore`.
 */
export const OPT_IN_LABEL = 'snapback.io/enabled';
export const OPT_IN_VALUE = 'true';
export const CONTAINER_ANNOTATION = 'snapback.io/container';
/** Asked of the workload before its checkpoint, e.g. `http POST :8000/sleep?level=1 timeout=2m`. */
export const PRE_CHECKPOINT_ANNOTATION = 'snapback.io/pre-checkpoint';
/** Asked of the workload after its restore (and of the original after a checkpoint that quiesced it). */
export const POST_RESTORE_ANNOTATION = 'snapback.io/post-restore';
/** The label selector of opted-in pods. */
export const ENABLED_SELECTOR = `${OPT_IN_LABEL}=${OPT_IN_VALUE}`;

/** Whether a pod's labels (anything, as read from an event) opt it in. */
export function isOptedIn(labels: unknown): boolean {
  return (
    typeof labels === 'object' &&
    labels !== null &&
    (labels as Record<string, unknown>)[OPT_IN_LABEL] === OPT_IN_VALUE
  );
}
