/**
 * What a function's `handle(context, event)` receives (knative func style): a logger, the dispatch
 * dependencies, fan-out settings and where its completion events come from.
 */
import type { CloudEvent } from 'cloudevents';
import type { DispatchDeps } from '../dispatch/checkpoint-restore.js';
import type { FanOutSettings } from '../dispatch/preemption.js';
import type { PodState } from '../dispatch/resolver.js';
import type { RequestRef } from '../events/types.js';
import type { Logger } from '../log.js';

export const FunctionName = {
  CHECKPOINT: 'checkpoint',
  RESTORE: 'restore',
  PREEMPTION: 'preemption',
} as const;
export type FunctionName = (typeof FunctionName)[keyof typeof FunctionName];
export const functionNames: readonly FunctionName[] = Object.values(FunctionName);

export interface FunctionContext {
  log: Logger;
  dispatch: DispatchDeps;
  fanOut: FanOutSettings;
  /** `source` of the completion events this function emits. */
  source: string;
  now: () => Date;
  /** The request's `traceparent`, passed on to the agent. */
  traceparent?: string;
  /**
   * Sends an event after the reply (e.g. `restore.pages-complete`, which comes later than the answer).
   * Absent without a sink: a later event has nowhere to go when completions are HTTP replies.
   */
  emitLater?: (event: CloudEvent<unknown>) => Promise<void>;
}

export type Reply = CloudEvent<unknown> | CloudEvent<unknown>[] | undefined;

export interface FunctionDefinition {
  name: FunctionName;
  /** Whether this function handles events of this kind. */
  accepts(event: CloudEvent<unknown>): boolean;
  /** Throws INVALID_ARGUMENT naming each failing field; run on every event before any is handled. */
  validate(event: CloudEvent<unknown>, now: Date): void;
  handle(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply>;
  /**
   * The request an event is one delivery of, when not its own `source`+`id` (several notices of one pod's
   * disruption are one request); `null` when the event asks for nothing and need not be remembered.
   */
  idempotencyRef?(event: CloudEvent<unknown>): RequestRef | null | undefined;
}

/** What a pod's preStop hook names: its pod, and the container to checkpoint (else its annotation, else the first). */
export interface PreStopTarget {
  namespace: string;
  pod: string;
  container?: string;
}

/** The preemption function's second door, `POST /prestop` (functions/prestop/index.ts). */
export interface PreStopHandler {
  /** The query string's target, or INVALID_ARGUMENT naming each field (`query.pod`). */
  decode(query: unknown): PreStopTarget;
  /** The request a hook is part of (its idempotency key). */
  requestOf(pod: PodState): RequestRef;
  /** The checkpoint a hook asks for, as the events a notice yields. */
  handle(
    context: FunctionContext,
    target: PreStopTarget,
    pod: PodState,
    request: RequestRef,
  ): Promise<CloudEvent<unknown>[]>;
}

/** The handlers (functions/index.ts): the transport serves what it is given. */
export type FunctionTable = Readonly<Record<FunctionName, FunctionDefinition>> & {
  readonly preStop: PreStopHandler;
};

export function traceparentOf(event: CloudEvent<unknown>): string | undefined {
  const value = (event as unknown as Record<string, unknown>)['traceparent'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
