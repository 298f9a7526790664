/**
 * Resolution: which agent acts on a target, which targets live on a node, which node a notice names.
 * Two implementations: `createKubeResolver` (the Kubernetes API) and `createLocalResolver` (one agent, one
 * node, no Kubernetes: `--agent ADDR --node NAME [--provider-id ID]`, pod = workload name).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { NodeRef } from '../events/notices/notice.js';
import type { AgentDispatcher } from './agent-dispatcher.js';
import type { PlanFacts } from './plan-facts.js';
import type { PodWorkload } from './workload-identity.js';

/** A target with everything needed to call its agent. */
export interface Located {
  namespace: string;
  pod: string;
  container: string;
  node: string;
  agentAddress: string;
  /** The pod's uid, for Kubernetes Events on it. */
  podUid?: string;
  /**
   * The pod's workload (owner, image, GPUs, architecture) and retention, read when asked (a checkpoint
   * records it; the restore loop asks for the latest checkpoint of it). Absent in local mode: the agent
   * records what its runtime knows.
   */
  workload?: () => Promise<PodWorkload>;
  /** The pod's hook annotations as written (docs/hooks.md); parsed when it is dispatched (hooks.ts). */
  hookAnnotations?: { preCheckpoint?: string; postRestore?: string };
  /** What the deadline planner reads of the pod (its priority, its size); absent in local mode. */
  plan?: PlanFacts;
}

/** A pod on a node that will not be dispatched, and why. */
export interface Skipped {
  namespace: string;
  pod: string;
  container: string;
  reason: string;
}

/**
 * An opted-in pod found by name: located when it can be dispatched now, else why not, and what its
 * deletion says about the time it has left.
 */
export interface PodState {
  namespace: string;
  pod: string;
  uid?: string;
  node?: string;
  target?: Located;
  skipped?: Skipped;
  /** `metadata.deletionTimestamp`: when the kubelet kills it (the deletion's grace period included). */
  deletionDeadline?: Date;
  /** `spec.terminationGracePeriodSeconds`. */
  gracePeriodSeconds?: number;
  /** Restarts of its container so far (a preStop hook also runs before a restart). */
  restarts?: number;
}

export interface Resolver {
  /** Where `namespace/pod` runs and the agent of its node; NOT_FOUND / FAILED_PRECONDITION otherwise. */
  locate(namespace: string, pod: string, container?: string): Promise<Located>;
  /** The names of the nodes a notice refers to (empty when none matches). */
  nodesFor(ref: NodeRef): Promise<string[]>;
  /** Every opted-in target on a node, located, and those that cannot be dispatched. */
  targetsOn(node: string): Promise<{ targets: Located[]; skipped: Skipped[] }>;
  /**
   * An opted-in pod by name (`undefined`: there is none of that name, or it did not opt in); `fresh` reads
   * it from the API even where a cache holds it (a preStop hook must see the deletion that caused it).
   */
  optedInPod(
    namespace: string,
    pod: string,
    container?: string,
    fresh?: boolean,
  ): Promise<PodState | undefined>;
  /**
   * A pod as an event carried it (the restore loop reads the ApiServerSource's copy), located without
   * reading it again: its node's agent, its container, its workload. FAILED_PRECONDITION in local mode.
   */
  locatePod(pod: V1Pod, container?: string): Promise<Located>;
  /** Whether Kubernetes Events can be recorded (cluster mode). */
  readonly cluster: boolean;
}

export interface LocalResolverOptions {
  agent: string;
  node: string;
  providerId?: string;
  /** Lists workloads on the agent (process runtime), for node-wide notices. */
  agents?: Pick<AgentDispatcher, 'listWorkloads'>;
}

export const LOCAL_NAMESPACE = 'default';

export function createLocalResolver(options: LocalResolverOptions): Resolver {
  const located = (namespace: string, pod: string, container?: string): Located => ({
    namespace,
    pod,
    container: container ?? '',
    node: options.node,
    agentAddress: options.agent,
  });
  return {
    cluster: false,
    async locate(namespace, pod, container) {
      return located(namespace, pod, container);
    },
    async locatePod() {
      throw new SnapbackError(
        ErrorCode.FAILED_PRECONDITION,
        'local mode has no Kubernetes pods: give the functions a cluster (--kubeconfig, or run in one)',
      );
    },
    async nodesFor(ref) {
      const matches =
        ('node' in ref && ref.node === options.node) ||
        ('providerIdSuffix' in ref && options.providerId?.endsWith(ref.providerIdSuffix) === true) ||
        ('providerId' in ref && options.providerId === ref.providerId) ||
        ('vmName' in ref && ref.vmName.toLowerCase() === options.node.toLowerCase());
      return matches ? [options.node] : [];
    },
    // Local mode has no labels: every workload of the agent is a target, as in targetsOn.
    async optedInPod(namespace, pod, container) {
      if (options.agents === undefined)
        return { namespace, pod, node: options.node, target: located(namespace, pod, container) };
      const workloads = await options.agents.listWorkloads(options.agent, {
        deadline: new Date(Date.now() + 10_000),
      });
      const workload = workloads.find((w) => w.name === pod);
      if (workload === undefined) return undefined;
      return workload.running
        ? { namespace, pod, node: options.node, target: located(namespace, pod, container) }
        : {
            namespace,
            pod,
            node: options.node,
            skipped: { namespace, pod, container: container ?? '', reason: 'not running' },
          };
    },
    async targetsOn(node) {
      if (node !== options.node) return { targets: [], skipped: [] };
      if (options.agents === undefined) {
        throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, 'local mode cannot list workloads');
      }
      const workloads = await options.agents.listWorkloads(options.agent, {
        deadline: new Date(Date.now() + 10_000),
      });
      const running = workloads.filter((w) => w.running);
      return {
        targets: running.map((w) => located(LOCAL_NAMESPACE, w.name)),
        skipped: workloads
          .filter((w) => !w.running)
          .map((w) => ({ namespace: LOCAL_NAMESPACE, pod: w.name, container: '', reason: 'not running' })),
      };
    },
  };
}
