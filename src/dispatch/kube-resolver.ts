/**
 * Resolution through the Kubernetes API (@kubernetes/client-node 2.x, object parameters):
 * pod → `spec.nodeName` → the agent pod on that node (label `app.kubernetes.io/name=snapback-agent`,
 * field selector `spec.nodeName=…`) → `podIP:port`; node → opted-in pods (`snapback.io/enabled=true`;
 * container from the `snapback.io/container` annotation, else the first); providerID (its end, as for AWS
 * instance ids, or all of it, as GCE's `gce://PROJECT/ZONE/NAME`) / VM name → node.
 */
import type { CoreV1Api, V1Node, V1Pod } from '@kubernetes/client-node';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { Located, Resolver, Skipped } from './resolver.js';

export const AGENT_SELECTOR = 'app.kubernetes.io/name=snapback-agent';
export const ENABLED_SELECTOR = 'snapback.io/enabled=true';
export const CONTAINER_ANNOTATION = 'snapback.io/container';
export const DEFAULT_AGENT_PORT = 7070;

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

function containerOf(pod: V1Pod, requested?: string): string | undefined {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const wanted = requested ?? pod.metadata?.annotations?.[CONTAINER_ANNOTATION] ?? names[0];
  return wanted !== undefined && names.includes(wanted) ? wanted : undefined;
}

/** `aws:///us-east-2a/i-0abc` ends in `/i-0abc`; a bare id matches too. */
function providerIdMatches(providerId: string | undefined, suffix: string): boolean {
  return providerId !== undefined && (providerId === suffix || providerId.endsWith(`/${suffix}`));
}

/**
 * Azure VM names: a node named like the VM, a VM providerID ending `/virtualMachines/<name>`, or a
 * scale-set instance `<set>_<index>` whose providerID ends `/virtualMachineScaleSets/<set>/virtualMachines/<index>`.
 */
export function azureVmMatches(node: V1Node, vmName: string): boolean {
  const vm = vmName.toLowerCase();
  const providerId = node.spec?.providerID?.toLowerCase() ?? '';
  if (node.metadata?.name?.toLowerCase() === vm) return true;
  if (providerId.endsWith(`/virtualmachines/${vm}`)) return true;
  const scaleSet = /\/virtualmachinescalesets\/([^/]+)\/virtualmachines\/(\d+)$/.exec(providerId);
  return scaleSet !== null && `${scaleSet[1]}_${scaleSet[2]}` === vm;
}

export function createKubeResolver(api: CoreV1Api, options: KubeResolverOptions = {}): Resolver {
  const agentFor = async (node: string): Promise<string> => {
    const query = { labelSelector: AGENT_SELECTOR, fieldSelector: `spec.nodeName=${node}` };
    const list = await (options.agentNamespace === undefined
      ? api.listPodForAllNamespaces(query)
      : api.listNamespacedPod({ namespace: options.agentNamespace, ...query })
    ).catch((err: unknown) => Promise.reject(kubeErrorOf(err, `agent pods on ${node}`)));
    const agent = list.items.find((p) => p.status?.phase === 'Running' && p.status.podIP);
    if (agent === undefined) {
      throw new SnapbackError(ErrorCode.UNAVAILABLE, `no running snapback agent on node ${node}`, {
        phase: 'dispatch',
      });
    }
    const ports = (agent.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
    const port =
      ports.find((p) => p.name === 'grpc')?.containerPort ?? options.agentPort ?? DEFAULT_AGENT_PORT;
    const ip = agent.status!.podIP!;
    return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  };

  return {
    cluster: true,
    async locate(namespace, name, container) {
      const pod = await api
        .readNamespacedPod({ name, namespace })
        .catch((err: unknown) => Promise.reject(kubeErrorOf(err, `pod ${namespace}/${name}`)));
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
      return pod.metadata?.uid ? { ...located, podUid: pod.metadata.uid } : located;
    },
    async nodesFor(ref) {
      if ('node' in ref) return [ref.node];
      const nodes = await api.listNode({}).catch((err: unknown) => Promise.reject(kubeErrorOf(err, 'nodes')));
      const matching = nodes.items.filter((n) => {
        if ('providerIdSuffix' in ref) return providerIdMatches(n.spec?.providerID, ref.providerIdSuffix);
        if ('providerId' in ref) return n.spec?.providerID === ref.providerId;
        return azureVmMatches(n, ref.vmName);
      });
      return matching.map((n) => n.metadata!.name!);
    },
    async targetsOn(node) {
      const pods = await api
        .listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}`, labelSelector: ENABLED_SELECTOR })
        .catch((err: unknown) => Promise.reject(kubeErrorOf(err, `pods on ${node}`)));
      const targets: Located[] = [];
      const skipped: Skipped[] = [];
      let agentAddress: string | undefined;
      for (const pod of pods.items) {
        const namespace = pod.metadata?.namespace ?? 'default';
        const name = pod.metadata?.name ?? '';
        const container = containerOf(pod);
        if (pod.status?.phase !== 'Running' || container === undefined) {
          const reason =
            container === undefined ? 'no such container' : `pod is ${pod.status?.phase ?? 'unknown'}`;
          skipped.push({ namespace, pod: name, container: container ?? '', reason });
          continue;
        }
        agentAddress ??= await agentFor(node);
        const located: Located = { namespace, pod: name, container, node, agentAddress };
        targets.push(pod.metadata?.uid ? { ...located, podUid: pod.metadata.uid } : located);
      }
      return { targets, skipped };
    },
  };
}
