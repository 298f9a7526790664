/**
 * How a pod opts in to snapback (docs/deploy.md, step 4):
 * the label `snapback.io/enabled: "true"`, the container to checkpoint in the annotation
 * `snapback.io/container` (else the pod's first container), and how many checkpoints of its workload to
 * keep in the annotation `snapback.io/keep` (else the agent's default, 2).
 */
export const OPT_IN_LABEL = 'snapback.io/enabled';
export const OPT_IN_VALUE = 'true';
export const CONTAINER_ANNOTATION = 'snapback.io/container';
export const KEEP_ANNOTATION = 'snapback.io/keep';
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
