/**
 * The checkpoint id of an event that names none: derived from the request itself — the event's
 * `source`+`id` and the target — so that a redelivered event derives the same id and the agent's own
 * idempotency returns the checkpoint already taken. The rule is src/ids.ts's `checkpointIdOf`, the one the
 * CLI's requests go by too.
 */
import { checkpointIdOf } from '../ids.js';

/** `<pod>-<digest of the request and target>`: readable, at most 63 characters, valid for any input. */
export function checkpointIdOfRequest(input: {
  source: string;
  id: string;
  namespace: string;
  pod: string;
  container: string;
}): string {
  return checkpointIdOf(
    { namespace: input.namespace, pod: input.pod, container: input.container },
    { source: input.source, id: input.id },
  );
}
