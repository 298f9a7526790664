/**
 * The `snapback` process (bin/snapback runs it): the commands, composed here with the functions they serve
 * (src/ never imports functions/), around `main`; signals become an abort, the exit status the process's.
 */

import { functions } from '../functions/index.js';
import type { CommandIo } from '../src/cli/command.js';
import { createCommands } from '../src/cli/commands/index.js';
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
  main(process.argv.slice(2), io, createCommands(functions)).then(
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
