/**
 * Preemption fan-out: 16 workloads of 256 MiB on one node, one AWS spot warning through the functions
 * (local mode, real agent, real CRIU), timed from the warning to the last `checkpoint.completed` at the
 * sink and to the `preemption.handled` summary. Each run takes new checkpoints of the same workloads. The
 * warning's deadline is two minutes after its time; one sent `noticeAgeS` late leaves that much less (a
 * 90 s old one leaves the 30 s of a GCP or Azure notice), and the deadline planner skips what would not
 * finish in it.
 */
import { join } from 'node:path';
import type { CloudEvent } from 'cloudevents';
import { postEvent, providerIdOf, spotInterruptionWarning } from '../src/demo/events.js';
import { startSink } from '../src/demo/sink.js';
import { startFunctionsProcess } from '../src/demo/stack.js';
import {
  type CheckpointOutcomeData,
  EventType,
  PodOutcome,
  type PreemptionHandledData,
} from '../src/events/types.js';
import { type BenchAgent, deleteCheckpoint, startMemoryWorkload, stopWorkload } from './agent.js';
import { median, type Summary, summarize } from './stats.js';

export interface FanOutResult {
  /** Seconds from the warning's arrival to the node's end. */
  deadlineS?: number;
  /** Pods the planner skipped per run (median). */
  skipped?: number;
  workloads: number;
  mibEach: number;
  runs: number;
  /** Warning sent → the last checkpoint.completed at the sink. */
  lastCompletionMs: Summary;
  /** Warning sent → preemption.handled at the sink. */
  handledMs: Summary;
  /** Median over runs of the median and the slowest per-checkpoint `total`. */
  perCheckpointMs: { median: number; max: number };
  totalBytes: number;
  concurrency: number;
}

const instance = { zone: 'us-east-1a', instanceId: 'i-0fa0fa0fa0fa0fa0f' };

export async function benchFanOut(
  agent: BenchAgent,
  dir: string,
  signal: AbortSignal,
  runs = 2,
  count = 16,
  mib = 256,
  noticeAgeS = 0,
): Promise<FanOutResult> {
  const arrivals = new Map<CloudEvent<unknown>, number>();
  const sink = await startSink((event) => arrivals.set(event, performance.now()));
  const concurrency = 8;
  const functions = await startFunctionsProcess({
    agent: agent.address,
    node: 'bench-node',
    providerId: providerIdOf(instance),
    sink: sink.url,
    logLevel: 'info',
    logFile: join(dir, 'functions-fanout.log'),
    signal,
  });
  const names = Array.from({ length: count }, (_, i) => `fan-${i}`);
  try {
    for (const name of names) await startMemoryWorkload(agent, name, mib, dir);
    const last: number[] = [];
    const handled: number[] = [];
    const perMedian: number[] = [];
    const perMax: number[] = [];
    const skipped: number[] = [];
    let totalBytes = 0;
    for (let r = 0; r < runs; r++) {
      const notice = spotInterruptionWarning(instance, new Date(Date.now() - noticeAgeS * 1000));
      const from = sink.events.length;
      const sent = performance.now();
      const reply = await postEvent(functions.url, notice, signal);
      if (reply.status !== 202) throw new Error(`the functions answered ${reply.status}: ${reply.body}`);
      const events = sink.events.slice(from);
      const completed = events.filter((e) => e.type === EventType.CHECKPOINT_COMPLETED);
      const summary = events.find((e) => e.type === EventType.PREEMPTION_HANDLED);
      const planned = (summary?.data as PreemptionHandledData | undefined)?.pods ?? [];
      const skips = planned.filter((p) => p.outcome === PodOutcome.SKIPPED).length;
      skipped.push(skips);
      if (completed.length + skips !== count) {
        const failed = events
          .filter((e) => e.type === EventType.CHECKPOINT_FAILED)
          .map((e) => JSON.stringify(e.data));
        throw new Error(
          `${completed.length} of ${count} checkpoints completed; failed: ${failed.join('; ')}`,
        );
      }
      last.push(Math.max(...completed.map((e) => arrivals.get(e)!)) - sent);
      handled.push((summary ? arrivals.get(summary)! : Number.NaN) - sent);
      const totals = completed.map((e) => (e.data as CheckpointOutcomeData).durations['total'] ?? 0);
      perMedian.push(median(totals));
      perMax.push(Math.max(...totals));
      totalBytes = completed.reduce((sum, e) => sum + ((e.data as CheckpointOutcomeData).sizeBytes ?? 0), 0);
      for (const e of completed)
        await deleteCheckpoint(agent, (e.data as CheckpointOutcomeData).checkpointId);
    }
    return {
      deadlineS: 120 - noticeAgeS,
      skipped: median(skipped),
      workloads: count,
      mibEach: mib,
      runs,
      lastCompletionMs: summarize(last),
      handledMs: summarize(handled),
      perCheckpointMs: { median: median(perMedian), max: median(perMax) },
      totalBytes,
      concurrency,
    };
  } finally {
    for (const name of names) await stopWorkload(agent, name).catch(() => {});
    await functions.service.stop();
    await sink.close();
  }
}
