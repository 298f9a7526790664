/**
 * A preemption notice, handled: the nodes it names → every opted-in target on each → the deadline planner
 * ranks them and skips those that cannot finish in time (`planner.ts`) → checkpoints in parallel (bounded),
 * in the plan's order, each with the remaining budget as its gRPC deadline → one summary per node.
 * Checkpoint ids derive from the notice and the target, so a redelivered notice asks for the same ids.
 */

import { checkpointIdOfRequest } from '../events/checkpoint-id.js';
import type { NodeRef, PreemptionNotice } from '../events/notices/notice.js';
import type { CheckpointOutcomeData, PreemptionHandledData, RequestRef } from '../events/types.js';
import { PodOutcome } from '../events/types.js';
import { type DispatchDeps, dispatchCheckpoint } from './checkpoint-restore.js';
import { callDeadlineOf, type FanOutOptions, fanOut } from './fan-out.js';
import { durationsOf, errorDataOf } from './outcome.js';
import { defaultPlanSettings, estimateOf, type Plan, type PlanSettings, planCheckpoints } from './planner.js';
import type { Located } from './resolver.js';

export type FanOutSettings = Omit<FanOutOptions, 'deadline' | 'now'> &
  PlanSettings & {
    /** Budget of a pod-level notice that tells neither the pod's deletion time nor its grace period. */
    podBudgetMs: number;
  };

export const defaultFanOutSettings: FanOutSettings = {
  concurrency: 8,
  safetyMarginMs: 10_000,
  defaultBudgetMs: 10 * 60_000,
  minimumCallMs: 1_000,
  // Kubernetes' default terminationGracePeriodSeconds.
  podBudgetMs: 30_000,
  ...defaultPlanSettings,
};

export interface PreemptionResult {
  handled: PreemptionHandledData[];
  checkpoints: CheckpointOutcomeData[];
}

function describe(ref: NodeRef): string {
  if ('node' in ref) return ref.node;
  if ('providerIdSuffix' in ref) return `providerID */${ref.providerIdSuffix}`;
  if ('providerId' in ref) return `providerID ${ref.providerId}`;
  return `VM ${ref.vmName}`;
}

export async function handlePreemption(
  deps: DispatchDeps,
  notice: PreemptionNotice,
  request: RequestRef,
  settings: FanOutSettings,
  traceparent?: string,
): Promise<PreemptionResult> {
  const result: PreemptionResult = { handled: [], checkpoints: [] };
  for (const ref of notice.nodes) {
    const started = performance.now();
    const base = {
      format: notice.format,
      urgency: notice.urgency,
      ...(notice.deadline ? { deadline: notice.deadline.toISOString() } : {}),
      request,
    };
    let nodes: string[];
    try {
      nodes = await deps.resolver.nodesFor(ref);
    } catch (err) {
      result.handled.push({
        ...base,
        node: describe(ref),
        pods: [],
        durations: durationsOf(undefined, performance.now() - started),
        error: errorDataOf(err, 'resolve'),
      });
      continue;
    }
    if (nodes.length === 0) {
      const error = { code: 'NOT_FOUND', phase: 'resolve', message: `no node matches ${describe(ref)}` };
      result.handled.push({
        ...base,
        node: describe(ref),
        pods: [],
        durations: durationsOf(undefined, performance.now() - started),
        error,
      });
      continue;
    }
    for (const node of nodes) {
      const { handled, checkpoints } = await handleNode(deps, notice, request, settings, node, traceparent);
      result.handled.push({
        ...base,
        ...handled,
        durations: durationsOf(undefined, performance.now() - started),
      });
      result.checkpoints.push(...checkpoints);
    }
  }
  return result;
}

/** The node's plan (planner.ts) and the fan-out's options, logged. */
function planNode(
  deps: DispatchDeps,
  node: string,
  targets: readonly Located[],
  notice: PreemptionNotice,
  settings: FanOutSettings,
): { plan: Plan<Located>; options: FanOutOptions } {
  const options: FanOutOptions = { ...settings, ...(notice.deadline ? { deadline: notice.deadline } : {}) };
  const callDeadline = callDeadlineOf(options);
  const throughput = deps.history?.throughputOf(node);
  const plan = planCheckpoints(targets, {
    budgetMs: notice.deadline ? callDeadline.getTime() - Date.now() : undefined,
    throughputBytesPerSecond: throughput ?? settings.defaultThroughputBytesPerSecond,
    estimate: (target) => estimateOf(target, deps.history, settings),
  });
  deps.log.info(
    {
      node,
      targets: targets.length,
      skipped: plan.skipped.length,
      deadline: callDeadline,
      throughput: throughput === undefined ? 'default' : Math.round(throughput),
    },
    'preemption fan-out',
  );
  return { plan, options };
}

async function handleNode(
  deps: DispatchDeps,
  notice: PreemptionNotice,
  request: RequestRef,
  settings: FanOutSettings,
  node: string,
  traceparent?: string,
): Promise<{
  handled: Pick<PreemptionHandledData, 'node' | 'pods' | 'error'>;
  checkpoints: CheckpointOutcomeData[];
}> {
  let found: {
    targets: Located[];
    skipped: Array<Omit<Located, 'node' | 'agentAddress'> & { reason: string }>;
  };
  try {
    found = await deps.resolver.targetsOn(node);
  } catch (err) {
    return { handled: { node, pods: [], error: errorDataOf(err, 'resolve') }, checkpoints: [] };
  }
  const idOf = (t: { namespace: string; pod: string; container: string }) =>
    checkpointIdOfRequest({ ...request, ...t });
  const { plan, options } = planNode(deps, node, found.targets, notice, settings);
  const results = await fanOut(plan.start, options, (target, deadline) =>
    dispatchCheckpoint(deps, {
      request,
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      checkpointId: idOf(target),
      deadline,
      located: target,
      // The node is going anyway: a checkpoint without the hook's shrinking beats none (docs/hooks.md).
      bestEffortHooks: true,
      ...(traceparent ? { traceparent } : {}),
    }),
  );
  const pods: PreemptionHandledData['pods'] = [];
  const checkpoints: CheckpointOutcomeData[] = [];
  results.forEach((r, i) => {
    const target = plan.start[i]!;
    const ids = {
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      checkpointId: idOf(target),
    };
    if (!r.ok) {
      pods.push({
        ...ids,
        outcome: PodOutcome.SKIPPED,
        reason: `too late: ${Math.max(0, Math.round(r.leftMs))} ms left before the deadline`,
      });
      return;
    }
    checkpoints.push(r.value);
    pods.push({
      ...ids,
      checkpointId: r.value.checkpointId,
      outcome: r.value.error ? PodOutcome.FAILED : PodOutcome.CHECKPOINTED,
      durations: r.value.durations,
      ...(r.value.error ? { error: r.value.error } : {}),
    });
  });
  const notStarted = plan.skipped.map(({ target: { namespace, pod, container }, reason }) => ({
    namespace,
    pod,
    container,
    reason,
  }));
  for (const s of [...notStarted, ...found.skipped])
    pods.push({ ...s, checkpointId: idOf(s), outcome: PodOutcome.SKIPPED });
  return { handled: { node, pods }, checkpoints };
}
