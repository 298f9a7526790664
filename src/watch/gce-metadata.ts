/**
 * GCE: the metadata server (https://cloud.google.com/compute/docs/metadata/querying-metadata), every request
 * with `Metadata-Flavor: Google` and every answer carrying it back (else it is not the metadata server).
 * Each value is watched with a hanging GET: `?wait_for_change=true&last_etag=E&timeout_sec=N` answers
 * at once when the value's ETag is no longer E, else when it changes, else after N seconds; passing the
 * last ETag means a change between two requests is never missed.
 * - `instance/preempted`: `TRUE` once the VM is being preempted, 30 s before it stops
 *   (https://cloud.google.com/compute/docs/instances/spot#preemption);
 * - `instance/maintenance-event`: `TERMINATE_ON_HOST_MAINTENANCE` when host maintenance will stop the VM
 *   (VMs that cannot live-migrate, such as GPU VMs), changed at least 60 s before it starts
 *   (https://cloud.google.com/compute/docs/metadata/getting-live-migration-notice);
 *   `MIGRATE_ON_HOST_MAINTENANCE` keeps memory and is not a notice.
 * A notice is keyed by the value's ETag; when the value goes back (`FALSE`, `NONE`) the keys are forgotten,
 * so a VM preempted, restarted and preempted again is noticed twice.
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import { Urgency } from '../events/notices/notice.js';
import type { Logger } from '../log.js';
import { expectStatus, isStop, metadataRequest } from './metadata-http.js';
import { Cloud, type NoticeSink, type NoticeSource } from './notice.js';
import { idle } from './poll-loop.js';

export const METADATA_FLAVOR = 'Metadata-Flavor';
export const GcePath = {
  ID: '/computeMetadata/v1/instance/id',
  PREEMPTED: '/computeMetadata/v1/instance/preempted',
  MAINTENANCE_EVENT: '/computeMetadata/v1/instance/maintenance-event',
} as const;
export const GCE_PREEMPTION_MS = 30_000;
export const GCE_MAINTENANCE_MS = 60_000;

export interface GceMetadataOptions {
  endpoint: string;
  /** `timeout_sec` of each hanging GET. */
  waitSeconds: number;
  requestTimeoutMs: number;
  /** Pause after a failed request. */
  retryDelayMs: number;
  log: Logger;
}

interface Value {
  value: string;
  etag: string;
}

/** GET a value, waiting for it to differ from `lastEtag` when one is given. */
export async function gceGet(
  options: GceMetadataOptions,
  path: string,
  lastEtag: string | undefined,
  signal: AbortSignal,
): Promise<Value> {
  const url = new URL(path, options.endpoint);
  if (lastEtag !== undefined) {
    url.search = new URLSearchParams({
      wait_for_change: 'true',
      last_etag: lastEtag,
      timeout_sec: String(options.waitSeconds),
    }).toString();
  }
  const response = await metadataRequest(url.toString(), {
    headers: { [METADATA_FLAVOR]: 'Google' },
    timeoutMs:
      lastEtag === undefined
        ? options.requestTimeoutMs
        : options.waitSeconds * 1000 + options.requestTimeoutMs,
    signal,
  });
  expectStatus(path, response, 200);
  if (response.headers.get(METADATA_FLAVOR) !== 'Google') {
    throw new SnapbackError(ErrorCode.UNAVAILABLE, `${path}: the answer lacks ${METADATA_FLAVOR}: Google`);
  }
  return { value: response.text.trim(), etag: response.headers.get('etag') ?? '' };
}

/** Calls `changed` with the value now, then with every change, until `signal` aborts. */
async function watchValue(
  options: GceMetadataOptions,
  path: string,
  signal: AbortSignal,
  changed: (value: Value) => Promise<void>,
): Promise<void> {
  let last: string | undefined;
  let failing = false;
  while (!signal.aborted) {
    try {
      const current = await gceGet(options, path, last, signal);
      if (failing) options.log.info({ path }, 'metadata server answers again');
      failing = false;
      if (current.etag !== last) await changed(current);
      last = current.etag;
    } catch (err) {
      if (isStop(err, signal)) return;
      if (!failing) options.log.warn({ err, path }, 'metadata request failed; retrying');
      failing = true;
      last = undefined; // start again from a plain GET
      await idle(options.retryDelayMs, signal);
    }
  }
}

export function createGceMetadataSource(options: GceMetadataOptions): NoticeSource {
  const preempted =
    (sink: NoticeSink) =>
    async ({ value, etag }: Value) => {
      if (value !== 'TRUE') return sink.over('gce/preempted/');
      await sink.found({
        key: `gce/preempted/${etag}`,
        cloud: Cloud.GCE,
        urgency: Urgency.IMMINENT,
        deadline: new Date(Date.now() + GCE_PREEMPTION_MS),
        reason: 'GCE instance/preempted is TRUE (metadata server)',
      });
    };
  const maintenance =
    (sink: NoticeSink) =>
    async ({ value, etag }: Value) => {
      if (value === 'NONE') return sink.over('gce/maintenance/');
      if (!value.startsWith('TERMINATE')) {
        options.log.info(
          { maintenanceEvent: value },
          'host maintenance that keeps the VM running: no notice',
        );
        return;
      }
      await sink.found({
        key: `gce/maintenance/${value}/${etag}`,
        cloud: Cloud.GCE,
        urgency: Urgency.IMMINENT,
        deadline: new Date(Date.now() + GCE_MAINTENANCE_MS),
        reason: `GCE instance/maintenance-event is ${value} (metadata server)`,
      });
    };
  return {
    cloud: Cloud.GCE,
    async run(sink, signal) {
      await Promise.all([
        watchValue(options, GcePath.PREEMPTED, signal, preempted(sink)),
        watchValue(options, GcePath.MAINTENANCE_EVENT, signal, maintenance(sink)),
      ]);
    },
  };
}
