/**
 * One checkpoint or restore of one target: locate it, call its agent with the deadline, time it, record a
 * Kubernetes Event, and return the outcome as completion-event data (never throws: a failure is an outcome
 * with `error {code, phase, message}`).
 */

import { type CheckpointResult, type RestoreCallResult, unreachableAgentOf } from '../agent/client.js';
import { ErrorCode, SnapbackError } from '../errors.js';
import { checkpointIdOfRequest } from '../events/checkpoint-id.js';
import { KEEP_ANNOTATION, PRIORITY_ANNOTATION } from '../events/opt-in.js';
import type { CheckpointOutcomeData, ErrorData, RequestRef, RestoreOutcomeData } from '../events/types.js';
import type { WorkloadHooks } from '../generated/snapback/agent/v1/agent.js';
import type { Logger } from '../log.js';
import type { AgentDispatcher } from './agent-dispatcher.js';
import type { CheckpointHistory } from './checkpoint-history.js';
import { hooksOfTarget, progressNotes } from './hooks.js';
import { durationsOf, errorDataOf } from './outcome.js';
import type { PodWriter } from './pod-status.js';
import { EventReason, type EventRecorder } from './recorder.js';
import type { Located, Resolver } from './resolver.js';
import type { PodWorkload } from './workload-identity.js';

export interface DispatchDeps {
  resolver: Resolver;
  agents: AgentDispatcher;
  recorder: EventRecorder;
  log: Logger;
  /** Writes a pod's restore status and readiness condition (cluster mode: the restore loop). */
  pods?: PodWriter;
  /** Learns each node's throughput and each target's size from the checkpoints (the deadline planner's). */
  history?: CheckpointHistory;
}

export interface CheckpointDispatch {
  request: RequestRef;
  namespace: string;
  pod: string;
  container?: string;
  checkpointId?: string;
  leaveRunning?: boolean;
  deadline?: Date;
  traceparent?: string;
  /** Already located (fan-out); skips resolution. */
  located?: Located;
  signal?: AbortSignal;
  /**
   * A failing pre-checkpoint hook does not abort the checkpoint (docs/hooks.md). Preemptions set it: the
   * node is going anyway, and a larger image beats none.
   */
  bestEffortHooks?: boolean;
}

export interface RestoreDispatch {
  request: RequestRef;
  checkpointId: string;
  namespace: string;
  pod: string;
  container?: string;
  deadline?: Date;
  traceparent?: string;
  signal?: AbortSignal;
  /** Resume before all memory has arrived (CRIU lazy pages). */
  lazy?: boolean;
  /** Already located (the restore loop, from the pod its event carried); skips resolution. */
  located?: Located;
}

/** A restore's outcome; a lazy one settles `pagesComplete` once every page is in (or the transfer broke). */
export type RestoreDispatchOutcome = RestoreOutcomeData & { pagesComplete?: Promise<RestoreOutcomeData> };

function callOptions(input: { deadline?: Date; traceparent?: string; signal?: AbortSignal }) {
  return {
    ...(input.deadline ? { deadline: input.deadline } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.traceparent ? { metadata: { traceparent: input.traceparent } } : {}),
  };
}

/** What every outcome carries, a failure's included. */
type OutcomeBase = Omit<
  RestoreOutcomeData & CheckpointOutcomeData,
  'location' | 'sizeBytes' | 'reused' | 'restoredPid'
>;

/** One call to a target's agent, as dispatchToAgent runs it. */
interface AgentCall<R, D> {
  operation: 'checkpoint' | 'restore';
  reasons: { done: EventReason; failed: EventReason };
  request: RequestRef;
  /** The names asked for: the outcome's when the target cannot be located. */
  asked: { namespace: string; pod: string; container: string };
  /** The checkpoint id, as known so far (a checkpoint's may be derived only once the target is located). */
  checkpointId(): string;
  locate(): Promise<Located>;
  call(located: Located, log: Logger): Promise<R>;
  /** The outcome of a success: `base` plus what this operation adds. */
  succeeded(base: OutcomeBase, result: R, located: Located): D;
  failed(base: OutcomeBase): D;
  /** The Kubernetes Event's message for a success. */
  describe(outcome: D): string;
}

