/**
 * Azure: Scheduled Events from the Instance Metadata Service
 * (https://learn.microsoft.com/azure/virtual-machines/linux/scheduled-events), every request with header
 * `Metadata: true`. The document `{DocumentIncarnation, Events[]}` is polled (there is no waiting GET) and
 * read again only when its DocumentIncarnation changes. Events go to every VM of an availability set or
 * scale-set placement group, so only `Preempt` and `Terminate` events whose `Resources` name this VM (from
 * `instance/compute/name`) are notices, keyed by their EventId. Approving one (POST `{"StartRequests":
 * [{"EventId"}]}`) lets Azure go ahead before NotBefore; the watcher does it only once the node's
 * checkpoints are done, and only when configured to.
 * The first request may take up to two minutes while the service turns Scheduled Events on for the VM.
 */
import { deadlineOf, isEndingEvent, type ScheduledEventsDocument } from '../events/notices/azure.js';
import { Urgency } from '../events/notices/notice.js';
import type { Logger } from '../log.js';
import { expectStatus, metadataRequest } from './metadata-http.js';
import { Cloud, type NoticeSink, type NoticeSource } from './notice.js';
import { pollLoop } from './poll-loop.js';

export const AzurePath = {
  VM_NAME: '/metadata/instance/compute/name?api-version=2021-02-01&format=text',
  SCHEDULED_EVENTS: '/metadata/scheduledevents?api-version=2020-07-01',
} as const;
/** How long the first Scheduled Events request may take (the service is being turned on). */
export const FIRST_CALL_TIMEOUT_MS = 150_000;

export interface AzureScheduledEventsOptions {
  endpoint: string;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  /** Overrides FIRST_CALL_TIMEOUT_MS (tests). */
  firstCallTimeoutMs?: number;
  log: Logger;
}

const headers = { Metadata: 'true' };

export function createAzureScheduledEventsSource(options: AzureScheduledEventsOptions): NoticeSource {
  const url = (path: string) => new URL(path, options.endpoint).toString();
  let vmName: string | undefined;
  let incarnation: number | undefined;
  let answered = false;

  const approve = (eventId: string) => async (signal: AbortSignal) => {
    const response = await metadataRequest(url(AzurePath.SCHEDULED_EVENTS), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ StartRequests: [{ EventId: eventId }] }),
      timeoutMs: options.requestTimeoutMs,
      signal,
    });
    expectStatus('scheduledevents StartRequests', response, 200);
  };

  const poll = async (sink: NoticeSink, signal: AbortSignal) => {
    if (vmName === undefined) {
      const name = await metadataRequest(url(AzurePath.VM_NAME), {
        headers,
        timeoutMs: options.requestTimeoutMs,
        signal,
      });
      expectStatus('instance/compute/name', name, 200);
      vmName = name.text.trim();
      options.log.info({ vmName }, 'watching Azure Scheduled Events for this VM');
    }
    const response = await metadataRequest(url(AzurePath.SCHEDULED_EVENTS), {
      headers,
      timeoutMs: answered ? options.requestTimeoutMs : (options.firstCallTimeoutMs ?? FIRST_CALL_TIMEOUT_MS),
      signal,
    });
    expectStatus('scheduledevents', response, 200);
    answered = true;
    const document = JSON.parse(response.text) as ScheduledEventsDocument;
    if (!Array.isArray(document.Events) || document.DocumentIncarnation === incarnation) return;
    const mine = document.Events.filter(
      (e) => isEndingEvent(e) && e.Resources?.some((r) => r.toLowerCase() === vmName!.toLowerCase()),
    );
    for (const event of mine) {
      await sink.found({
        key: `azure/${event.EventId}`,
        cloud: Cloud.AZURE,
        urgency: Urgency.IMMINENT,
        deadline: deadlineOf(event, new Date()),
        reason: `Azure Scheduled Event ${event.EventType} ${event.EventId} for ${vmName} (instance metadata)`,
        approve: approve(event.EventId),
      });
    }
    // Read again only when it changes; set last, so a failed delivery is retried on the next poll.
    incarnation = document.DocumentIncarnation;
  };

  return {
    cloud: Cloud.AZURE,
    run: (sink, signal) =>
      pollLoop(
        { intervalMs: options.pollIntervalMs, log: options.log, what: 'Azure Scheduled Events' },
        signal,
        () => poll(sink, signal),
      ),
  };
}
