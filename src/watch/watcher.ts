/**
 * `snapback watch`: one watcher per node (a container of the agent DaemonSet). It finds out which cloud it
 * runs in (or is told), watches that cloud's own notices for this node, and sends each, once, as an
 * `io.snapback.preemption.noticed` CloudEvent to K_SINK (the broker). "Once" holds across restarts: a
 * notice is recorded durably as soon as the sink accepted it, and a recorded notice is never sent again.
 * Azure events can be approved early (`--azure-approve-via` the preemption function): the notice goes to
 * the function itself, whose answer comes when the node's checkpoints are done; then StartRequests.
 * With no metadata server answering, the watcher says so once and idles until it is stopped.
 */
import type { Logger } from '../log.js';
import { checkpointsDone } from './approval.js';
import { createAwsImdsSource } from './aws-imds.js';
import { createAzureScheduledEventsSource } from './azure-scheduled-events.js';
import { deliver } from './deliver.js';
import { detectCloud, type Endpoints } from './detect.js';
import { createGceMetadataSource } from './gce-metadata.js';
import { isStop } from './metadata-http.js';
import { Cloud, type NoticeSource, noticeEvent, type WatchedNotice } from './notice.js';
import { untilAborted } from './poll-loop.js';
import { SentNotices } from './sent-notices.js';

export interface WatcherOptions {
  node: string;
  /** Where notices go (K_SINK: the broker). */
  sink: string;
  cloud: Cloud | 'auto';
  stateDir: string;
  endpoints: Endpoints;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  detectTimeoutMs: number;
  gceWaitSeconds: number;
  /** The preemption function's URL: Azure notices go there, and are approved once it answers "done". */
  azureApproveVia?: string;
  /** Per request to `azureApproveVia` when a notice has no deadline. */
  defaultBudgetMs?: number;
  log: Logger;
}

/** The notice source of a cloud, configured from the watcher's options. */
export function sourceFor(cloud: Cloud, options: WatcherOptions): NoticeSource {
  const common = {
    pollIntervalMs: options.pollIntervalMs,
    requestTimeoutMs: options.requestTimeoutMs,
    log: options.log.child({ cloud }),
  };
  switch (cloud) {
    case Cloud.AWS:
      return createAwsImdsSource({ ...common, endpoint: options.endpoints.aws });
    case Cloud.GCE:
      return createGceMetadataSource({
        ...common,
        endpoint: options.endpoints.gce,
        waitSeconds: options.gceWaitSeconds,
        retryDelayMs: options.pollIntervalMs,
      });
    case Cloud.AZURE:
      return createAzureScheduledEventsSource({ ...common, endpoint: options.endpoints.azure });
  }
}

/** Runs until `signal` aborts. */
export async function runWatcher(options: WatcherOptions, signal: AbortSignal): Promise<void> {
  const { log } = options;
  const sent = await SentNotices.open(options.stateDir, log);
  const cloud =
    options.cloud === 'auto'
      ? await detectCloud(options.endpoints, options.detectTimeoutMs, log, signal)
      : options.cloud;
  if (signal.aborted) return;
  if (cloud === undefined) {
    log.warn(
      { endpoints: options.endpoints },
      'no cloud metadata server answered (AWS IMDS, GCE metadata, Azure IMDS): nothing to watch on this node; idling',
    );
    return untilAborted(signal);
  }
  log.info({ cloud, node: options.node, sink: options.sink, remembered: sent.size }, 'watching for notices');
  const inFlight = new Set<string>();
  const handle = async (notice: WatchedNotice) => {
    if (sent.has(notice.key) || inFlight.has(notice.key)) return;
    inFlight.add(notice.key);
    try {
      await send(notice, options, sent, signal);
    } finally {
      inFlight.delete(notice.key);
    }
  };
  await sourceFor(cloud, options).run({ found: handle, over: (prefix) => sent.forget(prefix) }, signal);
}

async function send(notice: WatchedNotice, options: WatcherOptions, sent: SentNotices, signal: AbortSignal) {
  const log = options.log.child({ notice: notice.key });
  const event = noticeEvent(notice, options.node, new Date());
  const until = notice.deadline;
  log.info({ deadline: until, urgency: notice.urgency, reason: notice.reason, id: event.id }, 'notice found');
  try {
    if (notice.approve !== undefined && options.azureApproveVia !== undefined) {
      const approved = await sendForApproval(notice, event, options, signal, log);
      if (approved !== 'not-delivered') {
        await sent.record(notice.key, new Date());
        if (approved === 'approve') await approve(notice, signal, log);
        return;
      }
    }
    await deliver(event, {
      url: options.sink,
      timeoutMs: options.requestTimeoutMs,
      log,
      signal,
      ...(until ? { until } : {}),
    });
    await sent.record(notice.key, new Date());
    log.info({ sink: options.sink }, 'notice sent');
  } catch (err) {
    if (isStop(err, signal)) throw err;
    // Refused, or the deadline passed: sending it again on every poll would not help either.
    log.error({ err }, 'notice not delivered; giving it up');
    await sent.record(notice.key, new Date());
  }
}

/** Posts to the preemption function and reads its answer: approve, hold (not done), or not delivered. */
async function sendForApproval(
  notice: WatchedNotice,
  event: ReturnType<typeof noticeEvent>,
  options: WatcherOptions,
  signal: AbortSignal,
  log: Logger,
): Promise<'approve' | 'hold' | 'not-delivered'> {
  const budget =
    (notice.deadline?.getTime() ?? Date.now() + (options.defaultBudgetMs ?? 600_000)) - Date.now();
  try {
    const reply = await deliver(event, {
      url: options.azureApproveVia!,
      attempts: 2,
      timeoutMs: Math.max(budget, 0) + options.requestTimeoutMs,
      log,
      signal,
      ...(notice.deadline ? { until: notice.deadline } : {}),
    });
    const verdict = checkpointsDone(reply);
    log.info({ via: options.azureApproveVia, ...verdict }, 'the preemption function answered');
    return verdict.done ? 'approve' : 'hold';
  } catch (err) {
    if (isStop(err, signal)) throw err;
    log.warn(
      { err, via: options.azureApproveVia },
      'the preemption function did not answer; sending to the sink, no approval',
    );
    return 'not-delivered';
  }
}

async function approve(notice: WatchedNotice, signal: AbortSignal, log: Logger) {
  try {
    await notice.approve!(signal);
    log.info('event approved (StartRequests): the cloud may go ahead before NotBefore');
  } catch (err) {
    if (isStop(err, signal)) throw err;
    log.warn({ err }, 'approval failed; the event starts at its NotBefore');
  }
}
