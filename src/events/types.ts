/**
 * CloudEvent types snapback reads and writes (docs/architecture.md, "Events"), as reverse-DNS constants, and the shapes of
 * their `data`. Inbound data is validated against the JSON Schemas in `schemas.ts` before it is typed.
 */
export const EventType = {
  CHECKPOINT_REQUESTED: 'io.snapback.checkpoint.requested',
  CHECKPOINT_COMPLETED: 'io.snapback.checkpoint.completed',
  CHECKPOINT_FAILED: 'io.snapback.checkpoint.failed',
  RESTORE_REQUESTED: 'io.snapback.restore.requested',
  RESTORE_COMPLETED: 'io.snapback.restore.completed',
  RESTORE_FAILED: 'io.snapback.restore.failed',
  RESTORE_PAGES_COMPLETE: 'io.snapback.restore.pages-complete',
  PREEMPTION_NOTICED: 'io.snapback.preemption.noticed',
  PREEMPTION_HANDLED: 'io.snapback.preemption.handled',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** Knative ApiServerSource event types in Resource mode (the object itself is the data). */
export const ApiServerSourceType = {
  ADD: 'dev.knative.apiserver.resource.add',
  UPDATE: 'dev.knative.apiserver.resource.update',
} as const;

/** Google Cloud event types (Eventarc). */
export const GcpEventType = {
  /** A Cloud Audit Log entry was written; data = the LogEntry. */
  AUDIT_LOG_WRITTEN: 'google.cloud.audit.log.v1.written',
} as const;

/**
 * The type given to a raw AWS EventBridge event posted without a CloudEvent envelope (an EventBridge API
 * destination): the event becomes the `data` of a CloudEvent of this type (`src/events/eventbridge.ts`).
 */
export const EVENTBRIDGE_EVENT_TYPE = 'com.amazonaws.eventbridge.event';

export interface CheckpointRequestedData {
  namespace: string;
  pod: string;
  container?: string;
  checkpointId?: string;
  deadline?: string;
  leaveRunning?: boolean;
  /** A failing pre-checkpoint hook is reported and the checkpoint goes on (docs/hooks.md). */
  bestEffortHooks?: boolean;
}

export interface RestoreRequestedData {
  checkpointId: string;
  namespace: string;
  pod: string;
  container?: string;
  /** Resume before all memory has arrived; a second event says when every page is in. */
  lazy?: boolean;
}

export interface PreemptionNoticedData {
  node: string;
  /** When the node goes; absent for early warnings. */
  deadline?: string;
  /** Default: `imminent` with a deadline, `early` without. */
  urgency?: 'imminent' | 'early';
  reason?: string;
}

/** Milliseconds per phase; `dispatch` and `total` are the function's, the rest the agent's. */
export type Durations = Record<string, number>;

export interface ErrorData {
  code: string;
  phase: string;
  message: string;
}

/** Who asked: the inbound event's `source` and `id`. */
export interface RequestRef {
  source: string;
  id: string;
}

export interface CheckpointOutcomeData {
  checkpointId: string;
  namespace: string;
  pod: string;
  container: string;
  node?: string;
  location?: string;
  sizeBytes?: number;
  reused?: boolean;
  durations: Durations;
  request: RequestRef;
  error?: ErrorData;
  /** What the agent said that is no failure: a hook skipped for want of time, failed under best effort. */
  notes?: string[];
}

export interface RestoreOutcomeData {
  checkpointId: string;
  namespace: string;
  pod: string;
  container: string;
  node?: string;
  restoredPid?: number;
  durations: Durations;
  request: RequestRef;
  error?: ErrorData;
}

export const PodOutcome = {
  CHECKPOINTED: 'checkpointed',
  FAILED: 'failed',
  SKIPPED: 'skipped',
} as const;
export type PodOutcome = (typeof PodOutcome)[keyof typeof PodOutcome];

export interface PreemptionHandledData {
  node: string;
  format: string;
  urgency: string;
  deadline?: string;
  request: RequestRef;
  pods: Array<{
    namespace: string;
    pod: string;
    container: string;
    checkpointId: string;
    outcome: PodOutcome;
    reason?: string;
    durations?: Durations;
    error?: ErrorData;
  }>;
  durations: Durations;
  /** Why the node could not be handled at all (no agent, no such node). */
  error?: ErrorData;
}
