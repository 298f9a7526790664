/**
 * A Kubernetes API server stand-in on node:http (127.0.0.1:0): serves nodes and pods, applying label and
 * field selectors as the real API server does (unsupported pod field labels are a 400), and accepts
 * Events. Driven by the real @kubernetes/client-node through a kubeconfig file the test writes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';

export interface FakeKube {
  nodes: V1Node[];
  pods: V1Pod[];
  events: CoreV1Event[];
  requests: string[];
  kubeconfig: string;
  close(): Promise<void>;
}

/** `a=b,c!=d,e,!f` (equality-based selectors; set-based ones are not needed here). */
export function matchesLabels(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    const ne = /^([^!=]+)!=(.*)$/.exec(t);
    if (ne) return l[ne[1]!] !== ne[2];
    const eq = /^([^!=]+)==?(.*)$/.exec(t);
    if (eq) return l[eq[1]!] === eq[2];
    if (t.startsWith('!')) return !(t.slice(1) in l);
    return t in l;
  });
}

const podFields: Record<string, (p: V1Pod) => string | undefined> = {
  'metadata.name': (p) => p.metadata?.name,
  'metadata.namespace': (p) => p.metadata?.namespace,
  'spec.nodeName': (p) => p.spec?.nodeName ?? '',
  'status.phase': (p) => p.status?.phase,
  'status.podIP': (p) => p.status?.podIP,
};

function podFieldFilter(selector: string | null): ((p: V1Pod) => boolean) | string {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim()));
  for (const term of terms) {
    if (!term || podFields[term[1]!] === undefined)
      return `field label not supported: ${term?.[1] ?? selector}`;
  }
  return (p) => terms.every((t) => (podFields[t![1]!]!(p) === t![3]) === (t![2] !== '!='));
}

function send(res: ServerResponse, status: number, body: unknown): undefined {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return undefined;
}

const status = (code: number, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message,
  code,
});

function route(kube: FakeKube, req: IncomingMessage, body: string, res: ServerResponse): undefined {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  kube.requests.push(`${req.method} ${path}${url.search}`);
  const labels = url.searchParams.get('labelSelector');
  if (req.method === 'GET' && path === '/api/v1/nodes') {
    return send(res, 200, {
      kind: 'NodeList',
      apiVersion: 'v1',
      metadata: {},
      items: kube.nodes.filter((n) => matchesLabels(n.metadata?.labels, labels)),
    });
  }
  const list = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/.exec(path);
  if (req.method === 'GET' && list) {
    const fields = podFieldFilter(url.searchParams.get('fieldSelector'));
    if (typeof fields === 'string') return send(res, 400, status(400, fields));
    const items = kube.pods.filter(
      (p) =>
        (!list[1] || p.metadata?.namespace === list[1]) &&
        matchesLabels(p.metadata?.labels, labels) &&
        fields(p),
    );
    return send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items });
  }
  const one = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && one) {
    const pod = kube.pods.find((p) => p.metadata?.namespace === one[1] && p.metadata?.name === one[2]);
    return pod
      ? send(res, 200, { kind: 'Pod', apiVersion: 'v1', ...pod })
      : send(res, 404, status(404, `pods "${one[2]}" not found`));
  }
  const events = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path);
  if (req.method === 'POST' && events) {
    const event = JSON.parse(body) as CoreV1Event;
    const created = {
      ...event,
      metadata: { ...event.metadata, name: `${event.metadata?.generateName ?? 'e.'}${kube.events.length}` },
    };
    kube.events.push(created);
    return send(res, 201, created);
  }
  return send(res, 404, status(404, `no route ${req.method} ${path}`));
}

export async function startFakeKube(): Promise<FakeKube> {
  const dir = await mkdtemp(join(tmpdir(), 'snapback-kube-'));
  const kube: FakeKube = {
    nodes: [],
    pods: [],
    events: [],
    requests: [],
    kubeconfig: join(dir, 'kubeconfig'),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => route(kube, req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await writeFile(
    kube.kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: fake, cluster: {server: "http://127.0.0.1:' +
        port +
        '", insecure-skip-tls-verify: true}}]',
      'users: [{name: tester, user: {token: fake-token}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: tester}}]',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  kube.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  return kube;
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
  } = {},
): V1Pod {
  return {
    metadata: {
      namespace,
      name,
      uid: `uid-${namespace}-${name}`,
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
    },
    spec: { nodeName, containers: (options.containers ?? ['main']).map((c) => ({ name: c })) },
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
