/**
 * Checkpoint ids are DNS-1123 labels (docs/architecture.md, "Storage"). When a request names none, one is derived from the
 * request itself — the event's `source`+`id` and the target — so a redelivered event derives the same id
 * and the agent's own idempotency returns the checkpoint already taken.
 */
import { createHash } from 'node:crypto';
import { checkpointIdProblem, deriveCheckpointId as deriveId } from '../lib/storage/index.js';

export function isCheckpointId(value: string): boolean {
  return checkpointIdProblem(value) === undefined;
}

/** A short, stable hex digest of the parts (sha256, NUL-separated so parts cannot run together). */
export function digestOf(parts: readonly string[], length = 10): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, length);
}

/** `<pod>-<digest of the request and target>`: readable, at most 63 characters, valid for any input. */
export function deriveCheckpointId(input: {
  source: string;
  id: string;
  namespace: string;
  pod: string;
  container: string;
}): string {
  return deriveId(input.pod, [input.source, input.id, input.namespace, input.pod, input.container], 10);
}
