/**
 * The whole pipeline (agent over gRPC: inspect, CRIU, manifest with sha256, fsync, promote; restore with
 * verification) against raw `criu dump` + `sync` / `criu restore` with the same flags, on a 1 GiB workload,
 * and the workload's freeze under each; and the dump's throughput against a sequential write of the same
 * size to the same filesystem (dd).
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesUnder } from '../src/demo/progress.js';
import { defaultCriuSettings, restoreArgs } from '../src/lib/criu/options.js';
import { isRunning } from '../src/lib/procfs/index.js';
import {
  type BenchAgent,
  deleteCheckpoint,
  longestGapMs,
  startMemoryWorkload,
  stopWorkload,
  timed,
} from './agent.js';
import { criu, exec, rawDump, settle } from './raw-criu.js';
import { medianPhases, type Summary, summarize } from './stats.js';

export interface PipelineResult {
  /** The workload's written memory. */
  mib?: number;
  sizeBytes: number;
  runs: number;
  rawDumpMs: Summary;
  /** Raw `criu dump`, then `sync` of the filesystem it wrote to: durable, as a checkpoint must be. */
  rawDumpSyncMs: Summary;
  pipelineCheckpointMs: Summary;
  /** The longest the workload's clock (ticked every ms) stood still during each kind of dump. */
  rawFreezeMs: Summary;
  pipelineFreezeMs: Summary;
  rawRestoreMs: Summary;
  pipelineRestoreMs: Summary;
  /** Pipeline median / raw median (the checkpoint's against raw dump + sync). */
  checkpointRatio: number;
  restoreRatio: number;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
  throughputMBps: { ddFsync: Summary; ddNoFsync: Summary; rawCriuDump: Summary; pipelineCriuDump: Summary };
}

const MB = 1e6;

