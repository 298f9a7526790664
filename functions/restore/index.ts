/** Restore function: `io.snapback.restore.requested` → the placeholder's agent → `restore.completed|failed`. */
import type { CloudEvent } from 'cloudevents';
import { dispatchRestore } from '../../src/dispatch/checkpoint-restore.js';
import { restoreCompletion } from '../../src/events/completion.js';
import { decodeRestoreRequested } from '../../src/events/schemas.js';
import { EventType, type RestoreOutcomeData } from '../../src/events/types.js';
import type { FunctionContext, FunctionDefinition, Reply } from '../../src/http/context.js';

export function accepts(event: CloudEvent<unknown>): boolean {
  return event.type === EventType.RESTORE_REQUESTED;
}

export function validate(event: CloudEvent<unknown>): void {
  decodeRestoreRequested(event);
}

export async function handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
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

export const restoreFunction: FunctionDefinition = { name: 'restore', accepts, validate, handle };
