/**
 * What a node watcher finds in its cloud's metadata service, and the CloudEvent it becomes: an
 * `io.snapback.preemption.noticed` naming this node, a format the preemption function already reads.
 * The event's `id` derives from the node and the notice's identity, so a notice sent twice (a watcher that
 * died between the broker's answer and its own record) is the same request to the functions, whose
 * idempotency and derived checkpoint ids make it one checkpoint per pod.
 */
import { CloudEvent } from 'cloudevents';
import type { Urgency } from '../events/notices/notice.js';
import { EventType, type PreemptionNoticedData } from '../events/types.js';
import { digestOf } from '../ids.js';

export const Cloud = { AWS: 'aws', GCE: 'gce', AZURE: 'azure' } as const;
export type Cloud = (typeof Cloud)[keyof typeof Cloud];
export const clouds: readonly Cloud[] = Object.values(Cloud);

/** The type the watcher emits (a Trigger must route it to the preemption function: manifests check). */
export const WATCH_EVENT_TYPE = EventType.PREEMPTION_NOTICED;

export interface WatchedNotice {
  /** Its identity across polls and restarts: cloud, kind and the cloud's own id (`aws/spot/terminate/<time>`). */
  key: string;
  cloud: Cloud;
  urgency: Urgency;
  /** When the node goes, when the cloud says. */
  deadline?: Date;
  reason: string;
  /** Azure: tells the cloud to go ahead early (StartRequests), once the node's checkpoints are done. */
  approve?: (signal: AbortSignal) => Promise<void>;
}

/** Where a notice source reports: a notice present now (again on every poll), or notices that are over. */
export interface NoticeSink {
  found(notice: WatchedNotice): Promise<void>;
  /** Notices whose keys start with `prefix` are over (GCE's value went back): forget them. */
  over(prefix: string): Promise<void>;
}

/** One cloud's way of saying "this node goes away": runs until `signal` aborts. */
export interface NoticeSource {
  cloud: Cloud;
  run(sink: NoticeSink, signal: AbortSignal): Promise<void>;
}

export function watchSource(node: string): string {
  return `/snapback/watch/${node}`;
}

export function noticeEvent(
  notice: WatchedNotice,
  node: string,
  now: Date,
): CloudEvent<PreemptionNoticedData> {
  return new CloudEvent<PreemptionNoticedData>(
    {
      specversion: '1.0',
      id: digestOf([node, notice.key], 32),
      source: watchSource(node),
      type: WATCH_EVENT_TYPE,
      subject: node,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      data: {
        node,
        ...(notice.deadline === undefined ? {} : { deadline: notice.deadline.toISOString() }),
        urgency: notice.urgency,
        reason: notice.reason,
      },
    },
    false,
  );
}
