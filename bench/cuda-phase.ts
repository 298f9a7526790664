/**
 * The CUDA phase of a checkpoint that leaves the workload running — lock → checkpoint → restore → unlock of
 * every CUDA process, each step in parallel across processes, as the executor runs it — through both
 * backends, on the stand-ins (no GPU here). Both stand-ins stand for CUDA's initialisation with the same
 * sleep: the cuda-checkpoint stand-in on every run (as the real tool initialises CUDA on every run), the
 * libcuda stand-in once, in the cuInit of a helper that started with the agent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import {
  type CudaCheckpoint,
  createCudaCheckpoint,
  createDriverCheckpoint,
  resumeAll,
  suspendAll,
} from '../src/lib/cuda/index.js';
import { runTool } from '../src/lib/tools/index.js';
import { buildDriverStandIn } from '../test/lib/cuda/driver-standin.js';
import { root } from './agent.js';
import { type Summary, summarize } from './stats.js';

export interface CudaPhaseRow {
  processes: number;
  /** The whole round through cuda-checkpoint, one run per action and process. */
  toolMs: Summary;
  /** The same round through the driver helper. */
  driverMs: Summary;
  /** Median over median. */
  speedUp: number;
}

export interface CudaPhaseResult {
  /** The stand-ins' sleep for one CUDA initialisation. */
  initDelayMs: number;
  runs: number;
  rows: CudaPhaseRow[];
  /** Starting the helper (loading libcuda, cuInit): once per agent, before any notice. */
  helperStartMs: Summary;
}

const fixtures = join(root, 'test', 'fixtures');

export async function benchCudaPhase(
  dir: string,
  runs = 5,
  initDelayMs = 1_000,
  processCounts: readonly number[] = [1, 4],
): Promise<CudaPhaseResult> {
  const { helper, library } = await buildDriverStandIn();
  const children: ChildProcess[] = [];
  const helperStarts: number[] = [];
  const rows: CudaPhaseRow[] = [];
  try {
    for (const count of processCounts) {
      const pids = await Promise.all(Array.from({ length: count }, () => sleeper(children)));
      const state = join(dir, `state-${count}`);
      await rm(state, { recursive: true, force: true });
      await mkdir(state, { recursive: true });
      const knobs = {
        CUDA_STANDIN_STATE: state,
        CUDA_STANDIN_PIDS: pids.join(','),
        CUDA_STANDIN_INIT_DELAY_MS: String(initDelayMs),
      };
      const path = [fixtures, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter);
      const tool = createCudaCheckpoint({
        run: (file, args, options = {}) =>
          runTool(file, args, { ...options, env: { PATH: path, ...knobs, ...options.env } }),
      });
      const driver = createDriverCheckpoint({ helper, library, env: knobs });
      try {
        const t0 = performance.now();
        await driver.ensureAvailable();
        helperStarts.push(performance.now() - t0);
        const toolMs: number[] = [];
        const driverMs: number[] = [];
        // Alternating, so that whatever else the machine does falls on both alike.
        for (let i = 0; i < runs; i++) {
          toolMs.push(await round(tool, pids));
          driverMs.push(await round(driver, pids));
        }
        const tools = summarize(toolMs);
        const drivers = summarize(driverMs);
        rows.push({
          processes: count,
          toolMs: tools,
          driverMs: drivers,
          speedUp: tools.median / drivers.median,
        });
      } finally {
        await driver.close();
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
  return { initDelayMs, runs, rows, helperStartMs: summarize(helperStarts) };
}

/** One leave-running checkpoint's CUDA phase, in ms. */
async function round(cuda: CudaCheckpoint, pids: readonly number[]): Promise<number> {
  const t0 = performance.now();
  await suspendAll(cuda, pids);
  await resumeAll(cuda, pids);
  return performance.now() - t0;
}

/** A process for the stand-ins to act on. */
async function sleeper(children: ChildProcess[]): Promise<number> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child.pid!;
}
