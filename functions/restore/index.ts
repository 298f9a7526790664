/** Restore function: `io.snapback.restore.requested` → the placeholder's agent → `restore.completed|failed`. */
import type { CloudEvent } from 'cloudevents';
import { runRestore } from '../../src/dispatch/operations.js';
import { restoreCompletion } from '../../src/events/completion.js';
import { decodeRestoreRequested } from '../../src/events/schemas.js';
import { EventType } from '../../src/events/types.js';
import type { FunctionContext, FunctionDefinition, Reply } from '../../src/functions/context.js';

export function accepts(event: CloudEvent<unknown>): boolean {
  return event.type === EventType.RESTORE_REQUESTED;
}

export function validate(event: CloudEvent<unknown>): void {
  decodeRestoreRequested(event);
}

export async function handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
  const data = decodeRestoreRequested(event);
  const outcome = await runRestore(context.dispatch, {
    request: { source: event.source, id: event.id },
    checkpointId: data.checkpointId,
    namespace: data.namespace,
    pod: data.pod,
    ...(data.container === undefined ? {} : { container: data.container }),
    ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
  });
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

export const restoreFunction: FunctionDefinition = { name: 'restore', accepts, validate, handle };
