/**
 * The whole pipeline (agent over gRPC: inspect, CRIU, manifest with sha256, fsync, promote; restore with
 * verification) against raw `criu dump` / `criu restore` with the same flags, on a 1 GiB workload; and the
 * dump's throughput against a sequential write of the same size to the same filesystem (dd).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesUnder } from '../src/demo/progress.js';
import { defaultCriuSettings, dumpArgs, restoreArgs } from '../src/lib/criu/options.js';
import { isRunning } from '../src/lib/procfs/index.js';
import {
  type BenchAgent,
  deleteCheckpoint,
  root,
  startMemoryWorkload,
  stopWorkload,
  timed,
} from './agent.js';
import { medianPhases, type Summary, summarize } from './stats.js';

const criu = existsSync(join(root, '.tools/criu/bin/criu')) ? join(root, '.tools/criu/bin/criu') : 'criu';

export interface PipelineResult {
  sizeBytes: number;
  runs: number;
  rawDumpMs: Summary;
  pipelineCheckpointMs: Summary;
  rawRestoreMs: Summary;
  pipelineRestoreMs: Summary;
  /** Pipeline median / raw median. */
  checkpointRatio: number;
  restoreRatio: number;
  checkpointPhases: Record<string, number>;
  restorePhases: Record<string, number>;
  throughputMBps: { ddFsync: Summary; ddNoFsync: Summary; rawCriuDump: Summary; pipelineCriuDump: Summary };
}

async function exec(file: string, args: string[], extraFds: number[] = []): Promise<void> {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', ...extraFds] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0)
    throw new Error(`${file} ${args.slice(0, 2).join(' ')} failed (${code}): ${stderr.slice(-500)}`);
}

const MB = 1e6;

/** Writes back dirty pages first, so one measurement does not pay for the previous one's writes. */
const settle = () => exec('sync', []);

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
    const w = await startMemoryWorkload(agent, name, mib, dir);
    await settle();
    const [, rawDumpMs] = await timed(() =>
      exec(
        criu,
        dumpArgs(defaultCriuSettings, {
          pid: w.pid,
          imagesDir: rawDir,
          logFile: join(rawDir, 'dump.log'),
          leaveRunning: true,
        }),
      ),
    );
    const rawBytes = await bytesUnder(rawDir);
    await settle();
    const [checkpoint, checkpointMs] = await timed(() =>
      agent.client.checkpoint({
        target: { namespace: 'default', pod: name },
        checkpointId: name,
        leaveRunning: true,
      }),
    );
    await stopWorkload(agent, name);
    await settle();
    samples.rawRestore.push(await rawRestore(rawDir, w.stdoutPath, w.stderrPath));
    await settle();
    const [restored, restoreMs] = await timed(() => agent.client.restore({ checkpointId: name }));
    if (!(await isRunning(restored.restoredPid))) throw new Error('pipeline restore: not running');
    await stopWorkload(agent, name);
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
    pipelineCheckpointMs: summarize(samples.checkpoint),
    rawRestoreMs: summarize(samples.rawRestore),
    pipelineRestoreMs: summarize(samples.restore),
  };
  return {
    sizeBytes,
    runs,
    ...s,
    checkpointRatio: s.pipelineCheckpointMs.median / s.rawDumpMs.median,
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
