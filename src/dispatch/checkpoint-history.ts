/**
 * What the functions learn from the checkpoints they see complete, for the deadline planner (`planner.ts`):
 * - each node's throughput: a checkpoint's `sizeBytes` over the time of its capture phases (CUDA's
 *   checkpoint to host memory, CRIU's dump — the container's files are captured inside it — and the
 *   manifest with its fsync), the median of the node's last few such measurements. Checkpoints smaller
 *   than `MIN_SAMPLE_BYTES` teach nothing (CRIU's fixed costs, not the disk, make their time), nor do
 *   reused ones (nothing was written). A checkpoint that shared the disk with others measured its share
 *   only: the error is on the safe side;
 * - each target's last checkpoint size, the best estimate of its next one.
 * Both are kept in memory, per function replica: a new replica starts from the planner's defaults.
 */
import type { CheckpointOutcomeData } from '../events/types.js';

/** The agent's phases (docs/architecture.md, "Executor") whose time is spent moving the checkpoint's bytes. */
export const CAPTURE_PHASES: readonly string[] = ['cudaCheckpoint', 'criuDump', 'manifest'];
export const MIN_SAMPLE_BYTES = 64 * 2 ** 20;
const SAMPLES_PER_NODE = 5;
/** Targets remembered; the least recently checkpointed are forgotten first. */
const MAX_TARGETS = 10_000;

export interface TargetKey {
  namespace: string;
  pod: string;
  container: string;
}

export interface CheckpointHistory {
  /** Learns from a checkpoint's outcome (failures and reused checkpoints teach nothing). */
  record(outcome: CheckpointOutcomeData): void;
  /** The node's measured throughput in bytes per second; undefined before any measurement. */
  throughputOf(node: string): number | undefined;
  /** The size of the target's last checkpoint; undefined when none was seen. */
  lastSizeOf(target: TargetKey): number | undefined;
}

const keyOf = (t: TargetKey) => `${t.namespace}/${t.pod}/${t.container}`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function createCheckpointHistory(): CheckpointHistory {
  const samples = new Map<string, number[]>();
  const sizes = new Map<string, number>();
  return {
    record(outcome) {
      const size = outcome.sizeBytes;
      if (outcome.error !== undefined || outcome.reused || size === undefined || size <= 0) return;
      const key = keyOf(outcome);
      sizes.delete(key);
      sizes.set(key, size);
      if (sizes.size > MAX_TARGETS) sizes.delete(sizes.keys().next().value!);
      const ms = CAPTURE_PHASES.reduce((sum, phase) => sum + (outcome.durations[phase] ?? 0), 0);
      if (outcome.node === undefined || size < MIN_SAMPLE_BYTES || ms <= 0) return;
      const node = [...(samples.get(outcome.node) ?? []), (size * 1000) / ms];
      samples.set(outcome.node, node.slice(-SAMPLES_PER_NODE));
    },
    throughputOf(node) {
      const measured = samples.get(node);
      return measured === undefined ? undefined : median(measured);
    },
    lastSizeOf(target) {
      return sizes.get(keyOf(target));
    },
  };
}
