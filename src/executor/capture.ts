/**
 * Phase 3, capture: CUDA lock + checkpoint, CRIU dump into staging — with the runtime's own capture (a
 * container's filesystem changes and volumes) while CRIU still holds the tree frozen — CUDA restore +
 * unlock (the workload keeps running), cuda.json, then the manifest with every file's size and sha256,
 * all fsynced before promotion may publish it. The page images are hashed while CRIU writes them and
 * written back while what is left is hashed; the manifest, written durably last, is what makes it whole.
 */

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CUDA_RECORD_FILE, serializeCudaRecord } from '../lib/cuda/index.js';
import type { WorkloadHooks } from '../lib/hooks/index.js';
import { namespacePid, workingDirectories } from '../lib/procfs/index.js';
import {
  describeFiles,
  fsyncTree,
  type GrowingFilesHasher,
  hashGrowingFiles,
  type KnownFile,
  type WorkloadIdentity,
  writeFileDurably,
  writeManifest,
} from '../lib/storage/index.js';
import { type DumpPlan, IMAGES_DIR, PAGE_IMAGES } from './configure.js';
import type { ExecutorDeps } from './deps.js';
import { withDirectoryLocks } from './dump-lock.js';
import { openFrozenWindow } from './frozen-window.js';
import { checkpointIdentity, type RequestedIdentity } from './identity.js';
import type { PhaseClock } from './phase-clock.js';

export interface CaptureInput {
  plan: DumpPlan;
  /** The hooks in effect, recorded in the manifest. */
  hooks: WorkloadHooks | undefined;
  clock: PhaseClock;
  checkpointId: string;
  version: string;
  signal: AbortSignal;
  /** What the caller said of the workload (identity.ts). */
  identity?: RequestedIdentity;
  /** Told which pids are suspended on the GPU (before it happens), so that a failure can roll them back. */
  onSuspended(pids: number[]): Promise<void>;
  /** Told once CRIU has written its last image (uploads following them may end). */
  onDumped?: () => void;
}

const PROGRESS_INTERVAL_MS = 250;
/** How long CRIU keeps a dumped tree frozen for the runtime's capture before it gives up (and thaws it). */
const FROZEN_CAPTURE_LIMIT_MS = 5 * 60_000;

export async function captureCheckpoint(
  deps: ExecutorDeps,
  input: CaptureInput,
): Promise<{ sizeBytes: number; createdAt: string; identity: WorkloadIdentity }> {
  const { plan, clock, signal } = input;
  const { inspection } = plan;
  const cuda = inspection.cudaPids.length > 0 ? deps.cuda : undefined;
  let gpuIdentity: { gpus: string[]; driverVersion: string | undefined } = {
    gpus: [],
    driverVersion: undefined,
  };
  if (cuda) {
    gpuIdentity = await cuda.identity();
    await input.onSuspended(inspection.cudaPids);
    await cuda.suspend(inspection.cudaPids, clock, signal);
  }
  // The dump is not interrupted by a cancellation: killing CRIU while its parasite runs inside the
  // workload can kill the workload. It is bounded by CRIU's own timeout; the abort is honoured after.
  const cwds = await workingDirectories(inspection.pids);
  // What CRIU's images do not hold (a container's files) is captured while the tree is still frozen.
  const frozen = deps.runtime.captureFrozen
    ? await openFrozenWindow(`${plan.stagingDir}.frozen`, FROZEN_CAPTURE_LIMIT_MS)
    : undefined;
  // CRIU's page images are hashed while CRIU writes them: the manifest then costs little more than the fsync.
  const pages = hashGrowingFiles(plan.imagesDir, PAGE_IMAGES);
  try {
    const dumping = clock.run('criuDump', () =>
      withDirectoryLocks(cwds, () =>
        withDumpProgress(plan, clock, () =>
          deps.criu.dump(
            frozen ? { ...plan.dump, actionScript: frozen.actionScript, env: frozen.env } : plan.dump,
            inspection.placement,
          ),
        ),
      ),
    );
    try {
      if (frozen && deps.runtime.captureFrozen && (await frozen.entered(dumping))) {
        let captured = false;
        try {
          await deps.runtime.captureFrozen(inspection, plan.stagingDir, clock, signal);
          captured = true;
        } finally {
          await frozen.release(captured);
        }
      }
    } catch (err) {
      // CRIU goes on (it thaws the tree once told the capture failed): nothing is rolled back under it.
      await dumping.catch(() => {});
      throw err;
    }
    await dumping;
  } catch (err) {
    await pages.cancel();
    throw err;
  } finally {
    input.onDumped?.();
    await frozen?.close();
  }
  try {
    return await afterDump(deps, input, pages, gpuIdentity);
  } catch (err) {
    await pages.cancel();
    throw err;
  }
}