/**
 * Locate → call the agent → time it → record a Kubernetes Event → the outcome. Never throws: a failure is
 * an outcome with `error {code, phase}`, the phase being where it stopped (resolve, dispatch, or the agent's).
 */
async function dispatchToAgent<R extends { node: string; durationsMs: Record<string, number> }, D>(
  deps: DispatchDeps,
  spec: AgentCall<R, D>,
  started = performance.now(),
): Promise<D> {
  let located: Located | undefined;
  let phase = 'resolve';
  try {
    located = await spec.locate();
    phase = 'dispatch';
    const result = await spec.call(
      located,
      deps.log.child({ checkpointId: spec.checkpointId(), node: located.node }),
    );
    const outcome = spec.succeeded(
      {
        checkpointId: spec.checkpointId(),
        namespace: located.namespace,
        pod: located.pod,
        container: located.container,
        node: result.node || located.node,
        durations: durationsOf(result.durationsMs, performance.now() - started),
        request: spec.request,
      },
      result,
      located,
    );
    await deps.recorder.record(located, spec.reasons.done, spec.describe(outcome));
    return outcome;
  } catch (err) {
    const error = errorDataOf(err, phase);
    const target = located ?? spec.asked;
    const context = { checkpointId: spec.checkpointId(), phase: error.phase };
    // An agent that is not there is an operating condition, not a bug: one line, no stack.
    if (unreachableAgentOf(err) !== undefined)
      deps.log.warn(context, `${spec.operation} failed: ${error.message}`);
    else deps.log.warn({ err, ...context }, `${spec.operation} failed`);
    if (located) await deps.recorder.record(located, spec.reasons.failed, describeError(error));
    return spec.failed({
      checkpointId: spec.checkpointId(),
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      ...(located ? { node: located.node } : {}),
      durations: durationsOf(undefined, performance.now() - started),
      request: spec.request,
      error,
    });
  }
}

function describeError(error: ErrorData): string {
  return `${error.code} in ${error.phase}: ${error.message}`;
}

/** INVALID_ARGUMENT naming a pod annotation that cannot be used. */
function badAnnotation(annotation: string, problem: string): SnapbackError {
  return new SnapbackError(ErrorCode.INVALID_ARGUMENT, problem, {
    phase: 'resolve',
    details: [{ field: `metadata.annotations["${annotation}"]`, message: problem }],
  });
}

/**
 * The workload a checkpoint of `located` records, and its retention; INVALID_ARGUMENT naming the
 * annotation when `snapback.io/keep` cannot be used (retention must not guess which checkpoints to delete)
 * or `snapback.io/priority` cannot (a pod's rank is not guessed either).
 */
async function workloadOf(deps: DispatchDeps, located: Located): Promise<PodWorkload | undefined> {
  const { priorityProblem } = located.plan ?? {};
  if (priorityProblem !== undefined) throw badAnnotation(PRIORITY_ANNOTATION, priorityProblem);
  const workload = await located.workload?.();
  if (workload === undefined) return undefined;
  for (const warning of workload.warnings)
    deps.log.warn({ pod: `${located.namespace}/${located.pod}` }, warning);
  if (workload.keepProblem !== undefined) throw badAnnotation(KEEP_ANNOTATION, workload.keepProblem);
  return workload;
}

