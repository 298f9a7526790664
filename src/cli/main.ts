/**
 * The `snapback` entry point: one binary for every process (agent, functions, clients, demo).
 * Exit status: 0 success, 2 usage error, other non-zero per error code (src/errors.ts).
 */
import type { CommandIo } from './command.js';
import { commands } from './commands/index.js';
import { runMain } from './run-main.js';

export function main(argv: readonly string[], io: CommandIo): Promise<number> {
  return runMain(argv, io, commands);
}