/** The workload runs again (CUDA resumed), and the manifest is written over hashed, durable files. */
async function afterDump(
  deps: ExecutorDeps,
  input: CaptureInput,
  pages: GrowingFilesHasher,
  gpuIdentity: { gpus: string[]; driverVersion: string | undefined },
): Promise<{ sizeBytes: number; createdAt: string; identity: WorkloadIdentity }> {
  const { plan, clock, signal } = input;
  const { inspection } = plan;
  const cuda = inspection.cudaPids.length > 0 ? deps.cuda : undefined;
  const hashedWhileWritten = new Map<string, KnownFile>();
  if (cuda) {
    await cuda.resume(inspection.cudaPids, clock, undefined, signal);
    await input.onSuspended([]);
  }
  const createdAt = new Date().toISOString();
  const identity = checkpointIdentity(inspection, input.identity, gpuIdentity.gpus.length);
  let sizeBytes = 0;
  await clock.run('manifest', async () => {
    const cudaRecord = cuda
      ? { pids: await namespacePids(inspection.cudaPids), gpus: gpuIdentity.gpus }
      : undefined;
    if (cudaRecord) {
      const record = {
        version: 1 as const,
        ...cudaRecord,
        ...(gpuIdentity.driverVersion ? { driverVersion: gpuIdentity.driverVersion } : {}),
      };
      await writeFileDurably(join(plan.stagingDir, CUDA_RECORD_FILE), serializeCudaRecord(record));
    }
    // The disk writes the images back while the cores hash what is left of them: neither waits for the other.
    const [files] = await Promise.all([
      pages.finish().then((known) => {
        for (const [name, file] of known) hashedWhileWritten.set(`${IMAGES_DIR}/${name}`, file);
        return describeFiles(plan.stagingDir, undefined, hashedWhileWritten);
      }),
      fsyncTree(plan.stagingDir),
    ]);
    sizeBytes = files.reduce((sum, f) => sum + f.size, 0);
    const durations = clock.durations();
    delete durations['total'];
    await writeManifest(plan.stagingDir, {
      schemaVersion: 1,
      checkpointId: input.checkpointId,
      version: input.version,
      createdAt,
      node: deps.node,
      runtime: deps.runtime.name,
      target: inspection.target,
      workload: inspection.workload,
      identity,
      criu: { version: await deps.criu.version(), leaveRunning: true },
      ...(cudaRecord ? { cuda: cudaRecord } : {}),
      ...(input.hooks ? { hooks: input.hooks } : {}),
      durations,
      sizeBytes,
      files,
    });
  });
  return { sizeBytes, createdAt, identity };
}

/** Reports the bytes CRIU has written so far while `work` runs. */
async function withDumpProgress<T>(plan: DumpPlan, clock: PhaseClock, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {
    void dirBytes(plan.imagesDir).then((bytesDone) =>
      clock.progress({
        phase: 'criuDump',
        state: 'RUNNING',
        bytesDone,
        bytesTotal: plan.inspection.residentBytes,
      }),
    );
  }, PROGRESS_INTERVAL_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    total += (await stat(join(dir, name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

async function namespacePids(pids: readonly number[]): Promise<number[]> {
  return Promise.all(pids.map(async (pid) => (await namespacePid(pid)) ?? pid));
}
