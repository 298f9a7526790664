/**
 * Preemption function: a notice in any understood format (AWS, Azure, GCP, node taints, generic) → checkpoint
 * every opted-in pod on the node before the deadline → per-pod completions and one `preemption.handled`.
 * A pod-level notice (a pod's DisruptionTarget condition, a Preempted Event) → checkpoint that pod, if it
 * opted in, before it is killed; every notice of one pod's disruption is one request (its uid).
 */
import type { CloudEvent } from 'cloudevents';
import { handlePodNotice, podDisruptionRequest } from '../../src/dispatch/pod-notice.js';
import { handlePreemption } from '../../src/dispatch/preemption.js';
import { checkpointCompletion, preemptionHandled } from '../../src/events/completion.js';
import {
  isIgnored,
  isPreemptionNotice,
  type PodNoticeResult,
  parsePodNotice,
  parsePreemptionNotice,
} from '../../src/events/notices/index.js';
import { isRestoreSourceEvent } from '../../src/events/replacement-pod.js';
import type { RequestRef } from '../../src/events/types.js';
import type { FunctionContext, FunctionDefinition, Reply } from '../../src/http/context.js';

/** Notices; the restore source's Pod updates (marked with its extension) are the restore function's. */
export function accepts(event: CloudEvent<unknown>): boolean {
  return isPreemptionNotice(event) && !isRestoreSourceEvent(event);
}

export function validate(event: CloudEvent<unknown>, now: Date): void {
  if (parsePodNotice(event) === undefined) parsePreemptionNotice(event, now);
}

/** Pod notices: one request per pod disruption (its uid); those asking for nothing are not remembered. */
export function idempotencyRef(event: CloudEvent<unknown>): RequestRef | null | undefined {
  let notice: PodNoticeResult | undefined;
  try {
    notice = parsePodNotice(event);
  } catch {
    return undefined; // refused by validate() before it gets here
  }
  if (notice === undefined) return undefined;
  if (isIgnored(notice)) return null;
  return notice.pod.uid === undefined ? undefined : podDisruptionRequest(notice.pod.uid);
}

async function handlePod(
  context: FunctionContext,
  event: CloudEvent<unknown>,
  notice: PodNoticeResult,
): Promise<Reply> {
  if (isIgnored(notice)) {
    context.log.debug({ format: notice.format, why: notice.ignored }, 'notice ignored');
    return undefined;
  }
  context.log.info({ format: notice.format, pod: notice.pod, reason: notice.reason }, 'pod notice');
  const outcome = await handlePodNotice(context.dispatch, notice, context.fanOut, {
    ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    now: () => context.now().getTime(),
  });
  if (outcome.ignored !== undefined) {
    context.log.debug({ format: notice.format, why: outcome.ignored }, 'notice ignored');
    return undefined;
  }
  const completion = { source: context.source, request: event, time: context.now() };
  return [
    ...(outcome.checkpoint ? [checkpointCompletion(completion, outcome.checkpoint)] : []),
    ...(outcome.handled ? [preemptionHandled(completion, outcome.handled)] : []),
  ];
}

export async function handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
  const pod = parsePodNotice(event);
  if (pod !== undefined) return handlePod(context, event, pod);
  const notice = parsePreemptionNotice(event, context.now());
  if (isIgnored(notice)) {
    context.log.debug({ format: notice.format, why: notice.ignored }, 'notice ignored');
    return undefined;
  }
  const request = { source: event.source, id: event.id };
  context.log.info(
    { format: notice.format, deadline: notice.deadline, reason: notice.reason },
    'preemption noticed',
  );
  const result = await handlePreemption(
    context.dispatch,
    notice,
    request,
    context.fanOut,
    context.traceparent,
  );
  const completion = { source: context.source, request: event, time: context.now() };
  return [
    ...result.checkpoints.map((outcome) => checkpointCompletion(completion, outcome)),
    ...result.handled.map((summary) => preemptionHandled(completion, summary)),
  ];
}

export const preemptionFunction: FunctionDefinition = {
  name: 'preemption',
  accepts,
  validate,
  handle,
  idempotencyRef,
};
