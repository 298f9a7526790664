/**
 * The restore function's second kind of event: the restore source's Pod updates (docs/deploy.md, "Restore
 * into the replacement pod"). A pod that opted in, scheduled, its container started, is restored once —
 * one request per pod uid, however many updates and duplicates arrive — from the checkpoint its label
 * names, or started cold; what happened is written on the pod (src/dispatch/restore-loop.ts). Updates that
 * ask for nothing (decided, being restored, not started yet) are answered 2xx at once and not remembered.
 */
import { CloudEvent } from 'cloudevents';
import { RESTORE_LOOP_SOURCE, restoreIntoPod, restoreLoopRequest } from '../../src/dispatch/restore-loop.js';
import { restoreCompletion } from '../../src/events/completion.js';
import {
  CLAIM_TTL_MS,
  parseReplacementPod,
  type ReplacementPodResult,
} from '../../src/events/replacement-pod.js';
import { dataOf } from '../../src/events/schemas.js';
import type { RequestRef } from '../../src/events/types.js';
import type { FunctionContext, Reply } from '../../src/http/context.js';

/** The pod an update asks to restore, or why not; INVALID_ARGUMENT naming fields. */
export function parsePodUpdate(event: CloudEvent<unknown>, now: Date): ReplacementPodResult {
  return parseReplacementPod(dataOf(event), now, CLAIM_TTL_MS);
}

/** One request per pod uid; updates that ask for nothing are not remembered. */
export function podUpdateRequest(event: CloudEvent<unknown>): RequestRef | null | undefined {
  let parsed: ReplacementPodResult;
  try {
    parsed = parsePodUpdate(event, new Date());
  } catch {
    return undefined; // refused by validate() before it gets here
  }
  return 'ignored' in parsed ? null : restoreLoopRequest(parsed.pod.uid);
}

export async function handlePodUpdate(context: FunctionContext, event: CloudEvent<unknown>): Promise<Reply> {
  const parsed = parsePodUpdate(event, context.now());
  if ('ignored' in parsed) {
    context.log.debug({ why: parsed.ignored }, 'pod update ignored');
    return undefined;
  }
  const { pod } = parsed;
  const { defaultBudgetMs, safetyMarginMs } = context.fanOut;
  const outcome = await restoreIntoPod(context.dispatch, pod, {
    now: context.now,
    deadline: new Date(context.now().getTime() + defaultBudgetMs - safetyMarginMs),
    claimTtlMs: CLAIM_TTL_MS,
    ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
  });
  if (outcome.ignored !== undefined) {
    context.log.info({ pod: `${pod.namespace}/${pod.name}`, why: outcome.ignored }, 'pod update ignored');
    return undefined;
  }
  if (outcome.restore === undefined) return undefined;
  // The completion's id derives from the pod's restore (its uid), whichever update brought it.
  const asked = new CloudEvent<unknown>(
    {
      specversion: '1.0',
      type: event.type,
      source: RESTORE_LOOP_SOURCE,
      id: pod.uid,
      ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    },
    false,
  );
  return restoreCompletion({ source: context.source, request: asked, time: context.now() }, outcome.restore);
}
