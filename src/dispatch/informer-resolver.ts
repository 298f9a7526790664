/**
 * Resolution from the informers' caches (`kube-cache.ts`): an event costs the API server nothing while the
 * cache is in sync — the agent of a node, the opted-in pods of a node, a node by providerID or VM name, an
 * opted-in pod by name all come from memory. What the cache cannot answer goes to the API, one request as
 * before (`kube-resolver.ts`): everything while it is not in sync, and a checkpoint request for a pod that
 * did not opt in (any pod may be asked for by name) or that the cache has not seen yet.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import type { KubeCache } from './kube-cache.js';
import {
  agentAddressOf,
  containerOf,
  DEFAULT_AGENT_PORT,
  nodeMatches,
  podStateOf,
  targetsOf,
} from './kube-objects.js';
import {
  type CachedLookups,
  createKubeResolver,
  type KubeResolverOptions,
  kubePodLookups,
} from './kube-resolver.js';
import type { Resolver } from './resolver.js';

export function createInformerResolver(
  api: CoreV1Api,
  cache: KubeCache,
  options: KubeResolverOptions = {},
): Resolver {
  const cached: CachedLookups = {
    agentFor: async (node) =>
      agentAddressOf(cache.agentsOn(node), node, options.agentPort ?? DEFAULT_AGENT_PORT),
    node: async (name) => cache.node(name),
  };
  const podLookups = kubePodLookups(api, options, cached);
  const uncached = createKubeResolver(api, options);
  // Pods the cache does not hold, read one by one, with their node's agent and the node from the cache.
  const podByPod = createKubeResolver(api, options, cached);
  const direct = () => (cache.synced ? podByPod : uncached);
  return {
    cluster: true,
    async locate(namespace, name, container) {
      const pod = cache.synced ? cache.optedIn(namespace, name) : undefined;
      // Not cached, not scheduled or no such container: the API's answer says which, as it always did.
      if (pod === undefined || !pod.spec?.nodeName || containerOf(pod, container) === undefined)
        return direct().locate(namespace, name, container);
      return direct().locatePod(pod, container);
    },
    locatePod: (pod, container) => direct().locatePod(pod, container),
    async nodesFor(ref) {
      if ('node' in ref) return [ref.node];
      if (!cache.synced) return uncached.nodesFor(ref);
      return cache
        .nodes()
        .filter((n) => nodeMatches(n, ref))
        .map((n) => n.metadata!.name!);
    },
    async targetsOn(node) {
      if (!cache.synced) return uncached.targetsOn(node);
      return targetsOf(cache.optedInOn(node), node, podLookups);
    },
    async optedInPod(namespace, name, container, fresh) {
      const pod = cache.synced && !fresh ? cache.optedIn(namespace, name) : undefined;
      // A miss may be a pod created a moment ago: the API has the last word (one GET).
      if (pod === undefined) return direct().optedInPod(namespace, name, container);
      return podStateOf(pod, container, podLookups);
    },
  };
}
