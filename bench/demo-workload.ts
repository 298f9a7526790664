/**
 * Cold start vs restore of the demo's workload (the GPT-2-small-shaped model server, PyTorch on CPU),
 * through the demo itself (src/demo): each run is a whole demo, so every figure is launch → first correct
 * answer, and the restored server is proven to be the same process. Skipped when torch is absent.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelKind } from '../src/demo/answer.js';
import type { DemoResult } from '../src/demo/report.js';
import { runDemo } from '../src/demo/run-demo.js';
import { python, root } from './agent.js';
import { median, medianPhases, type Summary, summarize } from './stats.js';

export interface DemoWorkloadResult {
  model: string;
  runs: number;
  coldStartMs: Summary;
  restoreMs: Summary;
  lazyRestoreMs?: Summary;
  lazyPagesCompleteMs?: Summary;
  speedUp: number;
  lazySpeedUp?: number;
  imageBytes: number;
  /** Where the cold start went, as the server measured it (seconds, medians). */
  coldStartup: Record<string, number>;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
  lazyRestorePhases?: Record<string, number>;
}

export function torchMissing(): string | undefined {
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `torch is not importable by ${python} (make demo installs python3-torch)`;
  }
}

export async function benchDemoWorkload(
  dir: string,
  signal: AbortSignal,
  runs = 3,
): Promise<DemoWorkloadResult> {
  const results: DemoResult[] = [];
  const log = join(dir, 'demo-runs.log');
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < runs; i++) {
    results.push(
      await runDemo({
        root,
        dir: join(dir, 'demo'),
        model: ModelKind.GPT2_SMALL,
        python,
        node: 'bench-node',
        instance: { zone: 'us-east-1a', instanceId: 'i-0123456789abcdef0' },
        coldStartTimeoutMs: 600_000,
        restoreTimeoutMs: 300_000,
        keep: false,
        lazy: true,
        hooks: true,
        out: { write: (text) => appendFileSync(log, text), tty: false },
        signal,
      }),
    );
    process.stdout.write(
      `  demo run ${i + 1}/${runs}: cold ${Math.round(results[i]!.coldStartMs)} ms, restore ${Math.round(results[i]!.restore.firstAnswerMs)} ms\n`,
    );
  }
  const lazy = results.flatMap((r) => (r.lazyRestore ? [r.lazyRestore] : []));
  const cold = summarize(results.map((r) => r.coldStartMs));
  const restore = summarize(results.map((r) => r.restore.firstAnswerMs));
  const lazyMs = lazy.length > 0 ? summarize(lazy.map((l) => l.firstAnswerMs)) : undefined;
  const pages = lazy.flatMap((l) => (l.pagesCompleteMs === undefined ? [] : [l.pagesCompleteMs]));
  return {
    model: ModelKind.GPT2_SMALL,
    runs,
    coldStartMs: cold,
    restoreMs: restore,
    ...(lazyMs ? { lazyRestoreMs: lazyMs, lazySpeedUp: cold.median / lazyMs.median } : {}),
    ...(pages.length > 0 ? { lazyPagesCompleteMs: summarize(pages) } : {}),
    speedUp: cold.median / restore.median,
    imageBytes: median(results.map((r) => r.checkpoint.sizeBytes)),
    coldStartup: medianPhases(results.map((r) => r.coldStartup)),
    checkpointPhases: medianPhases(results.map((r) => r.checkpoint.durations)),
    restorePhases: medianPhases(results.map((r) => r.restore.durations)),
    ...(lazy.length > 0 ? { lazyRestorePhases: medianPhases(lazy.map((l) => l.durations)) } : {}),
  };
}
