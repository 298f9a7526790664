/** The process around `main`: signals become an abort, the exit status becomes the process's. */
import { ErrorCode, SnapbackError } from '../errors.js';
import type { CommandIo } from './command.js';

// The preStop relay runs in every opted-in pod: it loads its own command only (src/cli/prestop-main.ts).
const { main } =
  process.argv[2] === 'prestop' ? await import('./prestop-main.js') : await import('./main.js');

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
