/**
 * JSON Schemas (draft 2020-12) of inbound `data`, one per snapback event type, compiled once on the shared
 * ajv instance. A failing event is answered 400 with one detail per field (`data.pod: is required`).
 */
import type { CloudEvent } from 'cloudevents';
import { ErrorCode, type ErrorDetail, SnapbackError } from '../errors.js';
import { DNS1123_LABEL_PATTERN, DNS1123_SUBDOMAIN_PATTERN } from '../ids.js';
import { ajv, detailsOf, type ValidateFunction } from '../validation/ajv.js';
import type { CheckpointRequestedData, PreemptionNoticedData, RestoreRequestedData } from './types.js';
import { EventType } from './types.js';

/** A Kubernetes object's name, namespace and uid as the API server writes them (pods, involvedObject). */
export const objectRefProperties = {
  name: { type: 'string', pattern: DNS1123_SUBDOMAIN_PATTERN },
  namespace: { type: 'string', pattern: DNS1123_LABEL_PATTERN },
  uid: { type: 'string', minLength: 1, maxLength: 128 },
} as const;

/** Namespaces, container names and checkpoint ids are DNS-1123 labels; pods and nodes subdomains. */
const label = { type: 'string', pattern: DNS1123_LABEL_PATTERN };
const subdomain = { type: 'string', pattern: DNS1123_SUBDOMAIN_PATTERN };
const timestamp = { type: 'string', format: 'date-time' };

export const checkpointRequestedSchema = {
  $id: 'https://snapback.io/schemas/checkpoint-requested.json',
  type: 'object',
  required: ['namespace', 'pod'],
  additionalProperties: false,
  properties: {
    namespace: label,
    pod: subdomain,
    container: label,
    checkpointId: label,
    deadline: timestamp,
    leaveRunning: { type: 'boolean' },
    bestEffortHooks: { type: 'boolean' },
  },
} as const;

export const restoreRequestedSchema = {
  $id: 'https://snapback.io/schemas/restore-requested.json',
  type: 'object',
  required: ['checkpointId', 'namespace', 'pod'],
  additionalProperties: false,
  properties: {
    checkpointId: label,
    namespace: label,
    pod: subdomain,
    container: label,
    lazy: { type: 'boolean' },
  },
} as const;

export const preemptionNoticedSchema = {
  $id: 'https://snapback.io/schemas/preemption-noticed.json',
  type: 'object',
  required: ['node'],
  additionalProperties: false,
  properties: {
    node: subdomain,
    deadline: timestamp,
    urgency: { enum: ['imminent', 'early'] },
    reason: { type: 'string', maxLength: 1024 },
  },
} as const;

const validators = {
  [EventType.CHECKPOINT_REQUESTED]: ajv.compile<CheckpointRequestedData>(checkpointRequestedSchema),
  [EventType.RESTORE_REQUESTED]: ajv.compile<RestoreRequestedData>(restoreRequestedSchema),
  [EventType.PREEMPTION_NOTICED]: ajv.compile<PreemptionNoticedData>(preemptionNoticedSchema),
};

const friendly: Record<string, string> = {
  pattern: 'must be a DNS-1123 name (lower-case letters, digits and "-")',
  format: 'must be an RFC 3339 timestamp',
};

/** ajv details with readable messages for patterns and formats, rooted at `data`. */
export function dataProblems(validate: ValidateFunction, value: unknown): ErrorDetail[] {
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  return detailsOf(errors, 'data').map((detail, i) => {
    const keyword = errors[i]!.keyword;
    return friendly[keyword] === undefined ? detail : { ...detail, message: friendly[keyword] };
  });
}

/** The event's data as `T`, or INVALID_ARGUMENT naming each failing field. */
export function decodeData<T>(event: CloudEvent<unknown>, validate: ValidateFunction<T>): T {
  const data = dataOf(event);
  const problems = dataProblems(validate, data);
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `invalid ${event.type} data: ${summary}`, {
      details: problems,
    });
  }
  return data as T;
}

/** `data`, with a JSON string parsed (some senders put JSON text in structured-mode `data`). */
export function dataOf(event: CloudEvent<unknown>): unknown {
  const data = event.data;
  if (typeof data === 'string' && /^\s*[{[]/.test(data)) {
    try {
      return JSON.parse(data);
    } catch {
      return data;
    }
  }
  return data;
}

export const decodeCheckpointRequested = (event: CloudEvent<unknown>): CheckpointRequestedData =>
  decodeData(event, validators[EventType.CHECKPOINT_REQUESTED]);
export const decodeRestoreRequested = (event: CloudEvent<unknown>): RestoreRequestedData =>
  decodeData(event, validators[EventType.RESTORE_REQUESTED]);
export const decodePreemptionNoticed = (event: CloudEvent<unknown>): PreemptionNoticedData =>
  decodeData(event, validators[EventType.PREEMPTION_NOTICED]);
