/**
 * Preemption function: a notice in any understood format (AWS, Azure, node taints, generic) → checkpoint
 * every opted-in pod on the node before the deadline → per-pod completions and one `preemption.handled`.
 */
import type { CloudEvent } from 'cloudevents';
import { handlePreemption } from '../../src/dispatch/preemption.js';
import { checkpointCompletion, preemptionHandled } from '../../src/events/completion.js';
import { isIgnored, isPreemptionNotice, parsePreemptionNotice } from '../../src/events/notices/index.js';
import type { FunctionContext, FunctionDefinition, Reply } from '../../src/http/context.js';

export function accepts(event: CloudEvent<unknown>): boolean {
  return isPreemptionNotice(event);
}

export function validate(event: CloudEvent<unknown>, now: Date): void {
  parsePreemptionNotice(event, now);
}

export async function handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
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

export const preemptionFunction: FunctionDefinition = { name: 'preemption', accepts, validate, handle };
