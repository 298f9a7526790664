/**
 * Resolution through the Kubernetes API, one request per question (@kubernetes/client-node 2.x, object
 * parameters): pod → `spec.nodeName` → the agent pod on that node (label `app.kubernetes.io/name=snapback-agent`,
 * field selector `spec.nodeName=…`) → `podIP:port`; node → opted-in pods (`snapback.io/enabled=true`;
 * container from the `snapback.io/container` annotation, else the first); providerID (its end, as for AWS
 * instance ids, or all of it, as GCE's `gce://PROJECT/ZONE/NAME`) / VM name → node.
 * The functions resolve from informers' caches instead (`informer-resolver.ts`); this is their fallback
 * while a cache is not in sync, and what a cache miss asks.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { ErrorCode, SnapbackError } from '../errors.js';
import { ENABLED_SELECTOR, isOptedIn } from '../events/opt-in.js';
import {
  AGENT_SELECTOR,
  agentAddressOf,
  containerOf,
  DEFAULT_AGENT_PORT,
  nodeMatches,
  podStateOf,
  targetsOf,
  withPodFacts,
} from './kube-objects.js';
import type { Located, Resolver } from './resolver.js';

export { AGENT_SELECTOR, DEFAULT_AGENT_PORT } from './kube-objects.js';

export interface KubeResolverOptions {
  /** Namespace of the agent DaemonSet; all namespaces when absent. */
  agentNamespace?: string;
  /** Port when the agent container declares no port named `grpc`. */
  agentPort?: number;
}

/** Errors from the API client (ApiException has `code`, the HTTP status) as SnapbackError. */
export function kubeErrorOf(err: unknown, what: string): SnapbackError {
  const status = (err as { code?: unknown }).code;
  if (status === 404) return new SnapbackError(ErrorCode.NOT_FOUND, `${what} not found`, { cause: err });
  if (status === 403 || status === 401)
    return new SnapbackError(ErrorCode.FAILED_PRECONDITION, `not allowed to read ${what}`, { cause: err });
  return new SnapbackError(ErrorCode.UNAVAILABLE, `Kubernetes API: cannot read ${what}`, { cause: err });
}

/** `agentFor` replaces the list of a node's agent pods (the informers' cache has them). */
export function createKubeResolver(
  api: CoreV1Api,
  options: KubeResolverOptions = {},
  cachedAgentFor?: (node: string) => Promise<string>,
): Resolver {
  const listAgentFor = async (node: string): Promise<string> => {
    const query = { labelSelector: AGENT_SELECTOR, fieldSelector: `spec.nodeName=${node}` };
    const list = await (options.agentNamespace === undefined
      ? api.listPodForAllNamespaces(query)
      : api.listNamespacedPod({ namespace: options.agentNamespace, ...query })
    ).catch((err: unknown) => Promise.reject(kubeErrorOf(err, `agent pods on ${node}`)));
    return agentAddressOf(list.items, node, options.agentPort ?? DEFAULT_AGENT_PORT);
  };
  const agentFor = cachedAgentFor ?? listAgentFor;
  const read = (namespace: string, name: string) =>
    api
      .readNamespacedPod({ name, namespace })
      .catch((err: unknown) => Promise.reject(kubeErrorOf(err, `pod ${namespace}/${name}`)));

  return {
    cluster: true,
    async locate(namespace, name, container) {
      const pod = await read(namespace, name);
      const node = pod.spec?.nodeName;
      if (!node)
        throw new SnapbackError(ErrorCode.FAILED_PRECONDITION, `pod ${namespace}/${name} is not scheduled`);
      const chosen = containerOf(pod, container);
      if (chosen === undefined) {
        throw new SnapbackError(
          ErrorCode.NOT_FOUND,
          `pod ${namespace}/${name} has no container ${container ?? ''}`.trim(),
        );
      }
      const located: Located = {
        namespace,
        pod: name,
        container: chosen,
        node,
        agentAddress: await agentFor(node),
      };
      return withPodFacts(located, pod);
    },
    async nodesFor(ref) {
      if ('node' in ref) return [ref.node];
      const nodes = await api.listNode({}).catch((err: unknown) => Promise.reject(kubeErrorOf(err, 'nodes')));
      return nodes.items.filter((n) => nodeMatches(n, ref)).map((n) => n.metadata!.name!);
    },
    async targetsOn(node) {
      const pods = await api
        .listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}`, labelSelector: ENABLED_SELECTOR })
        .catch((err: unknown) => Promise.reject(kubeErrorOf(err, `pods on ${node}`)));
      return targetsOf(pods.items, node, agentFor);
    },
    async optedInPod(namespace, name, container) {
      const pod = await read(namespace, name).catch((err: unknown) =>
        err instanceof SnapbackError && err.code === ErrorCode.NOT_FOUND ? undefined : Promise.reject(err),
      );
      if (pod === undefined || !isOptedIn(pod.metadata?.labels)) return undefined;
      return podStateOf(pod, container, agentFor);
    },
  };
}
