/**
 * What snapback reads from pods and nodes, the same whether they come from a list (client-node's typed
 * objects, timestamps as Date) or from a watch event (JSON, timestamps as strings): the agent pod of a node
 * and its address, the container of an opted-in pod, a pod's state (running, deleted and by when), and
 * whether a node is the one a notice names.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { NodeRef } from '../events/notices/notice.js';
import {
  CONTAINER_ANNOTATION,
  POST_RESTORE_ANNOTATION,
  PRE_CHECKPOINT_ANNOTATION,
} from '../events/opt-in.js';
import { planFactsOf } from './plan-facts.js';
import type { Located, PodState, Skipped } from './resolver.js';
import type { PodWorkload } from './workload-identity.js';

export const AGENT_SELECTOR = 'app.kubernetes.io/name=snapback-agent';
export const DEFAULT_AGENT_PORT = 7070;

/** The container to act on: the requested one, else the annotation's, else the first; undefined if absent. */
export function containerOf(pod: V1Pod, requested?: string): string | undefined {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const wanted = requested ?? pod.metadata?.annotations?.[CONTAINER_ANNOTATION] ?? names[0];
  return wanted !== undefined && names.includes(wanted) ? wanted : undefined;
}

/** Milliseconds since the epoch of a Kubernetes timestamp, typed (Date) or not (string). */
export function timeOf(value: Date | string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `ip:port` of the running agent among a node's agent pods (its `grpc` port, else the default). */
export function agentAddressOf(agents: readonly V1Pod[], node: string, defaultPort: number): string {
  const agent = agents.find((p) => p.status?.phase === 'Running' && p.status.podIP);
  if (agent === undefined) {
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `no running snapback agent on node ${node}`, {
      phase: 'dispatch',
    });
  }
  const ports = (agent.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const port = ports.find((p) => p.name === 'grpc')?.containerPort ?? defaultPort;
  const ip = agent.status!.podIP!;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The located target with what the pod itself says: its uid, its hook annotations, its planning facts. */
export function withPodFacts(located: Located, pod: V1Pod): Located {
  const annotations = pod.metadata?.annotations ?? {};
  const pre = annotations[PRE_CHECKPOINT_ANNOTATION];
  const post = annotations[POST_RESTORE_ANNOTATION];
  return {
    ...located,
    plan: planFactsOf(pod, located.container),
    ...(pod.metadata?.uid ? { podUid: pod.metadata.uid } : {}),
    ...(pre === undefined && post === undefined
      ? {}
      : {
          hookAnnotations: {
            ...(pre === undefined ? {} : { preCheckpoint: pre }),
            ...(post === undefined ? {} : { postRestore: post }),
          },
        }),
  };
}

/** What turning a pod into a target reads besides the pod. */
export interface PodLookups {
  /** The address of a node's agent. */
  agentFor(node: string): Promise<string>;
  /** The workload of a pod's container (workload-identity.ts); without it the agent records its own. */
  workloadOf?(pod: V1Pod, container: string): Promise<PodWorkload>;
}

/** A target with its pod's uid, and its workload resolved when a checkpoint asks for it. */
function locatedOf(
  pod: V1Pod,
  target: Omit<Located, 'agentAddress'>,
  agentAddress: string,
  lookups: PodLookups,
): Located {
  const located = withPodFacts({ ...target, agentAddress }, pod);
  const { workloadOf } = lookups;
  if (workloadOf !== undefined) located.workload = () => workloadOf(pod, target.container);
  return located;
}

/**
 * A pod as a target: scheduled, with the container asked for (else its annotation's, else the first);
 * FAILED_PRECONDITION / NOT_FOUND naming what is missing.
 */
export async function locatePod(
  pod: V1Pod,
  container: string | undefined,
  lookups: PodLookups,
): Promise<Located> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
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
  const target = { namespace, pod: name, container: chosen, node };
  return locatedOf(pod, target, await lookups.agentFor(node), lookups);
}

/**
 * The opted-in pods of a node as targets (running, their container present) and those skipped, with why.
 * The node's agent is asked for once, and only when there is a target.
 */
export async function targetsOf(
  pods: readonly V1Pod[],
  node: string,
  lookups: PodLookups,
): Promise<{ targets: Located[]; skipped: Skipped[] }> {
  const targets: Located[] = [];
  const skipped: Skipped[] = [];
  let agentAddress: string | undefined;
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    const container = containerOf(pod);
    if (pod.status?.phase !== 'Running' || container === undefined) {
      const reason =
        container === undefined ? 'no such container' : `pod is ${pod.status?.phase ?? 'unknown'}`;
      skipped.push({ namespace, pod: name, container: container ?? '', reason });
      continue;
    }
    agentAddress ??= await lookups.agentFor(node);
    targets.push(locatedOf(pod, { namespace, pod: name, container, node }, agentAddress, lookups));
  }
  return { targets, skipped };
}

/** An opted-in pod's state: located when it can be dispatched, else why not; its deletion and grace. */
export async function podStateOf(
  pod: V1Pod,
  container: string | undefined,
  lookups: PodLookups,
): Promise<PodState> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const node = pod.spec?.nodeName || undefined;
  const chosen = containerOf(pod, container);
  const deletion = timeOf(pod.metadata?.deletionTimestamp as Date | string | undefined);
  const restarts = pod.status?.containerStatuses?.find((s) => s.name === chosen)?.restartCount;
  const state: PodState = {
    namespace,
    pod: name,
    ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}),
    ...(node ? { node } : {}),
    ...(deletion === undefined ? {} : { deletionDeadline: new Date(deletion) }),
    ...(pod.spec?.terminationGracePeriodSeconds === undefined
      ? {}
      : { gracePeriodSeconds: pod.spec.terminationGracePeriodSeconds }),
    ...(restarts === undefined ? {} : { restarts }),
  };
  const skip = (reason: string): PodState => ({
    ...state,
    skipped: { namespace, pod: name, container: chosen ?? container ?? '', reason },
  });
  if (chosen === undefined) return skip(`no container ${container ?? ''}`.trim());
  if (node === undefined) return skip('pod is not scheduled');
  if (pod.status?.phase !== 'Running') return skip(`pod is ${pod.status?.phase ?? 'unknown'}`);
  const target = { namespace, pod: name, container: chosen, node };
  return { ...state, target: locatedOf(pod, target, await lookups.agentFor(node), lookups) };
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

/** Whether a node is the one a notice names by providerID or VM name (`{node}` refs need no node list). */
export function nodeMatches(node: V1Node, ref: Exclude<NodeRef, { node: string }>): boolean {
  if ('providerIdSuffix' in ref) return providerIdMatches(node.spec?.providerID, ref.providerIdSuffix);
  if ('providerId' in ref) return node.spec?.providerID === ref.providerId;
  return azureVmMatches(node, ref.vmName);
}
