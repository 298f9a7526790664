/**
 * Watches as the API server streams them (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
 * one HTTP 200 response of newline-delimited JSON `{type, object}` events. From `resourceVersion` N it replays
 * every change after N, then follows live; without one (or `0`) it starts with an ADDED for every current
 * object. A change that moves an object into or out of the watch's selectors is an ADDED or a DELETED, as
 * the API server's watch cache sends it. A resource version older than the compacted history gets an ERROR
 * event with the 410 Expired Status and the end of the stream (the client lists again). BOOKMARKs are sent
 * when asked for (`allowWatchBookmarks=true`), `timeoutSeconds` ends the stream.
 */
import type { ServerResponse } from 'node:http';
import { matchesLabels } from './selectors.js';
import {
  apiVersionOf,
  type Change,
  type ChangeType,
  type Kind,
  type KubeObject,
  type ObjectStore,
} from './store.js';

export interface WatchRequest {
  kind: Kind;
  namespace?: string;
  labelSelector: string | null;
  fields: (o: KubeObject) => boolean;
  resourceVersion: string | null;
  timeoutSeconds?: number;
  bookmarks: boolean;
}

export function statusOf(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Streams a watch until the client goes, the timeout passes or `stop` is called; returns that stop. */
export function serveWatch(
  store: ObjectStore,
  request: WatchRequest,
  res: ServerResponse,
  bookmarkMs: number,
) {
  const matches = (o: KubeObject | undefined) =>
    o !== undefined &&
    (request.namespace === undefined || o.metadata?.namespace === request.namespace) &&
    matchesLabels(o.metadata?.labels, request.labelSelector) &&
    request.fields(o);
  const typed = (o: KubeObject) => ({ ...o, kind: request.kind, apiVersion: apiVersionOf[request.kind] });
  const write = (type: ChangeType | 'ERROR' | 'BOOKMARK', object: unknown) =>
    res.write(`${JSON.stringify({ type, object })}\n`);
  const send = (change: Change) => {
    if (change.kind !== request.kind) return;
    const was = change.type !== 'ADDED' && matches(change.before);
    const is = change.type !== 'DELETED' && matches(change.object);
    if (is) write(was ? 'MODIFIED' : 'ADDED', typed(change.object));
    else if (was) write('DELETED', typed(change.object));
  };

  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  // The client's fetch resolves on the headers: send them before the first event, as the API server does.
  res.flushHeaders();
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = () => {};
  const stop = () => {
    unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  res.on('close', stop);

  const from = request.resourceVersion;
  if (from === null || from === '' || from === '0') {
    store.adopt(request.kind);
    for (const o of store.collections[request.kind]) if (matches(o)) write('ADDED', typed(o));
  } else {
    const changes = store.changesSince(Number(from));
    if (changes === 'expired') {
      write(
        'ERROR',
        statusOf(410, 'Expired', `too old resource version: ${from} (${store.resourceVersion})`),
      );
      stop();
      return stop;
    }
    for (const change of changes) send(change);
  }
  unsubscribe = store.onChange(send);
  if (request.timeoutSeconds !== undefined) timers.push(setTimeout(stop, request.timeoutSeconds * 1000));
  if (request.bookmarks) {
    const bookmark = () => {
      write('BOOKMARK', {
        kind: request.kind,
        apiVersion: apiVersionOf[request.kind],
        metadata: { resourceVersion: String(store.resourceVersion) },
      });
      timers.push(setTimeout(bookmark, bookmarkMs).unref());
    };
    timers.push(setTimeout(bookmark, bookmarkMs).unref());
  }
  return stop;
}
