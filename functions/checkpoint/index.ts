/** Checkpoint function: `io.snapback.checkpoint.requested` → the pod's agent → `checkpoint.completed|failed`. */
import type { CloudEvent } from 'cloudevents';
import { dispatchCheckpoint } from '../../src/dispatch/checkpoint-restore.js';
import { checkpointCompletion } from '../../src/events/completion.js';
import { decodeCheckpointRequested } from '../../src/events/schemas.js';
import { EventType } from '../../src/events/types.js';
import type { FunctionContext, FunctionDefinition, Reply } from '../../src/http/context.js';

export function accepts(event: CloudEvent<unknown>): boolean {
  return event.type === EventType.CHECKPOINT_REQUESTED;
}

export function validate(event: CloudEvent<unknown>): void {
  decodeCheckpointRequested(event);
}

export async function handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
  const data = decodeCheckpointRequested(event);
  const outcome = await dispatchCheckpoint(context.dispatch, {
    request: { source: event.source, id: event.id },
    namespace: data.namespace,
    pod: data.pod,
    ...(data.container === undefined ? {} : { container: data.container }),
    ...(data.checkpointId === undefined ? {} : { checkpointId: data.checkpointId }),
    ...(data.deadline === undefined ? {} : { deadline: new Date(data.deadline) }),
    leaveRunning: data.leaveRunning ?? true,
    ...(data.bestEffortHooks === undefined ? {} : { bestEffortHooks: data.bestEffortHooks }),
    ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
  });
  context.log.info(
    {
      checkpointId: outcome.checkpointId,
      outcome: outcome.error ? 'failed' : 'completed',
      durations: outcome.durations,
    },
    'checkpoint handled',
  );
  return checkpointCompletion({ source: context.source, request: event, time: context.now() }, outcome);
}

export const checkpointFunction: FunctionDefinition = { name: 'checkpoint', accepts, validate, handle };
