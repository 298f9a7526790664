/**
 * CRIU, driven through the shared runner: `check`, `dump`, `restore`. Failures carry the tail of CRIU's
 * own log (its reasons are there, not on stderr), and a timeout always bounds a run.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { type Runner, type RunningTool, startTool } from '../tools/index.js';
import {
  type CriuSettings,
  type DumpOptions,
  dumpArgs,
  lazyPagesArgs,
  type RestoreOptions,
  restoreArgs,
} from './options.js';
import { type CriuPlacement, pathFor, placedCommand } from './placement.js';
import { explainRestoreFailure } from './restore-failures.js';

export * from './images.js';
export * from './options.js';
export * from './page-server.js';
export * from './placement.js';
export * from './restore-failures.js';

export interface Criu {
  readonly binary: string;
  version(): Promise<string>;
  /** `criu check`: FAILED_PRECONDITION naming what the kernel lacks, when it does. */
  check(signal?: AbortSignal): Promise<void>;
  /**
   * Runs `criu dump` where `placement` says (default: here). Never interrupted: killing CRIU while its
   * parasite runs inside the workload can kill the workload. It is bounded by the timeout and detached, so
   * that the agent's own death does not take it along.
   */
  dump(options: DumpOptions, placement?: CriuPlacement): Promise<void>;
  /**
   * Restores detached, where `placement` says; returns the PID of the restored root task as CRIU saw it
   * (in the pid namespace CRIU ran in). A failure CRIU's log explains is said in words (restore-failures.ts).
   */
  restore(options: RestoreOptions, placement?: CriuPlacement): Promise<number>;
  readonly settings: CriuSettings;
  /** Whether this kernel has userfaultfd as lazy restores need it (`criu check --feature uffd-noncoop`). */
  supportsLazyPages(): Promise<boolean>;
  /**
   * Starts `criu lazy-pages` for the images of `imagesDir` on `workDir`; resolves once its socket is there.
   * It asks its pages of a page server on its `channel`, which the caller serves (lazy-pages.ts).
   */
  startLazyPages(
    imagesDir: string,
    workDir: string,
    signal?: AbortSignal,
  ): Promise<RunningTool & { channel: Duplex }>;
}

/** The unix socket `criu lazy-pages` listens on, in its work dir. */
export const LAZY_PAGES_SOCKET = 'lazy-pages.socket';
const LAZY_PAGES_START_MS = 10_000;

export function createCriu(binary: string, settings: CriuSettings, run: Runner): Criu {
  return {
    binary,
    settings,
    async version() {
      const { stdout } = await run(binary, ['--version'], {
        timeoutMs: 10_000,
        failureCode: ErrorCode.FAILED_PRECONDITION,
      });
      return /Version:\s*(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
    },
    async supportsLazyPages() {
      const result = await run(binary, ['check', '--feature', 'uffd-noncoop'], {
        timeoutMs: 30_000,
        allowExitCodes: [1],
      });
      return result.exitCode === 0;
    },
    async startLazyPages(imagesDir, workDir, signal) {
      const logFile = join(workDir, 'lazy-pages.log');
      // Its page server is at the other end of its fd 3.
      const started = startTool(binary, lazyPagesArgs(settings, imagesDir, workDir, logFile, 3), {
        logFile,
        channel: true,
      });
      const { channel } = started;
      if (channel === undefined) throw new Error('startTool gave no channel');
      const daemon = { ...started, channel };
      let exited = false;
      void daemon.done.then(
        () => {
          exited = true;
        },
        () => {
          exited = true;
        },
      );
      const deadline = Date.now() + LAZY_PAGES_START_MS;
      for (;;) {
        if (
          await access(join(workDir, LAZY_PAGES_SOCKET)).then(
            () => true,
            () => false,
          )
        )
          return daemon;
        if (exited) {
          await daemon.done;
          throw new SnapbackError(ErrorCode.INTERNAL, 'criu lazy-pages exited before it was ready');
        }
        if (signal?.aborted || Date.now() > deadline) {
          daemon.kill('SIGKILL');
          throw signal?.aborted
            ? SnapbackError.from(signal.reason)
            : new SnapbackError(
                ErrorCode.INTERNAL,
                `criu lazy-pages did not start within ${LAZY_PAGES_START_MS} ms`,
              );
        }
        await sleep(10);
      }
    },
    async check(signal) {
      await run(binary, ['check'], { timeoutMs: 30_000, signal, failureCode: ErrorCode.FAILED_PRECONDITION });
    },
    async dump(options, placement = HERE) {
      const command = await placedCommand(binary, dumpArgs(settings, options), placement);
      try {
        await run(command.file, command.args, {
          timeoutMs: settings.timeoutMs,
          detached: true,
          logFile: options.logFile,
          extraFds: command.fds,
          ...(options.env === undefined ? {} : { env: options.env }),
          failureCode: ErrorCode.INTERNAL,
        });
      } finally {
        await command.close();
      }
    },
    async restore(options, placement = HERE) {
      const command = await placedCommand(
        binary,
        restoreArgs(settings, options, (path) => pathFor(placement, path)),
        placement,
      );
      // Never interrupted (a tree half-restored by a killed CRIU is neither dead nor whole): bounded by the
      // timeout, detached so that the agent's own death does not kill it; callers check their signal after.
      try {
        await run(command.file, command.args, {
          timeoutMs: settings.timeoutMs,
          detached: true,
          logFile: options.logFile,
          extraFds: command.fds,
          failureCode: ErrorCode.INTERNAL,
        });
      } catch (err) {
        throw await explainRestoreFailure(err, options.logFile);
      } finally {
        await command.close();
      }
      const pid = Number.parseInt((await readFile(options.pidFile, 'utf8')).trim(), 10);
      if (!Number.isInteger(pid) || pid <= 0) {
        throw new SnapbackError(ErrorCode.INTERNAL, `criu restore wrote no valid pid to ${options.pidFile}`);
      }
      return pid;
    },
  };
}

const HERE: CriuPlacement = { via: [], foreignMounts: false };
