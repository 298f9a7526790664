/**
 * Restore = verify → runtime restore (setup, rootfs, CRIU) → CUDA restore (device map) + unlock →
 * confirm alive (docs/architecture.md, "Executor"). A restore that fails after CRIU brought the tree back kills that tree:
 * it is never left half-alive and reported as restored.
 *
 * Verification overlaps CRIU: every file but the page images is checked first (the runtime applies some,
 * CRIU parses the rest); the page images — the workload's memory, most of the bytes — are checked while
 * CRIU restores from them, the restored tree held stopped until they are, and killed if one is not. A lazy
 * restore runs once the few parts CRIU reads itself are checked; snapback serves the rest of its pages,
 * each 16 MiB part verified before any page of it is served (lazy-pages.ts), and a bad part kills the tree.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SnapbackError } from '../errors.js';
import type { WorkloadHooks } from '../lib/hooks/index.js';
import { hostPidsOf, isRunning, processTree, startTimeOf } from '../lib/procfs/index.js';
import type { RestoreOutcome, TargetRef } from '../lib/runtime/index.js';
import {
  hashingThreads,
  type Manifest,
  type ManifestFile,
  type PartialCopy,
  readManifest,
  verifyFiles,
} from '../lib/storage/index.js';
import type { RunningTool } from '../lib/tools/index.js';
import { IMAGES_DIR, isPageImage } from './configure.js';
import type { ExecutorDeps } from './deps.js';
import { wakeRestored } from './hooks.js';
import { type PageSupply, supplyPages } from './lazy-pages.js';
import { createPhaseClock, type PhaseClock, type ProgressListener, throwIfAborted } from './phase-clock.js';

export interface RestoreInput {
  checkpointId: string;
  target: TargetRef | undefined;
  noCuda: boolean;
  signal: AbortSignal;
  onProgress?: ProgressListener;
  /** Resume before all memory has arrived: CRIU lazy pages, served by a daemon this restore runs. */
  lazy: boolean;
  /** Restore even where something already listens on the workload's ports (RestoreContext). */
  allowPortClash?: boolean;
  /** The restored workload's hooks, when the request gave them; else the checkpoint's run (hooks.ts). */
  hooks?: WorkloadHooks;
}

export interface RestoreOutput {
  checkpointId: string;
  restoredPid: number;
  namespacePid: number | undefined;
  workload: string;
  durations: Record<string, number>;
  node: string;
  /**
   * Lazy restores only: settles when every page has arrived, with `pagesComplete` (ms since the request);
   * rejects — after killing the restored process, which would fault on missing pages — if the transfer broke.
   */
  pagesComplete?: Promise<number>;
}

