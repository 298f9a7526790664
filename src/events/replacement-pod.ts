/**
 * The restore loop's input (docs/deploy.md, "Restore into the replacement pod"): an ApiServerSource Pod
 * event in Resource mode (`dev.knative.apiserver.resource.add|update`, the Pod as data) from the restore
 * source, which marks its events with the extension `snapbackfor: restore` (its `ceOverrides`) and
 * selects the pods labelled `snapback.io/restore`.
 *
 * The source sends every update of every such pod, and a pod is restored once: what makes an update ask
 * for nothing is looked for first, without validating anything else — the pod is decided (the annotation
 * `snapback.io/restore-status` says so, or its `snapback.io/restored` condition is True), being restored
 * (a claim younger than the claim TTL), or being deleted. Then what snapback reads of the pod is validated
 * (400 naming the field), and the pod must be scheduled (`spec.nodeName`) with its container running
 * (snapback-init is its PID 1 and waits) — until then its updates are answered 2xx and not remembered.
 */
import type { CloudEvent } from 'cloudevents';
import { checkpointIdProblem, DNS1123_LABEL_PATTERN, DNS1123_SUBDOMAIN_PATTERN } from '../ids.js';
import { ajv } from '../validation/ajv.js';
import { assertValid } from './notices/invalid.js';
import {
  CONTAINER_ANNOTATION,
  RESTORE_LABEL,
  RESTORE_LATEST,
  RESTORE_SOURCE_EXTENSION,
  RESTORE_SOURCE_VALUE,
  RESTORE_STATUS_ANNOTATION,
  RESTORED_CONDITION,
} from './opt-in.js';
import { dataOf, objectRefProperties } from './schemas.js';
import { ApiServerSourceType } from './types.js';

/** A pod the restore loop acts on, as its event carried it. */
export interface ReplacementPod {
  namespace: string;
  name: string;
  uid: string;
  /** The version the event saw: the claim is made only while the pod is still at it. */
  resourceVersion?: string;
  node: string;
  container: string;
  /** Restarts of the container so far: a restarted container has started cold. */
  restarts: number;
  /** `latest`, or a checkpoint id. */
  from: string;
  /** Why the pod cannot be restored whatever the agents hold (it is then started cold, saying why). */
  problem?: string;
  /** The claim of a function that did not finish, taken over (it is older than the claim TTL). */
  staleClaim?: string;
  /** The Pod as the event carried it: its workload is read from it. */
  object: unknown;
}

/**
 * The pod to act on, or why not: `settled` when the pod is decided, being restored or deleted (no later
 * update will ask for anything), not when it may yet (not scheduled, its container not started).
 */
export type ReplacementPodResult = { ignored: string; settled: boolean } | { pod: ReplacementPod };

/**
 * How long a claim holds: longer than a function may take (Knative's request timeout, 600 s, with the
 * broker's retries); an older one was left by a function that died, and the next update takes it over.
 */
export const CLAIM_TTL_MS = 15 * 60_000;

/** The status annotation's value while a function restores the pod: its claim, with its time. */
export const CLAIM_PREFIX = 'restoring since ';

export function claimOf(now: Date): string {
  return `${CLAIM_PREFIX}${now.toISOString()}`;
}

/** When a claim was made, or undefined when `status` is not a claim. */
export function claimTime(status: string): number | undefined {
  if (!status.startsWith(CLAIM_PREFIX)) return undefined;
  const at = Date.parse(status.slice(CLAIM_PREFIX.length));
  return Number.isNaN(at) ? 0 : at;
}

/** Whether an event comes from the restore source: a Pod event marked with its extension. */
export function isRestoreSourceEvent(event: CloudEvent<unknown>): boolean {
  const data = dataOf(event);
  return (
    (event.type === ApiServerSourceType.ADD || event.type === ApiServerSourceType.UPDATE) &&
    (event as unknown as Record<string, unknown>)[RESTORE_SOURCE_EXTENSION] === RESTORE_SOURCE_VALUE &&
    typeof data === 'object' &&
    data !== null &&
    (data as { kind?: unknown }).kind === 'Pod'
  );
}

const strings = { type: 'object', additionalProperties: { type: 'string' } };

