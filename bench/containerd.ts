/**
 * A 1 GiB workload that is its container's PID 1, under containerd (a private containerd + runc, the test
 * image of Debian's python3), checkpointed and restored into a fresh placeholder; beside the same 1 GiB
 * workload under the process runtime, measured in the same run. Request → published, and request → the
 * restored workload runs, through the agent over gRPC, as users see them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerdAgentArgs, PYTHON_IMAGE, startContainerd } from '../test/helpers/containerd.js';
import { type BenchAgent, startBenchAgent, startMemoryWorkload, stopWorkload, timed } from './agent.js';
import { medianPhases, type Summary, summarize } from './stats.js';

export interface RuntimeFigures {
  checkpointMs: Summary;
  restoreMs: Summary;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
  sizeBytes: number;
}

export interface ContainerdBenchResult {
  mib: number;
  runs: number;
  containerd: RuntimeFigures;
  process: RuntimeFigures;
  /** containerd median / process median. */
  checkpointRatio: number;
  restoreRatio: number;
}

/** As bench/workloads/memory.py, run as the container's PID 1: MIB of written memory, then idle. */
const memoryAsPid1 = (mib: number) => [
  'python3',
  '-c',
  `import os, time\nchunk = os.urandom(1 << 20)\ndata = bytearray(chunk) * ${mib}\nopen('/ready', 'w').close()\nwhile True: time.sleep(3600)`,
];

export async function benchContainerd(
  dir: string,
  processAgent: BenchAgent,
  signal: AbortSignal,
  runs: number,
  mib = 1024,
): Promise<ContainerdBenchResult> {
  const process = await measureProcess(processAgent, dir, runs, mib);
  const ctd = await startContainerd();
  let agent: BenchAgent | undefined;
  try {
    agent = await startBenchAgent(join(dir, 'containerd-agent'), signal, containerdAgentArgs(ctd));
    const source = await ctd.run('bench-source', memoryAsPid1(mib), { image: PYTHON_IMAGE });
    for (
      let i = 0;
      i < 1200 && (await readFile(`/proc/${source}/root/ready`).catch(() => undefined)) === undefined;
      i++
    )
      await sleep(50);
    const figures = await measure(runs, async (run) => {
      const [checkpoint, checkpointMs] = await timed(() =>
        agent!.client.checkpoint({
          target: { pod: 'bench-source' },
          checkpointId: 'bench-ctd',
          replace: true,
        }),
      );
      const placeholder = `bench-ph-${run}`;
      await ctd.run(placeholder, ['sleep', '1000000'], { image: PYTHON_IMAGE });
      const [restored, restoreMs] = await timed(() =>
        agent!.client.restore({ checkpointId: 'bench-ctd', target: { pod: placeholder } }),
      );
      await ctd.remove(placeholder);
      return { checkpoint, checkpointMs, restored, restoreMs };
    });
    return {
      mib,
      runs,
      containerd: figures,
      process,
      checkpointRatio: figures.checkpointMs.median / process.checkpointMs.median,
      restoreRatio: figures.restoreMs.median / process.restoreMs.median,
    };
  } finally {
    await agent?.stop();
    await ctd.stop();
  }
}

async function measureProcess(
  agent: BenchAgent,
  dir: string,
  runs: number,
  mib: number,
): Promise<RuntimeFigures> {
  await startMemoryWorkload(agent, 'bench-pid1-process', mib, dir);
  try {
    return await measure(runs, async (run) => {
      const [checkpoint, checkpointMs] = await timed(() =>
        agent.client.checkpoint({
          target: { pod: 'bench-pid1-process' },
          checkpointId: 'bench-proc',
          replace: true,
        }),
      );
      const name = `bench-pid1-copy-${run}`;
      const [restored, restoreMs] = await timed(() =>
        agent.client.restore({ checkpointId: 'bench-proc', target: { pod: name } }),
      );
      await stopWorkload(agent, name);
      return { checkpoint, checkpointMs, restored, restoreMs };
    });
  } finally {
    await stopWorkload(agent, 'bench-pid1-process');
  }
}

async function measure(
  runs: number,
  once: (run: number) => Promise<{
    checkpoint: { durationsMs: Record<string, number>; sizeBytes: number | string };
    checkpointMs: number;
    restored: { durationsMs: Record<string, number> };
    restoreMs: number;
  }>,
): Promise<RuntimeFigures> {
  const samples = [];
  for (let run = 0; run < runs; run++) samples.push(await once(run));
  return {
    checkpointMs: summarize(samples.map((s) => s.checkpointMs)),
    restoreMs: summarize(samples.map((s) => s.restoreMs)),
    checkpointPhases: medianPhases(samples.map((s) => s.checkpoint.durationsMs)),
    restorePhases: medianPhases(samples.map((s) => s.restored.durationsMs)),
    sizeBytes: Number(samples.at(-1)?.checkpoint.sizeBytes ?? 0),
  };
}
