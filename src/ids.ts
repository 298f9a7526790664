/**
 * The names snapback takes from requests, and the ids it derives: DNS-1123 labels and subdomains (RFC 1123,
 * as Kubernetes names them: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
 * Checkpoint ids become directory names and label values, so nothing a request sends is ever used as a
 * path without passing through here. The event layer and the storage both read these rules from this one
 * module.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, SnapbackError } from './errors.js';

/** As a JSON Schema pattern too: a DNS-1123 label of at most 63 characters. */
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
/** A DNS-1123 subdomain (pod and node names), as a JSON Schema pattern. */
export const DNS1123_SUBDOMAIN_PATTERN =
  '^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const DNS1123_LABEL = new RegExp(DNS1123_LABEL_PATTERN);
const MAX_ID_LENGTH = 63;
/** Names the storage layout uses beside checkpoints (docs/architecture.md, "Storage"). */
const RESERVED_IDS = new Set(['tmp']);

/** Whether `name` is a DNS-1123 label (at most 63 characters). */
export function isDns1123Label(name: string): boolean {
  return DNS1123_LABEL.test(name);
}

/** Why `id` is not a valid checkpoint id, or undefined when it is. */
export function checkpointIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (id.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters (got ${id.length})`;
  if (RESERVED_IDS.has(id)) return `is reserved for the storage layout`;
  if (!isDns1123Label(id)) {
    return 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit';
  }
  return undefined;
}

export function assertCheckpointId(id: string, field = 'checkpointId'): string {
  const problem = checkpointIdProblem(id);
  if (problem !== undefined) {
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `${field} "${printable(id)}" ${problem}`, {
      details: [{ field, message: problem }],
    });
  }
  return id;
}

/** A short, stable hex digest of the parts (sha256, NUL-separated so that parts cannot run together). */
export function digestOf(parts: readonly string[], length = 10): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, length);
}

/**
 * A stable checkpoint id: a readable part, then a short digest of `identity` so that distinct identities
 * never collide after truncation or lower-casing. Always a valid checkpoint id, whatever the input.
 */
function deriveCheckpointId(readable: string, identity: readonly string[], hashLength: number): string {
  const hash = digestOf(identity, hashLength);
  const label = readable
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_ID_LENGTH - hash.length - 1)
    .replace(/-+$/, '');
  return label === '' ? `ckpt-${hash}` : `${label}-${hash}`;
}

/** What a checkpoint is taken of: a pod's container, or a process-runtime workload (its name as the pod). */
export interface CheckpointTarget {
  namespace: string;
  pod: string;
  /** Empty when the caller named none. */
  container: string;
}

/** The event that asked for a checkpoint: its `source` and `id`. */
export interface CheckpointOccasion {
  source: string;
  id: string;
}

/**
 * The id of a checkpoint whose request names none — the one rule of the CLI, the agent and the events
 * (docs/architecture.md, "Checkpoint ids"): `<pod>-<10 hex digits>`, the digest over the target and, when an
 * event asked, that event's `source` and `id`. So `snapback checkpoint --target counter` names the same
 * checkpoint each time (the agent returns it again unless asked to replace it), while every event is a
 * checkpoint of its own that a redelivery of the same event finds again.
 */
export function checkpointIdOf(target: CheckpointTarget, occasion?: CheckpointOccasion): string {
  const parts = [target.namespace, target.pod, target.container];
  return deriveCheckpointId(
    target.pod,
    occasion === undefined ? parts : [occasion.source, occasion.id, ...parts],
    10,
  );
}

/** Control characters shown escaped, so an error message never carries them raw. */
function printable(text: string): string {
  return JSON.stringify(text.slice(0, 80)).slice(1, -1);
}