/** What the restore loop reads of a pod (its workload among it); everything else is left alone. */
const validatePod = ajv.compile<{
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: { nodeName?: string; containers: Array<{ name: string }> };
  status?: {
    containerStatuses?: Array<{ name: string; restartCount?: number; state?: { running?: object } }>;
  };
}>({
  type: 'object',
  required: ['metadata', 'spec'],
  properties: {
    metadata: {
      type: 'object',
      required: ['name', 'namespace', 'uid'],
      properties: {
        ...objectRefProperties,
        resourceVersion: { type: 'string', maxLength: 64 },
        labels: strings,
        annotations: strings,
        ownerReferences: {
          type: 'array',
          items: {
            type: 'object',
            required: ['kind', 'name'],
            properties: {
              kind: { type: 'string', minLength: 1, maxLength: 253 },
              name: { type: 'string', minLength: 1, maxLength: 253 },
              controller: { type: 'boolean' },
            },
          },
        },
      },
    },
    spec: {
      type: 'object',
      required: ['containers'],
      properties: {
        nodeName: { type: 'string', pattern: DNS1123_SUBDOMAIN_PATTERN },
        containers: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', pattern: DNS1123_LABEL_PATTERN },
              image: { type: 'string' },
              resources: {
                type: 'object',
                properties: { limits: strings, requests: strings },
              },
            },
          },
        },
      },
    },
    status: {
      type: 'object',
      properties: {
        containerStatuses: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string' },
              imageID: { type: 'string' },
              restartCount: { type: 'integer', minimum: 0 },
              state: { type: 'object' },
            },
          },
        },
      },
    },
  },
});

/** Why an update asks for nothing, read without trusting the pod's shape; undefined when it may ask. */
function settled(data: unknown, now: Date, claimTtlMs: number): string | { staleClaim: string } | undefined {
  const pod = data as {
    metadata?: { annotations?: unknown; deletionTimestamp?: unknown };
    status?: { conditions?: unknown };
  };
  const annotations = pod.metadata?.annotations as Record<string, unknown> | undefined;
  const status = typeof annotations === 'object' ? annotations?.[RESTORE_STATUS_ANNOTATION] : undefined;
  const conditions = pod.status?.conditions;
  const restored =
    Array.isArray(conditions) &&
    conditions.some((c) => c?.type === RESTORED_CONDITION && (c as { status?: unknown }).status === 'True');
  if (restored) return `decided: ${RESTORED_CONDITION} is True`;
  if (pod.metadata?.deletionTimestamp) return 'being deleted';
  if (typeof status !== 'string') return undefined;
  const claimed = claimTime(status);
  if (claimed === undefined) return `decided: ${status}`;
  return now.getTime() - claimed > claimTtlMs ? { staleClaim: status } : `being restored (${status})`;
}

/** The pod an event asks the restore loop to act on, or why it asks for nothing; INVALID_ARGUMENT naming fields. */
export function parseReplacementPod(data: unknown, now: Date, claimTtlMs: number): ReplacementPodResult {
  const early = settled(data, now, claimTtlMs);
  if (typeof early === 'string') return { ignored: early, settled: true };
  assertValid(validatePod, data, 'invalid Pod event');
  const { metadata, spec, status } = data;
  const name = `${metadata.namespace}/${metadata.name}`;
  const from = metadata.labels?.[RESTORE_LABEL];
  if (from === undefined) return { ignored: `pod ${name} is not labelled ${RESTORE_LABEL}`, settled: false };
  if (!spec.nodeName) return { ignored: `pod ${name} is not scheduled yet`, settled: false };
  const names = spec.containers.map((c) => c.name);
  const wanted = metadata.annotations?.[CONTAINER_ANNOTATION] ?? names[0]!;
  const container = names.includes(wanted) ? wanted : undefined;
  const containerStatus = status?.containerStatuses?.find((s) => s.name === wanted);
  const problems = [
    container === undefined
      ? `annotation ${CONTAINER_ANNOTATION} names no container of the pod (${wanted.slice(0, 63)})`
      : undefined,
    from === RESTORE_LATEST || checkpointIdProblem(from) === undefined
      ? undefined
      : `label ${RESTORE_LABEL}: ${JSON.stringify(from)} is neither ${RESTORE_LATEST} nor a checkpoint id`,
  ].filter((p) => p !== undefined);
  // Without its container running there is no snapback-init waiting yet (a problem is said at once).
  if (problems.length === 0 && containerStatus?.state?.running === undefined)
    return { ignored: `pod ${name}: container ${wanted} has not started`, settled: false };
  return {
    pod: {
      namespace: metadata.namespace,
      name: metadata.name,
      uid: metadata.uid,
      ...(metadata.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion }),
      node: spec.nodeName,
      container: container ?? '',
      restarts: containerStatus?.restartCount ?? 0,
      from,
      ...(problems.length === 0 ? {} : { problem: problems.join('; ') }),
      ...(typeof early === 'object' ? { staleClaim: early.staleClaim } : {}),
      object: data,
    },
  };
}
