/**
 * What the deadline planner (`planner.ts`) reads of an opted-in pod, read with the pod:
 * - its rank: the annotation `snapback.io/priority`, a whole number (higher first; absent: 0), or why it
 *   cannot be used — the pod's checkpoint is then refused, naming the annotation, as a bad
 *   `snapback.io/keep` is;
 * - what its checkpoint will hold, before any checkpoint of it was measured: its container's memory
 *   request, else its limit (the memory the scheduler reserved for it: what a running workload holds, near
 *   enough, and CRIU dumps), and its GPU count (`nvidia.com/gpu`), which the planner multiplies by a
 *   per-GPU figure of its settings (the device memory a CUDA checkpoint brings to the host).
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { PRIORITY_ANNOTATION } from '../events/opt-in.js';
import { deviceCount, GPU_RESOURCE } from './workload-identity.js';

/** The range of a PriorityClass's value (int32), which is what this annotation's numbers are like. */
export const MAX_PRIORITY = 1_000_000_000;

export interface PlanFacts {
  /** From `snapback.io/priority`; 0 when absent. */
  priority: number;
  /** Why `snapback.io/priority` cannot be used. */
  priorityProblem?: string;
  /** The container's memory request, else limit; absent when it declares neither. */
  memoryBytes?: number;
  gpuCount: number;
}

/** `snapback.io/priority`: a whole number from -MAX_PRIORITY to MAX_PRIORITY, or why not. */
export function priorityOf(pod: V1Pod): Pick<PlanFacts, 'priority' | 'priorityProblem'> {
  const text = pod.metadata?.annotations?.[PRIORITY_ANNOTATION];
  if (text === undefined) return { priority: 0 };
  const n = /^[-+]?\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (Math.abs(n) <= MAX_PRIORITY) return { priority: n };
  const shown = JSON.stringify(text.slice(0, 40));
  return {
    priority: 0,
    priorityProblem: `annotation ${PRIORITY_ANNOTATION}: ${shown} must be a whole number from -${MAX_PRIORITY} to ${MAX_PRIORITY} (higher is checkpointed first)`,
  };
}

const SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * Bytes of a Kubernetes quantity (`512Mi`, `2G`, `1e9`, 1073741824), or undefined when it is none
 * (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
 */
export function bytesOf(quantity: unknown): number | undefined {
  if (typeof quantity === 'number') return Number.isFinite(quantity) && quantity >= 0 ? quantity : undefined;
  if (typeof quantity !== 'string') return undefined;
  const match = /^(\d+(?:\.\d*)?|\.\d+)(?:([eE][-+]?\d+)|([kMGTPE]|[KMGTPE]i|m)?)$/.exec(quantity.trim());
  if (match === null) return undefined;
  const [, number, exponent, suffix] = match;
  const multiplier = SUFFIXES[suffix ?? ''];
  if (multiplier === undefined) return undefined;
  return Math.ceil(Number(`${number}${exponent ?? ''}`) * multiplier);
}

/** The planner's facts of `pod`'s container `container`. */
export function planFactsOf(pod: V1Pod, container: string): PlanFacts {
  const spec: V1Container | undefined = pod.spec?.containers.find((c) => c.name === container);
  const resources = spec?.resources;
  const memoryBytes = bytesOf(resources?.requests?.['memory'] ?? resources?.limits?.['memory']);
  return {
    ...priorityOf(pod),
    ...(memoryBytes === undefined ? {} : { memoryBytes }),
    gpuCount: deviceCount(resources?.limits?.[GPU_RESOURCE] ?? resources?.requests?.[GPU_RESOURCE]),
  };
}
