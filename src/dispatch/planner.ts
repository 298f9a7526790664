/**
 * The deadline planner: which of a node's checkpoints to start, in which order, when a notice's deadline
 * cannot hold them all — rather than starting every one and finishing none.
 * - Rank: the pod's `snapback.io/priority` (higher first), then the quickest checkpoint first (at equal
 *   priority every pod counts the same, and the quickest first finish the most before the deadline), then
 *   the order the node's pods were found in. A pod whose priority cannot be read is not ranked: it goes
 *   first, and its checkpoint is refused at once, naming the annotation (`checkpoint-restore.ts`).
 * - Size: the target's last checkpoint, when the functions saw one (`checkpoint-history.ts`); else its
 *   container's memory request (else limit) plus its GPUs × `gpuMemoryBytes` (`plan-facts.ts`); else
 *   unknown: such a checkpoint is started, after the others of its priority, and is not counted.
 * - Time: the checkpoints of one node write to the same disk, so together they take their bytes' sum over
 *   the node's throughput (measured, else `defaultThroughputBytesPerSecond`), whatever their concurrency.
 *   A checkpoint is started when the bytes of those ranked before it and its own fit in the time left before
 *   the deadline (minus the safety margin); else it is skipped, and the reason says the numbers. A smaller
 *   one ranked after it may still fit.
 * Without a deadline (an early warning) nothing is skipped: the default budget is no promise to keep.
 */
import { formatBytes, formatMs } from '../format.js';
import type { CheckpointHistory } from './checkpoint-history.js';
import type { Located } from './resolver.js';

export interface PlanSettings {
  /** A node's throughput (bytes/s) until one of its checkpoints was measured: a modest local disk's. */
  defaultThroughputBytesPerSecond: number;
  /** What one GPU adds to the size of a checkpoint never measured: the device memory it brings to the host. */
  gpuMemoryBytes: number;
}

export const defaultPlanSettings: PlanSettings = {
  defaultThroughputBytesPerSecond: 500 * 2 ** 20,
  gpuMemoryBytes: 24 * 2 ** 30,
};

export interface Estimate {
  bytes: number;
  /** `measured`: the target's last checkpoint; `requested`: its resources. */
  from: 'measured' | 'requested';
}

/** What a checkpoint of `target` will write, as well as can be told before it runs. */
export function estimateOf(
  target: Located,
  history: CheckpointHistory | undefined,
  settings: PlanSettings,
): Estimate | undefined {
  const last = history?.lastSizeOf(target);
  if (last !== undefined) return { bytes: last, from: 'measured' };
  const facts = target.plan;
  if (facts === undefined || (facts.memoryBytes === undefined && facts.gpuCount === 0)) return undefined;
  return { bytes: (facts.memoryBytes ?? 0) + facts.gpuCount * settings.gpuMemoryBytes, from: 'requested' };
}

export interface PlanInput {
  /** Time left before the calls' deadline; undefined when the notice has no deadline. */
  budgetMs: number | undefined;
  throughputBytesPerSecond: number;
  estimate(target: Located): Estimate | undefined;
}

export interface Plan<T extends Located> {
  /** To start, in this order. */
  start: T[];
  /** Not started: they cannot finish before the deadline. */
  skipped: Array<{ target: T; reason: string }>;
}

/** The node's targets ranked, and those that fit the budget (module comment). */
export function planCheckpoints<T extends Located>(targets: readonly T[], input: PlanInput): Plan<T> {
  const ranked = targets
    .map((target, index) => ({ target, index, estimate: input.estimate(target) }))
    .sort(
      (a, b) =>
        Number(b.target.plan?.priorityProblem !== undefined) -
          Number(a.target.plan?.priorityProblem !== undefined) ||
        (b.target.plan?.priority ?? 0) - (a.target.plan?.priority ?? 0) ||
        (a.estimate?.bytes ?? Number.POSITIVE_INFINITY) - (b.estimate?.bytes ?? Number.POSITIVE_INFINITY) ||
        a.index - b.index,
    );
  const plan: Plan<T> = { start: [], skipped: [] };
  const budgetBytes =
    input.budgetMs === undefined
      ? Number.POSITIVE_INFINITY
      : (Math.max(0, input.budgetMs) / 1000) * input.throughputBytesPerSecond;
  let planned = 0;
  for (const { target, estimate } of ranked) {
    if (estimate === undefined || target.plan?.priorityProblem !== undefined) {
      plan.start.push(target);
    } else if (planned + estimate.bytes <= budgetBytes) {
      plan.start.push(target);
      planned += estimate.bytes;
    } else {
      plan.skipped.push({ target, reason: skipReason(estimate, planned, input) });
    }
  }
  return plan;
}

function skipReason(estimate: Estimate, planned: number, input: PlanInput): string {
  const rate = input.throughputBytesPerSecond;
  const needMs = ((planned + estimate.bytes) / rate) * 1000;
  const from = estimate.from === 'measured' ? 'as its last checkpoint' : 'estimated from its memory and GPUs';
  const before = planned > 0 ? `, after the ${formatBytes(planned)} ranked before it,` : '';
  return (
    `cannot finish before the deadline: its ${formatBytes(estimate.bytes)} (${from})${before} ` +
    `need ${formatMs(needMs)} at ${formatBytes(rate)}/s; ${formatMs(Math.max(0, input.budgetMs ?? 0))} left`
  );
}
