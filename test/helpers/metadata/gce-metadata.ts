/**
 * A loopback stand-in for the Compute Engine metadata server, following its documented contract
 * (https://cloud.google.com/compute/docs/metadata/querying-metadata): requests without
 * `Metadata-Flavor: Google` (or with `X-Forwarded-For`) are 403; answers carry `Metadata-Flavor: Google`
 * and an ETag (a hash of the value: the same value has the same ETag); `?wait_for_change=true` hangs
 * until the value changes — at once when `last_etag` differs from the current ETag — or until
 * `timeout_sec`, then answers the current value.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { reply, type Stub, startStub } from './http-stub.js';

export interface FakeGceMetadata extends Stub {
  /** Sets a value (path under /computeMetadata/v1/), answering every hanging GET on it. */
  set(path: string, value: string): void;
  /** Hanging GETs waiting now. */
  hanging(): number;
}

const etagOf = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);

export async function startFakeGceMetadata(): Promise<FakeGceMetadata> {
  const values = new Map<string, string>([
    ['instance/id', '4567890123456789012'],
    ['instance/preempted', 'FALSE'],
    ['instance/maintenance-event', 'NONE'],
  ]);
  const waiters = new Map<string, Set<ServerResponse>>();
  const answer = (res: ServerResponse, value: string) =>
    reply(res, 200, value, {
      'Metadata-Flavor': 'Google',
      ETag: etagOf(value),
      'content-type': 'application/text',
    });

  const stub = await startStub((req, url, _body, res) => {
    if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'] !== undefined) {
      return reply(res, 403, 'Missing Metadata-Flavor:Google header.');
    }
    const path = url.pathname.replace(/^\/computeMetadata\/v1\//, '');
    const value = values.get(path);
    if (!url.pathname.startsWith('/computeMetadata/v1/') || value === undefined)
      return reply(res, 404, 'Not Found');
    if (url.searchParams.get('wait_for_change') !== 'true') return answer(res, value);
    const last = url.searchParams.get('last_etag');
    if (last !== null && last !== etagOf(value)) return answer(res, value);
    const set = waiters.get(path) ?? new Set();
    waiters.set(path, set);
    set.add(res);
    const timeout = Number(url.searchParams.get('timeout_sec') ?? 0);
    const timer =
      timeout > 0
        ? setTimeout(() => {
            set.delete(res);
            answer(res, values.get(path)!);
          }, timeout * 1000)
        : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      set.delete(res);
    });
  });
  return Object.assign(stub, {
    set(path: string, value: string) {
      values.set(path, value);
      for (const res of waiters.get(path) ?? []) answer(res, value);
      waiters.get(path)?.clear();
    },
    hanging: () => [...waiters.values()].reduce((n, s) => n + s.size, 0),
  });
}
