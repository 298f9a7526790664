/** The process around `main`: signals become an abort, the exit status becomes the process's. */

import type { CommandIo } from '../src/cli/command.js';
import { main } from '../src/cli/main.js';
import { ErrorCode, SnapbackError } from '../src/errors.js';

function runAsProcess(): void {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () =>
      controller.abort(new SnapbackError(ErrorCode.CANCELLED, `received ${signal}`)),
    );
  }
  const io: CommandIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
  };
  main(process.argv.slice(2), io).then(
    (status) => {
      process.exitCode = status;
    },
    (err: unknown) => {
      process.stderr.write(`snapback: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

runAsProcess();