export async function restore(deps: ExecutorDeps, input: RestoreInput): Promise<RestoreOutput> {
  const log = deps.logger.child({ checkpointId: input.checkpointId, op: 'restore' });
  const clock = createPhaseClock(input.onProgress);
  if (input.lazy && !deps.lazyPagesSupported) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      'a lazy restore needs userfaultfd, which this kernel does not offer (criu check --feature uffd-noncoop failed)',
    );
  }
  // The version is leased for as long as it is read (a lazy restore: until the last page is in): a newer
  // checkpoint promoted meanwhile, by any agent, retires it without deleting it, and a delete waits.
  // With an object-storage tier, the bucket's version is brought here first (verified as it arrives).
  // A lazy one leaves the page images there, each part fetched when first needed (lazy-pages.ts).
  const { remote } = deps;
  let partial: PartialCopy | undefined;
  if (remote !== undefined) {
    await clock.run('download', async () => {
      if (input.lazy)
        partial = await remote.fetchLazily(input.checkpointId, input.signal, (f) => isPageImage(f.path));
      if (partial === undefined) await remote.fetch(input.checkpointId, input.signal);
    });
  }
  const copy = partial;
  // A partial copy is this restore's own staging: dropped unless every part came (then it is kept).
  let kept = false;
  const opened =
    copy === undefined
      ? await clock.run('verify', () => deps.store.openForReading(input.checkpointId))
      : { dir: copy.dir, release: () => (kept ? Promise.resolve() : copy.discard()) };
  const release = () =>
    opened.release().catch((err: unknown) => log.warn({ err }, 'could not release the checkpoint'));
  let verified: {
    dir: string;
    manifest: Manifest;
    deviceMap: string | undefined;
    verify: (only: (file: ManifestFile) => boolean, signal?: AbortSignal, threads?: number) => Promise<void>;
  };
  try {
    verified = await clock.run('verify', async () => {
      const manifest = await checkedManifest(deps, input.checkpointId, opened.dir);
      const verify = verifierOf(opened.dir, manifest, clock);
      await verify((file) => !isPageImage(file.path));
      // GPUs are matched before anything is touched: a count mismatch must not leave a half-restored tree.
      return {
        dir: opened.dir,
        manifest,
        deviceMap: await cudaDeviceMap(deps, manifest, input.noCuda),
        verify,
      };
    });
    throwIfAborted(input.signal);
  } catch (err) {
    await release();
    throw err;
  }
  const { dir, manifest, deviceMap, verify } = verified;
  const work = await deps.store.createStaging().catch(async (err: unknown) => {
    await release();
    throw err;
  });
  let outcome: RestoreOutcome | undefined;
  let daemon: RunningTool | undefined;
  let supply: PageSupply | undefined;
  let pagesVerified: Promise<void> | undefined;
  // Stops the page images' verification once nobody needs its answer (a restore that failed).
  const verification = new AbortController();
  const stopVerifying = async () => {
    verification.abort();
    supply?.stop();
    await pagesVerified?.catch(() => {});
    await supply?.done.catch(() => {});
  };
  let closeJournal = async () => {};
  try {
    const imagesDir = join(dir, IMAGES_DIR);
    // The runtime readies the target (its checks, files and placeholder) in phases of its own.
    const prepared = await deps.runtime.prepareRestore(
      {
        checkpointId: input.checkpointId,
        workload: manifest.workload,
        checkpointDir: dir,
        workDir: work.dir,
        target: input.target,
        allowPortClash: input.allowPortClash ?? false,
        signal: input.signal,
      },
      clock,
    );
    try {
      if (input.lazy) {
        const started = await clock.run('lazyPagesStart', () =>
          deps.criu.startLazyPages(imagesDir, work.dir, input.signal),
        );
        daemon = started;
        const pages = await clock.run('lazyPagesStart', () =>
          supplyPages(dir, manifest, started.channel, copy?.fetchPart),
        );
        supply = pages;
        // From the bucket, the pages CRIU reads itself must be in their files before it reads them.
        if (copy !== undefined) await clock.run('download', () => pages.beforeRestore());
      }
      // From here a restore the agent does not live to confirm is undone by the next agent: the journal
      // names the target before CRIU runs (CRIU outlives the agent), and the pid once it is known.
      closeJournal = await deps.journal.open({
        kind: 'restoring',
        checkpointId: input.checkpointId,
        pid: 0,
        startTime: undefined,
        pidFile: join(work.dir, 'restore.pid'),
        workload: prepared.workload,
        at: new Date().toISOString(),
      });
      // What the tree runs on before it resumes: every page image, or (lazy) the parts CRIU reads itself.
      const lazySupply = supply;
      // On every core but one: CRIU restores on one thread, and reading memory back is its bulk.
      const checking = clock.run('verify', () =>
        lazySupply === undefined
          ? verify((file) => isPageImage(file.path), verification.signal, Math.max(1, hashingThreads() - 1))
          : lazySupply.beforeResume(),
      );
      checking.catch(() => {}); // awaited below
      pagesVerified = checking;
      outcome = await clock.run('criuRestore', async () => {
        const criuPid = await deps.criu.restore(
          {
            imagesDir,
            logFile: join(work.dir, RESTORE_LOG),
            pidFile: join(work.dir, 'restore.pid'),
            workDir: work.dir,
            inheritFds: prepared.inheritFds,
            extraArgs: prepared.extraArgs,
            // Held stopped until the memory it starts with is verified.
            leaveStopped: true,
            ...(input.lazy ? { lazyPages: true } : {}),
          },
          prepared.placement,
        );
        return prepared.complete(criuPid);
      });
    } catch (err) {
      // A corrupted image explains a failed CRIU better than CRIU's own words do.
      const corrupted = await pagesVerified?.then(
        () => undefined,
        (e: unknown) => SnapbackError.from(e),
      );
      const cause = corrupted ?? SnapbackError.from(err);
      const undone = await prepared
        .fail(cause)
        .catch((e: unknown) => `undoing it failed: ${SnapbackError.from(e).message}`);
      throw undone === undefined ? cause : withUndo(cause, undone);
    }
    // Until it is confirmed, a restored tree is undone by whoever finds it: this run, or the next agent.
    const closePending = closeJournal;
    closeJournal = await deps.journal.open({
      kind: 'restoring',
      checkpointId: input.checkpointId,
      pid: outcome.pid,
      startTime: await startTimeOf(outcome.pid),
      workload: outcome.workload,
      at: new Date().toISOString(),
    });
    await closePending();
    // The stopped tree runs only on memory that matches the manifest; otherwise the catch below kills it.
    await pagesVerified;
    supply?.resuming();
    const stopped = outcome;
    await clock.run('resume', () => continueTree(stopped.pid));
    await resumeCuda(deps, manifest, outcome, input, clock, deviceMap);
    await wakeRestored(
      deps,
      { requested: input.hooks, recorded: manifest.hooks },
      outcome.pid,
      clock,
      input.signal,
    );
    const restored = outcome;
    await clock.run('confirm', async () => {
      if (!(await isRunning(restored.pid))) {
        throw new SnapbackError(
          ErrorCode.INTERNAL,
          `restored process ${restored.pid} exited right after the restore`,
        );
      }
    });
    throwIfAborted(input.signal);
    await closeJournal();
    const durations = clock.durations();
    const output: RestoreOutput = {
      checkpointId: input.checkpointId,
      restoredPid: outcome.pid,
      namespacePid: outcome.namespacePid,
      workload: outcome.workload,
      durations,
      node: deps.node,
    };
    const cleanup = async () => {
      await release();
      await rm(work.dir, { recursive: true, force: true });
    };
    if (daemon === undefined || supply === undefined) {
      await cleanup();
      log.info({ durations, pid: outcome.pid }, 'restore complete');
      return output;
    }
    durations['firstRun'] = durations['total']!;
    log.info({ durations, pid: outcome.pid }, 'restored process runs; pages arriving lazily');
    // Every part of a partial copy is in and verified once the pages are: it becomes this node's copy.
    const keepCopy = async () => {
      if (copy === undefined) return;
      await copy.keep().then(
        () => {
          kept = true;
        },
        (err: unknown) => log.warn({ err }, 'could not keep the copy fetched from the bucket'),
      );
    };
    output.pagesComplete = superviseLazyPages(
      deps,
      daemon,
      supply.done,
      outcome,
      clock,
      keepCopy,
      async () => {
        await stopVerifying();
        await cleanup();
      },
    );
    output.pagesComplete.catch(() => {});
    return output;
  } catch (err) {
    const error = SnapbackError.from(err);
    daemon?.kill('SIGKILL');
    await stopVerifying();
    await release();
    if (outcome !== undefined) {
      await deps.runtime
        .abandon(outcome)
        .catch((e: unknown) => log.error({ err: e }, 'could not kill the half-restored tree'));
    }
    await closeJournal().catch(() => {});
    // CRIU's own account of a failed restore outlives the work folder: the error and the log name it.
    // A post-restore hook's failure is the workload's, and a corrupted image the storage's, not CRIU's:
    // its log would only mislead.
    const kept =
      error.phase === 'postHook' || error.phase === 'verify'
        ? undefined
        : await keepRestoreLog(deps, work.dir, input.checkpointId);
    await deps.store.discardStaging(work).catch(() => {});
    log.warn({ err: error, phase: error.phase, criuLog: kept }, 'restore failed');
    const named = kept === undefined ? error : withKeptLog(error, kept, deps.node);
    throw named.phase === undefined ? named.inPhase('criuRestore') : named;
  }
}

