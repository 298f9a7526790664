/**
 * The restore loop (docs/deploy.md, "Restore into the replacement pod"): a pod labelled
 * `snapback.io/restore`, scheduled, its container started (snapback-init waits as its PID 1)
 * → claimed: the status annotation `restoring since …`, written only while the pod is at the version the
 *   event saw, so that one function replica acts on it however many events and replicas see it
 * → its `snapback.io/restored` condition False (Restoring)
 * → the checkpoint it takes (restore-choice.ts) restored into it by its node's agent, or its init told to
 *   start cold
 * → the outcome on the pod: the condition True — its readiness gate lets the pod turn Ready, restored or
 *   running its own command — then the annotation (`restored <id>`, `cold: <why>`, `failed: <why>,
 *   started cold`) and a Kubernetes Event.
 * A failed restore leaves the pod to start cold, never half-restored: the agent kills what it restored and
 * snapback-init starts the restarted container cold; a restore refused before it touched the pod leaves
 * the init waiting, and it is told to start cold here.
 */
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { ErrorCode, publicMessage, SnapbackError } from '../errors.js';
import { RESTORE_STATUS_ANNOTATION, RESTORED_CONDITION } from '../events/opt-in.js';
import { claimOf, parseReplacementPod, type ReplacementPod } from '../events/replacement-pod.js';
import type { RequestRef, RestoreOutcomeData } from '../events/types.js';
import type { Logger } from '../log.js';
import { type DispatchDeps, dispatchRestore } from './checkpoint-restore.js';
import type { PodWriter } from './pod-status.js';
import { EventReason } from './recorder.js';
import type { Located } from './resolver.js';
import { chooseCheckpoint } from './restore-choice.js';

/** The `source` of the request every event about one pod's restore shares. */
export const RESTORE_LOOP_SOURCE = '/snapback/restore-loop';

/** The request of a pod's restore, whichever event brought it: its uid. */
export function restoreLoopRequest(uid: string): RequestRef {
  return { source: RESTORE_LOOP_SOURCE, id: uid };
}

/** The reasons of the `snapback.io/restored` condition (CamelCase, as the API conventions ask). */
export const ConditionReason = {
  RESTORING: 'Restoring',
  RESTORED: 'Restored',
  STARTED_COLD: 'StartedCold',
  RESTORE_FAILED: 'RestoreFailed',
} as const;

export interface RestoreLoopOptions {
  now: () => Date;
  /** By when the restore must be done (the function answers its request then). */
  deadline: Date;
  /** A claim older than this was left by a function that did not finish: it is taken over. */
  claimTtlMs: number;
  traceparent?: string;
}

export interface RestoreLoopOutcome {
  /** Why nothing was done (another replica claimed the pod, it is gone). */
  ignored?: string;
  /** What the pod's status annotation says now. */
  status?: string;
  /** The restore dispatched, when there was one. */
  restore?: RestoreOutcomeData;
}

type Decision =
  | { restored: RestoreOutcomeData }
  | { cold: string }
  | { failed: string; restore?: RestoreOutcomeData };

/** Agent calls other than the restore itself: quick questions. */
const QUESTION_MS = 30_000;

/** The pod, claimed at the version last seen; or why not (decided elsewhere, gone). */
async function claim(
  pods: PodWriter,
  pod: ReplacementPod,
  options: RestoreLoopOptions,
): Promise<ReplacementPod | { ignored: string }> {
  const name = `${pod.namespace}/${pod.name}`;
  let current = pod;
  for (let attempt = 0; attempt < 5; attempt++) {
    const at = current.resourceVersion;
    const value = { [RESTORE_STATUS_ANNOTATION]: claimOf(options.now()) };
    const claimed =
      at !== undefined &&
      (await pods.annotate(pod.namespace, pod.name, value, at).catch((err: unknown) => {
        if (SnapbackError.from(err).code === ErrorCode.NOT_FOUND) return undefined;
        throw err;
      }));
    if (claimed === undefined) return { ignored: `pod ${name} is gone` };
    if (claimed) return current;
    // The pod changed since the event (the kubelet's status, another replica's claim): read it again.
    const fresh = await pods.read(pod.namespace, pod.name);
    if (fresh === undefined || fresh.metadata?.uid !== pod.uid) return { ignored: `pod ${name} is gone` };
    const parsed = parseReplacementPod(fresh, options.now(), options.claimTtlMs);
    if ('ignored' in parsed) {
      if (parsed.settled) return { ignored: parsed.ignored };
      throw new SnapbackError(
        ErrorCode.UNAVAILABLE,
        `pod ${name} changed while it was being claimed (${parsed.ignored}): its next update is acted on`,
      );
    }
    current = parsed.pod;
  }
  throw new SnapbackError(ErrorCode.ABORTED, `pod ${name} kept changing while it was being claimed`);
}

const messageOf = (err: unknown) => publicMessage(SnapbackError.from(err));

