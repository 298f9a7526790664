/**
 * `POST /prestop?namespace=…&pod=…[&container=…]` on the preemption function: a pod's preStop hook (through
 * its relay, `snapback prestop`) asks for its checkpoint and gets the answer only when the checkpoint is done
 * or failed — 200 with the completion's data; the error's status (412, 503, 504 …) with it otherwise; 404
 * for a pod that did not opt in. The pod is read fresh from the API (the hook follows a deletion the cache
 * may not have seen yet); its request shares the idempotency cache with the pod's other notices.
 */
import type { CloudEvent } from 'cloudevents';
import type { Request, Response } from 'express';
import { ErrorCode, httpStatusOf, SnapbackError } from '../errors.js';
import { type CheckpointOutcomeData, EventType, type PreemptionHandledData } from '../events/types.js';
import { FunctionName, type PreStopHandler } from './context.js';
import { IdempotencyCache } from './idempotency.js';
import { errorBody, sendError } from './replies.js';
import { deliverToSink } from './request.js';
import type { AppState } from './state.js';

export const PRESTOP_PATH = '/prestop';

/** The HTTP answer of a hook's events: the completion, or why there is none. */
function answerOf(events: readonly CloudEvent<unknown>[]): { status: number; body: unknown } {
  const completion = events.find(
    (e) => e.type === EventType.CHECKPOINT_COMPLETED || e.type === EventType.CHECKPOINT_FAILED,
  );
  if (completion !== undefined) {
    const checkpoint = completion.data as CheckpointOutcomeData;
    if (checkpoint.error === undefined) return { status: 200, body: { checkpoint } };
    const error = new SnapbackError(checkpoint.error.code as ErrorCode, checkpoint.error.message, {
      phase: checkpoint.error.phase,
    });
    return { status: httpStatusOf[error.code] ?? 500, body: { ...errorBody(error), checkpoint } };
  }
  const handled = events.find((e) => e.type === EventType.PREEMPTION_HANDLED)?.data as
    | PreemptionHandledData
    | undefined;
  const reason = handled?.error?.message ?? handled?.pods[0]?.reason ?? 'nothing was done';
  const code = handled?.error
    ? (handled.error.code as ErrorCode)
    : reason.startsWith('too late')
      ? ErrorCode.DEADLINE_EXCEEDED
      : ErrorCode.FAILED_PRECONDITION;
  return { status: httpStatusOf[code] ?? 500, body: errorBody(new SnapbackError(code, reason)) };
}

/** The route of a hook, answered by `handler` (functions/prestop/index.ts). */
export function preStopRoute(state: AppState, handler: PreStopHandler) {
  return async (req: Request, res: Response) => {
    let status: number;
    try {
      const target = handler.decode({ ...req.query });
      const header = req.headers['traceparent'];
      const context = state.context(FunctionName.PREEMPTION, typeof header === 'string' ? header : undefined);
      const pod = await context.dispatch.resolver.optedInPod(
        target.namespace,
        target.pod,
        target.container,
        true,
      );
      if (pod === undefined) {
        throw new SnapbackError(ErrorCode.NOT_FOUND, `no opted-in pod ${target.namespace}/${target.pod}`);
      }
      const request = handler.requestOf(pod);
      const key = IdempotencyCache.keyOf(FunctionName.PREEMPTION, request.source, request.id);
      const once = await state.idempotency.run(key, () => handler.handle(context, target, pod, request));
      if (state.sink !== undefined) await deliverToSink(state, [once]);
      const answer = answerOf(once.value);
      status = answer.status;
      res.status(status).json(answer.body);
    } catch (err) {
      status = sendError(res, err);
    }
    state.metrics.requests.inc({ route: PRESTOP_PATH, status: String(status) });
  };
}
