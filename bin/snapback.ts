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
  const stop = (why: string) => controller.abort(new SnapbackError(ErrorCode.CANCELLED, why));
  // SIGHUP: the terminal went away. Each stops the command cleanly: a demo or a server stops what it started.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => stop(`received ${signal}`));
  }
  // Whoever read stdout stopped reading (`snapback demo | head`): Node ignores SIGPIPE, so the write fails
  // with EPIPE instead, here and at every later write.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') stop('its output was closed (EPIPE)');
      else throw err;
    });
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