const RESTORE_LOG = 'restore.log';

/** The error, with what undoing the restore did (e.g. the placeholder was killed). */
function withUndo(error: SnapbackError, undone: string): SnapbackError {
  return new SnapbackError(error.code, `${error.message} (${undone})`, {
    cause: error,
    ...(error.phase === undefined ? {} : { phase: error.phase }),
    details: [...error.details, { field: 'target', message: undone }],
  });
}

/** The error, naming where CRIU's restore log was kept (an internal error keeps it in the agent's log). */
function withKeptLog(error: SnapbackError, path: string, node: string): SnapbackError {
  const message =
    error.code === ErrorCode.INTERNAL
      ? error.message
      : `${error.message}; CRIU's log: ${path} on node ${node}`;
  return new SnapbackError(error.code, message, {
    cause: error.cause,
    ...(error.phase === undefined ? {} : { phase: error.phase }),
    details: [...error.details, { field: 'criuLog', message: path }],
  });
}

/** Copies CRIU's restore log, if it wrote one, to the agent's folder of kept logs; returns where. */
async function keepRestoreLog(deps: ExecutorDeps, workDir: string, id: string): Promise<string | undefined> {
  if (deps.keptLogsDir === undefined) return undefined;
  const kept = join(deps.keptLogsDir, `${id}-${new Date().toISOString().replace(/[:.]/g, '-')}-restore.log`);
  try {
    await mkdir(deps.keptLogsDir, { recursive: true, mode: 0o700 });
    await copyFile(join(workDir, RESTORE_LOG), kept);
    return kept;
  } catch {
    return undefined; // CRIU never ran: the failure came before it
  }
}