async function rawRestore(dir: string, stdoutPath: string, stderrPath: string): Promise<number> {
  // As the process runtime does: the workload's log files are handed over freshly opened.
  const [out, err] = [await open(stdoutPath, 'a'), await open(stderrPath, 'a')];
  try {
    const [, ms] = await timed(() =>
      exec(
        criu,
        restoreArgs(defaultCriuSettings, {
          imagesDir: dir,
          logFile: join(dir, 'restore.log'),
          pidFile: join(dir, 'restore.pid'),
          inheritFds: [
            { fd: 3, resource: stdoutPath.replace(/^\//, '') },
            { fd: 4, resource: stderrPath.replace(/^\//, '') },
          ],
        }),
        [out.fd, err.fd],
      ),
    );
    const pid = Number((await readFile(join(dir, 'restore.pid'), 'utf8')).trim());
    if (!(await isRunning(pid))) throw new Error('raw restore: the restored process is not running');
    process.kill(pid, 'SIGKILL');
    return ms;
  } finally {
    await out.close();
    await err.close();
  }
}

/** dd of `mib` MiB to `file`; returns MB/s. */
async function dd(file: string, mib: number, fsync: boolean): Promise<number> {
  await settle();
  const [, ms] = await timed(() =>
    exec('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mib}`, ...(fsync ? ['conv=fsync'] : [])]),
  );
  await rm(file, { force: true });
  return (mib * 2 ** 20) / MB / (ms / 1000);
}

export async function benchPipeline(
  agent: BenchAgent,
  dir: string,
  runs: number,
  mib = 1024,
): Promise<PipelineResult> {
  const samples = {
    rawDump: [] as number[],
    rawDumpSync: [] as number[],
    rawFreeze: [] as number[],
    freeze: [] as number[],
    checkpoint: [] as number[],
    rawRestore: [] as number[],
    restore: [] as number[],
  };
  const throughput = {
    ddFsync: [] as number[],
    ddNoFsync: [] as number[],
    raw: [] as number[],
    pipeline: [] as number[],
  };
  const phases = { checkpoint: [] as Record<string, number>[], restore: [] as Record<string, number>[] };
  let sizeBytes = 0;
  for (let i = 0; i < runs; i++) {
    const name = `mem-${mib}m-${i}`;
    const rawDir = join(agent.storage, '..', 'raw', name);
    await mkdir(rawDir, { recursive: true });
    const w = await startMemoryWorkload(agent, name, mib, dir, { tick: true });
    const raw = async () => {
      await settle();
      await longestGapMs(w);
      const [, dumpMs] = await timed(() => rawDump(w.pid, rawDir));
      const [, syncMs] = await timed(() => exec('sync', ['-f', rawDir]));
      samples.rawFreeze.push(await longestGapMs(w));
      return { dumpMs, syncMs };
    };
    const pipeline = async () => {
      await settle();
      await longestGapMs(w);
      const result = await timed(() =>
        agent.client.checkpoint({
          target: { namespace: 'default', pod: name },
          checkpointId: name,
          leaveRunning: true,
        }),
      );
      samples.freeze.push(await longestGapMs(w));
      return result;
    };
    // Turns: an effect of going first or second (a warmer cache, a busier disk) falls on both alike.
    let rawTimes: { dumpMs: number; syncMs: number };
    let checkpointed: Awaited<ReturnType<typeof pipeline>>;
    if (i % 2 === 0) {
      rawTimes = await raw();
      checkpointed = await pipeline();
    } else {
      checkpointed = await pipeline();
      rawTimes = await raw();
    }
    const rawDumpMs = rawTimes.dumpMs;
    samples.rawDumpSync.push(rawTimes.dumpMs + rawTimes.syncMs);
    const [checkpoint, checkpointMs] = checkpointed;
    const rawBytes = await bytesUnder(rawDir);
    await stopWorkload(agent, name);
    const restoreRaw = async () => {
      await settle();
      samples.rawRestore.push(await rawRestore(rawDir, w.stdoutPath, w.stderrPath));
    };
    const restorePipeline = async () => {
      await settle();
      const result = await timed(() => agent.client.restore({ checkpointId: name }));
      if (!(await isRunning(result[0].restoredPid))) throw new Error('pipeline restore: not running');
      await stopWorkload(agent, name);
      return result;
    };
    let restoredAs: Awaited<ReturnType<typeof restorePipeline>>;
    if (i % 2 === 0) {
      await restoreRaw();
      restoredAs = await restorePipeline();
    } else {
      restoredAs = await restorePipeline();
      await restoreRaw();
    }
    const [restored, restoreMs] = restoredAs;
    samples.rawDump.push(rawDumpMs);
    samples.checkpoint.push(checkpointMs);
    samples.restore.push(restoreMs);
    phases.checkpoint.push(checkpoint.durationsMs);
    phases.restore.push(restored.durationsMs);
    sizeBytes = Number(checkpoint.sizeBytes);
    throughput.raw.push(rawBytes / MB / (rawDumpMs / 1000));
    throughput.pipeline.push(sizeBytes / MB / ((checkpoint.durationsMs['criuDump'] ?? Number.NaN) / 1000));
    await deleteCheckpoint(agent, name);
    await rm(rawDir, { recursive: true, force: true });
    throughput.ddFsync.push(await dd(join(agent.storage, 'dd.bin'), Math.round(rawBytes / 2 ** 20), true));
    throughput.ddNoFsync.push(await dd(join(agent.storage, 'dd.bin'), Math.round(rawBytes / 2 ** 20), false));
  }
  const s = {
    rawDumpMs: summarize(samples.rawDump),
    rawDumpSyncMs: summarize(samples.rawDumpSync),
    pipelineCheckpointMs: summarize(samples.checkpoint),
    rawFreezeMs: summarize(samples.rawFreeze),
    pipelineFreezeMs: summarize(samples.freeze),
    rawRestoreMs: summarize(samples.rawRestore),
    pipelineRestoreMs: summarize(samples.restore),
  };
  return {
    mib,
    sizeBytes,
    runs,
    ...s,
    checkpointRatio: s.pipelineCheckpointMs.median / s.rawDumpSyncMs.median,
    restoreRatio: s.pipelineRestoreMs.median / s.rawRestoreMs.median,
    checkpointPhases: medianPhases(phases.checkpoint),
    restorePhases: medianPhases(phases.restore),
    throughputMBps: {
      ddFsync: summarize(throughput.ddFsync),
      ddNoFsync: summarize(throughput.ddNoFsync),
      rawCriuDump: summarize(throughput.raw),
      pipelineCriuDump: summarize(throughput.pipeline),
    },
  };
}
