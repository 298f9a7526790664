/**
 * Starting a workload so that CRIU can take it: detached from the agent (own session, stdio to files,
 * no inherited fds), as init of its own PID namespace so a restore never collides with live pids, and
 * without io_uring (CRIU cannot dump it).
 *   unshare --pid --fork setsid snapback-no-io-uring CMD …
 * The inner setsid makes the namespace's init a session leader inside it, which CRIU requires.
 */
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SnapbackError } from '../../errors.js';
import { childrenOf, isRunning } from '../procfs/index.js';

export interface LaunchOptions {
  command: readonly string[];
  cwd: string;
  env: Record<string, string>;
  stdoutPath: string;
  stderrPath: string;
  /** The seccomp wrapper that makes io_uring unavailable (native/no-io-uring.c). */
  noIoUringLauncher: string;
}

/** Returns the host pid of the namespace's init (the workload itself). */
export async function launchWorkload(options: LaunchOptions): Promise<number> {
  const stdout = await open(options.stdoutPath, 'a', 0o600);
  const stderr = await open(options.stderrPath, 'a', 0o600);
  try {
    const child = spawn(
      'unshare',
      ['--pid', '--fork', 'setsid', options.noIoUringLauncher, ...options.command],
      {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ['ignore', stdout.fd, stderr.fd],
      },
    );
    const spawned = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (err) =>
        reject(
          new SnapbackError(ErrorCode.FAILED_PRECONDITION, `cannot start workload: ${err.message}`, {
            cause: err,
          }),
        ),
      );
    });
    child.unref();
    // unshare forks the namespace's init right away; wait for it (or for the launch to fail).
    for (let i = 0; i < 200; i++) {
      const [init] = await childrenOf(spawned);
      if (init !== undefined) return init;
      if (!(await isRunning(spawned))) break;
      await sleep(10);
    }
    throw new SnapbackError(
      ErrorCode.FAILED_PRECONDITION,
      `workload ${options.command.join(' ')} exited at start; see ${options.stderrPath}`,
    );
  } finally {
    await stdout.close();
    await stderr.close();
  }
}
