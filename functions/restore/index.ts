/**
 * Restore function: `io.snapback.restore.requested` → the placeholder's agent → `restore.completed|failed`;
 * and the restore loop: the restore source's Pod updates → a replacement pod restored from the latest
 * checkpoint of its workload (or the one its label names), or started cold (./replacement-pod.ts).
 */
import type { CloudEvent } from 'cloudevents';
import { dispatchRestore } from '../../src/dispatch/checkpoint-restore.js';
import { restoreCompletion } from '../../src/events/completion.js';
import { isRestoreSourceEvent } from '../../src/events/replacement-pod.js';
import { decodeRestoreRequested } from '../../src/events/schemas.js';
import { EventType, type RequestRef, type RestoreOutcomeData } from '../../src/events/types.js';
import type { FunctionContext, FunctionDefinition, Reply } from '../../src/http/context.js';
import { handlePodUpdate, parsePodUpdate, podUpdateRequest } from './replacement-pod.js';

export function accepts(event: CloudEvent<unknown>): boolean {
  return event.type === EventType.RESTORE_REQUESTED || isRestoreSourceEvent(event);
}

export function validate(event: CloudEvent<unknown>, now: Date): void {
  if (isRestoreSourceEvent(event)) parsePodUpdate(event, now);
  else decodeRestoreRequested(event);
}

/** A pod's updates are one request (its uid); a restore request is its own `source`+`id`. */
export function idempotencyRef(event: CloudEvent<unknown>): RequestRef | null | undefined {
  return isRestoreSourceEvent(event) ? podUpdateRequest(event) : undefined;
}

export async function handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
  if (isRestoreSourceEvent(event)) return handlePodUpdate(context, event);
  const data = decodeRestoreRequested(event);
  const { pagesComplete, ...outcome } = await dispatchRestore(context.dispatch, {
    request: { source: event.source, id: event.id },
    checkpointId: data.checkpointId,
    namespace: data.namespace,
    pod: data.pod,
    ...(data.container === undefined ? {} : { container: data.container }),
    ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    ...(data.lazy === undefined ? {} : { lazy: data.lazy }),
  });
  if (pagesComplete !== undefined) void sendPagesComplete(context, event, pagesComplete);
  context.log.info(
    {
      checkpointId: outcome.checkpointId,
      outcome: outcome.error ? 'failed' : 'completed',
      durations: outcome.durations,
    },
    'restore handled',
  );
  return restoreCompletion({ source: context.source, request: event, time: context.now() }, outcome);
}

/** A lazy restore's second event: every page arrived (`restore.pages-complete`) or the transfer broke. */
async function sendPagesComplete(
  context: FunctionContext,
  event: CloudEvent<unknown>,
  pending: Promise<RestoreOutcomeData>,
) {
  const outcome = await pending;
  const completion = restoreCompletion(
    { source: context.source, request: event, time: context.now() },
    outcome,
    true,
  );
  context.log.info(
    { checkpointId: outcome.checkpointId, type: completion.type, durations: outcome.durations },
    'lazy restore settled',
  );
  if (context.emitLater === undefined) {
    context.log.warn('no sink configured: the pages-complete event of a lazy restore cannot be delivered');
    return;
  }
  await context
    .emitLater(completion)
    .catch((err: unknown) => context.log.error({ err }, 'could not send the pages-complete event'));
}

export const restoreFunction: FunctionDefinition = {
  name: 'restore',
  accepts,
  validate,
  handle,
  idempotencyRef,
};