/** Restore, start cold, or fail; `located` when the pod's agent is known. */
async function decide(
  deps: DispatchDeps,
  pod: ReplacementPod,
  options: RestoreLoopOptions,
): Promise<{ decision: Decision; located?: Located }> {
  let located: Located;
  try {
    located = await deps.resolver.locatePod(pod.object as V1Pod, pod.container || undefined);
  } catch (err) {
    if (pod.problem !== undefined) return { decision: { cold: pod.problem } };
    return { decision: { failed: `cannot reach the agent of node ${pod.node}: ${messageOf(err)}` } };
  }
  if (pod.problem !== undefined) return { decision: { cold: pod.problem }, located };
  if (pod.restarts > 0) {
    const why = `container ${pod.container} restarted before a restore (a restarted container starts cold)`;
    return { decision: { cold: why }, located };
  }
  try {
    const workload = await located.workload?.();
    if (workload === undefined) throw new SnapbackError(ErrorCode.INTERNAL, 'the pod has no workload');
    const deadline = new Date(Math.min(options.deadline.getTime(), Date.now() + QUESTION_MS));
    const choice = await chooseCheckpoint(
      deps.agents,
      located.agentAddress,
      pod.from,
      workload.identity,
      deadline,
    );
    if ('cold' in choice) return { decision: choice, located };
    const { pagesComplete: _, ...restore } = await dispatchRestore(deps, {
      request: restoreLoopRequest(pod.uid),
      checkpointId: choice.checkpointId,
      namespace: pod.namespace,
      pod: pod.name,
      container: located.container,
      located,
      deadline: options.deadline,
      ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
    });
    if (restore.error === undefined) return { decision: { restored: restore }, located };
    const { code, phase, message } = restore.error;
    const failed = `restore of ${choice.checkpointId}: ${code} in ${phase}: ${message}`;
    return { decision: { failed, restore }, located };
  } catch (err) {
    return { decision: { failed: `cannot choose a checkpoint: ${messageOf(err)}` }, located };
  }
}

/** Tells a waiting snapback-init to run the container's own command; nothing waits is nothing to tell. */
async function startCold(deps: DispatchDeps, located: Located, reason: string, log: Logger): Promise<void> {
  const target = { namespace: located.namespace, pod: located.pod, container: located.container };
  try {
    await deps.agents.startCold(located.agentAddress, target, reason.slice(0, 512), {
      deadline: new Date(Date.now() + QUESTION_MS),
    });
  } catch (err) {
    const error = SnapbackError.from(err);
    // No init waits (the process runtime, or the agent already made it start cold): the pod runs its own
    // command. Any other failure: the init starts cold on its own once its --wait has passed.
    const level = error.code === ErrorCode.FAILED_PRECONDITION ? 'debug' : 'warn';
    log[level]({ err: error }, 'start cold: nothing told to the pod');
  }
}

/** A write on the pod, tried three times while the API is unavailable; a gone pod needs nothing. */
async function persist(log: Logger, what: string, write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (err) {
      const error = SnapbackError.from(err);
      if (error.code !== ErrorCode.UNAVAILABLE || attempt === 3) {
        log.error({ err: error }, `could not write ${what} on the pod`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

function summary(decision: Decision): { status: string; reason: string; message: string } {
  if ('restored' in decision) {
    const { checkpointId, node, durations } = decision.restored;
    const message = `restored checkpoint ${checkpointId} on ${node ?? 'its node'} in ${durations['total']} ms`;
    return { status: `restored ${checkpointId}`, reason: ConditionReason.RESTORED, message };
  }
  if ('cold' in decision) {
    const message = `started cold: ${decision.cold}`;
    return { status: `cold: ${decision.cold}`, reason: ConditionReason.STARTED_COLD, message };
  }
  const message = `restore failed, started cold: ${decision.failed}`;
  return {
    status: `failed: ${decision.failed}, started cold`,
    reason: ConditionReason.RESTORE_FAILED,
    message,
  };
}

function condition(status: 'True' | 'False', reason: string, message: string, now: Date): V1PodCondition {
  return {
    type: RESTORED_CONDITION,
    status,
    reason,
    message: message.slice(0, 1024),
    lastTransitionTime: now,
  };
}

/** Restores into `pod` once (or starts it cold) and says so on the pod. */
export async function restoreIntoPod(
  deps: DispatchDeps,
  pod: ReplacementPod,
  options: RestoreLoopOptions,
): Promise<RestoreLoopOutcome> {
  const pods = deps.pods;
  if (pods === undefined) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      'the restore loop writes on pods: it needs cluster mode (--kubeconfig, or run in a cluster)',
    );
  }
  const { namespace, name } = pod;
  const log = deps.log.child({ pod: `${namespace}/${name}`, uid: pod.uid });
  const claimed = await claim(pods, pod, options);
  if ('ignored' in claimed) return claimed;
  if (claimed.staleClaim !== undefined) log.warn({ claim: claimed.staleClaim }, 'taking over a stale claim');
  await persist(log, 'the Restoring condition', () =>
    pods.setCondition(
      namespace,
      name,
      condition(
        'False',
        ConditionReason.RESTORING,
        `snapback restores the pod (${claimed.from})`,
        options.now(),
      ),
    ),
  );
  const { decision, located } = await decide(deps, claimed, options);
  const { status, reason, message } = summary(decision);
  if (!('restored' in decision) && located !== undefined) await startCold(deps, located, status, log);
  // The condition first: a pod whose annotation says decided gets no later event to set it.
  await persist(log, 'the restored condition', () =>
    pods.setCondition(namespace, name, condition('True', reason, message, options.now())),
  );
  await persist(log, 'the restore status', () =>
    pods.annotate(namespace, name, { [RESTORE_STATUS_ANNOTATION]: status.slice(0, 1024) }),
  );
  const restore =
    'restored' in decision ? decision.restored : 'failed' in decision ? decision.restore : undefined;
  // A dispatched restore recorded its own Event (Restored or RestoreFailed).
  if (restore === undefined) {
    const eventReason = 'cold' in decision ? EventReason.STARTED_COLD : EventReason.RESTORE_FAILED;
    const target = located ?? { namespace, pod: name, container: pod.container, podUid: pod.uid };
    await deps.recorder.record(target, eventReason, message);
  }
  log.info({ status }, 'restore loop decided');
  return { status, ...(restore === undefined ? {} : { restore }) };
}
