/**
 * Checkpoint = inspect → configure → capture → [upload] → promote (docs/architecture.md, "Executor"). On any failure or cancellation:
 * CUDA processes rolled back to running, the workload left running, staging removed, and the previous
 * checkpoint of the id untouched (promotion is the only step that changes it, and it is atomic).
 */
import { ErrorCode, SnapbackError } from '../errors.js';
import type { TargetRef } from '../lib/runtime/index.js';
import type { GrowingUploads, WriteLock } from '../lib/storage/index.js';
import type { Logger } from '../log.js';
import { captureCheckpoint } from './capture.js';
import { configureDump, IMAGES_DIR, PAGE_IMAGES } from './configure.js';
import type { ExecutorDeps } from './deps.js';
import { checkpointHooks, type HookRequest } from './hooks.js';
import type { RequestedIdentity } from './identity.js';
import { inspectTarget } from './inspect.js';
import { createPhaseClock, type PhaseClock, type ProgressListener, throwIfAborted } from './phase-clock.js';
import { applyRetention, DEFAULT_KEEP } from './retention.js';

export interface CheckpointInput {
  target: TargetRef;
  checkpointId: string;
  /** Whether an existing checkpoint of the id may be replaced (else one written meanwhile is ALREADY_EXISTS). */
  replace: boolean;
  leaveRunning: boolean;
  noCuda: boolean;
  signal: AbortSignal;
  onProgress?: ProgressListener;
  /** The workload's hooks, as the request gave them, and how to run them (hooks.ts). */
  hooks?: HookRequest;
  /** What the caller knows of the workload (identity.ts); the rest is the runtime's. */
  identity?: RequestedIdentity;
  /** Checkpoints of the workload to keep, this one included (retention.ts). */
  keep?: number;
}

export interface CheckpointOutput {
  checkpointId: string;
  location: string;
  sizeBytes: number;
  durations: Record<string, number>;
  node: string;
  version: string;
  cudaPids: number[];
  createdAt: string;
  /** Older checkpoints of the workload that retention removed. */
  retired: string[];
}

export async function checkpoint(deps: ExecutorDeps, input: CheckpointInput): Promise<CheckpointOutput> {
  const log = deps.logger.child({ checkpointId: input.checkpointId });
  const clock = createPhaseClock(input.onProgress);
  const requestedAt = new Date().toISOString();
  throwIfAborted(input.signal);
  // One writer per id across every agent sharing the storage, taken before the workload is touched: the
  // loser of a race is told so at once instead of freezing its workload for a checkpoint it cannot publish.
  const lock = await deps.store.beginWrite(input.checkpointId, 'checkpoint');
  try {
    if (!input.replace && (await deps.store.get(input.checkpointId)) !== undefined) {
      throw new SnapbackError(
        ErrorCode.ALREADY_EXISTS,
        `checkpoint ${input.checkpointId} was written by another request meanwhile; ask to replace it or choose another id`,
      );
    }
    return await checkpointLocked(deps, input, clock, lock, log, requestedAt);
  } finally {
    await lock.release();
  }
}

async function checkpointLocked(
  deps: ExecutorDeps,
  input: CheckpointInput,
  clock: PhaseClock,
  lock: WriteLock,
  log: Logger,
  requestedAt: string,
): Promise<CheckpointOutput> {
  const inspection = await clock.run('inspect', () =>
    inspectTarget(deps, input.target, input.noCuda, input.signal),
  );
  const hooks = checkpointHooks(deps, input.checkpointId, inspection, input.hooks, clock, log);
  const staging = await deps.store.createStaging();
  let suspended: number[] = [];
  let closeJournal = async () => {};
  let uploading: GrowingUploads | undefined;
  try {
    const plan = await clock.run('configure', () => configureDump(inspection, staging.dir));
    await hooks.quiesce(input.signal);
    // With an object-storage tier, the page images go up while CRIU writes them (see "Object storage").
    uploading = deps.remote?.follow(staging, input.checkpointId, IMAGES_DIR, PAGE_IMAGES, input.signal);
    const captured = await captureCheckpoint(deps, {
      plan,
      hooks: hooks.hooks,
      clock,
      checkpointId: input.checkpointId,
      version: staging.uuid,
      signal: input.signal,
      ...(input.identity === undefined ? {} : { identity: input.identity }),
      ...(uploading === undefined ? {} : { onDumped: () => uploading?.writerDone() }),
      onSuspended: async (pids) => {
        suspended = pids;
        await closeJournal();
        if (pids.length > 0) {
          closeJournal = await deps.journal.open({
            kind: 'cuda-suspended',
            checkpointId: input.checkpointId,
            pids,
            at: new Date().toISOString(),
          });
        }
      },
    });
    suspended = [];
    throwIfAborted(input.signal);
    // Durable beyond the node before it is published here: a failed upload leaves the previous checkpoint
    // current in both places, and the workload running (see "Storage" in docs/architecture.md).
    const { remote } = deps;
    if (remote !== undefined) {
      await clock.run('upload', () => remote.upload(staging, input.signal, uploading));
      // Committed in the bucket: its page images are the checkpoint's now, never to be cancelled.
      uploading = undefined;
    }
    const location = await clock.run('promote', () => lock.promote(staging));
    await hooks.release(input.leaveRunning);
    if (!input.leaveRunning) await clock.run('stop', () => deps.runtime.stop(inspection));
    // Published: older checkpoints of the workload past the ones to keep go (never one in use).
    const retired = await clock
      .run('retention', () =>
        applyRetention(deps, captured.identity, input.keep || DEFAULT_KEEP, log, requestedAt),
      )
      .catch((err: unknown) => {
        log.warn({ err }, 'retention failed; older checkpoints are kept');
        return [] as string[];
      });
    const durations = clock.durations();
    log.info({ durations, sizeBytes: captured.sizeBytes }, 'checkpoint complete');
    return {
      checkpointId: input.checkpointId,
      location,
      sizeBytes: captured.sizeBytes,
      durations,
      node: deps.node,
      version: staging.uuid,
      cudaPids: inspection.cudaPids,
      createdAt: captured.createdAt,
      retired,
    };
  } catch (err) {
    const error = SnapbackError.from(err);
    const rollback = suspended.length > 0 && deps.cuda ? await deps.cuda.rollback(suspended) : [];
    const rollbackFailed = rollback.some((step) => step.startsWith('failed'));
    rollback.push(...(await hooks.undo()));
    await uploading?.cancel();
    // A rollback that failed leaves the journal entry: the next agent tries to thaw them again.
    if (!rollbackFailed) await closeJournal().catch(() => {});
    await deps.store
      .discardStaging(staging)
      .catch((e: unknown) => log.warn({ err: e }, 'could not remove staging'));
    log.warn({ err: error, phase: error.phase, rollback }, 'checkpoint failed; staging removed');
    throw rollback.length === 0 ? error : withRollback(error, rollback);
  }
}

function withRollback(error: SnapbackError, rollback: string[]): SnapbackError {
  return new SnapbackError(error.code, `${error.message} (rolled back: ${rollback.join(', ')})`, {
    cause: error.cause,
    ...(error.phase === undefined ? {} : { phase: error.phase }),
    details: [...error.details, ...rollback.map((step) => ({ field: 'rollback', message: step }))],
  });
}
