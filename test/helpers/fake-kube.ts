/**
 * A Kubernetes API server stand-in on node:http (127.0.0.1:0), driven by the real @kubernetes/client-node
 * through a kubeconfig file the test writes. It serves nodes, pods, events and ReplicaSets (`kube/routes.ts`): lists
 * with label and field selectors and a resourceVersion, watches that the real client-node `Watch` and
 * informers follow (`kube/watch.ts`: replay from a resource version, 410 Gone after compaction, selector
 * transitions), patches of objects and of their `status` in the three patch types client-node sends
 * (`kube/patch.ts`), graceful pod deletion — and checks every object written against the Kubernetes schema
 * of its kind (`kube/store.ts`).
 *
 * Tests set the cluster's state with `kube.pods = [...]` (and `nodes`, `events`, `replicaSets`): watchers see what was
 * added, changed or removed. Objects pushed into those arrays or changed in place are seen by lists, but by
 * watches only once a later request adopts them: use the setters or the API for changes a watch must see.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Event, V1Node, V1OwnerReference, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { route } from './kube/routes.js';
import { Kind, type KubeObject, ObjectStore } from './kube/store.js';

export { matchesLabels } from './kube/selectors.js';

export interface FakeKube {
  nodes: V1Node[];
  pods: V1Pod[];
  events: CoreV1Event[];
  replicaSets: V1ReplicaSet[];
  /** Every request, `METHOD /path?query`, watches included. */
  requests: string[];
  kubeconfig: string;
  /** The API server's URL (http://127.0.0.1:PORT). */
  url: string;
  /** How many watch streams are open now. */
  readonly openWatches: number;
  /** Ends every open watch, as an API server restart does; clients resume from their resource version. */
  closeWatches(): void;
  /** Forgets the change history (etcd compaction): a watch resuming from before now gets 410 Gone. */
  compact(): void;
  /** Answers matching requests 500 (an API server in trouble) until called again with `undefined`. */
  failRequests(match: ((method: string, url: string) => boolean) | undefined): void;
  /** The kubelet's last word on a deleted pod: it is removed (watchers get DELETED). */
  finishDeletion(namespace: string, name: string): void;
  close(): Promise<void>;
}

export interface FakeKubeOptions {
  /** BOOKMARK interval for watches that allow them. */
  bookmarkMs?: number;
}

export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const dir = await mkdtemp(join(tmpdir(), 'snapback-kube-'));
  const store = new ObjectStore();
  const watches = new Set<() => void>();
  const requests: string[] = [];
  const ctx = { store, watches, bookmarkMs: options.bookmarkMs ?? 10_000 };
  let failing: ((method: string, url: string) => boolean) | undefined;
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url ?? '/'}`);
    if (failing?.(req.method ?? 'GET', req.url ?? '/')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code: 500,
          message: 'injected',
        }),
      );
      return;
    }
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => route(ctx, req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: tester, user: {token: fake-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: tester}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  const collection = (kind: Kind) => ({
    get: () => store.collections[kind],
    set: (list: KubeObject[]) => store.replaceAll(kind, list),
    enumerable: true,
  });
  const kube = {
    requests,
    kubeconfig,
    url,
    get openWatches() {
      return watches.size;
    },
    closeWatches() {
      for (const stop of [...watches]) stop();
    },
    compact: () => store.compact(),
    failRequests(match: ((method: string, url: string) => boolean) | undefined) {
      failing = match;
    },
    finishDeletion(namespace: string, name: string) {
      const pod = store.find(Kind.POD, namespace, name);
      if (pod !== undefined) store.remove(Kind.POD, pod);
    },
    async close() {
      kube.closeWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  Object.defineProperties(kube, {
    pods: collection(Kind.POD),
    nodes: collection(Kind.NODE),
    events: collection(Kind.EVENT),
    replicaSets: collection(Kind.REPLICA_SET),
  });
  return kube as unknown as FakeKube;
}

export function node(name: string, providerID: string): V1Node {
  return { metadata: { name }, spec: { providerID } };
}

export function pod(
  namespace: string,
  name: string,
  nodeName: string,
  options: {
    labels?: Record<string, string>;
    ip?: string;
    containers?: string[];
    annotations?: Record<string, string>;
    phase?: string;
    gracePeriodSeconds?: number;
    /** The controlling owner (`controller: true`), as a workload controller sets it. */
    owner?: { kind: string; name: string; apiVersion?: string };
  } = {},
): V1Pod {
  return {
    metadata: {
      namespace,
      name,
      uid: `uid-${namespace}-${name}`,
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      ...(options.owner ? { ownerReferences: [controllerRef(options.owner)] } : {}),
    },
    spec: {
      nodeName,
      containers: (options.containers ?? ['main']).map((c) => ({ name: c })),
      // The API server defaults it to 30 s; set here as it would be.
      terminationGracePeriodSeconds: options.gracePeriodSeconds ?? 30,
    },
    status: { phase: options.phase ?? 'Running', ...(options.ip ? { podIP: options.ip } : {}) },
  };
}

/** The agent pod of a node, as the DaemonSet runs it, pointing at an agent listening on loopback `address`. */
export function agentPod(name: string, nodeName: string, address: string): V1Pod {
  const p = pod('snapback-system', name, nodeName, {
    labels: { 'app.kubernetes.io/name': 'snapback-agent' },
    ip: '127.0.0.1',
  });
  p.spec!.containers[0]!.ports = [{ name: 'grpc', containerPort: Number(address.split(':')[1]) }];
  return p;
}

/** An ownerReference with `controller: true`, as workload controllers write them. */
export function controllerRef(owner: { kind: string; name: string; apiVersion?: string }): V1OwnerReference {
  return {
    apiVersion: owner.apiVersion ?? (owner.kind === 'Job' ? 'batch/v1' : 'apps/v1'),
    kind: owner.kind,
    name: owner.name,
    uid: `uid-${owner.kind.toLowerCase()}-${owner.name}`,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** A ReplicaSet, owned by a Deployment when `deployment` is given (as the Deployment controller makes them). */
export function replicaSet(namespace: string, name: string, deployment?: string): V1ReplicaSet {
  return {
    metadata: {
      namespace,
      name,
      uid: `uid-replicaset-${name}`,
      ...(deployment ? { ownerReferences: [controllerRef({ kind: 'Deployment', name: deployment })] } : {}),
    },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } } } },
  };
}
