/**
 * A notice about one pod (its DisruptionTarget condition, a Preempted Event, its preStop hook), handled:
 * the pod — if it opted in and is still the pod named (same uid: a pod of the same name may have replaced
 * it) — is checkpointed before its deadline, and a `preemption.handled` summary for its node says how it went.
 * The deadline: the notice's (the pod's deletionTimestamp), else the cached pod's, else the disruption's
 * time plus the pod's grace period, else plus `podBudgetMs`.
 * Checkpoint ids derive from the pod's uid, whichever path asked: the condition, the Event and the hook
 * of one deletion ask for the same checkpoint, and the agent takes it once.
 */
import { checkpointIdOfRequest } from '../events/checkpoint-id.js';
import type { PodNotice } from '../events/notices/notice.js';
import {
  type CheckpointOutcomeData,
  PodOutcome,
  type PreemptionHandledData,
  type RequestRef,
} from '../events/types.js';
import { type DispatchDeps, dispatchCheckpoint } from './checkpoint-restore.js';
import { type FanOutOptions, fanOut } from './fan-out.js';
import { durationsOf, errorDataOf } from './outcome.js';
import type { FanOutSettings } from './preemption.js';
import type { PodState } from './resolver.js';

/** The `source` of the request every notice of one pod's disruption shares. */
export const POD_DISRUPTION_SOURCE = '/snapback/pod-disruption';

/** The request of a pod's disruption, whichever notice brought it: its uid. */
export function podDisruptionRequest(uid: string): RequestRef {
  return { source: POD_DISRUPTION_SOURCE, id: uid };
}

export interface PodNoticeOutcome {
  /** Why nothing was done (the pod did not opt in, or was replaced); absent when it was handled. */
  ignored?: string;
  handled?: PreemptionHandledData;
  checkpoint?: CheckpointOutcomeData;
}

export interface PodNoticeOptions {
  traceparent?: string;
  /** The pod, already resolved (the preStop path resolves it to know its request). */
  state?: PodState;
  /** The request to derive checkpoint ids from; default: the pod's disruption (`podDisruptionRequest`). */
  request?: RequestRef;
  now?: () => number;
}

function deadlineOf(notice: PodNotice, state: PodState, settings: FanOutSettings, now: number): Date {
  const deadline = notice.deadline ?? state.deletionDeadline;
  if (deadline !== undefined) return deadline;
  const graceMs =
    (notice.gracePeriodSeconds ?? state.gracePeriodSeconds ?? settings.podBudgetMs / 1000) * 1000;
  return new Date((notice.since?.getTime() ?? now) + graceMs);
}

export async function handlePodNotice(
  deps: DispatchDeps,
  notice: PodNotice,
  settings: FanOutSettings,
  options: PodNoticeOptions = {},
): Promise<PodNoticeOutcome> {
  const started = performance.now();
  const now = options.now ?? Date.now;
  const { namespace, pod } = notice.pod;
  const name = `${namespace}/${pod}`;
  const base = { format: notice.format, urgency: notice.urgency };
  let state = options.state;
  try {
    state ??= await deps.resolver.optedInPod(namespace, pod);
  } catch (err) {
    const request = options.request ?? podDisruptionRequest(notice.pod.uid ?? name);
    const durations = durationsOf(undefined, performance.now() - started);
    return {
      handled: {
        ...base,
        request,
        node: `pod ${name}`,
        pods: [],
        durations,
        error: errorDataOf(err, 'resolve'),
      },
    };
  }
  if (state === undefined) return { ignored: `pod ${name} did not opt in, or is gone` };
  if (notice.pod.uid !== undefined && state.uid !== undefined && notice.pod.uid !== state.uid) {
    return {
      ignored: `pod ${name} was replaced (the notice is about uid ${notice.pod.uid}, the pod is ${state.uid})`,
    };
  }
  const request = options.request ?? podDisruptionRequest(state.uid ?? notice.pod.uid ?? name);
  const deadline = deadlineOf(notice, state, settings, now());
  const summary = (pods: PreemptionHandledData['pods']): PreemptionHandledData => ({
    ...base,
    deadline: deadline.toISOString(),
    request,
    node: state.node ?? '',
    pods,
    durations: durationsOf(undefined, performance.now() - started),
  });
  const container = state.target?.container ?? state.skipped?.container ?? '';
  const checkpointId = checkpointIdOfRequest({ ...request, namespace, pod, container });
  const ids = { namespace, pod, container, checkpointId };
  if (state.target === undefined) {
    return {
      handled: summary([{ ...ids, outcome: PodOutcome.SKIPPED, reason: state.skipped?.reason ?? 'unknown' }]),
    };
  }
  const target = state.target;
  deps.log.info({ pod: name, node: target.node, deadline, reason: notice.reason }, 'pod notice');
  const fanOutOptions: FanOutOptions = { ...settings, deadline, now };
  const [result] = await fanOut([target], fanOutOptions, (t, callDeadline) =>
    dispatchCheckpoint(deps, {
      request,
      namespace,
      pod,
      container: t.container,
      checkpointId,
      deadline: callDeadline,
      located: t,
      // The pod is going anyway: a checkpoint without the hook's shrinking beats none (docs/hooks.md).
      bestEffortHooks: true,
      ...(options.traceparent ? { traceparent: options.traceparent } : {}),
    }),
  );
  if (result === undefined || !result.ok) {
    const left = result === undefined ? 0 : Math.max(0, Math.round(result.leftMs));
    return {
      handled: summary([
        { ...ids, outcome: PodOutcome.SKIPPED, reason: `too late: ${left} ms left before the deadline` },
      ]),
    };
  }
  const checkpoint = result.value;
  const entry = {
    ...ids,
    checkpointId: checkpoint.checkpointId,
    outcome: checkpoint.error ? PodOutcome.FAILED : PodOutcome.CHECKPOINTED,
    durations: checkpoint.durations,
    ...(checkpoint.error ? { error: checkpoint.error } : {}),
  };
  return { handled: summary([entry]), checkpoint };
}
