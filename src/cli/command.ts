/** What every `snapback` subcommand provides: its options table, its help, and `run`. */
import type { OptionsSpec } from '../config/options.js';

export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  /** Usage line after `snapback NAME` (e.g. `--agent ADDR --name NAME -- CMD ARGS…`). */
  usage: string;
  options: OptionsSpec;
  /** How many positionals the command takes before `--`. */
  maxPositionals?: number;
  /** Returns the process exit status. Errors thrown are printed and mapped to an exit status. */
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

export function defineCommand(command: Command): Command {
  return command;
}
