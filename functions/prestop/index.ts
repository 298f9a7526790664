/**
 * The preStop path (docs/deploy.md, "A pod's preStop hook"): a pod's own hook asks, through the relay beside
 * it (`snapback prestop`), for its checkpoint before the kubelet sends SIGTERM: `POST /prestop?namespace=…
 * &pod=…[&container=…]` on the preemption function → that pod, if it opted in, checkpointed before its
 * deletionTimestamp (its grace period) → a checkpoint completion and a `preemption.handled`, as for any
 * notice. A hook of a deleted pod is the same request as the pod's disruption (its uid), so the hook, its
 * DisruptionTarget update and a Preempted Event get one checkpoint; a hook before a container restart (the
 * pod stays) gets one per restart.
 */
import { CloudEvent } from 'cloudevents';
import {
  handlePodNotice,
  POD_DISRUPTION_SOURCE,
  podDisruptionRequest,
} from '../../src/dispatch/pod-notice.js';
import type { PodState } from '../../src/dispatch/resolver.js';
import { ErrorCode, SnapbackError } from '../../src/errors.js';
import { checkpointCompletion, preemptionHandled } from '../../src/events/completion.js';
import { NoticeFormat, Urgency } from '../../src/events/notices/index.js';
import { dataProblems } from '../../src/events/schemas.js';
import type { RequestRef } from '../../src/events/types.js';
import type { FunctionContext, PreStopHandler, PreStopTarget } from '../../src/http/context.js';
import { DNS1123_LABEL_PATTERN, DNS1123_SUBDOMAIN_PATTERN } from '../../src/ids.js';
import { ajv } from '../../src/validation/ajv.js';

export const PRESTOP_SOURCE = '/snapback/prestop';

const validateQuery = ajv.compile<PreStopTarget>({
  type: 'object',
  required: ['namespace', 'pod'],
  additionalProperties: false,
  properties: {
    namespace: { type: 'string', pattern: DNS1123_LABEL_PATTERN },
    pod: { type: 'string', pattern: DNS1123_SUBDOMAIN_PATTERN },
    container: { type: 'string', pattern: DNS1123_LABEL_PATTERN },
  },
});

/** The query string's target, or INVALID_ARGUMENT naming each field (`query.pod`). */
export function decodePreStopQuery(query: unknown): PreStopTarget {
  const problems = dataProblems(validateQuery, query).map((p) => ({
    field: p.field.replace(/^data/, 'query'),
    message: p.message,
  }));
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new SnapbackError(ErrorCode.INVALID_ARGUMENT, `invalid preStop request: ${summary}`, {
      details: problems,
    });
  }
  return query as PreStopTarget;
}

/** The request a hook is part of: the pod's disruption when it is being deleted, else its container's restart. */
export function preStopRequest(state: PodState): RequestRef {
  const uid = state.uid ?? `${state.namespace}/${state.pod}`;
  if (state.deletionDeadline !== undefined || state.uid === undefined) return podDisruptionRequest(uid);
  return { source: PRESTOP_SOURCE, id: `${uid}/restart-${state.restarts ?? 0}` };
}

/** The checkpoint a hook asks for, as the events a notice yields (a completion, a `preemption.handled`). */
export async function handlePreStop(
  context: FunctionContext,
  target: PreStopTarget,
  state: PodState,
  request: RequestRef,
): Promise<CloudEvent<unknown>[]> {
  const outcome = await handlePodNotice(
    context.dispatch,
    {
      format: NoticeFormat.PRESTOP_HOOK,
      urgency: Urgency.IMMINENT,
      pod: { namespace: target.namespace, pod: target.pod, ...(state.uid ? { uid: state.uid } : {}) },
      reason: `preStop hook of ${target.namespace}/${target.pod}`,
    },
    context.fanOut,
    {
      state,
      request,
      now: () => context.now().getTime(),
      ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    },
  );
  context.log.info(
    { pod: `${target.namespace}/${target.pod}`, request, ignored: outcome.ignored },
    'preStop handled',
  );
  // The completion events' ids derive from the request, as for a notice delivered as a CloudEvent.
  const asked = new CloudEvent<unknown>(
    {
      specversion: '1.0',
      type: NoticeFormat.PRESTOP_HOOK,
      source: request.source === POD_DISRUPTION_SOURCE ? POD_DISRUPTION_SOURCE : PRESTOP_SOURCE,
      id: request.id,
      ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    },
    false,
  );
  const completion = { source: context.source, request: asked, time: context.now() };
  return [
    ...(outcome.checkpoint ? [checkpointCompletion(completion, outcome.checkpoint)] : []),
    ...(outcome.handled ? [preemptionHandled(completion, outcome.handled)] : []),
  ];
}

/** The preStop door the transport serves on the preemption function (src/http/prestop-route.ts). */
export const preStopHandler: PreStopHandler = {
  decode: decodePreStopQuery,
  requestOf: preStopRequest,
  handle: handlePreStop,
};
