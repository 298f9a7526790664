/**
 * The `snapback` process (bin/snapback runs it): the commands, composed here with the functions they serve
 * (src/ never imports functions/), around `main`; signals become an abort, the exit status the process's.
 */
import type { CommandIo } from '../src/cli/command.js';
import { ErrorCode, SnapbackError } from '../src/errors.js';

type Main = (argv: readonly string[], io: CommandIo) => Promise<number>;

/**
 * Every command with the functions composed in — or, for the preStop relay, which runs in every opted-in
 * pod, its own command only (src/cli/prestop-main.ts): not the agent, the functions and their clients.
 */
async function loadMain(command: string | undefined): Promise<Main> {
  if (command === 'prestop') return (await import('../src/cli/prestop-main.js')).main;
  const [{ functions }, { main }] = await Promise.all([
    import('../functions/index.js'),
    import('../src/cli/main.js'),
  ]);
  return (argv, io) => main(argv, io, functions);
}

const main = await loadMain(process.argv[2]);

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
