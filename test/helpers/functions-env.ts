/** Brings up the functions app against a fake Kubernetes API and fake agents, all on loopback. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { functions } from '../../functions/index.js';
import { createAgentDispatcher } from '../../src/dispatch/agent-dispatcher.js';
import { createInformerResolver } from '../../src/dispatch/informer-resolver.js';
import { startKubeCache } from '../../src/dispatch/kube-cache.js';
import { createKubeResolver } from '../../src/dispatch/kube-resolver.js';
import { createKubePodWriter } from '../../src/dispatch/pod-status.js';
import { createKubeRecorder } from '../../src/dispatch/recorder.js';
import { createReplicaSetCache } from '../../src/dispatch/replica-sets.js';
import type { FunctionsAppDeps } from '../../src/http/app.js';
import { type FunctionsServer, startFunctionsServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import type { FakeKube } from './fake-kube.js';

export interface Sink {
  url: string;
  received: Array<{ headers: IncomingHttpHeaders; body: unknown }>;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const received: Sink['received'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body: body ? JSON.parse(body) : undefined });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The functions in cluster mode against the loopback API server, resolving as `snapback function` does:
 * from informers' caches (`resolution: 'informers'`, the default), or with a request per question (`'list'`).
 */
export async function startClusterFunctions(
  kube: FakeKube,
  extra: Partial<FunctionsAppDeps> & { resolution?: 'informers' | 'list' } = {},
): Promise<FunctionsServer & { url: string }> {
  const { resolution = 'informers', ...deps } = extra;
  const kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const api = kc.makeApiClient(CoreV1Api);
  const log = silentLogger();
  const cache = resolution === 'informers' ? await startKubeCache(kc, api, { log }) : undefined;
  const options = { replicaSets: createReplicaSetCache(kc.makeApiClient(AppsV1Api)) };
  const server = await startFunctionsServer(
    {
      functions,
      serve: 'all',
      resolver:
        cache === undefined ? createKubeResolver(api, options) : createInformerResolver(api, cache, options),
      agents: createAgentDispatcher(),
      recorder: createKubeRecorder(api, log),
      pods: createKubePodWriter(api),
      log,
      ...deps,
    },
    0,
    '127.0.0.1',
  );
  return {
    ...server,
    url: `http://127.0.0.1:${server.port}`,
    close: async () => {
      await server.close();
      await cache?.stop();
    },
  };
}

/** Posts one event in binary mode. */
export async function postBinary(
  url: string,
  attrs: Record<string, string>,
  data: unknown,
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(attrs)) headers[`ce-${k}`] = v;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(data) });
}