export function dispatchCheckpoint(
  deps: DispatchDeps,
  input: CheckpointDispatch,
): Promise<CheckpointOutcomeData> {
  const container = input.located?.container ?? input.container ?? '';
  const derived = (target: { namespace: string; pod: string; container: string }) =>
    checkpointIdOfRequest({ ...input.request, ...target });
  let checkpointId = input.checkpointId ?? derived({ namespace: input.namespace, pod: input.pod, container });
  let hooks: WorkloadHooks | undefined;
  const progress = progressNotes();
  const outcome = dispatchToAgent<CheckpointResult, CheckpointOutcomeData>(deps, {
    operation: 'checkpoint',
    reasons: { done: EventReason.CHECKPOINTED, failed: EventReason.CHECKPOINT_FAILED },
    request: input.request,
    asked: { namespace: input.namespace, pod: input.pod, container },
    checkpointId: () => checkpointId,
    locate: async () => {
      const located =
        input.located ?? (await deps.resolver.locate(input.namespace, input.pod, input.container));
      // The container the resolver chose, when none was named, is part of the derived id.
      if (input.checkpointId === undefined && located.container !== container)
        checkpointId = derived(located);
      hooks = hooksOfTarget(located);
      return located;
    },
    call: async (located, log) => {
      // Read once located, so that a refusal (a bad keep annotation) is recorded on the pod as well.
      const workload = await workloadOf(deps, located);
      return deps.agents.checkpoint(
        located.agentAddress,
        {
          target: { namespace: located.namespace, pod: located.pod, container: located.container },
          checkpointId,
          ...(input.leaveRunning === undefined ? {} : { leaveRunning: input.leaveRunning }),
          requestId: `${input.request.source} ${input.request.id}`,
          ...(workload === undefined ? {} : { identity: workload.identity, keep: workload.keep ?? 0 }),
          ...(hooks === undefined ? {} : { hooks }),
          bestEffortHooks: input.bestEffortHooks ?? false,
        },
        {
          ...callOptions(input),
          onProgress: (p) => {
            log.debug({ phase: p.phase, state: p.state }, 'progress');
            progress.add(p);
          },
        },
      );
    },
    succeeded: (base, result) => ({
      ...base,
      checkpointId: result.checkpointId || checkpointId,
      location: result.location,
      sizeBytes: result.sizeBytes,
      reused: result.reused,
      ...(progress.notes.length > 0 ? { notes: progress.notes } : {}),
    }),
    failed: (base) => base,
    describe: (o) =>
      `checkpoint ${o.checkpointId} (${o.sizeBytes} bytes) on ${o.node} in ${o.durations['total']} ms`,
  });
  return outcome.then((o) => {
    deps.history?.record(o);
    return o;
  });
}

export function dispatchRestore(deps: DispatchDeps, input: RestoreDispatch): Promise<RestoreDispatchOutcome> {
  const started = performance.now();
  let hooks: WorkloadHooks | undefined;
  return dispatchToAgent<RestoreCallResult, RestoreDispatchOutcome>(
    deps,
    {
      operation: 'restore',
      reasons: { done: EventReason.RESTORED, failed: EventReason.RESTORE_FAILED },
      request: input.request,
      asked: { namespace: input.namespace, pod: input.pod, container: input.container ?? '' },
      checkpointId: () => input.checkpointId,
      locate: async () => {
        const located =
          input.located ?? (await deps.resolver.locate(input.namespace, input.pod, input.container));
        // The placeholder pod's own hooks, when it declares any; else the agent runs the checkpoint's.
        hooks = hooksOfTarget(located);
        return located;
      },
      call: (located) =>
        deps.agents.restore(
          located.agentAddress,
          {
            checkpointId: input.checkpointId,
            target: { namespace: located.namespace, pod: located.pod, container: located.container },
            requestId: `${input.request.source} ${input.request.id}`,
            ...(input.lazy === undefined ? {} : { lazy: input.lazy }),
            ...(hooks === undefined ? {} : { hooks }),
          },
          callOptions(input),
        ),
      succeeded: (base, result, located) => {
        const outcome: RestoreDispatchOutcome = { ...base, restoredPid: result.restoredPid };
        if (result.pagesComplete === undefined) return outcome;
        const settled: RestoreOutcomeData = { ...outcome };
        outcome.pagesComplete = result.pagesComplete.then(
          (complete) => ({
            ...settled,
            durations: durationsOf(complete.durationsMs, performance.now() - started),
          }),
          (err: unknown) => ({ ...settled, error: errorDataOf(err, 'pagesComplete') }),
        );
        void outcome.pagesComplete.then((o) =>
          o.error
            ? deps.recorder.record(located, EventReason.RESTORE_FAILED, describeError(o.error))
            : undefined,
        );
        return outcome;
      },
      failed: (base) => base,
      describe: (o) =>
        `restored ${o.checkpointId} as pid ${o.restoredPid} on ${o.node} in ${o.durations['total']} ms`,
    },
    started,
  );
}
