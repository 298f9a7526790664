/**
 * Resolution through the Kubernetes API, one request per question (@kubernetes/client-node 2.x, object
 * parameters): pod → `spec.nodeName` → the agent pod on that node (label `app.kubernetes.io/name=snapback-agent`,
 * field selector `spec.nodeName=…`) → `podIP:port`; node → opted-in pods (`snapback.io/enabled=true`;
 * container from the `snapback.io/container` annotation, else the first); providerID (its end, as for AWS
 * instance ids, or all of it, as GCE's `gce://PROJECT/ZONE/NAME`) / VM name → node.
 * The functions resolve from informers' caches instead (`informer-resolver.ts`); this is their fallback
 * while a cache is not in sync, and what a cache miss asks.
 */
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { ErrorCode, SnapbackError } from '../errors.js';
import { ENABLED_SELECTOR, isOptedIn } from '../events/opt-in.js';
import {
  AGENT_SELECTOR,
  agentAddressOf,
  DEFAULT_AGENT_PORT,
  locatePod,
  nodeMatches,
  type PodLookups,
  podStateOf,
  targetsOf,
} from './kube-objects.js';
import type { Resolver } from './resolver.js';
import { podWorkload, type WorkloadLookups } from './workload-identity.js';

export { AGENT_SELECTOR, DEFAULT_AGENT_PORT } from './kube-objects.js';

export interface KubeResolverOptions {
  /** Namespace of the agent DaemonSet; all namespaces when absent. */
  agentNamespace?: string;
  /** Port when the agent container declares no port named `grpc`. */
  agentPort?: number;
  /**
   * Reads a pod's ReplicaSet to find its Deployment (replica-sets.ts); without it a pod's workload stops
   * at its ReplicaSet.
   */
  replicaSets?: WorkloadLookups['replicaSet'];
}

/** What the informers' cache answers instead of the API (informer-resolver.ts). */
export interface CachedLookups {
  agentFor(node: string): Promise<string>;
  node(name: string): Promise<V1Node | undefined>;
}

/** Errors from the API client (ApiException has `code`, the HTTP status) as SnapbackError. */
export function kubeErrorOf(err: unknown, what: string): SnapbackError {
  const status = (err as { code?: unknown }).code;
  if (status === 404) return new SnapbackError(ErrorCode.NOT_FOUND, `${what} not found`, { cause: err });
  if (status === 403 || status === 401)
    return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `not allowed to read ${what}`, { cause: err });
  return new SnapbackError(ErrorCode.UNAVAILABLE, `Kubernetes API: cannot read ${what}`, { cause: err });
}

/**
 * What turning a pod into a target reads, from the API: its node's agent (a list of the node's agent pods)
 * and its workload (its ReplicaSet, its node) — or from the informers' cache where `cached` is given.
 */
export function kubePodLookups(
  api: CoreV1Api,
  options: KubeResolverOptions = {},
  cached?: CachedLookups,
): PodLookups {
  const listAgentFor = async (node: string): Promise<string> => {
    const query = { labelSelector: AGENT_SELECTOR, fieldSelector: `spec.nodeName=${node}` };
    const list = await (options.agentNamespace === undefined
      ? api.listPodForAllNamespaces(query)
      : api.listNamespacedPod({ namespace: options.agentNamespace, ...query })
    ).catch((err: unknown) => Promise.reject(kubeErrorOf(err, `agent pods on ${node}`)));
    return agentAddressOf(list.items, node, options.agentPort ?? DEFAULT_AGENT_PORT);
  };
  const listNode = async (name: string): Promise<V1Node | undefined> => {
    const list = await api.listNode({ fieldSelector: `metadata.name=${name}` });
    return list.items[0];
  };
  const { replicaSets } = options;
  return {
    agentFor: cached?.agentFor ?? listAgentFor,
    workloadOf: (pod, container) =>
      podWorkload(pod, container, {
        replicaSet: replicaSets ?? (async () => undefined),
        node: cached?.node ?? listNode,
      }),
  };
}

/** `cached` replaces the lists of a node's agent pods and of nodes (the informers' cache has them). */
export function createKubeResolver(
  api: CoreV1Api,
  options: KubeResolverOptions = {},
  cached?: CachedLookups,
): Resolver {
  const lookups = kubePodLookups(api, options, cached);
  const read = (namespace: string, name: string) =>
    api
      .readNamespacedPod({ name, namespace })
      .catch((err: unknown) => Promise.reject(kubeErrorOf(err, `pod ${namespace}/${name}`)));

  return {
    cluster: true,
    async locate(namespace, name, container) {
      return locatePod(await read(namespace, name), container, lookups);
    },
    locatePod: (pod, container) => locatePod(pod, container, lookups),
    async nodesFor(ref) {
      if ('node' in ref) return [ref.node];
      const nodes = await api.listNode({}).catch((err: unknown) => Promise.reject(kubeErrorOf(err, 'nodes')));
      return nodes.items.filter((n) => nodeMatches(n, ref)).map((n) => n.metadata!.name!);
    },
    async targetsOn(node) {
      const pods = await api
        .listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}`, labelSelector: ENABLED_SELECTOR })
        .catch((err: unknown) => Promise.reject(kubeErrorOf(err, `pods on ${node}`)));
      return targetsOf(pods.items, node, lookups);
    },
    async optedInPod(namespace, name, container) {
      const pod = await read(namespace, name).catch((err: unknown) =>
        err instanceof SnapbackError && err.code === ErrorCode.NOT_FOUND ? undefined : Promise.reject(err),
      );
      if (pod === undefined || !isOptedIn(pod.metadata?.labels)) return undefined;
      return podStateOf(pod, container, lookups);
    },
  };
}
