/**
 * One checkpoint or restore of one target: locate it, call its agent with the deadline, time it, record a
 * Kubernetes Event, and return the outcome as completion-event data (never throws: a failure is an outcome
 * with `error {code, phase, message}`).
 */
import { publicMessage, SnapbackError } from '../errors.js';
import { checkpointIdOfRequest } from '../events/checkpoint-id.js';
import type {
  CheckpointOutcomeData,
  Durations,
  ErrorData,
  RequestRef,
  RestoreOutcomeData,
} from '../events/types.js';
import type { Logger } from '../log.js';
import type { AgentDispatcher } from './agent-dispatcher.js';
import { EventReason, type EventRecorder } from './recorder.js';
import type { Located, Resolver } from './resolver.js';

export interface DispatchDeps {
  resolver: Resolver;
  agents: AgentDispatcher;
  recorder: EventRecorder;
  log: Logger;
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
}

/** A restore's outcome; a lazy one settles `pagesComplete` once every page is in (or the transfer broke). */
export type RestoreDispatchOutcome = RestoreOutcomeData & { pagesComplete?: Promise<RestoreOutcomeData> };

/** `{code, phase, message}` for a completion event; internal errors say nothing internal. */
export function errorDataOf(err: unknown, defaultPhase: string): ErrorData {
  const error = SnapbackError.from(err);
  return { code: error.code, phase: error.phase ?? defaultPhase, message: publicMessage(error) };
}

/** The agent's phases, plus `dispatch` (everything that is not the agent's) and the end-to-end `total`. */
export function durationsOf(
  agentMs: Readonly<Record<string, number>> | undefined,
  totalMs: number,
): Durations {
  const { total: agentTotal, ...phases } = agentMs ?? {};
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  const durations: Durations = {};
  for (const [phase, ms] of Object.entries(phases)) durations[phase] = round(ms);
  durations['dispatch'] = round(Math.max(0, totalMs - (agentTotal ?? 0)));
  durations['total'] = round(totalMs);
  return durations;
}

function callOptions(input: { deadline?: Date; traceparent?: string; signal?: AbortSignal }) {
  return {
    ...(input.deadline ? { deadline: input.deadline } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.traceparent ? { metadata: { traceparent: input.traceparent } } : {}),
  };
}

export async function dispatchCheckpoint(
  deps: DispatchDeps,
  input: CheckpointDispatch,
): Promise<CheckpointOutcomeData> {
  const started = performance.now();
  let located = input.located;
  let phase = 'resolve';
  const container = located?.container ?? input.container ?? '';
  let checkpointId =
    input.checkpointId ??
    checkpointIdOfRequest({ ...input.request, namespace: input.namespace, pod: input.pod, container });
  try {
    located ??= await deps.resolver.locate(input.namespace, input.pod, input.container);
    if (input.checkpointId === undefined && located.container !== container) {
      checkpointId = checkpointIdOfRequest({ ...input.request, ...located });
    }
    phase = 'dispatch';
    const log = deps.log.child({ checkpointId, node: located.node });
    const result = await deps.agents.checkpoint(
      located.agentAddress,
      {
        target: { namespace: located.namespace, pod: located.pod, container: located.container },
        checkpointId,
        ...(input.leaveRunning === undefined ? {} : { leaveRunning: input.leaveRunning }),
        requestId: `${input.request.source} ${input.request.id}`,
      },
      { ...callOptions(input), onProgress: (p) => log.debug({ phase: p.phase, state: p.state }, 'progress') },
    );
    const durations = durationsOf(result.durationsMs, performance.now() - started);
    const data: CheckpointOutcomeData = {
      checkpointId: result.checkpointId || checkpointId,
      namespace: located.namespace,
      pod: located.pod,
      container: located.container,
      node: result.node || located.node,
      location: result.location,
      sizeBytes: result.sizeBytes,
      reused: result.reused,
      durations,
      request: input.request,
    };
    const message = `checkpoint ${data.checkpointId} (${data.sizeBytes} bytes) on ${data.node} in ${durations['total']} ms`;
    await deps.recorder.record(located, EventReason.CHECKPOINTED, message);
    return data;
  } catch (err) {
    const error = errorDataOf(err, phase);
    const target = located ?? { namespace: input.namespace, pod: input.pod, container };
    deps.log.warn({ err, checkpointId, phase: error.phase }, 'checkpoint failed');
    if (located)
      await deps.recorder.record(
        located,
        EventReason.CHECKPOINT_FAILED,
        `${error.code} in ${error.phase}: ${error.message}`,
      );
    return {
      checkpointId,
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      ...(located ? { node: located.node } : {}),
      durations: durationsOf(undefined, performance.now() - started),
      request: input.request,
      error,
    };
  }
}

export async function dispatchRestore(
  deps: DispatchDeps,
  input: RestoreDispatch,
): Promise<RestoreDispatchOutcome> {
  const started = performance.now();
  let located: Located | undefined;
  let phase = 'resolve';
  try {
    located = await deps.resolver.locate(input.namespace, input.pod, input.container);
    phase = 'dispatch';
    const result = await deps.agents.restore(
      located.agentAddress,
      {
        checkpointId: input.checkpointId,
        target: { namespace: located.namespace, pod: located.pod, container: located.container },
        requestId: `${input.request.source} ${input.request.id}`,
        ...(input.lazy === undefined ? {} : { lazy: input.lazy }),
      },
      callOptions(input),
    );
    const durations = durationsOf(result.durationsMs, performance.now() - started);
    const data: RestoreDispatchOutcome = {
      checkpointId: input.checkpointId,
      namespace: located.namespace,
      pod: located.pod,
      container: located.container,
      node: result.node || located.node,
      restoredPid: result.restoredPid,
      durations,
      request: input.request,
    };
    const message = `restored ${input.checkpointId} as pid ${result.restoredPid} on ${data.node} in ${durations['total']} ms`;
    await deps.recorder.record(located, EventReason.RESTORED, message);
    if (result.pagesComplete !== undefined) {
      const where = located;
      const base: RestoreOutcomeData = { ...data };
      data.pagesComplete = result.pagesComplete.then(
        (complete) => ({
          ...base,
          durations: durationsOf(complete.durationsMs, performance.now() - started),
        }),
        (err: unknown) => ({ ...base, error: errorDataOf(err, 'pagesComplete') }),
      );
      void data.pagesComplete?.then((d) =>
        d.error
          ? deps.recorder.record(
              where,
              EventReason.RESTORE_FAILED,
              `${d.error.code} in ${d.error.phase}: ${d.error.message}`,
            )
          : undefined,
      );
    }
    return data;
  } catch (err) {
    const error = errorDataOf(err, phase);
    deps.log.warn({ err, checkpointId: input.checkpointId, phase: error.phase }, 'restore failed');
    if (located)
      await deps.recorder.record(
        located,
        EventReason.RESTORE_FAILED,
        `${error.code} in ${error.phase}: ${error.message}`,
      );
    return {
      checkpointId: input.checkpointId,
      namespace: located?.namespace ?? input.namespace,
      pod: located?.pod ?? input.pod,
      container: located?.container ?? input.container ?? '',
      ...(located ? { node: located.node } : {}),
      durations: durationsOf(undefined, performance.now() - started),
      request: input.request,
      error,
    };
  }
}
