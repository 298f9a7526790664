/**
 * The functions' view of the cluster, kept by client-node informers (list once, then watch) instead of
 * listed on every event: the agent pods (label `app.kubernetes.io/name=snapback-agent`), the opted-in pods
 * (`snapback.io/enabled=true`) and the nodes, indexed by node name. An informer whose watch fails stops
 * (client-node leaves restarting to its user): it is restarted with a growing pause (1 s … 30 s), and the
 * cache says it is not in sync until its list succeeded again — the resolver then asks the API directly.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import {
  type CoreV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { ENABLED_SELECTOR } from '../events/opt-in.js';
import type { Logger } from '../log.js';
import { AGENT_SELECTOR } from './kube-objects.js';

export interface KubeCacheOptions {
  /** Namespace of the agent DaemonSet; all namespaces when absent. */
  agentNamespace?: string;
  log: Logger;
  /** First pause before restarting a failed informer; doubles up to `maxRestartDelayMs`. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

export interface KubeCache {
  /** Every informer has listed and none has failed since: the cache can answer. */
  readonly synced: boolean;
  agentsOn(node: string): readonly V1Pod[];
  optedInOn(node: string): readonly V1Pod[];
  optedIn(namespace: string, name: string): V1Pod | undefined;
  nodes(): readonly V1Node[];
  node(name: string): V1Node | undefined;
  stop(): Promise<void>;
}

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** Pods by node, kept from an informer's add/update/delete callbacks (a pod may move: a new uid, a new node). */
class ByNode {
  readonly #pods = new Map<string, Map<string, V1Pod>>();
  readonly #nodeOf = new Map<string, string>();

  set(pod: V1Pod): void {
    this.delete(pod);
    const node = pod.spec?.nodeName ?? '';
    const key = keyOf(pod);
    const pods = this.#pods.get(node) ?? new Map<string, V1Pod>();
    this.#pods.set(node, pods);
    pods.set(key, pod);
    this.#nodeOf.set(key, node);
  }

  delete(pod: V1Pod): void {
    const key = keyOf(pod);
    const node = this.#nodeOf.get(key);
    if (node === undefined) return;
    this.#nodeOf.delete(key);
    const pods = this.#pods.get(node);
    pods?.delete(key);
    if (pods?.size === 0) this.#pods.delete(node);
  }

  on(node: string): readonly V1Pod[] {
    return [...(this.#pods.get(node)?.values() ?? [])];
  }
}

/**
 * One informer, restarted after failures, and whether its cache is in sync: it listed once, and its last
 * (re)start neither failed nor was followed by a failure. A restart resumes the watch from the informer's
 * resource version (the API server replays what it missed, or answers 410 and the informer lists again).
 */
class Watched<T extends KubernetesObject> {
  readonly informer: Informer<T> & {
    get(name: string, namespace?: string): T | undefined;
    list(): readonly T[];
  };
  inSync = false;
  #listedOnce = false;
  #failures = 0;
  #stopped = false;
  #delay: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    labelSelector: string | undefined,
    readonly what: string,
    readonly options: KubeCacheOptions,
  ) {
    this.#delay = options.restartDelayMs ?? 1000;
    this.informer = makeInformer<T>(
      kc,
      path,
      async () => {
        const result = await list();
        this.#listedOnce = true;
        return result;
      },
      labelSelector,
    );
    this.informer.on('error', (err: unknown) => this.#failed(err));
  }

  #failed(err: unknown): void {
    this.inSync = false;
    this.#failures++;
    if (this.#stopped) return;
    this.options.log.warn(
      { err, informer: this.what, retryInMs: this.#delay },
      'informer failed; restarting',
    );
    this.#timer = setTimeout(() => void this.start(), this.#delay);
    this.#delay = Math.min(this.#delay * 2, this.options.maxRestartDelayMs ?? 30_000);
  }

  async start(): Promise<void> {
    if (this.#stopped) return;
    const failures = this.#failures;
    // start() returns once the watch is established, or after its failure was reported through 'error'.
    try {
      await this.informer.start();
    } catch (err) {
      this.#failed(err);
      return;
    }
    if (this.#failures === failures && this.#listedOnce && !this.#stopped) {
      this.inSync = true;
      this.#delay = this.options.restartDelayMs ?? 1000;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.inSync = false;
    clearTimeout(this.#timer);
    await this.informer.stop();
  }
}

/** Starts the informers; resolves once each has made its first attempt (in sync, or restarting). */
export async function startKubeCache(
  kc: KubeConfig,
  api: CoreV1Api,
  options: KubeCacheOptions,
): Promise<KubeCache> {
  const ns = options.agentNamespace;
  const agents = new Watched<V1Pod>(
    kc,
    ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`,
    () =>
      ns === undefined
        ? api.listPodForAllNamespaces({ labelSelector: AGENT_SELECTOR })
        : api.listNamespacedPod({ namespace: ns, labelSelector: AGENT_SELECTOR }),
    AGENT_SELECTOR,
    'agent pods',
    options,
  );
  const optedIn = new Watched<V1Pod>(
    kc,
    '/api/v1/pods',
    () => api.listPodForAllNamespaces({ labelSelector: ENABLED_SELECTOR }),
    ENABLED_SELECTOR,
    'opted-in pods',
    options,
  );
  const nodes = new Watched<V1Node>(kc, '/api/v1/nodes', () => api.listNode({}), undefined, 'nodes', options);
  const agentsByNode = new ByNode();
  const optedInByNode = new ByNode();
  for (const [watched, index] of [
    [agents, agentsByNode],
    [optedIn, optedInByNode],
  ] as const) {
    watched.informer.on('add', (p) => index.set(p));
    watched.informer.on('update', (p) => index.set(p));
    watched.informer.on('delete', (p) => index.delete(p));
  }
  const all = [agents, optedIn, nodes] as const;
  await Promise.all(all.map((w) => w.start()));
  return {
    get synced() {
      return all.every((w) => w.inSync);
    },
    agentsOn: (node) => agentsByNode.on(node),
    optedInOn: (node) => optedInByNode.on(node),
    optedIn: (namespace, name) => optedIn.informer.get(name, namespace),
    nodes: () => nodes.informer.list(),
    node: (name) => nodes.informer.get(name),
    stop: async () => {
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}
