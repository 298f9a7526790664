/**
 * Starting a workload so that CRIU can take it: detached from the agent (own session, stdio to files,
 * no inherited fds), in its own PID namespace so a restore never collides with live pids, and without
 * io_uring (CRIU cannot dump it).
 *   unshare --pid --fork setsid snapback-no-io-uring snapback-init --forward -- CMD …
 * The inner setsid makes the namespace's init a session leader inside it, which CRIU requires. That init is
 * snapback-init, not CMD: a namespace's PID 1 ignores signals it has no handler for, so `kill PID` of a
 * CMD that was PID 1 did nothing; snapback-init forwards them to CMD and exits with CMD's status.
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
  /** snapback-init (native/snapback-init.c), run with `--forward`. */
  init: string;
}

/** Returns the host pid of the namespace's init (snapback-init, CMD's parent): the workload's pid. */
export async function launchWorkload(options: LaunchOptions): Promise<number> {
  const stdout = await open(options.stdoutPath, 'a', 0o600);
  const stderr = await open(options.stderrPath, 'a', 0o600);
  try {
    const child = spawn(
      'unshare',
      [
        '--pid',
        '--fork',
        'setsid',
        options.noIoUringLauncher,
        options.init,
        '--forward',
        '--',
        ...options.command,
      ],
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

/**
 * Refuses an `init` that cannot forward signals (missing, or built before `--forward`): every workload would
 * fail to start, each with the reason only in its own stderr file.
 */
export async function assertInitForwards(init: string): Promise<void> {
  const child = spawn(init, ['--forward', '--', 'true'], { stdio: 'ignore' });
  const status = await new Promise<number | string>((resolve) => {
    child.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'no status'));
  });
  if (status === 0) return;
  const why =
    status === 'ENOENT'
      ? 'is not there'
      : `answered ${status} to \`--forward -- true\` (built before it forwarded?)`;
  throw new SnapbackError(
    ErrorCode.FAILED_PRECONDITION,
    `the process runtime's init ${init} ${why}: \`make setup\` builds it from native/snapback-init.c`,
  );
}
