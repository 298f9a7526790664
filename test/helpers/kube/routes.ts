/**
 * The loopback API server's routes for nodes, pods and events (core/v1) and ReplicaSets (apps/v1): list (with label and field
 * selectors, and the list's resourceVersion), watch, get, create, patch (the object or its `status`
 * subresource) and delete — a pod's delete is graceful, as the API server's: it sets `deletionTimestamp` to
 * now + the grace period and leaves removal to the kubelet (`finishDeletion`), unless the grace is 0.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyPatch } from './patch.js';
import { fieldFilter, matchesLabels } from './selectors.js';
import { apiVersionOf, Kind, KubeApiError, type KubeObject, type ObjectStore } from './store.js';
import { serveWatch, statusOf } from './watch.js';

/** Each resource under its group's prefix: `/api/v1` (core) or `/apis/<group>/<version>`. */
const kinds: Readonly<Record<string, Kind>> = {
  'api/v1/pods': Kind.POD,
  'api/v1/nodes': Kind.NODE,
  'api/v1/events': Kind.EVENT,
  'apis/apps/v1/replicasets': Kind.REPLICA_SET,
};
const PATH = /^\/(api\/v1|apis\/apps\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(status))?$/;

export interface RouteContext {
  store: ObjectStore;
  /** Open watches, so that a test can end them all (as an API server restart does). */
  watches: Set<() => void>;
  bookmarkMs: number;
}

function send(res: ServerResponse, status: number, body: unknown): undefined {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return undefined;
}

/** RFC 3339 in seconds, as the API server writes timestamps. */
const timestamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function parseBody(body: string): unknown {
  try {
    return body === '' ? {} : JSON.parse(body);
  } catch {
    throw new KubeApiError(400, 'the request body is not JSON', 'BadRequest');
  }
}

/** A patched object with only what the (sub)resource may change; identity and resourceVersion checked. */
function patched(kind: Kind, before: KubeObject, patch: unknown, type: string | undefined, sub?: string) {
  const after = applyPatch(type, structuredClone(before), patch) as KubeObject;
  const meta = after.metadata ?? {};
  const rv = meta.resourceVersion;
  if (rv !== undefined && rv !== before.metadata?.resourceVersion) {
    throw new KubeApiError(409, `the object has been modified; resourceVersion ${rv} is stale`, 'Conflict');
  }
  for (const field of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp'] as const) {
    if (meta[field] !== before.metadata?.[field])
      throw new KubeApiError(422, `metadata.${field}: field is immutable`);
  }
  if (kind === Kind.EVENT) return after;
  // The status subresource changes the status only; the object itself never its status.
  return sub === 'status' ? { ...before, status: after['status'] } : { ...after, status: before['status'] };
}

function gracefulDelete(store: ObjectStore, pod: KubeObject, options: unknown, query: URLSearchParams) {
  const fromBody = (options as { gracePeriodSeconds?: unknown } | null)?.gracePeriodSeconds;
  const fromQuery = query.get('gracePeriodSeconds');
  const spec = pod['spec'] as { nodeName?: string; terminationGracePeriodSeconds?: number } | undefined;
  const grace =
    typeof fromBody === 'number'
      ? fromBody
      : fromQuery !== null
        ? Number(fromQuery)
        : (spec?.terminationGracePeriodSeconds ?? 30);
  // An unscheduled pod has no kubelet to stop it: the API server deletes it at once.
  if (grace <= 0 || !spec?.nodeName) {
    store.remove(Kind.POD, pod);
    return pod;
  }
  const at = Date.now() + grace * 1000;
  const current = pod.metadata?.deletionTimestamp
    ? Date.parse(pod.metadata.deletionTimestamp)
    : Number.POSITIVE_INFINITY;
  if (current <= at) return pod; // a deletion is never pushed later
  return store.update(Kind.POD, pod, {
    ...pod,
    metadata: { ...pod.metadata, deletionTimestamp: timestamp(at), deletionGracePeriodSeconds: grace },
  });
}

function handle(
  ctx: RouteContext,
  req: IncomingMessage,
  url: URL,
  body: string,
  res: ServerResponse,
): undefined {
  const match = PATH.exec(url.pathname);
  const [, prefix, namespace, resource, name, sub] = match ?? [];
  const kind = kinds[`${prefix}/${resource}`];
  if (kind === undefined) throw new KubeApiError(404, `no route ${req.method} ${url.pathname}`, 'NotFound');
  if (kind === Kind.NODE && namespace !== undefined)
    throw new KubeApiError(404, 'nodes are not namespaced', 'NotFound');
  const { store } = ctx;
  const query = url.searchParams;
  if (name === undefined) {
    if (req.method === 'POST' && namespace !== undefined) {
      const object = parseBody(body) as KubeObject;
      object.metadata = { ...object.metadata, namespace };
      return send(res, 201, store.create(kind, object));
    }
    if (req.method !== 'GET')
      throw new KubeApiError(405, `${req.method} is not allowed here`, 'MethodNotAllowed');
    const fields = fieldFilter(kind, query.get('fieldSelector'));
    if (typeof fields === 'string') throw new KubeApiError(400, fields, 'BadRequest');
    const labelSelector = query.get('labelSelector');
    if (query.get('watch') === 'true' || query.get('watch') === '1') {
      const timeout = query.get('timeoutSeconds');
      const stop = serveWatch(
        store,
        {
          kind,
          ...(namespace === undefined ? {} : { namespace }),
          labelSelector,
          fields,
          resourceVersion: query.get('resourceVersion'),
          ...(timeout === null ? {} : { timeoutSeconds: Number(timeout) }),
          bookmarks: query.get('allowWatchBookmarks') === 'true',
        },
        res,
        ctx.bookmarkMs,
      );
      ctx.watches.add(stop);
      res.on('close', () => ctx.watches.delete(stop));
      return undefined;
    }
    store.adopt(kind);
    const items = store.collections[kind].filter(
      (o) =>
        (namespace === undefined || o.metadata?.namespace === namespace) &&
        matchesLabels(o.metadata?.labels, labelSelector) &&
        fields(o),
    );
    return send(res, 200, {
      kind: `${kind}List`,
      apiVersion: apiVersionOf[kind],
      metadata: { resourceVersion: String(store.resourceVersion) },
      items,
    });
  }
  const object = store.find(kind, namespace, name);
  if (object === undefined) throw new KubeApiError(404, `${resource} "${name}" not found`, 'NotFound');
  const typed = (o: KubeObject) => ({ kind, apiVersion: apiVersionOf[kind], ...o });
  if (req.method === 'GET') return send(res, 200, typed(object));
  if (req.method === 'PATCH') {
    const after = patched(kind, object, parseBody(body), req.headers['content-type'], sub);
    return send(res, 200, typed(store.update(kind, object, after)));
  }
  if (req.method === 'DELETE' && sub === undefined) {
    if (kind === Kind.POD) return send(res, 200, gracefulDelete(store, object, parseBody(body), query));
    store.remove(kind, object);
    return send(res, 200, object);
  }
  throw new KubeApiError(405, `${req.method} is not allowed here`, 'MethodNotAllowed');
}

/** Serves one request; API errors become Status answers, as the API server sends them. */
export function route(ctx: RouteContext, req: IncomingMessage, body: string, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    handle(ctx, req, url, body, res);
  } catch (err) {
    if (!(err instanceof KubeApiError)) throw err;
    send(res, err.code, statusOf(err.code, err.reason, err.message));
  }
}
