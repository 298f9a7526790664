/**
 * Completion events (`io.snapback.{checkpoint,restore}.{completed,failed}`, `io.snapback.preemption.handled`).
 * Their ids derive from the request's `source`+`id` (and the target), so a redelivered request re-emits
 * the same ids; `traceparent` is carried over from the request.
 */
import { CloudEvent } from 'cloudevents';
import { digestOf } from '../ids.js';
import type { CheckpointOutcomeData, PreemptionHandledData, RestoreOutcomeData } from './types.js';
import { EventType } from './types.js';

export interface CompletionContext {
  /** The completion events' `source`, e.g. `/snapback/functions/checkpoint`. */
  source: string;
  /** The event being answered. */
  request: CloudEvent<unknown>;
  time?: Date;
}

function traceOf(request: CloudEvent<unknown>): Record<string, string> {
  const trace: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate'] as const) {
    const value = request[key];
    if (typeof value === 'string' && value !== '') trace[key] = value;
  }
  return trace;
}

export function completionId(request: { source: string; id: string }, type: string, key = ''): string {
  return digestOf([request.source, request.id, type, key], 32);
}

function build<T>(context: CompletionContext, type: string, subject: string, data: T): CloudEvent<T> {
  return new CloudEvent<T>(
    {
      specversion: '1.0',
      id: completionId(context.request, type, subject),
      source: context.source,
      type,
      subject,
      time: (context.time ?? new Date()).toISOString(),
      datacontenttype: 'application/json',
      data,
      ...traceOf(context.request),
    },
    false,
  );
}

const subjectOf = (d: { namespace: string; pod: string; container: string }) =>
  d.container ? `${d.namespace}/${d.pod}/${d.container}` : `${d.namespace}/${d.pod}`;

export function checkpointCompletion(
  context: CompletionContext,
  data: CheckpointOutcomeData,
): CloudEvent<CheckpointOutcomeData> {
  const type = data.error ? EventType.CHECKPOINT_FAILED : EventType.CHECKPOINT_COMPLETED;
  return build(context, type, subjectOf(data), data);
}

/** `restore.completed|failed`; for the second event of a lazy restore, `restore.pages-complete|failed`. */
export function restoreCompletion(
  context: CompletionContext,
  data: RestoreOutcomeData,
  pagesComplete = false,
): CloudEvent<RestoreOutcomeData> {
  const success = pagesComplete ? EventType.RESTORE_PAGES_COMPLETE : EventType.RESTORE_COMPLETED;
  const type = data.error ? EventType.RESTORE_FAILED : success;
  return build(context, type, subjectOf(data), data);
}

export function preemptionHandled(
  context: CompletionContext,
  data: PreemptionHandledData,
): CloudEvent<PreemptionHandledData> {
  return build(context, EventType.PREEMPTION_HANDLED, data.node, data);
}
