/**
 * The preStop relay (`snapback prestop`), a sidecar of an opted-in pod: the kubelet runs the workload
 * container's `preStop` httpGet hook against the pod's own IP (an httpGet handler's `host` defaults to it;
 * the kubelet, not the pod, makes the request, and resolves no Service names), so something in the pod must
 * answer it. The relay knows its pod from the downward API and asks the preemption function for that pod's
 * checkpoint (`POST …/prestop?namespace=…&pod=…`), answering the kubelet only when the function has, with the
 * function's status and body. Whatever it asks, it asks for its own pod: a caller picks the container at most.
 * https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/#hook-handler-execution
 * Without `listen` it asks once and exits: the same request, for an exec hook where the workload image can
 * run `snapback`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { Logger } from '../log.js';

export interface PreStopRequest {
  /** The function's preStop endpoint, e.g. http://snapback-preemption.snapback.svc.cluster.local/prestop. */
  to: string;
  namespace: string;
  pod: string;
  container?: string;
  /** How long to wait for the function (the kubelet stops waiting at the end of the grace period anyway). */
  timeoutMs: number;
}

export interface PreStopAnswer {
  status: number;
  /** The function's JSON answer, as text. */
  body: string;
}

/** Asks the function for the pod's checkpoint; resolves with its answer once it has one. */
export async function askForCheckpoint(
  target: PreStopRequest,
  container = target.container,
): Promise<PreStopAnswer> {
  const url = new URL(target.to);
  url.searchParams.set('namespace', target.namespace);
  url.searchParams.set('pod', target.pod);
  if (container !== undefined) url.searchParams.set('container', container);
  try {
    const response = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(target.timeoutMs) });
    return { status: response.status, body: await response.text() };
  } catch (err) {
    throw new SnapbackError(
      ErrorCode.UNAVAILABLE,
      `cannot reach the preStop endpoint ${url.origin}${url.pathname}`,
      {
        cause: err,
        phase: 'prestop',
      },
    );
  }
}

export interface PreStopRelay {
  server: Server;
  port: number;
  close(): Promise<void>;
}

const CONTAINER = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Serves `GET /prestop[?container=NAME]` (the hook) and `GET /healthz` (the sidecar's probes). */
export async function startPreStopRelay(
  target: PreStopRequest,
  listen: { host: string; port: number },
  log: Logger,
): Promise<PreStopRelay> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    const answer = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (url.pathname === '/healthz') return answer(200, '{"status":"ok"}');
    if (url.pathname !== '/prestop' || (req.method !== 'GET' && req.method !== 'POST')) {
      return answer(
        404,
        JSON.stringify({ error: { code: 'NOT_FOUND', message: 'GET /prestop or /healthz' } }),
      );
    }
    const container = url.searchParams.get('container') ?? undefined;
    if (container !== undefined && !CONTAINER.test(container)) {
      const message = 'must be a DNS-1123 label';
      return answer(
        400,
        JSON.stringify({
          error: { code: 'INVALID_ARGUMENT', message, details: [{ field: 'query.container', message }] },
        }),
      );
    }
    const started = Date.now();
    log.info(
      { pod: `${target.namespace}/${target.pod}`, container },
      'preStop hook: asking for a checkpoint',
    );
    askForCheckpoint(target, container ?? target.container).then(
      ({ status, body }) => {
        log.info({ status, ms: Date.now() - started }, 'preStop hook answered');
        answer(status, body);
      },
      (err: unknown) => {
        const error = SnapbackError.from(err);
        log.warn({ err: error }, 'preStop hook failed');
        answer(503, JSON.stringify({ error: { code: error.code, message: error.message } }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    // A hook in flight is answered first: server.close waits for it.
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
