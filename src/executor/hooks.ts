/**
 * The workload's hooks in the executor's phases (docs/hooks.md). Checkpoint: `preHook` quiesces the
 * workload before the CUDA lock and the dump; once the checkpoint is published (a preemption's image is
 * safe before any time goes to waking), its post-restore hook wakes the original if it is left running
 * (`postHook`); any failure after a quiesce wakes it too, as part of the rollback. Restore: the post-restore hook runs after CRIU and CUDA and before the restore is confirmed
 * (`postHook`): a server that did not wake is not restored. The order follows Lambda SnapStart's runtime
 * hooks (https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks.html): before-checkpoint
 * work happens while the workload still runs, after-restore work before it takes traffic.
 */
import { SnapbackError } from '../errors.js';
import { assertHooks, formatHook, type Hook, type WorkloadHooks } from '../lib/hooks/index.js';
import { startTimeOf } from '../lib/procfs/index.js';
import type { Inspection } from '../lib/runtime/index.js';
import type { Logger } from '../log.js';
import type { ExecutorDeps } from './deps.js';
import type { PhaseClock } from './phase-clock.js';

/** What a checkpoint request says about hooks. */
export interface HookRequest {
  /** The request's hooks; each one it leaves out is the runtime's own (`Inspection.hooks`), if any. */
  declared?: WorkloadHooks | undefined;
  /** A failing pre-checkpoint hook is reported and the checkpoint goes on, instead of aborting it. */
  bestEffort: boolean;
  /** The call's deadline: a pre-checkpoint hook whose timeout does not fit before it (less a margin) is skipped. */
  deadline?: Date | undefined;
}

/**
 * What must be left, after a pre-checkpoint hook's timeout, before the call's deadline for the checkpoint
 * itself; the functions already keep their own safety margin out of the deadline they send.
 */
export const HOOK_DEADLINE_MARGIN_MS = 5_000;
/** What must be left, after the original's wake, for the published checkpoint's result to reach the caller. */
const WAKE_DEADLINE_MARGIN_MS = 1_000;

/** A checkpoint's hooks, in the order checkpoint.ts calls them. */
export interface CheckpointHooks {
  /** The hooks in effect, for the manifest (a restore without hooks of its own runs their postRestore). */
  readonly hooks: WorkloadHooks | undefined;
  /** `preHook`: throws when the hook fails or times out, unless the request is best-effort. */
  quiesce(signal: AbortSignal): Promise<void>;
  /**
   * Once the checkpoint is published: `postHook` on the original when it is left running (a failure is
   * reported, never thrown); either way the quiesce is over.
   */
  release(leftRunning: boolean): Promise<void>;
  /** After a failure: wakes a workload that was quiesced. Returns the rollback steps, in words. */
  undo(): Promise<string[]>;
}

