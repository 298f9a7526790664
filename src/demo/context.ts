/** What the demo's steps share: its options, where things run, what arrived when. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudEvent } from 'cloudevents';
import { ErrorCode, SnapbackError } from '../errors.js';
import { type CheckpointOutcomeData, EventType, type RestoreOutcomeData } from '../events/types.js';
import type { ModelKind } from './answer.js';
import type { Ec2Instance } from './events.js';

export const WORKLOAD = 'model-server';
export const NAMESPACE = 'default';

export interface DemoOutput {
  write(text: string): void;
  /** A terminal: progress is drawn in place. */
  tty: boolean;
}

export interface DemoOptions {
  root: string;
  /** The demo's own folder: checkpoints, agent state, logs. */
  dir: string;
  model: ModelKind;
  python: string;
  node: string;
  instance: Ec2Instance;
  coldStartTimeoutMs: number;
  restoreTimeoutMs: number;
  /** Keep the checkpoint (and the folder) at the end. */
  keep: boolean;
  /** Also measure a lazy-pages restore, when the agent can do one. */
  lazy: boolean;
  /** Start the model server with its sleep/wake hooks (docs/hooks.md): a checkpoint without its KV cache. */
  hooks: boolean;
  out: DemoOutput;
  signal: AbortSignal;
}

/** What the steps share: where things run and what arrived when. */
export interface DemoContext {
  options: DemoOptions;
  agent: string;
  functions: string;
  storage: string;
  stateDir: string;
  /** Sink arrivals (performance.now()) per event. */
  arrivals: Map<CloudEvent<unknown>, number>;
  events: readonly CloudEvent<unknown>[];
  /** The latest phase the agent reported through the functions. */
  phase: () => string | undefined;
  /** Host pids of the workloads the demo started or restored. */
  pids: Set<number>;
  say(text: string): void;
}

const OUTCOME_TYPES = {
  checkpoint: [EventType.CHECKPOINT_COMPLETED, EventType.CHECKPOINT_FAILED],
  restore: [EventType.RESTORE_COMPLETED, EventType.RESTORE_FAILED],
  /** A lazy restore's second event. */
  pagesComplete: [EventType.RESTORE_PAGES_COMPLETE, EventType.RESTORE_FAILED],
} as const;
export type OutcomeKind = keyof typeof OUTCOME_TYPES;

/**
 * The completion event of one kind answering `requestId` (undefined while none has arrived); throws the
 * failure when a `*.failed` event answered it instead.
 */
export function outcomeOf<T extends CheckpointOutcomeData | RestoreOutcomeData>(
  events: readonly CloudEvent<unknown>[],
  kind: OutcomeKind,
  requestId: string,
): CloudEvent<T> | undefined {
  const [completed, failed] = OUTCOME_TYPES[kind];
  for (const event of events as readonly CloudEvent<T>[]) {
    const data = event.data;
    if (data === undefined || data.pod !== WORKLOAD || data.request?.id !== requestId) continue;
    if (event.type === failed) {
      throw new SnapbackError(
        ErrorCode.INTERNAL,
        `${event.type}: ${data.error?.code} in ${data.error?.phase}: ${data.error?.message}`,
      );
    }
    if (event.type === completed) return event;
  }
  return undefined;
}

/** Waits for `outcomeOf` to find the event (the sink appends to `events` as they arrive). */
export async function waitForOutcome<T extends CheckpointOutcomeData | RestoreOutcomeData>(
  events: readonly CloudEvent<unknown>[],
  kind: OutcomeKind,
  requestId: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CloudEvent<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = outcomeOf<T>(events, kind, requestId);
    if (found !== undefined) return found;
    if (performance.now() > deadline) {
      throw new SnapbackError(
        ErrorCode.DEADLINE_EXCEEDED,
        `no ${OUTCOME_TYPES[kind][0]} event arrived for ${WORKLOAD} in time`,
      );
    }
    await sleep(50, undefined, { signal });
  }
}
