/**
 * The snapback CLI as the tests run it: from source (src/cli/self.ts), whatever command started the tests,
 * so that a test never runs a stale build.
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { snapbackCommand } from '../../src/cli/self.js';

const exec = promisify(execFile);

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `snapback ARGS…` to its end; a failure is an exit code, not a rejection. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const command = snapbackCommand(args, { ...process.env, ...env });
  try {
    const { stdout, stderr } = await exec(command.file, command.args, { env: command.env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Starts `snapback ARGS…` as a child process. */
export function spawnCli(
  args: readonly string[],
  options: Omit<SpawnOptions, 'env'> & { env?: Record<string, string | undefined> } = {},
): ChildProcess {
  const command = snapbackCommand(args, options.env ?? process.env);
  return spawn(command.file, command.args, { ...options, env: command.env });
}