export function checkpointHooks(
  deps: ExecutorDeps,
  checkpointId: string,
  inspection: Inspection,
  request: HookRequest | undefined,
  clock: PhaseClock,
  log: Logger,
): CheckpointHooks {
  const pre = request?.declared?.preCheckpoint ?? inspection.hooks?.preCheckpoint;
  const post = request?.declared?.postRestore ?? inspection.hooks?.postRestore;
  const hooks: WorkloadHooks = {
    ...(pre === undefined ? {} : { preCheckpoint: pre }),
    ...(post === undefined ? {} : { postRestore: post }),
  };
  // Set from the moment the pre-checkpoint hook starts: one that failed or timed out may have half-quiesced.
  let quiesced = false;
  // Until it is woken, a quiesced workload is woken by whoever finds it: this run, or the next agent.
  let closeJournal = async () => {};
  const over = async () => {
    quiesced = false;
    await closeJournal();
  };
  const runPost = (hook: Hook) =>
    clock.run('postHook', () => deps.hooks.run(hook, inspection.rootPid)).finally(over);
  return {
    hooks: pre === undefined && post === undefined ? undefined : assertHooks(hooks, 'hooks'),
    async quiesce(signal) {
      if (pre === undefined) return;
      const leftMs = leftBefore(request?.deadline, HOOK_DEADLINE_MARGIN_MS);
      if (pre.timeoutMs > leftMs) {
        const message = `skipped: its timeout of ${pre.timeoutMs} ms does not fit in the ${Math.max(0, Math.round(leftMs))} ms left before the deadline (less ${HOOK_DEADLINE_MARGIN_MS} ms for the checkpoint)`;
        log.warn({ hook: formatHook(pre) }, `pre-checkpoint hook ${message}`);
        clock.progress({ phase: 'preHook', state: 'FINISHED', message });
        return;
      }
      quiesced = true;
      if (post !== undefined) {
        closeJournal = await deps.journal.open({
          kind: 'quiesced',
          checkpointId,
          pid: inspection.rootPid,
          startTime: await startTimeOf(inspection.rootPid),
          wake: post,
          at: new Date().toISOString(),
        });
      }
      try {
        const answer = await clock.run('preHook', () => deps.hooks.run(pre, inspection.rootPid, signal));
        log.info({ hook: formatHook(pre), answer }, 'workload quiesced for the checkpoint');
      } catch (err) {
        if (!request?.bestEffort || signal.aborted) throw err;
        const message = `failed; checkpointing the workload as it is (best effort): ${SnapbackError.from(err).message}`;
        log.warn({ hook: formatHook(pre) }, `pre-checkpoint hook ${message}`);
        clock.progress({ phase: 'preHook', state: 'FINISHED', message });
      }
    },
    async release(leftRunning) {
      if (!quiesced || post === undefined) return;
      if (!leftRunning) return over();
      // The checkpoint is published: a wake that would outlast the call must not make it look failed. A
      // preemption is this case, and its workload is about to go with its node.
      const leftMs = leftBefore(request?.deadline, WAKE_DEADLINE_MARGIN_MS);
      if (post.timeoutMs > leftMs) {
        const message = `skipped: its timeout of ${post.timeoutMs} ms does not fit in the ${Math.max(0, Math.round(leftMs))} ms left before the deadline; the checkpointed workload stays quiesced`;
        log.warn({ hook: formatHook(post) }, `post-restore hook on the original ${message}`);
        clock.progress({ phase: 'postHook', state: 'FINISHED', message });
        return over();
      }
      try {
        const answer = await runPost(post);
        log.info({ hook: formatHook(post), answer }, 'the checkpointed workload is awake again');
      } catch (err) {
        // The checkpoint is good; failing it would not wake the workload either. Said, and left to its owner.
        const message = `failed to wake the checkpointed workload: ${SnapbackError.from(err).message}`;
        log.error({ hook: formatHook(post) }, message);
        clock.progress({ phase: 'postHook', state: 'FINISHED', message });
      }
    },
    async undo() {
      if (!quiesced || post === undefined) return [];
      return runPost(post).then(
        () => [`woke the workload (${formatHook(post)})`],
        (err: unknown) => [`waking the workload failed: ${SnapbackError.from(err).message}`],
      );
    },
  };
}

/** Milliseconds left before `deadline` less `marginMs`; unbounded without a deadline. */
function leftBefore(deadline: Date | undefined, marginMs: number): number {
  return deadline === undefined ? Infinity : deadline.getTime() - Date.now() - marginMs;
}

/** The restored workload's post-restore hook (`postHook`): the request's, else the checkpoint's; throws on failure. */
export async function wakeRestored(
  deps: ExecutorDeps,
  hooks: { requested: WorkloadHooks | undefined; recorded: WorkloadHooks | undefined },
  pid: number,
  clock: PhaseClock,
  signal: AbortSignal,
): Promise<void> {
  const post = hooks.requested?.postRestore ?? hooks.recorded?.postRestore;
  if (post === undefined) return;
  // A manifest is data from the storage: its hook is checked as a request's would be.
  assertHooks({ postRestore: post }, 'manifest.hooks');
  const answer = await clock.run('postHook', () => deps.hooks.run(post, pid, signal));
  deps.logger.info({ hook: formatHook(post), answer, pid }, 'the restored workload is awake');
}
