/**
 * The checkpoint id of an event that names none: derived from the request itself — the event's
 * `source`+`id` and the target — so that a redelivered event derives the same id and the agent's own
 * idempotency returns the checkpoint already taken. The id rules themselves are src/ids.ts's.
 */
import { deriveCheckpointId } from '../ids.js';

/** `<pod>-<digest of the request and target>`: readable, at most 63 characters, valid for any input. */
export function checkpointIdOfRequest(input: {
  source: string;
  id: string;
  namespace: string;
  pod: string;
  container: string;
}): string {
  return deriveCheckpointId(
    input.pod,
    [input.source, input.id, input.namespace, input.pod, input.container],
    10,
  );
}