/** The checkpoint's manifest, refused when another runtime took it. */
async function checkedManifest(deps: ExecutorDeps, id: string, dir: string): Promise<Manifest> {
  const manifest = await readManifest(dir);
  if (manifest.runtime !== deps.runtime.name) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${id} was taken by the ${manifest.runtime} runtime; this agent runs ${deps.runtime.name}`,
    );
  }
  return manifest;
}

/** Verifies the files `only` selects, reporting progress over the whole checkpoint's bytes. */
function verifierOf(
  dir: string,
  manifest: Manifest,
  clock: PhaseClock,
): (only: (file: ManifestFile) => boolean, signal?: AbortSignal, threads?: number) => Promise<void> {
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    clock.progress({ phase: 'verify', state: 'RUNNING', bytesDone: done, bytesTotal: manifest.sizeBytes });
  };
  return (only, signal, threads) => verifyFiles(dir, manifest, { onBytes, only, signal, threads });
}

/**
 * Resumes a tree CRIU left stopped. (A task that was itself stopped when it was checkpointed resumes
 * too: CRIU's --leave-stopped does not tell them apart.)
 */
async function continueTree(pid: number): Promise<void> {
  for (const task of await processTree(pid)) {
    try {
      process.kill(task, 'SIGCONT');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/**
 * Waits for the lazy-pages daemon to have every page and for every part of the page images to be verified;
 * a broken transfer or a corrupted part kills the restored process at once.
 */
async function superviseLazyPages(
  deps: ExecutorDeps,
  daemon: RunningTool,
  supplied: Promise<void>,
  outcome: RestoreOutcome,
  clock: PhaseClock,
  complete: () => Promise<void>,
  cleanup: () => Promise<void>,
): Promise<number> {
  const log = deps.logger.child({ op: 'lazy-pages', pid: outcome.pid });
  try {
    try {
      const broken = (err: unknown) =>
        new SnapbackError(
          ErrorCode.INTERNAL,
          `the lazy pages stopped arriving before every page was in (the daemon, or what brings its pages, failed); restored process ${outcome.pid} was killed (it would have faulted on missing memory)`,
          { cause: err, phase: 'pagesComplete' },
        );
      await Promise.all([
        daemon.done.catch((err: unknown) => {
          throw broken(err);
        }),
        supplied.catch((err: unknown) => {
          const error = SnapbackError.from(err);
          // The supply fails when the daemon goes (its connection closes), or when a part cannot be brought
          // from the bucket: the transfer broke, and the cause says how. A bad part is the storage's fault.
          if (error.phase !== 'verify') throw broken(err);
          throw new SnapbackError(
            error.code,
            `${error.message}; restored process ${outcome.pid} was killed (its memory was to come from those bytes)`,
            { cause: err, phase: 'verify', details: error.details },
          );
        }),
      ]);
    } catch (err) {
      daemon.kill('SIGKILL');
      await deps.runtime
        .abandon(outcome)
        .catch((e: unknown) => log.error({ err: e }, 'could not kill the restored process'));
      throw err;
    }
    if (!(await isRunning(outcome.pid))) {
      throw new SnapbackError(
        ErrorCode.INTERNAL,
        `restored process ${outcome.pid} exited before all of its pages arrived`,
        {
          phase: 'pagesComplete',
        },
      );
    }
    await complete();
    const ms = clock.durations()['total']!;
    clock.progress({ phase: 'pagesComplete', state: 'FINISHED' });
    log.info({ pagesComplete: ms }, 'every page has arrived');
    return ms;
  } catch (err) {
    log.error({ err }, 'lazy restore failed after the process resumed');
    throw err;
  } finally {
    await cleanup().catch(() => {});
  }
}

function cudaPidsOf(manifest: Manifest, noCuda: boolean): number[] {
  return noCuda || manifest.cuda === undefined ? [] : manifest.cuda.pids;
}

async function cudaDeviceMap(
  deps: ExecutorDeps,
  manifest: Manifest,
  noCuda: boolean,
): Promise<string | undefined> {
  if (cudaPidsOf(manifest, noCuda).length === 0) return undefined;
  if (deps.cuda === undefined) {
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `checkpoint ${manifest.checkpointId} holds CUDA processes, but cuda-checkpoint is not available on this node`,
    );
  }
  return deps.cuda.deviceMap(manifest.cuda?.gpus ?? []);
}

async function resumeCuda(
  deps: ExecutorDeps,
  manifest: Manifest,
  outcome: RestoreOutcome,
  input: RestoreInput,
  clock: PhaseClock,
  deviceMap: string | undefined,
): Promise<void> {
  const nsPids = cudaPidsOf(manifest, input.noCuda);
  if (nsPids.length === 0 || deps.cuda === undefined) return;
  // Pids inside the restored namespace are the checkpointed ones; the host sees new ones.
  const pids = await hostPidsOf(await processTree(outcome.pid), nsPids);
  if (pids.length !== nsPids.length) {
    throw new SnapbackError(
      ErrorCode.INTERNAL,
      'not every checkpointed CUDA process was found after the CRIU restore',
      {
        phase: 'cudaRestore',
      },
    );
  }
  await deps.cuda.resume(pids, clock, deviceMap, input.signal);
}
